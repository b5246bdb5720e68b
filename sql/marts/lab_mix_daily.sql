-- lab_mix_daily: which labs, and how much open-weight output, carry the completed generation traffic, per
-- day: output and prompt tokens by the lab that trains the model (model_vendor) and whether its weights are
-- published (open_weights), with the lab's share of the day's output, for the open vs closed split that
-- public studies report (OpenRouter's 100-trillion-token study puts open-weight models near a third of
-- tokens). A request counts for the model of its final attempt, when that attempt succeeded; failed requests,
-- requests whose log names no model, and operations that generate no text (embeddings, images, ...:
-- gl_is_generation) are left out.
--
-- grain: one row per day x model_vendor x open_weights
-- materialized: incremental
-- partition_day: day
-- columns:
--   day: UTC day the requests arrived
--   model_vendor: the lab that trains the model (unknown when no rule of the seed matches)
--   open_weights: true when the lab publishes the model's weights, false when it is API-only, NULL when unknown
--   requests: completed generation requests
--   output_tokens: completion tokens of those requests (reasoning included)
--   prompt_tokens: prompt tokens of those requests (cached included)
--   output_share: output_tokens / all output tokens of the day's completed generation requests with a known model

with

requests as (
    select * from int_requests_rolled_up
    where status = 'success' and is_generation and model_family is not null
),

counted as (
    select
        day,
        model_vendor,
        model_open_weights as open_weights,
        count(*) as requests,
        coalesce(sum(completion_tokens), 0)::bigint as output_tokens,
        coalesce(sum(prompt_tokens), 0)::bigint as prompt_tokens,
    from requests
    group by all
),

final as (
    select
        *,
        gl_ratio(output_tokens, sum(output_tokens) over (partition by day)) as output_share,
    from counted
)

select * from final
