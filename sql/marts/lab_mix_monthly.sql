-- lab_mix_monthly: lab_mix_daily added up per calendar month: completed generation requests, output and
-- prompt tokens per lab (model_vendor) and open / closed weights, with the share of the month's output
-- recomputed from the summed tokens (not averaged over days). The first and last periods may be partial:
-- `days` says how many days had requests.
--
-- grain: one row per month x model_vendor x open_weights
-- materialized: table
-- columns:
--   month: first day of the calendar month
--   model_vendor: the lab that trains the model (unknown when no rule of the seed matches)
--   open_weights: true when the lab publishes the model's weights, false when it is API-only, NULL when unknown
--   days: days of the month with completed requests of the lab's models of that kind
--   requests: completed generation requests
--   output_tokens: completion tokens of those requests (reasoning included)
--   prompt_tokens: prompt tokens of those requests (cached included)
--   output_share: output_tokens / all output tokens of the month's completed generation requests with a known model

with

daily as (
    select * from lab_mix_daily
),

summed as (
    select
        cast(date_trunc('month', day) as date) as month,
        model_vendor,
        open_weights,
        count(*) as days,
        sum(requests)::bigint as requests,
        sum(output_tokens)::bigint as output_tokens,
        sum(prompt_tokens)::bigint as prompt_tokens,
    from daily
    group by all
),

final as (
    select
        *,
        gl_ratio(output_tokens, sum(output_tokens) over (partition by month)) as output_share,
    from summed
)

select * from final
