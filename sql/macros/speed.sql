-- Speed of an attempt, for the latency marts. Time to first token counts only for streamed attempts (a buffered
-- response's first token arrives with its last); output speed is completion tokens over generation time
-- (latency minus time to first token) of streamed attempts that report both, which is what a reader of a
-- stream waits on, and the number providers publish as throughput.
-- the SQL linter's DuckDB grammar gives a macro body no indent; here bodies are indented under `create`
-- noqa: disable=LT02
create or replace macro gl_ttft_ms(streamed, ttft_ms) as case when streamed then ttft_ms end;
create or replace macro gl_tokens_per_second(streamed, latency_ms, ttft_ms, completion_tokens) as
    case
        when streamed and latency_ms > ttft_ms and completion_tokens > 0
            then completion_tokens / ((latency_ms - ttft_ms) / 1000.0)
    end;
-- The columns every latency mart reports over a group of attempts, as one struct (`stats.*` spreads it): each
-- percentile set with the number of attempts it rests on. Latency and TTFT at p50, p75, p90, p99; output speed at
-- p10 (the slow tenth a stream reader notices), p50 and p90; continuous (interpolated). The repeated quantile
-- expressions are one aggregate each: DuckDB computes identical aggregates once.
create or replace macro gl_speed_stats(latency_ms, ttft_ms, tokens_per_second) as {
    'latency_attempts': count(latency_ms),
    'latency_p50_ms': quantile_cont(latency_ms, [0.5, 0.75, 0.9, 0.99])[1],
    'latency_p75_ms': quantile_cont(latency_ms, [0.5, 0.75, 0.9, 0.99])[2],
    'latency_p90_ms': quantile_cont(latency_ms, [0.5, 0.75, 0.9, 0.99])[3],
    'latency_p99_ms': quantile_cont(latency_ms, [0.5, 0.75, 0.9, 0.99])[4],
    'ttft_attempts': count(ttft_ms),
    'ttft_p50_ms': quantile_cont(ttft_ms, [0.5, 0.75, 0.9, 0.99])[1],
    'ttft_p75_ms': quantile_cont(ttft_ms, [0.5, 0.75, 0.9, 0.99])[2],
    'ttft_p90_ms': quantile_cont(ttft_ms, [0.5, 0.75, 0.9, 0.99])[3],
    'ttft_p99_ms': quantile_cont(ttft_ms, [0.5, 0.75, 0.9, 0.99])[4],
    'speed_attempts': count(tokens_per_second),
    'tokens_per_second_p10': quantile_cont(tokens_per_second, [0.1, 0.5, 0.9])[1],
    'tokens_per_second_p50': quantile_cont(tokens_per_second, [0.1, 0.5, 0.9])[2],
    'tokens_per_second_p90': quantile_cont(tokens_per_second, [0.1, 0.5, 0.9])[3]
};
