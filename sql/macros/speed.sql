-- Speed of an attempt, for the latency marts. Time to first token counts only for streamed attempts (a buffered
-- response's first token arrives with its last); output speed is completion tokens over generation time
-- (latency minus time to first token) of streamed attempts that report both, which is what a reader of a
-- stream waits on, and the number providers publish as throughput.
create or replace macro gl_ttft_ms(streamed, ttft_ms) as case when streamed then ttft_ms end;
create or replace macro gl_tokens_per_second(streamed, latency_ms, ttft_ms, completion_tokens) as
    case
        when streamed and latency_ms > ttft_ms and completion_tokens > 0
            then completion_tokens / ((latency_ms - ttft_ms) / 1000.0)
    end;
-- the percentiles the latency marts report, as a list: p50, p75, p90, p99 (continuous: interpolated)
create or replace macro gl_latency_percentiles(value) as quantile_cont(value, [0.5, 0.75, 0.9, 0.99]);
-- output speed is reported at p10 (the slow tenth a stream reader notices), p50 and p90
create or replace macro gl_speed_percentiles(value) as quantile_cont(value, [0.1, 0.5, 0.9]);
