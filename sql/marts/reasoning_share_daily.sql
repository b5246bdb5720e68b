-- reasoning_share_daily: the share of output tokens spent on reasoning, per day and model family, and, a
-- different figure that also goes by "reasoning share", the share of output tokens served by reasoning-capable
-- models. Reasoning tokens are a subset of completion tokens. Many logs do not report them: those requests are
-- left out of the first share (never counted as zero) and reasoning_coverage says how much of the output it
-- covers. A model is reasoning-capable on a day when a completed request it served that day reported reasoning
-- tokens (observed, so a model whose logs never report reasoning is not counted capable). Only completed
-- requests (final attempt succeeded) of operations that generate text count (gl_is_generation: an
-- embedding's tokens are no output).
--
-- grain: one row per day x model_family
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
--   capable_output_tokens: completion tokens of completed requests served by models reasoning-capable that day
--   reasoning_capable_share: capable_output_tokens / output_tokens (NULL without output)

with

completed as (
    select * from int_requests_rolled_up
    where model_family is not null and status = 'success' and is_generation
),

capable_models as (
    select distinct
        day,
        model_key,
    from completed
    where reasoning_tokens > 0
),

summed as (
    select
        completed.day,
        completed.model_family,
        coalesce(sum(completed.completion_tokens), 0)::bigint as output_tokens,
        coalesce(sum(completed.completion_tokens) filter (where completed.reasoning_tokens is not null), 0)::bigint
            as reported_output_tokens,
        coalesce(sum(completed.reasoning_tokens), 0)::bigint as reasoning_tokens,
        coalesce(sum(completed.completion_tokens) filter (where capable_models.model_key is not null), 0)::bigint
            as capable_output_tokens,
    from completed
    left join capable_models
        on capable_models.day = completed.day
            and capable_models.model_key = completed.model_key
    group by completed.day, completed.model_family
),

final as (
    select
        day,
        model_family,
        output_tokens,
        reported_output_tokens,
        reasoning_tokens,
        gl_ratio(reasoning_tokens, reported_output_tokens) as reasoning_share,
        gl_ratio(reported_output_tokens, output_tokens) as reasoning_coverage,
        capable_output_tokens,
        gl_ratio(capable_output_tokens, output_tokens) as reasoning_capable_share,
    from summed
)

select * from final
