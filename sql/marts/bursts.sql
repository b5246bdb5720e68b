-- bursts: burst episodes: runs of burst minutes (see traffic_minutely), where a single quiet minute inside
-- a run does not split it. Each episode names the app that sent most of its requests: scheduled agents
-- show up here as the same app at the same hour, night after night.
--
-- grain: one row per burst_id (one burst episode)
-- materialized: table
-- placed_by: started_at
-- columns:
--   burst_id: episode number, in order of start
--   started_at: first burst minute (UTC)
--   ended_at: last burst minute (UTC)
--   minutes: minutes from start to end, both included
--   requests: requests that arrived from started_at to the end of ended_at
--   peak_rpm: the most requests in one minute of the episode
--   baseline_rpm: the rolling baseline at the episode's first minute
--   peak_ratio: peak_rpm / baseline_rpm, with a baseline under one request per minute counted as one
--   top_app_id: the app that sent most of the episode's requests
--   top_app_share: that app's share of the episode's requests

with

burst_minutes as (
    select
        minute,
        requests,
        baseline,
    from traffic_minutely
    where is_burst
),

flagged as (
    select
        *,
        case when lag(minute) over (order by minute) >= minute - interval 2 minute then 0 else 1 end as starts_episode,
    from burst_minutes
),

numbered as (
    select
        *,
        sum(starts_episode) over (order by minute rows between unbounded preceding and current row) as episode,
    from flagged
),

episodes as (
    select
        episode,
        min(minute) as started_at,
        max(minute) as ended_at,
        max(requests) as peak_rpm,
        arg_min(baseline, minute) as baseline_rpm,
    from numbered
    group by episode
),

episode_minutes as (
    select
        episode,
        unnest(generate_series(started_at, ended_at, interval 1 minute)) as minute,
    from episodes
),

episode_apps as (
    -- an equality join on the arrival minute: the few burst minutes are the build side
    select
        episode_minutes.episode,
        requests.app_id,
        count(*) as requests,
    from int_requests_rolled_up as requests
    inner join episode_minutes
        on episode_minutes.minute = date_trunc('minute', requests.arrived_at)
    group by all
),

episode_totals as (
    select
        episode,
        sum(requests)::bigint as requests,
        first(app_id order by requests desc, app_id asc nulls last) as top_app_id,
        max(requests) as top_app_requests,
    from episode_apps
    group by episode
),

final as (
    select
        cast(episodes.episode as bigint) as burst_id,
        episodes.started_at,
        episodes.ended_at,
        date_diff('minute', episodes.started_at, episodes.ended_at) + 1 as minutes,
        episode_totals.requests,
        episodes.peak_rpm,
        episodes.baseline_rpm,
        episodes.peak_rpm / greatest(episodes.baseline_rpm, 1) as peak_ratio,
        episode_totals.top_app_id,
        gl_ratio(episode_totals.top_app_requests, episode_totals.requests) as top_app_share,
    from episodes
    inner join episode_totals on episode_totals.episode = episodes.episode
)

select * from final
