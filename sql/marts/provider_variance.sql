-- provider_variance: "same weights, different behaviour": for every model served by two or more
-- providers, each provider's tool-call rate against the model's overall rate, over the trailing window of
-- gl_variance_days days (default 28) ending on the last day with data (a trailing window, because the
-- rates drift over time and routing shares change). The model is the canonical model key, so Bedrock's
-- `anthropic.claude-...-v1:0` and Anthropic's `claude-...` are the same model.
-- z_score is the two-proportion z statistic of this provider's tool-call rate against the other
-- providers' pooled rate; |z| > 2 is unlikely by chance. Error rate and latency are per attempt. Only
-- operations that generate text count (gl_is_generation).
--
-- grain: one row per model x provider
-- materialized: table
-- columns:
--   window_start: first day of the window
--   window_end: last day of the window
--   model: canonical model key
--   model_family: the model's family
--   provider: normalized provider id
--   completed_requests: requests this provider completed (final attempt succeeded)
--   tool_call_requests: of those, the ones ending in a tool call
--   tool_call_rate: tool_call_requests / completed_requests
--   model_tool_call_rate: the model's tool-call rate over all its providers
--   deviation: tool_call_rate - model_tool_call_rate
--   z_score: two-proportion z of this provider against the model's other providers
--   attempts: upstream attempts of the model on this provider
--   error_rate: attempts with status 'error' / attempts
--   p50_latency_ms: median latency of successful attempts
--   p95_latency_ms: 95th percentile latency of successful attempts

with

bounds as (
    select
        max(day) - (getvariable('gl_variance_days') - 1) as window_start,
        max(day) as window_end,
    from int_requests_rolled_up
),

completed as (
    select
        requests.model_key,
        requests.provider,
        any_value(requests.model_family) as model_family,
        count(*) as completed_requests,
        count(*) filter (where requests.finish_reason = 'tool_calls') as tool_call_requests,
    from int_requests_rolled_up as requests, bounds
    where requests.day between bounds.window_start and bounds.window_end
        and requests.status = 'success'
        and requests.is_generation
        and requests.model_key is not null
        and requests.provider is not null
    group by all
),

per_model as (
    select
        *,
        sum(completed_requests) over (partition by model_key) as model_completed,
        sum(tool_call_requests) over (partition by model_key) as model_tool_calls,
        count(*) over (partition by model_key) as providers,
    from completed
),

attempt_stats as (
    select
        attempts.model_key,
        attempts.provider,
        count(*) as attempts,
        gl_ratio(count(*) filter (where attempts.status = 'error'), count(*)) as error_rate,
        quantile_cont(attempts.latency_ms, 0.5) filter (where attempts.status = 'success') as p50_latency_ms,
        quantile_cont(attempts.latency_ms, 0.95) filter (where attempts.status = 'success') as p95_latency_ms,
    from stg_gateway__attempts as attempts, bounds
    where attempts.day between bounds.window_start and bounds.window_end
        and gl_is_generation(attempts.operation)
    group by all
),

tested as (
    select
        *,
        gl_ratio(tool_call_requests, completed_requests) as tool_call_rate,
        gl_ratio(model_tool_calls, model_completed) as model_tool_call_rate,
        gl_ratio(model_tool_calls - tool_call_requests, model_completed - completed_requests) as others_rate,
        gl_ratio(model_tool_calls, model_completed) as pooled_rate,
    from per_model
    where providers >= 2
),

final as (
    select
        bounds.window_start,
        bounds.window_end,
        tested.model_key as model,
        tested.model_family,
        tested.provider,
        tested.completed_requests,
        tested.tool_call_requests,
        tested.tool_call_rate,
        tested.model_tool_call_rate,
        tested.tool_call_rate - tested.model_tool_call_rate as deviation,
        (tested.tool_call_rate - tested.others_rate) / nullif(sqrt(
            tested.pooled_rate * (1 - tested.pooled_rate)
            * (1 / tested.completed_requests + 1 / (tested.model_completed - tested.completed_requests))
        ), 0) as z_score,
        attempt_stats.attempts,
        attempt_stats.error_rate,
        attempt_stats.p50_latency_ms,
        attempt_stats.p95_latency_ms,
    from tested
    cross join bounds
    left join attempt_stats
        on attempt_stats.model_key = tested.model_key
            and attempt_stats.provider = tested.provider
)

select * from final
