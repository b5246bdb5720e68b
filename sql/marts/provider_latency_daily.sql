-- provider_latency_daily: how fast each provider serves each model, per day and operation, over its successful
-- attempts: percentiles of latency, of time to first token (streamed attempts) and of output speed (completion
-- tokens per second of generation time, streamed attempts that report time to first token), each with the
-- number of attempts it rests on. The same model key on two providers is the comparison OpenRouter publishes per
-- endpoint. Percentiles do not add up: weeks and months are computed from the attempts
-- (provider_latency_weekly, provider_latency_monthly), never from these days.
--
-- grain: one row per day x provider x model_key x operation
-- materialized: incremental
-- partition_day: day
-- columns:
--   day: UTC day the attempts started
--   provider: provider that served the attempts
--   model_key: the model id canonicalized (gl_model_key)
--   model_family: family of the model
--   operation: what was asked (chat, responses, embeddings, ...)
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
        day,
        provider,
        model_key,
        any_value(model_family) as model_family,
        operation,
        count(*) as attempts,
        gl_speed_stats(latency_ms, ttft_ms, tokens_per_second) as stats,
    from timed
    group by day, provider, model_key, operation
),

final as (
    select
        day,
        provider,
        model_key,
        model_family,
        operation,
        attempts,
        stats.*,
    from summed
)

select * from final
