-- reasoning_share_weekly: reasoning_share_daily added up per ISO week (Monday to Sunday), for leadership trends. Share and
-- coverage are recomputed from the summed tokens (not averaged over days); unknown reasoning stays
-- excluded. The first and last periods may be partial: `days` says how many days had data.
--
-- grain: one row per week x model_family
-- materialized: table
-- columns:
--   week: first day (Monday) of the ISO week
--   model_family: model family
--   days: days of the period with output of the family
--   output_tokens: completion tokens of all completed requests
--   reported_output_tokens: completion tokens of the completed requests that report reasoning tokens
--   reasoning_tokens: reasoning tokens of those requests
--   reasoning_share: reasoning_tokens / reported_output_tokens
--   reasoning_coverage: reported_output_tokens / output_tokens
--   capable_output_tokens: completion tokens served by models reasoning-capable on their day
--   reasoning_capable_share: capable_output_tokens / output_tokens

with

daily as (
    select * from reasoning_share_daily
),

summed as (
    select
        cast(date_trunc('week', day) as date) as week,
        model_family,
        count(*) filter (where output_tokens > 0) as days,
        sum(output_tokens)::bigint as output_tokens,
        sum(reported_output_tokens)::bigint as reported_output_tokens,
        sum(reasoning_tokens)::bigint as reasoning_tokens,
        sum(capable_output_tokens)::bigint as capable_output_tokens,
    from daily
    group by all
),

final as (
    select
        * exclude (capable_output_tokens),
        gl_ratio(reasoning_tokens, reported_output_tokens) as reasoning_share,
        gl_ratio(reported_output_tokens, output_tokens) as reasoning_coverage,
        capable_output_tokens,
        gl_ratio(capable_output_tokens, output_tokens) as reasoning_capable_share,
    from summed
)

select * from final
