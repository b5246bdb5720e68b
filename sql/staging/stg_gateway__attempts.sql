-- stg_gateway__attempts: every stored upstream attempt, with its UTC day, hour and minute and the family, lab
-- (model_vendor), tier and open weights of the model that served it (from the model_families seed; unmapped
-- models are family 'Other', vendor and tier 'unknown', open weights NULL = unknown).
-- Timestamps are naive UTC, so every session sees the same hours whatever its TimeZone setting.
--
-- grain: one row per attempt (request_id, attempt)
-- materialized: view

with

attempts as not materialized (
    -- read twice (models, rows): not materialized, so each read takes only the columns it needs
    select *
    from requests
    -- partition pruning: an incremental build reads only its days (see macros/context.sql)
    where date between gl_context_from() and gl_context_to()
),

served_models as (
    select distinct coalesce(model, model_requested) as model_id
    from attempts
),

model_keys as (
    -- the key computed once, for the column and for the rules
    select
        model_id,
        gl_model_key(model_id) as model_key,
    from served_models
    where model_id is not null
),

keyed as (
    -- the rules are compiled into gl_model_rule (constant patterns), once per distinct model
    select
        model_id,
        model_key,
        gl_model_rule(model_key) as match_order,
    from model_keys
),

families as (
    select
        keyed.model_id,
        keyed.model_key,
        model_families.model_family,
        model_families.model_vendor,
        model_families.model_tier,
        model_families.open_weights,
    from keyed
    left join model_families
        on model_families.match_order = keyed.match_order
),

final as (
    select
        -- the linter takes the excluded names for unqualified references
        attempts.* exclude (date, created_at),  -- noqa: RF02
        -- naive UTC from the absolute instant: the same in every session time zone, and cheap
        make_timestamp(epoch_us(attempts.created_at)) as created_at,
        -- the partition column itself (a DATE): a filter on day, even one a join derives, skips other days
        attempts.date as day,
        date_trunc('hour', make_timestamp(epoch_us(attempts.created_at))) as hour,
        date_trunc('minute', make_timestamp(epoch_us(attempts.created_at))) as minute,
        families.model_key,
        case when families.model_id is not null then coalesce(families.model_family, 'Other') end as model_family,
        case when families.model_id is not null then coalesce(families.model_vendor, 'unknown') end as model_vendor,
        case when families.model_id is not null then coalesce(families.model_tier, 'unknown') end as model_tier,
        -- NULL when the log names no model and when no rule maps it (unknown: not coalesced)
        families.open_weights as model_open_weights,
    from attempts
    left join families
        on families.model_id = coalesce(attempts.model, attempts.model_requested)
)

select * from final
