-- provider_error_budget_monthly: each provider's error budget per calendar month, the SRE view of an SLA: the
-- SLO (variable gl_slo) allows (1 - slo) x attempts provider faults in the month; budget_left is the share of
-- that allowance not yet spent (negative once overspent). Burn rates compare the fault rate of the trailing
-- 1 hour, 6 hours and 3 days before the month's last attempt with the rate the SLO allows (1 = spending the
-- budget exactly over the period; 14.4 over an hour spends 2% of a 30-day budget), and `alert` applies the
-- multi-window rule of the Google SRE workbook: page at a 1-hour burn of 14.4 or a 6-hour burn of 6, ticket at
-- a 3-day burn of 1. Faults are rate limits, timeouts and server errors (provider_errors_hourly); gateway-side
-- failures and client errors never count.
--
-- grain: one row per month x provider
-- materialized: table
-- columns:
--   month: first day of the calendar month
--   provider: normalized provider id
--   slo: the availability objective
--   attempts: upstream attempts in the month
--   provider_faults: rate-limited, timed-out and server-error attempts in the month
--   allowed_faults: (1 - slo) x attempts: the month's error budget, in attempts
--   budget_left: 1 - provider_faults / allowed_faults (negative when overspent; NULL without attempts)
--   window_end: end of the hour of the month's last attempt: where the burn-rate windows end
--   burn_rate_1h: fault rate over the hour before window_end / (1 - slo)
--   burn_rate_6h: fault rate over the 6 hours before window_end / (1 - slo)
--   burn_rate_3d: fault rate over the 3 days before window_end / (1 - slo)
--   alert: page, ticket or ok by the multi-window burn-rate rule

with

hourly as (
    select * from provider_errors_hourly
),

faults as (
    select
        hour,
        provider,
        attempts,
        rate_limited + timeouts + server_errors as provider_faults,
    from hourly
),

monthly as (
    select
        cast(date_trunc('month', hour) as date) as month,
        provider,
        sum(attempts)::bigint as attempts,
        sum(provider_faults)::bigint as provider_faults,
        max(hour) + interval 1 hour as window_end,
    from faults
    group by all
),

windows as (
    select
        monthly.month,
        monthly.provider,
        sum(faults.provider_faults) filter (where faults.hour >= monthly.window_end - interval 1 hour) as faults_1h,
        sum(faults.attempts) filter (where faults.hour >= monthly.window_end - interval 1 hour) as attempts_1h,
        sum(faults.provider_faults) filter (where faults.hour >= monthly.window_end - interval 6 hour) as faults_6h,
        sum(faults.attempts) filter (where faults.hour >= monthly.window_end - interval 6 hour) as attempts_6h,
        sum(faults.provider_faults) as faults_3d,
        sum(faults.attempts) as attempts_3d,
    from monthly
    inner join faults
        on faults.provider = monthly.provider
            and faults.hour >= monthly.window_end - interval 3 day
            and faults.hour < monthly.window_end
    group by all
),

final as (
    select
        monthly.month,
        monthly.provider,
        getvariable('gl_slo') as slo,
        monthly.attempts,
        monthly.provider_faults,
        (1 - slo) * monthly.attempts as allowed_faults,
        1 - gl_ratio(monthly.provider_faults, allowed_faults) as budget_left,
        monthly.window_end,
        gl_ratio(gl_ratio(windows.faults_1h, windows.attempts_1h), 1 - slo) as burn_rate_1h,
        gl_ratio(gl_ratio(windows.faults_6h, windows.attempts_6h), 1 - slo) as burn_rate_6h,
        gl_ratio(gl_ratio(windows.faults_3d, windows.attempts_3d), 1 - slo) as burn_rate_3d,
        case
            when burn_rate_1h >= 14.4 or burn_rate_6h >= 6 then 'page'
            when burn_rate_3d >= 1 then 'ticket'
            else 'ok'
        end as alert,
    from monthly
    inner join windows
        on windows.month = monthly.month
            and windows.provider = monthly.provider
)

select * from final
