-- traffic_hour_of_week: the weekly rhythm: mean requests per hour for each (weekday, hour of day) slot in
-- UTC, over every such hour in the covered period (quiet hours count as zero), for the weekly heatmap.
--
-- grain: one row per dow x hour
-- materialized: table
-- columns:
--   dow: ISO weekday, 1 = Monday ... 7 = Sunday
--   day_name: weekday name
--   hour: hour of day, 0-23 (UTC)
--   hours_observed: hours of this slot in the period
--   mean_requests: mean requests per hour in this slot
--   max_requests: the busiest such hour

with

hourly as (
    select
        date_trunc('hour', minute) as hour_start,
        sum(requests)::bigint as requests,
    from traffic_minutely
    group by all
),

final as (
    select
        isodow(hour_start) as dow,
        dayname(hour_start) as day_name,
        hour(hour_start) as hour,
        count(*) as hours_observed,
        avg(requests) as mean_requests,
        max(requests) as max_requests,
    from hourly
    group by all
)

select * from final
