-- provider_uptime_monthly: provider_uptime_daily added up per calendar month: availability over the period's
-- attempts against the SLO, and how many of its days missed it. The first and last periods may be
-- partial: `days` says how many days had attempts.
--
-- grain: one row per month x provider
-- materialized: table
-- columns:
--   month: first day of the calendar month
--   provider: normalized provider id
--   days: days of the period with attempts
--   days_below_slo: of those, days whose availability missed the SLO
--   attempts: upstream attempts
--   provider_faults: rate-limited, timed-out and server-error attempts
--   availability: 1 - provider_faults / attempts
--   slo: the availability objective
--   meets_slo: availability >= slo over the whole period

with

daily as (
    select * from provider_uptime_daily
),

summed as (
    select
        cast(date_trunc('month', day) as date) as month,
        provider,
        count(*) as days,
        count(*) filter (where not meets_slo) as days_below_slo,
        sum(attempts)::bigint as attempts,
        sum(provider_faults)::bigint as provider_faults,
        any_value(slo) as slo,
    from daily
    group by all
),

final as (
    select
        month,
        provider,
        days,
        days_below_slo,
        attempts,
        provider_faults,
        1 - gl_ratio(provider_faults, attempts) as availability,
        slo,
        availability >= slo as meets_slo,
    from summed
)

select * from final
