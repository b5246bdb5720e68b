-- provider_errors_hourly: errors per provider and hour, counted per upstream attempt (a request that failed
-- on one provider and succeeded on another counts one error for the first). Provider faults are the errors
-- a provider is answerable for: rate limits, timeouts and server errors; client errors (bad requests,
-- auth, context too long) are the caller's. Cancelled attempts are neither. Attempts of logs that name no
-- provider are left out.
--
-- grain: one row per hour x provider
-- materialized: incremental
-- partition_day: cast(hour as date)
-- columns:
--   hour: UTC hour the attempts started
--   provider: normalized provider id
--   attempts: upstream attempts
--   errors: attempts with status 'error'
--   rate_limited: errors of class rate_limit (HTTP 429 and equivalents)
--   timeouts: errors of class timeout
--   server_errors: errors of class server_error (5xx, overloaded)
--   client_errors: errors of class client_error (4xx other than 429)
--   error_rate: errors / attempts
--   provider_fault_rate: (rate_limited + timeouts + server_errors) / attempts

with

provider_attempts as (
    select * from stg_gateway__attempts
    where provider is not null
),

final as (
    select
        hour,
        provider,
        count(*) as attempts,
        count(*) filter (where status = 'error') as errors,
        count(*) filter (where status = 'error' and error_class = 'rate_limit') as rate_limited,
        count(*) filter (where status = 'error' and error_class = 'timeout') as timeouts,
        count(*) filter (where status = 'error' and error_class = 'server_error') as server_errors,
        count(*) filter (where status = 'error' and error_class = 'client_error') as client_errors,
        gl_ratio(errors, attempts) as error_rate,
        gl_ratio(rate_limited + timeouts + server_errors, attempts) as provider_fault_rate,
    from provider_attempts
    group by hour, provider
)

select * from final
