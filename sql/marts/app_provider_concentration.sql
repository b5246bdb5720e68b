-- app_provider_concentration: lock-in risk per app: how many providers and models it uses and how
-- concentrated its requests are. provider_hhi is the Herfindahl index of the app's requests across
-- providers (sum of squared shares): 1 = a single provider, 1/n = spread evenly over n. Requests whose log
-- names no provider are left out.
--
-- grain: one row per app_id
-- materialized: table
-- columns:
--   app_id: the calling application (NULL when the log names none)
--   requests: requests with a known provider
--   providers_used: distinct providers of final attempts
--   models_used: distinct canonical models of final attempts
--   top_provider: the provider that served most of its requests
--   top_provider_share: that provider's share
--   provider_hhi: Herfindahl index across providers, 1/providers_used .. 1

with

usage as (
    select * from int_app_usage_daily
    where provider is not null
),

per_provider as (
    select
        app_id,
        provider,
        sum(requests)::bigint as requests,
    from usage
    group by all
),

shares as (
    select
        *,
        requests / sum(requests) over (partition by app_id) as share,
    from per_provider
),

models as (
    select
        app_id,
        count(distinct model_key) as models_used,
    from usage
    group by app_id
),

final as (
    select
        shares.app_id,
        sum(shares.requests)::bigint as requests,
        count(*) as providers_used,
        any_value(models.models_used) as models_used,
        first(shares.provider order by shares.requests desc, shares.provider asc) as top_provider,
        max(shares.share) as top_provider_share,
        sum(shares.share * shares.share) as provider_hhi,
    from shares
    left join models on models.app_id is not distinct from shares.app_id
    group by shares.app_id
)

select * from final
