-- provider_latency_monthly: provider_latency_daily per calendar month, its percentiles computed from the period's
-- attempts (int_provider_latency_periods), not from its days. The first and last periods may be partial: `days`
-- says how many days had successful attempts.
--
-- grain: one row per month x provider x model_key x operation
-- inputs: int_provider_latency_periods
-- materialized: table
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

periods as (
    select * from int_provider_latency_periods
    where period = 'month'
),

final as (
    select
        period_start as month,
        * exclude (period, period_start),
    from periods
)

select * from final
