-- int_app_usage_daily: each app's requests per day by the provider and model of their final attempt: the
-- small table the per-app mix and concentration marts add up, instead of rescanning every request.
--
-- grain: one row per day x app_id x provider x model_key
-- materialized: incremental
-- partition_day: day
-- columns:
--   day: UTC day the requests arrived
--   app_id: the calling application (NULL when the log names none)
--   provider: provider of the final attempt (NULL when the log names none)
--   model_key: canonical model key of the final attempt (NULL when the log names no model)
--   model_family: the model's family
--   model_tier: the model's tier
--   requests: requests (any outcome, any operation)
--   generation_requests: requests of an operation that generates text (gl_is_generation)
--   completed_requests: generation requests whose final attempt succeeded
--   tool_call_requests: completed generation requests ending in a tool call

with

requests as (
    select * from int_requests_rolled_up
),

final as (
    select
        day,
        app_id,
        provider,
        model_key,
        any_value(model_family) as model_family,
        any_value(model_tier) as model_tier,
        count(*) as requests,
        count(*) filter (where is_generation) as generation_requests,
        count(*) filter (where is_generation and status = 'success') as completed_requests,
        count(*) filter (where is_generation and status = 'success' and finish_reason = 'tool_calls')
            as tool_call_requests,
    from requests
    group by day, app_id, provider, model_key
)

select * from final
