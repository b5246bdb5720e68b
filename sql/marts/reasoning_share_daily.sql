-- reasoning_share_daily: the share of output tokens spent on reasoning, per day and model family.
-- Reasoning tokens are a subset of completion tokens. Many logs do not report them: those requests are left
-- out of the share (never counted as zero) and reasoning_coverage says how much of the output the share
-- covers. Only completed requests (final attempt succeeded) of operations that generate text count
-- (gl_is_generation: an embedding's tokens are no output).
--
-- grain: one row per day x model_family
-- inputs: int_requests_rolled_up
-- materialized: incremental
-- partition_day: day
-- columns:
--   day: UTC day the requests arrived
--   model_family: family of the model that served the final attempt
--   output_tokens: completion tokens of all completed requests
--   reported_output_tokens: completion tokens of the completed requests that report reasoning tokens
--   reasoning_tokens: reasoning tokens of those requests
--   reasoning_share: reasoning_tokens / reported_output_tokens (NULL when nothing is reported)
--   reasoning_coverage: reported_output_tokens / output_tokens: how much of the output the share describes

with

completed as (
    select * from int_requests_rolled_up
    where model_family is not null and status = 'success' and is_generation
),

summed as (
    select
        day,
        model_family,
        coalesce(sum(completion_tokens), 0)::bigint as output_tokens,
        coalesce(sum(completion_tokens) filter (where reasoning_tokens is not null), 0)::bigint as reported_output_tokens,
        coalesce(sum(reasoning_tokens), 0)::bigint as reasoning_tokens,
    from completed
    group by day, model_family
),

final as (
    select
        *,
        gl_ratio(reasoning_tokens, reported_output_tokens) as reasoning_share,
        gl_ratio(reported_output_tokens, output_tokens) as reasoning_coverage,
    from summed
)

select * from final
