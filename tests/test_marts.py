"""Given/expect tests of the marts: a handful of hand-made records go through the real ingest and the real
model build; every expected row below was computed by hand from those records.

(Long on purpose: every mart's given/expect test reads one shared build of the marts, made once per module;
split, each module would build again.)"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from pipelines.lib.sqlmodels.parameters import Parameters
from pipelines.lib.storage import Warehouse
from tests.conftest import build_models, mart, record, write_lines

DAY = dt.date(2025, 6, 1)  # a Sunday
CLAUDE = "anthropic/claude-sonnet-4.5"
GPT_MINI = "openai/gpt-4o-mini"


def _error(**fields):
    return record(
        status="error",
        native_finish_reason=None,
        completion_tokens=None,
        reasoning_tokens=None,
        cached_prompt_tokens=None,
        tool_calls=None,
        ttft_ms=None,
        cost_usd=0.0,
        **fields,
    )


def _outcomes() -> list[dict]:
    """Six requests on 2025-06-01:
    r1 Claude on Anthropic, tool call, 300 output tokens of which 100 reasoning (app-a)
    r2 Claude on Anthropic, end_turn, 200 output tokens, reasoning not reported (app-a)
    r3 Claude: attempt 1 Anthropic 529 (server error), attempt 2 Bedrock 2 s later, tool call, 100/50 (app-a)
    r4 GPT-4o-mini on OpenAI, 429 (rate limit), no further attempt (app-b)
    r5 GPT-4o-mini on OpenAI, tool call, 400 output tokens, 0 reasoning (app-a)
    r6 GPT-4o-mini on OpenAI at 13:00, 400 (client error) (app-b)
    """
    return [
        record(
            request_id="r1", native_finish_reason="tool_use", tool_calls=1, completion_tokens=300, reasoning_tokens=100
        ),
        record(request_id="r2", native_finish_reason="end_turn", completion_tokens=200, reasoning_tokens=None),
        _error(request_id="r3", http_status=529, created_at="2025-06-01T12:00:00Z"),
        record(
            request_id="r3",
            attempt=2,
            created_at="2025-06-01T12:00:02Z",
            provider_native="Amazon Bedrock",
            native_finish_reason="tool_use",
            tool_calls=2,
            completion_tokens=100,
            reasoning_tokens=50,
        ),
        _error(request_id="r4", app_id="app-b", model=GPT_MINI, provider_native="OpenAI", http_status=429),
        record(
            request_id="r5",
            model=GPT_MINI,
            provider_native="OpenAI",
            native_finish_reason="tool_calls",
            tool_calls=1,
            completion_tokens=400,
            reasoning_tokens=0,
        ),
        _error(
            request_id="r6",
            app_id="app-b",
            model=GPT_MINI,
            provider_native="OpenAI",
            http_status=400,
            created_at="2025-06-01T13:00:00Z",
        ),
    ]


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory) -> Warehouse:
    root = tmp_path_factory.mktemp("outcomes")
    warehouse = Warehouse(str(root / "warehouse"))
    _ingest(warehouse, write_lines(root / "logs" / "outcomes.jsonl", _outcomes()))
    build_models(warehouse)
    return warehouse


def _ingest(warehouse: Warehouse, path: Path) -> None:
    from pipelines.lib.ingest import ingest
    from tests.conftest import HASH_KEY

    report = ingest([str(path)], warehouse, hash_key=HASH_KEY)
    assert report.quarantined == 0, "the given records must all be valid"


@pytest.mark.slow
def test_requests_roll_up_their_attempts(tmp_path):
    """Retried requests take their final attempt's outcome and the first attempt's arrival; a request logged
    without its first attempt is still one request; single attempts pass through."""
    warehouse = Warehouse(str(tmp_path / "warehouse"))
    lines = [
        record(request_id="single", cost_usd=0.5),
        {**_error(request_id="three", http_status=529, created_at="2025-06-01T10:00:00Z"), "cost_usd": 0.1},
        {**_error(request_id="three", attempt=2, http_status=503, created_at="2025-06-01T10:00:01Z"), "cost_usd": 0.2},
        record(request_id="three", attempt=3, created_at="2025-06-01T10:00:03Z", provider_native="Amazon Bedrock"),
        record(request_id="late-only", attempt=2, created_at="2025-06-01T11:00:00Z"),
    ]
    _ingest(warehouse, write_lines(tmp_path / "logs" / "rolled.jsonl", lines))
    build_models(warehouse)
    rows = mart(
        warehouse,
        """select request_id, attempts, arrived_at, first_provider, first_status, provider, status, cost_usd
        from int_requests_rolled_up order by request_id""",
    )
    cost = record()["cost_usd"]
    assert rows == [
        ("late-only", 1, dt.datetime(2025, 6, 1, 11), "anthropic", "success", "anthropic", "success", cost),
        ("single", 1, dt.datetime(2025, 6, 1, 12), "anthropic", "success", "anthropic", "success", 0.5),
        (
            "three",
            3,
            dt.datetime(2025, 6, 1, 10),
            "anthropic",
            "error",
            "amazon-bedrock",
            "success",
            pytest.approx(0.1 + 0.2 + cost),
        ),
    ]


def test_tool_call_rate_daily(outcomes):
    """Every completed request offered 3 tools (record's default); Claude's r1 and r3 and GPT's r5 carry tool
    calls, r2 none: the funnel reads 3 offered, 2 used of Claude's 3."""
    rows = mart(outcomes, "select * from tool_call_rate_daily order by all")
    assert rows == [
        (DAY, "Claude", 3, 2, pytest.approx(2 / 3), 3, 3, 2, 1.0, pytest.approx(2 / 3)),
        (DAY, "GPT", 1, 1, 1.0, 1, 1, 1, 1.0, 1.0),
    ]


@pytest.mark.slow
def test_the_tool_funnel_rests_on_the_requests_that_log_tools_offered(tmp_path):
    """Five completed requests: a (3 tools, 1 call, finish tool_use), b (3 tools, 2 calls, but cut at the token
    limit: finish length, so not a final tool call), c (no tools), d (tools not logged), e (tools not logged,
    tool call). Offered: a, b of the three that log it; used: both; final tool call: a, e."""
    warehouse = Warehouse(str(tmp_path / "warehouse"))
    lines = [
        record(request_id="a", tools_offered=3, tool_calls=1, native_finish_reason="tool_use"),
        record(request_id="b", tools_offered=3, tool_calls=2, native_finish_reason="max_tokens"),
        record(request_id="c", tools_offered=0, tool_calls=0),
        record(request_id="d", tools_offered=None, tool_calls=0),
        record(request_id="e", tools_offered=None, tool_calls=1, native_finish_reason="tool_use"),
    ]
    _ingest(warehouse, write_lines(tmp_path / "logs" / "funnel.jsonl", lines))
    build_models(warehouse)
    assert mart(warehouse, "select * exclude (day, model_family) from tool_call_rate_daily") == [
        (5, 2, 0.4, 3, 2, 2, pytest.approx(2 / 3), 1.0)
    ]


def test_reasoning_share_daily_excludes_unreported_reasoning(outcomes):
    rows = mart(outcomes, "select * from reasoning_share_daily order by all")
    # Claude: output 300 + 200 + 100; reported 300 + 100; reasoning 100 + 50. GPT reports a real zero.
    # Both shares: Claude served every output token from a model that reported reasoning that day (r1, r3 did);
    # gpt-4o-mini reported a real zero, so it was not seen reasoning: 0 of GPT's output is from a capable model.
    assert rows == [
        (DAY, "Claude", 600, 400, 150, pytest.approx(150 / 400), pytest.approx(400 / 600), 600, 1.0),
        (DAY, "GPT", 400, 400, 0, 0.0, 1.0, 0, 0.0),
    ]


def test_provider_errors_hourly(outcomes):
    rows = mart(outcomes, "select * from provider_errors_hourly order by all")
    noon, one = dt.datetime(2025, 6, 1, 12), dt.datetime(2025, 6, 1, 13)
    assert rows == [
        (noon, "amazon-bedrock", 1, 0, 0, 0, 0, 0, 0.0, 0.0),
        (noon, "anthropic", 3, 1, 0, 0, 1, 0, pytest.approx(1 / 3), pytest.approx(1 / 3)),
        (noon, "openai", 2, 1, 1, 0, 0, 0, 0.5, 0.5),
        (one, "openai", 1, 1, 0, 0, 0, 1, 1.0, 0.0),  # a client error is not the provider's fault
    ]


def test_provider_uptime_daily(outcomes):
    rows = mart(outcomes, "select * from provider_uptime_daily order by all")
    assert rows == [
        (DAY, "amazon-bedrock", 1, 0, 1.0, 0.999, True),
        (DAY, "anthropic", 3, 1, pytest.approx(2 / 3), 0.999, False),
        (DAY, "openai", 3, 1, pytest.approx(2 / 3), 0.999, False),
    ]


def test_failover_daily(outcomes):
    rows = mart(outcomes, "select * from failover_daily order by all")
    assert rows == [(DAY, "anthropic", 3, 1, 1, 1.0, 2000.0), (DAY, "openai", 3, 0, 0, None, None)]


def test_model_mix_daily(outcomes):
    rows = mart(outcomes, "select * from model_mix_daily order by all")
    assert rows == [(DAY, "frontier", "Claude", 3, 2, 600, 0.5), (DAY, "small", "GPT", 3, 1, 400, 0.5)]


LLAMA = "meta-llama/llama-3.3-70b-instruct"


def _labs() -> list[dict]:
    """Completed and left-out requests of open- and closed-weight models on two days:
    2025-06-01: Claude 300 out / 1,200 in; GPT-4o-mini 100 / 1,000; Llama 3.3 70B on Groq 400 / 800; gpt-oss-120b
      on Groq 200 / 500 (OpenAI, open); left out: a failed Llama request, a request whose log names no model, an
      embedding request of text-embedding-3-small
    2025-06-02: deepseek-chat 600 / 2,000; Claude 200 / 1,200; a request whose Claude attempt failed (529) and
      whose fallback on Groq served Llama 3.3 70B, 200 / 1,000; an unmapped model my-finetune-v2 100 / 100
    """
    groq = {"provider_native": "Groq"}
    day2 = {"created_at": "2025-06-02T09:00:00Z"}
    return [
        record(request_id="claude-1", completion_tokens=300, prompt_tokens=1200),
        record(
            request_id="mini-1", model=GPT_MINI, provider_native="OpenAI", completion_tokens=100, prompt_tokens=1000
        ),
        record(request_id="llama-1", model=LLAMA, completion_tokens=400, prompt_tokens=800, **groq),
        record(request_id="oss-1", model="openai/gpt-oss-120b", completion_tokens=200, prompt_tokens=500, **groq),
        _error(request_id="llama-failed", model=LLAMA, http_status=503, **groq),
        record(request_id="no-model", model=None, completion_tokens=50),
        record(
            request_id="embed",
            model="text-embedding-3-small",
            provider_native="OpenAI",
            operation="aembedding",
            native_finish_reason=None,
            completion_tokens=None,
            reasoning_tokens=None,
            tool_calls=None,
            prompt_tokens=100,
            cached_prompt_tokens=None,
        ),
        record(
            request_id="deepseek-2",
            model="deepseek-chat",
            provider_native="DeepSeek",
            completion_tokens=600,
            prompt_tokens=2000,
            **day2,
        ),
        record(request_id="claude-2", completion_tokens=200, prompt_tokens=1200, **day2),
        _error(request_id="fallback-2", http_status=529, **day2),
        record(
            request_id="fallback-2",
            attempt=2,
            created_at="2025-06-02T09:00:02Z",
            model=LLAMA,
            completion_tokens=200,
            prompt_tokens=1000,
            **groq,
        ),
        record(
            request_id="unmapped-2",
            model="my-finetune-v2",
            completion_tokens=100,
            prompt_tokens=100,
            cached_prompt_tokens=0,
            **day2,
        ),
    ]


@pytest.mark.slow
def test_lab_mix_daily_and_monthly(tmp_path):
    """Per lab and open / closed weights, completed generation requests only; shares of each day's output
    (1,000 tokens on 06-01, 1,100 on 06-02) and of the month's (2,100)."""
    warehouse = Warehouse(str(tmp_path / "warehouse"))
    _ingest(warehouse, write_lines(tmp_path / "logs" / "labs.jsonl", _labs()))
    build_models(warehouse)
    # the request rollup carries open weights from both its single- and several-attempt branches
    assert mart(
        warehouse, "select request_id, model_vendor, model_open_weights from int_requests_rolled_up order by 1"
    ) == [
        ("claude-1", "Anthropic", False),
        ("claude-2", "Anthropic", False),
        ("deepseek-2", "DeepSeek", True),
        ("embed", "OpenAI", False),
        ("fallback-2", "Meta", True),
        ("llama-1", "Meta", True),
        ("llama-failed", "Meta", True),
        ("mini-1", "OpenAI", False),
        ("no-model", None, None),
        ("oss-1", "OpenAI", True),
        ("unmapped-2", "unknown", None),  # a model no rule maps: lab unknown, open weights unknown
    ]
    day2 = dt.date(2025, 6, 2)
    assert mart(warehouse, "select * from lab_mix_daily order by day, model_vendor, open_weights") == [
        (DAY, "Anthropic", False, 1, 300, 1200, 0.3),
        (DAY, "Meta", True, 1, 400, 800, 0.4),
        (DAY, "OpenAI", False, 1, 100, 1000, 0.1),
        (DAY, "OpenAI", True, 1, 200, 500, 0.2),  # gpt-oss: the same lab, open weights
        (day2, "Anthropic", False, 1, 200, 1200, pytest.approx(200 / 1100)),
        (day2, "DeepSeek", True, 1, 600, 2000, pytest.approx(600 / 1100)),
        (day2, "Meta", True, 1, 200, 1000, pytest.approx(200 / 1100)),  # the fallback's final attempt
        (day2, "unknown", None, 1, 100, 100, pytest.approx(100 / 1100)),
    ]
    assert mart(warehouse, "select * from lab_mix_monthly order by model_vendor, open_weights") == [
        (DAY, "Anthropic", False, 2, 2, 500, 2400, pytest.approx(500 / 2100)),
        (DAY, "DeepSeek", True, 1, 1, 600, 2000, pytest.approx(600 / 2100)),
        (DAY, "Meta", True, 2, 2, 600, 1800, pytest.approx(600 / 2100)),
        (DAY, "OpenAI", False, 1, 1, 100, 1000, pytest.approx(100 / 2100)),
        (DAY, "OpenAI", True, 1, 1, 200, 500, pytest.approx(200 / 2100)),
        (DAY, "unknown", None, 1, 1, 100, 100, pytest.approx(100 / 2100)),
    ]


def test_app_model_mix(outcomes):
    rows = mart(outcomes, "select * from app_model_mix order by all")
    # app-a: r1 r2 r3 (Claude, frontier) and r5 (GPT-4o-mini, small); tool calls r1 r3 r5, one on a small model
    assert rows == [("app-a", 4, 0.75, 0.25, 3, pytest.approx(1 / 3)), ("app-b", 2, 0.0, 1.0, 0, None)]


def test_app_provider_concentration(outcomes):
    rows = mart(outcomes, "select * from app_provider_concentration order by all")
    # app-a's final providers: anthropic x2, amazon-bedrock, openai -> HHI 0.5^2 + 0.25^2 + 0.25^2
    assert rows == [
        ("app-a", 4, 3, 2, "anthropic", 0.5, 0.375),
        ("app-b", 2, 1, 1, "openai", 1.0, 1.0),
    ]


def test_weekly_and_monthly_views_add_up_the_days(outcomes):
    week = dt.date(2025, 5, 26)  # the ISO week (Monday) of Sunday 2025-06-01
    assert mart(outcomes, "select * from tool_call_rate_weekly order by all") == [
        (week, "Claude", 1, 3, 2, pytest.approx(2 / 3), 3, 3, 2, 1.0, pytest.approx(2 / 3)),
        (week, "GPT", 1, 1, 1, 1.0, 1, 1, 1, 1.0, 1.0),
    ]
    assert mart(outcomes, "select month, model_family, reasoning_share from reasoning_share_monthly order by all") == [
        (DAY, "Claude", pytest.approx(0.375)),
        (DAY, "GPT", 0.0),
    ]
    assert mart(outcomes, "select * from provider_uptime_monthly where provider = 'anthropic'") == [
        (DAY, "anthropic", 1, 1, 3, 1, pytest.approx(2 / 3), 0.999, False)
    ]


# ---------------------------------------------------------------------------------------------------------
# Spend, speed, context, error budget (over the same six requests)
# ---------------------------------------------------------------------------------------------------------

COST = 0.0081  # record()'s cost; the error records report 0.0


def test_spend_daily(outcomes):
    """A request's cost is its attempts' costs together, on its final attempt's provider: r3 = 0.0 (the 529)
    + 0.0081 on Bedrock. r4 and r6 report a cost of 0: reported, not unknown."""
    assert mart(outcomes, "select * from spend_daily order by provider, app_id") == [
        # day, family, provider, app, operation, requests, completed, tool-call completions, cost reported,
        # zero-cost, coverage, cost, completed with cost, tool-call completions with cost, cost per completed,
        # cost per tool-call completion, prompt, completion, reasoning, cached tokens
        (
            DAY,
            "Claude",
            "amazon-bedrock",
            "app-a",
            "chat",
            1,
            1,
            1,
            1,
            0,
            1.0,
            COST,
            1,
            1,
            COST,
            COST,
            1200,
            100,
            50,
            200,
        ),
        (
            DAY,
            "Claude",
            "anthropic",
            "app-a",
            "chat",
            2,
            2,
            1,
            2,
            0,
            1.0,
            2 * COST,
            2,
            1,
            COST,
            2 * COST,
            2400,
            500,
            100,
            400,
        ),
        (DAY, "GPT", "openai", "app-a", "chat", 1, 1, 1, 1, 0, 1.0, COST, 1, 1, COST, COST, 1200, 400, 0, 200),
        (DAY, "GPT", "openai", "app-b", "chat", 2, 0, 0, 2, 2, 1.0, 0.0, 0, 0, None, None, 2400, None, None, None),
    ]


@pytest.mark.slow
def test_unknown_cost_stays_unknown_and_is_left_out_of_the_cost_per_completion(tmp_path):
    warehouse = Warehouse(str(tmp_path / "warehouse"))
    lines = [
        record(request_id="a", cost_usd=0.5, tool_calls=1, native_finish_reason="tool_use"),
        record(request_id="b", cost_usd=None),
        record(request_id="c", cost_usd=None, created_at="2025-06-02T12:00:00Z"),
    ]
    _ingest(warehouse, write_lines(tmp_path / "logs" / "cost.jsonl", lines))
    build_models(warehouse)
    query = """select day, requests, cost_reported_requests, cost_coverage, cost_usd, cost_per_completed_request,
        cost_per_tool_call_completion from spend_daily order by day"""
    assert mart(warehouse, query) == [
        (DAY, 2, 1, 0.5, 0.5, 0.5, 0.5),  # b's cost is unknown: not 0, not in the denominator
        (dt.date(2025, 6, 2), 1, 0, 0.0, None, None, None),
    ]
    assert mart(warehouse, "select requests, cost_coverage, cost_usd, days from spend_monthly") == [
        (3, pytest.approx(1 / 3), 0.5, 2)
    ]


def test_provider_latency_daily(outcomes):
    """Successful attempts only: r1, r2 on Anthropic, r3's second attempt on Bedrock, r5 on OpenAI; each took
    2,100 ms with a first token at 450 ms, so generation took 1.65 s: output speed = completion tokens / 1.65."""
    query = """select provider, model_key, attempts, latency_p50_ms, latency_p99_ms, ttft_attempts, ttft_p90_ms,
        speed_attempts, tokens_per_second_p10, tokens_per_second_p50, tokens_per_second_p90
        from provider_latency_daily order by provider"""
    r1, r2 = 300 / 1.65, 200 / 1.65  # p10 and p90 interpolate between the two
    assert mart(outcomes, query) == [
        ("amazon-bedrock", "claude-sonnet-4.5", 1, 2100.0, 2100.0, 1, 450.0, 1, *[pytest.approx(100 / 1.65)] * 3),
        (
            "anthropic",
            "claude-sonnet-4.5",
            2,
            2100.0,
            2100.0,
            2,
            450.0,
            2,
            pytest.approx(r2 + 0.1 * (r1 - r2)),
            pytest.approx((r1 + r2) / 2),
            pytest.approx(r2 + 0.9 * (r1 - r2)),
        ),
        ("openai", "gpt-4o-mini", 1, 2100.0, 2100.0, 1, 450.0, 1, *[pytest.approx(400 / 1.65)] * 3),
    ]


@pytest.mark.slow
def test_latency_of_a_month_comes_from_its_attempts_not_its_days(tmp_path):
    """Day 1: latencies 100, 200, 300; day 2: 1,000. The month's median is 250 (of the four attempts); the
    median of the daily medians would be 600. Unstreamed attempts have no time to first token."""
    warehouse = Warehouse(str(tmp_path / "warehouse"))
    lines = [
        record(request_id=f"d1-{ms}", latency_ms=ms, streamed=False, created_at="2025-06-01T10:00:00Z")
        for ms in (100, 200, 300)
    ] + [record(request_id="d2", latency_ms=1000, created_at="2025-06-02T10:00:00Z")]
    _ingest(warehouse, write_lines(tmp_path / "logs" / "speed.jsonl", lines))
    build_models(warehouse)
    assert mart(warehouse, "select day, latency_p50_ms, ttft_attempts from provider_latency_daily order by day") == [
        (DAY, 200.0, 0),
        (dt.date(2025, 6, 2), 1000.0, 1),
    ]
    monthly = "select month, days, attempts, latency_p50_ms, ttft_attempts, ttft_p50_ms from provider_latency_monthly"
    assert mart(warehouse, monthly) == [(DAY, 2, 4, 250.0, 1, 450.0)]
    assert mart(warehouse, "select week, days, latency_p50_ms from provider_latency_weekly order by week") == [
        (dt.date(2025, 5, 26), 1, 200.0),  # Sunday 2025-06-01 closes the week of Monday 2025-05-26
        (dt.date(2025, 6, 2), 1, 1000.0),
    ]


def test_context_length_monthly(outcomes):
    """Completed requests: Claude r1, r2, r3 (prompts 1,200 each; completions 300, 200, 100; 200 cached each),
    GPT r5 (1,200 / 400 / 200 cached)."""
    assert mart(outcomes, "select * from context_length_monthly order by model_family") == [
        (DAY, "Claude", "chat", 3, 3, 1200.0, 1200.0, 3, 200.0, 280.0, 3, pytest.approx(600 / 3600)),
        (DAY, "GPT", "chat", 1, 1, 1200.0, 1200.0, 1, 400.0, 400.0, 1, pytest.approx(200 / 1200)),
    ]


def test_provider_error_budget_monthly(outcomes):
    """Anthropic: 3 attempts, 1 fault (r3's 529) against a budget of 0.003 faults at 99.9%: overspent 333-fold;
    every window ending at 13:00 holds those 3 attempts, burn 333 > 14.4: page. OpenAI: r4's 429 (12:00) is a
    fault, r6's 400 (13:00) is the caller's: the last hour holds r6 alone (burn 0), the 6 hours all three."""
    query = """select provider, attempts, provider_faults, allowed_faults, budget_left, window_end, burn_rate_1h,
        burn_rate_6h, burn_rate_3d, alert from provider_error_budget_monthly order by provider"""
    burn = pytest.approx((1 / 3) / 0.001)
    assert mart(outcomes, query) == [
        ("amazon-bedrock", 1, 0, pytest.approx(0.001), 1.0, dt.datetime(2025, 6, 1, 13), 0.0, 0.0, 0.0, "ok"),
        (
            "anthropic",
            3,
            1,
            pytest.approx(0.003),
            pytest.approx(1 - 1 / 0.003),
            dt.datetime(2025, 6, 1, 13),
            burn,
            burn,
            burn,
            "page",
        ),
        (
            "openai",
            3,
            1,
            pytest.approx(0.003),
            pytest.approx(1 - 1 / 0.003),
            dt.datetime(2025, 6, 1, 14),
            0.0,
            burn,
            burn,
            "page",
        ),
    ]


# ---------------------------------------------------------------------------------------------------------
# Traffic: minutes, bursts, apps
# ---------------------------------------------------------------------------------------------------------

MONDAY = dt.date(2025, 6, 2)


def _arrivals() -> list[dict]:
    """Arrivals on Monday 2025-06-02 (UTC), one attempt each:
    app-c at 10:00, 10:01, 10:02 (exactly periodic)
    app-a at 10:03:00/10/20/30 and 10:05:00/10 (gaps 10, 10, 10, 90, 10 s)
    app-b at 10:05:20/30/40
    Per minute: 10:00-10:02 one each, 10:03 four, 10:04 none, 10:05 five.
    """
    times = {
        "app-c": ["10:00:00", "10:01:00", "10:02:00"],
        "app-a": ["10:03:00", "10:03:10", "10:03:20", "10:03:30", "10:05:00", "10:05:10"],
        "app-b": ["10:05:20", "10:05:30", "10:05:40"],
    }
    return [
        record(request_id=f"{app}-{i}", app_id=app, created_at=f"2025-06-02T{t}Z")
        for app, stamps in times.items()
        for i, t in enumerate(stamps)
    ]


TRAFFIC_PARAMS = Parameters(burst_k=3, burst_min=3, baseline_minutes=3, overnight_tz="America/Los_Angeles")


@pytest.fixture(scope="module")
def traffic(tmp_path_factory) -> Warehouse:
    root = tmp_path_factory.mktemp("traffic")
    warehouse = Warehouse(str(root / "warehouse"))
    _ingest(warehouse, write_lines(root / "logs" / "arrivals.jsonl", _arrivals()))
    build_models(
        warehouse, TRAFFIC_PARAMS, only=["traffic_minutely", "bursts", "app_traffic_profile", "traffic_hour_of_week"]
    )
    return warehouse


@pytest.mark.slow
def test_traffic_minutely_is_zero_filled_with_a_rolling_median_baseline(traffic):
    assert mart(traffic, "select count(*), sum(requests), min(minute), max(minute) from traffic_minutely") == [
        (1440, 12, dt.datetime(2025, 6, 2), dt.datetime(2025, 6, 2, 23, 59))
    ]
    rows = mart(
        traffic,
        "select strftime(minute, '%H:%M'), requests, baseline, is_burst from traffic_minutely "
        "where minute between '2025-06-02 09:59' and '2025-06-02 10:07' order by minute",
    )
    assert rows == [
        ("09:59", 0, 0.0, False),
        ("10:00", 1, 0.0, False),  # below the minimum count
        ("10:01", 1, 0.0, False),
        ("10:02", 1, 1.0, False),  # median of 0, 1, 1
        ("10:03", 4, 1.0, True),  # 4 >= 3 x 1 and >= 3
        ("10:04", 0, 1.0, False),
        ("10:05", 5, 1.0, True),  # median of 1, 4, 0
        ("10:06", 0, 4.0, False),
        ("10:07", 0, 0.0, False),
    ]


@pytest.mark.slow
def test_bursts_join_across_a_one_minute_gap(traffic):
    rows = mart(traffic, "select * from bursts")
    start, end = dt.datetime(2025, 6, 2, 10, 3), dt.datetime(2025, 6, 2, 10, 5)
    # 10:03 and 10:05 are one episode; app-a sent 6 of its 9 requests
    assert rows == [(1, start, end, 3, 9, 5, 1.0, 5.0, "app-a", pytest.approx(6 / 9))]


@pytest.mark.slow
def test_app_traffic_profile(traffic):
    rows = mart(
        traffic,
        "select app_id, requests, burstiness, peak_to_mean_hourly, overnight_share, active_days "
        "from app_traffic_profile order by app_id",
    )
    # app-a gaps 10, 10, 10, 90, 10: mu 26, sigma 32 -> B = 6 / 58; periodic apps have B = -1.
    # 10:00 UTC is 03:00 in Los Angeles (PDT), inside the overnight window.
    assert rows == [
        ("app-a", 6, pytest.approx(6 / 58), 1.0, 1.0, 1),
        ("app-b", 3, pytest.approx(-1.0), 1.0, 1.0, 1),
        ("app-c", 3, pytest.approx(-1.0), 1.0, 1.0, 1),
    ]


@pytest.mark.slow
def test_traffic_hour_of_week(traffic):
    rows = mart(
        traffic,
        "select dow, day_name, hour, hours_observed, mean_requests from traffic_hour_of_week "
        "where hour in (9, 10) order by hour",
    )
    assert rows == [(1, "Monday", 9, 1, 0.0), (1, "Monday", 10, 1, 12.0)]


# ---------------------------------------------------------------------------------------------------------
# Provider variance
# ---------------------------------------------------------------------------------------------------------


def _variance() -> list[dict]:
    """The same model on two providers, 10 completions each: 5 tool calls on Anthropic, 1 on Bedrock; one
    extra failed attempt on Bedrock; Anthropic latencies 1000, 2000, ... 10000 ms."""
    lines = []
    for i in range(10):
        lines.append(
            record(
                request_id=f"a{i}",
                native_finish_reason="tool_use" if i < 5 else "end_turn",
                tool_calls=1 if i < 5 else 0,
                latency_ms=1000.0 * (i + 1),
            )
        )
        lines.append(
            record(
                request_id=f"b{i}",
                provider_native="Amazon Bedrock",
                native_finish_reason="tool_use" if i < 1 else "end_turn",
                tool_calls=1 if i < 1 else 0,
            )
        )
    lines.append(_error(request_id="b-failed", provider_native="Amazon Bedrock", http_status=503))
    return lines


@pytest.mark.slow
def test_provider_variance(tmp_path):
    warehouse = Warehouse(str(tmp_path / "warehouse"))
    _ingest(warehouse, write_lines(tmp_path / "logs" / "variance.jsonl", _variance()))
    build_models(warehouse)
    rows = mart(
        warehouse,
        "select provider, completed_requests, tool_call_requests, tool_call_rate, "
        "model_tool_call_rate, deviation, z_score, attempts, error_rate, p50_latency_ms, p95_latency_ms "
        "from provider_variance order by provider",
    )
    # pooled rate 0.3; z = (0.5 - 0.1) / sqrt(0.3 x 0.7 x (1/10 + 1/10))
    z = 0.4 / (0.3 * 0.7 * 0.2) ** 0.5
    assert rows == [
        (
            "amazon-bedrock",
            10,
            1,
            0.1,
            0.3,
            pytest.approx(-0.2),
            pytest.approx(-z),
            11,
            pytest.approx(1 / 11),
            2100.0,
            2100.0,
        ),
        ("anthropic", 10, 5, 0.5, 0.3, pytest.approx(0.2), pytest.approx(z), 10, 0.0, 5500.0, pytest.approx(9550.0)),
    ]
    assert mart(warehouse, "select distinct window_start, window_end from provider_variance") == [
        (DAY - dt.timedelta(days=27), DAY)
    ]


@pytest.mark.slow
def test_only_generation_operations_enter_the_generation_metrics(tmp_path):
    """A gateway that also serves embeddings and images: they count as traffic and in provider errors, not in
    the tool-call rate, reasoning share or model mix; a gateway refusal is an error but no provider fault."""
    warehouse = Warehouse(str(tmp_path / "warehouse"))
    common = {"model": GPT_MINI, "provider_native": "OpenAI"}
    no_output = {"native_finish_reason": None, "completion_tokens": None, "reasoning_tokens": None, "tool_calls": None}
    lines = [
        record(
            request_id="chat",
            native_finish_reason="tool_calls",
            tool_calls=1,
            completion_tokens=100,
            reasoning_tokens=0,
            **common,
        ),
        record(request_id="embed", operation="aembedding", **no_output, **common),
        record(request_id="image", operation="image_generation", **no_output, **common),
        _error(request_id="refused", http_status=429, error_class="gateway", **common),
    ]
    _ingest(warehouse, write_lines(tmp_path / "logs" / "operations.jsonl", lines))
    build_models(warehouse)
    assert mart(warehouse, "select request_id, operation, is_generation from int_requests_rolled_up order by 1") == [
        ("chat", "chat", True),
        ("embed", "embeddings", False),
        ("image", "image_generation", False),
        ("refused", "chat", True),
    ]
    assert mart(warehouse, "select * from tool_call_rate_daily") == [(DAY, "GPT", 1, 1, 1.0, 1, 1, 1, 1.0, 1.0)]
    assert mart(warehouse, "select * from reasoning_share_daily") == [(DAY, "GPT", 100, 100, 0, 0.0, 1.0, 0, 0.0)]
    assert mart(warehouse, "select * from model_mix_daily") == [(DAY, "small", "GPT", 2, 1, 100, 1.0)]
    noon = dt.datetime(2025, 6, 1, 12)
    # 4 attempts, 1 error; the gateway's refusal is in no provider-fault class: fault rate 0
    assert mart(warehouse, "select * from provider_errors_hourly") == [(noon, "openai", 4, 1, 0, 0, 0, 0, 0.25, 0.0)]
    assert mart(warehouse, "select requests from traffic_minutely where requests > 0") == [(4,)]
