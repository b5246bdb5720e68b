-- provider_uptime_daily: each provider's availability per day against the SLO (variable gl_slo, default
-- 0.999): availability = 1 - provider faults / attempts, where faults are rate limits, timeouts and server
-- errors (see provider_errors_hourly). A day with no attempts has no row.
--
-- grain: one row per day x provider
-- materialized: table
-- columns:
--   day: UTC day
--   provider: normalized provider id
--   attempts: upstream attempts
--   provider_faults: rate-limited, timed-out and server-error attempts
--   availability: 1 - provider_faults / attempts
--   slo: the availability objective the day is held to
--   meets_slo: availability >= slo

with

hourly as (
    select * from provider_errors_hourly
),

daily as (
    select
        cast(hour as date) as day,
        provider,
        sum(attempts)::bigint as attempts,
        sum(rate_limited + timeouts + server_errors)::bigint as provider_faults,
    from hourly
    group by all
),

final as (
    select
        day,
        provider,
        attempts,
        provider_faults,
        1 - gl_ratio(provider_faults, attempts) as availability,
        getvariable('gl_slo') as slo,
        availability >= slo as meets_slo,
    from daily
)

select * from final
