-- stg_gateway__attempts: every stored upstream attempt, with its UTC day, hour and minute and the family of
-- the model that served it (from the model_families seed; unmapped models are family 'Other').
-- Timestamps are naive UTC, so every session sees the same hours whatever its TimeZone setting.
--
-- grain: one row per attempt (request_id, attempt)
-- inputs: model_families, requests
-- materialized: view

with

attempts as (
    select *
    from requests
    -- partition pruning: an incremental build reads only its days (see macros/context.sql)
    where date between cast(gl_context_from() as varchar) and cast(gl_context_to() as varchar)
),

served_models as (
    select distinct coalesce(model, model_requested) as model_id
    from attempts
),

families as (
    select
        served_models.model_id,
        gl_model_key(served_models.model_id) as model_key,
        arg_min(
            {
                'family': model_families.model_family,
                'vendor': model_families.model_vendor,
                'tier': model_families.model_tier,
            },
            model_families.match_order
        ) as family,
    from served_models
    left join model_families
        on regexp_full_match(gl_model_key(served_models.model_id), model_families.pattern)
    where served_models.model_id is not null
    group by all
),

final as (
    select
        attempts.* exclude (date, created_at),
        timezone('UTC', attempts.created_at) as created_at,
        cast(attempts.date as date) as day,
        date_trunc('hour', timezone('UTC', attempts.created_at)) as hour,
        date_trunc('minute', timezone('UTC', attempts.created_at)) as minute,
        families.model_key,
        case when families.model_id is not null then coalesce(families.family.family, 'Other') end as model_family,
        case when families.model_id is not null then coalesce(families.family.vendor, 'unknown') end as model_vendor,
        case when families.model_id is not null then coalesce(families.family.tier, 'unknown') end as model_tier,
    from attempts
    left join families
        on families.model_id = coalesce(attempts.model, attempts.model_requested)
)

select * from final
