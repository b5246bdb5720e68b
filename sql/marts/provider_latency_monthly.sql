-- provider_latency_monthly: provider_latency_daily per calendar month, its percentiles computed from
-- the month's attempts, never from its days (percentiles do not add up). Incremental by whole months: a changed
-- day recomputes its month. The first and last periods may be partial: `days` says how many days had successful
-- attempts.
--
-- grain: one row per month x provider x model_key x operation
-- materialized: incremental
-- partition_day: month
-- partition_period: month
-- columns:
--   month: first day of the calendar month
--   provider: provider that served the attempts
--   model_key: the model id canonicalized (gl_model_key)
--   model_family: family of the model
--   operation: what was asked (chat, responses, embeddings, ...)
--   days: days of the period with successful attempts
--   attempts: successful attempts
--   latency_attempts: of those, attempts that report a latency
--   latency_p50_ms: median latency (ms)
--   latency_p75_ms: 75th percentile of latency (ms)
--   latency_p90_ms: 90th percentile of latency (ms)
--   latency_p99_ms: 99th percentile of latency (ms)
--   ttft_attempts: streamed attempts that report a time to first token
--   ttft_p50_ms: median time to first token of streamed attempts (ms)
--   ttft_p75_ms: 75th percentile of time to first token (ms)
--   ttft_p90_ms: 90th percentile of time to first token (ms)
--   ttft_p99_ms: 99th percentile of time to first token (ms)
--   speed_attempts: streamed attempts with output tokens and a generation time
--   tokens_per_second_p10: output speed that 90% of those attempts exceed (tokens/s)
--   tokens_per_second_p50: median output speed (tokens/s)
--   tokens_per_second_p90: output speed that 10% of those attempts exceed (tokens/s)

with

attempts as (
    select * from stg_gateway__attempts
    where status = 'success' and provider is not null and model_key is not null
),

timed as (
    select
        cast(date_trunc('month', day) as date) as month,
        day,
        provider,
        model_key,
        model_family,
        operation,
        latency_ms,
        gl_ttft_ms(streamed, ttft_ms) as ttft_ms,
        gl_tokens_per_second(streamed, latency_ms, ttft_ms, completion_tokens) as tokens_per_second,
    from attempts
),

summed as (
    select
        month,
        provider,
        model_key,
        any_value(model_family) as model_family,
        operation,
        count(distinct day) as days,
        count(*) as attempts,
        gl_speed_stats(latency_ms, ttft_ms, tokens_per_second) as stats,
    from timed
    group by month, provider, model_key, operation
),

final as (
    select
        month,
        provider,
        model_key,
        model_family,
        operation,
        days,
        attempts,
        stats.*,
    from summed
)

select * from final
