"""Tests of the traffic simulator: shape, invariants, the trends it encodes, and the JSON lines writer.

(Long on purpose: the trends are read from one year's simulation, made once per module.)"""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import io
from pathlib import Path

import fsspec
import numpy as np
import polars as pl
import pytest

from devkit.simulate import effects, records, simulate, traffic
from devkit.simulate.formats.canonical import write_canonical

START = dt.date(2025, 1, 1)
REFERENCE = Path(__file__).resolve().parents[1] / "schemas" / "reference"
BATCH_APPS = [app.app_id for app in traffic.BATCH_APPS]


@pytest.fixture(scope="module")
def short() -> pl.DataFrame:
    """20 days at 500 requests a day: invariants, outages and failover."""
    return simulate(START, 20, 500, seed=11)


@pytest.fixture(scope="module")
def year() -> pl.DataFrame:
    """400 days at 100 requests a day, with `day` (days since START) and `tool` (ended in a tool call)."""
    frame = simulate(START, 400, 100, seed=5)
    day = (pl.col("created_at") - pl.datetime(2025, 1, 1, time_zone="UTC")).dt.total_days()
    native_tool = pl.col("native_finish_reason").is_in(["tool_use", "tool_calls"])
    tool = native_tool | (pl.col("finish_reason") == "tool_calls").fill_null(False)
    return frame.with_columns(day=day, tool=tool)


def _tool_share(frame: pl.DataFrame, *predicates: pl.Expr) -> float:
    success = frame.filter(pl.col("status") == "success", *predicates)
    assert success.height > 100, "too few rows for a stable share"
    return success["tool"].mean()


def _reasoning_share(frame: pl.DataFrame, first_day: int, last_day: int) -> float:
    rows = frame.filter(pl.col("day").is_between(first_day, last_day), pl.col("reasoning_tokens").is_not_null())
    return rows["reasoning_tokens"].sum() / rows["completion_tokens"].sum()


def _reference(name: str) -> set[str]:
    with open(REFERENCE / name, newline="") as handle:
        return {row[0].lower() for row in csv.reader(handle)}


# --- shape and determinism ---------------------------------------------------------------------------------


def test_same_arguments_same_frame() -> None:
    first = simulate(START, 5, 300, seed=3)
    assert first.equals(simulate(START, 5, 300, seed=3))
    assert not first.equals(simulate(START, 5, 300, seed=4))


def test_runs_from_different_days_share_no_request_id() -> None:
    """Two months simulated apart (one seed) go into one warehouse side by side: their keys must not collide, or
    the second would replace the first's records. The ids of runs from START (the sample's) carry no date."""
    january, february = simulate(START, 3, 300, seed=7), simulate(dt.date(2025, 2, 1), 3, 300, seed=7)
    assert january["request_id"][0] == "gen-7-000000000"
    assert february["request_id"][0] == "gen-7-20250201-000000000"
    assert not set(january["request_id"]) & set(february["request_id"])
    assert february.equals(simulate(dt.date(2025, 2, 1), 3, 300, seed=7))


def test_columns_dtypes_and_order(short: pl.DataFrame) -> None:
    assert short.schema == pl.Schema(records.COLUMNS)
    assert short.equals(short.sort("created_at", "request_id", "attempt"))
    assert short["request_id"].str.starts_with("gen-11-").all()
    assert short["user_id"].str.contains(r"^user-\d{5,}$").all()


def test_empty_run() -> None:
    assert simulate(START, 0, 100, seed=1).schema == pl.Schema(records.COLUMNS)
    assert simulate(START, 3, 0, seed=1).height == 0


def test_volume_time_range_and_weekly_cycle() -> None:
    frame = simulate(START, 28, 3000, seed=2)
    days = frame["created_at"].dt.date()
    assert days.min() == START and days.max() <= START + dt.timedelta(days=28)
    requests = frame.filter(pl.col("attempt") == 1, pl.col("operation") == "chat").height
    assert requests == pytest.approx(28 * 3000, rel=0.05)
    interactive = frame.filter(
        ~pl.col("app_id").is_in(BATCH_APPS), pl.col("attempt") == 1, pl.col("operation") == "chat"
    )
    per_day = interactive.group_by(weekend=pl.col("created_at").dt.weekday() >= 6).len()
    weekend, weekday = (per_day.filter(pl.col("weekend") == flag)["len"][0] for flag in (True, False))
    assert (weekend / 8) / (weekday / 20) == pytest.approx(traffic.WEEKEND_FACTOR, abs=0.05)
    by_hour = interactive.group_by(hour=pl.col("created_at").dt.hour()).len()
    busiest = by_hour.sort("len")["hour"][-1]
    assert 9 <= busiest <= 18


def test_values_are_in_the_ingest_reference_vocabularies(short: pl.DataFrame) -> None:
    providers = {p.lower() for p in short["provider_native"].unique()}
    assert providers <= _reference("providers.csv")
    finish = {f.lower() for f in short["native_finish_reason"].drop_nulls().unique()}
    assert finish <= _reference("finish_reasons.csv")
    assert set(short["status"].unique()) == {"success", "error", "cancelled"}


# --- invariants ----------------------------------------------------------------------------------------------


def test_row_invariants(short: pl.DataFrame) -> None:
    def violations(expr: pl.Expr) -> int:
        return short.filter(expr).height

    assert violations(pl.col("reasoning_tokens") > pl.col("completion_tokens")) == 0
    assert violations(pl.col("cached_prompt_tokens") > pl.col("prompt_tokens")) == 0
    assert violations(pl.col("ttft_ms") > pl.col("latency_ms")) == 0
    assert violations(pl.col("cost_usd") < 0) == 0
    assert violations(pl.col("latency_ms") <= 0) == 0
    success, error = pl.col("status") == "success", pl.col("status") == "error"
    assert violations(success & (pl.col("http_status") != 200)) == 0
    embedding = pl.col("operation") == "embeddings"
    assert (
        violations(embedding & ((pl.col("model") != records.EMBEDDING_MODEL) | pl.col("prompt_tokens").is_null())) == 0
    )
    assert violations(embedding & pl.any_horizontal(pl.col("completion_tokens", "tool_calls").is_not_null())) == 0
    assert violations(~embedding & (pl.col("operation") != "chat")) == 0
    success = success & ~embedding  # what follows is about generations
    assert violations(error & ((pl.col("http_status") < 400) | pl.col("error_code").is_null())) == 0
    assert violations(~error & pl.col("error_code").is_not_null()) == 0
    assert violations(error & pl.col("completion_tokens").is_not_null()) == 0
    assert violations(success != pl.col("tool_calls").is_not_null()) == 0
    assert violations(success != pl.col("native_finish_reason").is_not_null()) == 0
    assert violations((pl.col("tool_calls") > 0) & (pl.col("tools_offered") < 1)) == 0
    gemini = pl.col("model").str.starts_with("google/")
    assert violations(pl.col("finish_reason").is_not_null() & ~gemini) == 0
    # a Gemini function call ends in STOP (with the override tool_calls); one cut at the limit in MAX_TOKENS
    gemini_tool_call = (gemini & (pl.col("tool_calls") > 0) & (pl.col("native_finish_reason") == "STOP")).fill_null(
        False
    )
    assert violations(pl.col("finish_reason").is_not_null() != gemini_tool_call) == 0
    cut = (pl.col("tool_calls") > 0) & ~pl.col("native_finish_reason").is_in(["tool_use", "tool_calls", "STOP"])
    assert violations(cut & ~pl.col("native_finish_reason").is_in(["max_tokens", "length", "MAX_TOKENS"])) == 0


def test_attempts_are_consecutive_and_follow_errors(short: pl.DataFrame) -> None:
    assert short.select("request_id", "attempt").is_duplicated().sum() == 0
    per_request = short.group_by("request_id").agg(
        first=pl.col("attempt").min(), last=pl.col("attempt").max(), n=pl.len()
    )
    assert (per_request["first"] == 1).all()
    assert (per_request["last"] == per_request["n"]).all()
    ordered = short.sort("request_id", "attempt").with_columns(
        previous_status=pl.col("status").shift(1).over("request_id"),
        previous_provider=pl.col("provider_native").shift(1).over("request_id"),
        previous_model=pl.col("model").shift(1).over("request_id"),
        previous_at=pl.col("created_at").shift(1).over("request_id"),
    )
    retries = ordered.filter(pl.col("attempt") > 1)
    assert retries.height > 0
    assert (retries["previous_status"] == "error").all()
    assert (retries["previous_provider"] != retries["provider_native"]).all()
    assert (retries["previous_model"] == retries["model"]).all()
    assert (retries["created_at"] > retries["previous_at"]).all()


# --- trends --------------------------------------------------------------------------------------------------


def _expected(trend: traffic.Trend, first_day: int, last_day: int) -> float:
    """The trend's mean over a window of days (linear, so its value at the window's middle)."""
    return float(trend.at(np.array((first_day + last_day + 1) / 2)))


def test_claude_tool_call_share_rises(year: pl.DataFrame) -> None:
    claude = pl.col("model").str.starts_with("anthropic/")
    early = _tool_share(year, claude, pl.col("day") < 30)
    late = _tool_share(year, claude, pl.col("day").is_between(335, 364))
    assert early == pytest.approx(0.04, abs=0.03)
    assert early == pytest.approx(_expected(traffic.TOOL_CALL_SHARE["claude"], 0, 29), abs=0.03)
    assert late == pytest.approx(0.27, abs=0.04)
    assert late == pytest.approx(_expected(traffic.TOOL_CALL_SHARE["claude"], 335, 364), abs=0.05)
    assert late - early > 0.15


def test_gpt_and_gemini_tool_call_shares_rise(year: pl.DataFrame) -> None:
    for prefix, family in (("openai/", "gpt"), ("google/", "gemini")):
        trend, model = traffic.TOOL_CALL_SHARE[family], pl.col("model").str.starts_with(prefix)
        early = _tool_share(year, model, pl.col("day") < 60)
        late = _tool_share(year, model, pl.col("day").is_between(305, 364))
        assert early == pytest.approx(_expected(trend, 0, 59), abs=0.04)
        assert late == pytest.approx(_expected(trend, 305, 364), abs=0.05)
        assert late > early


def test_small_models_mostly_end_in_tool_calls(year: pl.DataFrame) -> None:
    assert _tool_share(year, pl.col("model") == "minimax/minimax-m2") == pytest.approx(0.80, abs=0.03)
    qwen_peers = (pl.col("model") == "qwen/qwen3-coder") & (pl.col("provider_native") != "Novita")
    assert _tool_share(year, qwen_peers) == pytest.approx(0.65, abs=0.03)


def test_deviating_provider_is_clearly_lower(year: pl.DataFrame) -> None:
    qwen = year.filter(pl.col("model") == "qwen/qwen3-coder", pl.col("status") == "success")
    by_provider = dict(qwen.group_by("provider_native").agg(pl.col("tool").mean()).iter_rows())
    deviating = by_provider.pop("Novita")
    assert len(by_provider) >= 3
    assert deviating == pytest.approx(0.35, abs=0.05)
    assert max(by_provider.values()) - min(by_provider.values()) < 0.08
    assert min(by_provider.values()) - deviating > 0.2


def test_reasoning_share_rises_and_coverage_is_partial(year: pl.DataFrame) -> None:
    early, late = _reasoning_share(year, 0, 29), _reasoning_share(year, 335, 364)
    assert early == pytest.approx(_expected(traffic.REASONING_SHARE, 0, 29), abs=0.03)
    assert late == pytest.approx(_expected(traffic.REASONING_SHARE, 335, 364), abs=0.04)
    assert late == pytest.approx(0.5, abs=0.05)
    non_reasoning = [m.slug for m in traffic.MODELS if not m.reasoning]
    assert (
        year.filter(pl.col("model").is_in(non_reasoning))["reasoning_tokens"].null_count()
        == year.filter(pl.col("model").is_in(non_reasoning)).height
    )
    responded = year.filter(pl.col("status") != "error", pl.col("model") == "anthropic/claude-sonnet-4.5")
    reported = responded.group_by("provider_native").agg(pl.col("reasoning_tokens").is_not_null().mean())
    coverage = dict(reported.iter_rows())
    assert coverage["Amazon Bedrock"] == 0.0
    assert coverage["Anthropic"] == 1.0


def test_volume_grows(year: pl.DataFrame) -> None:
    interactive = year.filter(~pl.col("app_id").is_in(BATCH_APPS))
    first = interactive.filter(pl.col("day") < 91).height
    last = interactive.filter(pl.col("day").is_between(273, 363)).height
    assert last / first == pytest.approx(1 + traffic.GROWTH_PER_YEAR * 273 / 365, rel=0.1)


def test_planner_executor_apps_mix_tiers(short: pl.DataFrame) -> None:
    tiers = {m.slug: m.tier for m in traffic.MODELS}
    coding = short.filter(pl.col("app_id") == "app-coding-agent")
    tier = coding["model"].replace_strict(tiers)
    assert 0.6 < (tier == "small").mean() < 0.95
    single = short.filter(pl.col("app_id") == "app-sql-assistant")["model"].unique()
    assert single.to_list() == ["anthropic/claude-3.5-sonnet"]
    apps = short.group_by("app_id").len()
    assert 10 <= apps.height <= 20


# --- bursts, outages, failover -------------------------------------------------------------------------------


def test_overnight_bursts_at_scheduled_minutes() -> None:
    frame = simulate(START, 20, 150, seed=8)
    per_minute = frame.group_by(minute=pl.col("created_at").dt.truncate("1m")).len()
    clock = pl.col("minute").dt.strftime("%H:%M")
    bursts = per_minute.filter(pl.col("len") >= 20)
    assert set(bursts.select(clock)["minute"].unique()) <= {"02:00", "03:30"}
    assert bursts.filter(clock == "02:00").height >= 14  # most nights
    quiet_hours = frame.filter(pl.col("created_at").dt.hour().is_in([0, 1, 4, 5]))
    assert quiet_hours.height / (20 * 4 * 60) < 1.0
    big = simulate(START, 7, 20_000, seed=8)
    batch = big.filter(pl.col("app_id").is_in(BATCH_APPS)).height
    assert 0.09 < batch / big.height < 0.16


def test_outage_raises_errors_and_fails_over() -> None:
    short = simulate(START, 10, 3000, seed=4)
    windows = effects.outage_windows(START, 10)
    assert windows and windows[0][0] == "Anthropic"
    provider, begin, end = windows[0]
    during = pl.col("created_at").is_between(begin, end, closed="left")
    anthropic = short.filter(pl.col("provider_native") == provider)
    inside = anthropic.filter(during)
    assert inside.height > 50
    assert (inside["status"] == "error").mean() > 0.6
    assert set(inside.filter(pl.col("status") == "error")["http_status"].unique()) <= {529, 500, 429}
    assert (anthropic.filter(~during)["status"] == "error").mean() < 0.03
    fallbacks = short.filter(during, pl.col("attempt") == 2, pl.col("model").str.starts_with("anthropic/"))
    assert fallbacks.height > 0.5 * inside.filter(pl.col("status") == "error").height
    assert (fallbacks["status"] == "success").mean() > 0.9
    background = short.filter(~during, pl.col("attempt") == 1)
    expected = effects.BACKGROUND_FAULT_RATE + effects.CLIENT_ERROR_RATE
    assert (background["status"] == "error").mean() == pytest.approx(expected, rel=0.5)
    assert 0.001 < (background["status"] == "cancelled").mean() < 0.006


def test_incidents_fail_at_their_planted_rates(monkeypatch) -> None:
    """Both incidents moved to the first month of a short busy run: the brownout fails its share of the provider's
    attempts in the month's last hours; the slow burn spends the provider's budget at a burn rate between the
    ticket threshold (1) and the page ones (6 over six hours), the whole month long."""
    brownout, slow = (dataclasses.replace(incident, month=1) for incident in (effects.BROWNOUT, effects.SLOW_BURN))
    monkeypatch.setattr(effects, "INCIDENTS", (brownout, slow))
    frame = simulate(START, 31, 2000, seed=6)
    windows = {provider: (begin, end) for provider, begin, end, _rate in effects.incident_windows(START, 31)}
    assert windows[brownout.provider] == (
        dt.datetime(2025, 1, 31, 24 - int(brownout.last_hours), tzinfo=dt.UTC),
        dt.datetime(2025, 2, 1, tzinfo=dt.UTC),
    )
    assert windows[slow.provider] == (dt.datetime(2025, 1, 1, tzinfo=dt.UTC), dt.datetime(2025, 2, 1, tzinfo=dt.UTC))
    fault = (pl.col("status") == "error") & pl.col("http_status").is_in([429, 500, 502, 503, 504, 529, 408])

    def fault_rate(provider: str, begin: dt.datetime, end: dt.datetime) -> tuple[float, int]:
        rows = frame.filter(
            pl.col("provider_native") == provider, pl.col("created_at").is_between(begin, end, closed="left")
        )
        return rows.select(fault.mean())[0, 0], rows.height

    rate, attempts = fault_rate(brownout.provider, *windows[brownout.provider])
    assert attempts > 100 and rate == pytest.approx(brownout.fault_rate, abs=0.1)
    rate, attempts = fault_rate(slow.provider, *windows[slow.provider])
    assert attempts > 5000
    assert rate == pytest.approx(slow.fault_rate + effects.BACKGROUND_FAULT_RATE, rel=0.35)
    assert 1 < rate / 0.001 < 6  # the month's burn rate against a 99.9% SLO


def test_tools_offered_tool_use_and_final_tool_calls(year: pl.DataFrame) -> None:
    success = year.filter(pl.col("status") == "success", pl.col("operation") == "chat")
    none_offered = [a.app_id for a in traffic.ALL_APPS if a.tools_share == 0]
    assert none_offered
    plain = success.filter(pl.col("app_id").is_in(none_offered))
    assert (plain["tools_offered"] == 0).all() and (plain["tool_calls"] == 0).all()
    unlogged = success.filter(pl.col("app_id").is_in(list(traffic.TOOLS_UNLOGGED_APPS)))
    assert unlogged.height > 100 and unlogged["tools_offered"].null_count() == unlogged.height
    assert success.filter(~pl.col("app_id").is_in(list(traffic.TOOLS_UNLOGGED_APPS)))["tools_offered"].null_count() == 0
    offering = success.filter(pl.col("tools_offered") > 0)
    use = (offering["tool_calls"] > 0).mean()
    assert use > offering["tool"].mean() > success["tool"].mean()  # tool use beyond final tool calls
    cut = offering.filter(~pl.col("tool"))
    assert (cut["tool_calls"] > 0).mean() == pytest.approx(traffic.TOOL_CALL_CUT_SHARE, abs=0.01)


def test_agent_prompts_and_completions_grow(year: pl.DataFrame) -> None:
    """Agent apps' sizes grow by the planted factor per 365 days: the median of the last month of the first year
    over the first month's (their middles 335 days apart); a single-model app's stay put."""
    success = year.filter(pl.col("status") == "success", pl.col("operation") == "chat")
    years = 335 / traffic.TREND_DAYS

    def growth(app: str, column: str) -> float:
        rows = success.filter(pl.col("app_id") == app)
        first = rows.filter(pl.col("day") < 30)[column].median()
        return rows.filter(pl.col("day").is_between(335, 364))[column].median() / first

    assert growth("app-coding-agent", "prompt_tokens") == pytest.approx(traffic.AGENT_PROMPT_GROWTH**years, rel=0.25)
    completion = traffic.AGENT_COMPLETION_GROWTH**years
    assert growth("app-coding-agent", "completion_tokens") == pytest.approx(completion, rel=0.3)
    assert growth("app-sql-assistant", "prompt_tokens") == pytest.approx(1.0, rel=0.25)


def test_the_same_model_is_slower_on_some_providers(year: pl.DataFrame) -> None:
    """qwen/qwen3-coder on its slowest and fastest hosts by PROVIDER_SPEED: each part of the time to first token
    is scaled by at least the smaller of the two planted ratios, so its p90 is too; output speed by the speed
    ratio."""
    hosts = [p for p, _ in traffic.MODELS[traffic.MODEL_INDEX["qwen/qwen3-coder"]].providers]
    slow = max(hosts, key=lambda p: traffic.PROVIDER_SPEED.get(p, (1.0, 1.0))[0])
    fast = min(hosts, key=lambda p: traffic.PROVIDER_SPEED.get(p, (1.0, 1.0))[0])
    (ttft_slow, tps_slow), (ttft_fast, tps_fast) = traffic.PROVIDER_SPEED[slow], traffic.PROVIDER_SPEED[fast]
    streamed = year.filter(pl.col("model") == "qwen/qwen3-coder", pl.col("status") == "success", pl.col("streamed"))
    speed = pl.col("completion_tokens") / (pl.col("latency_ms") - pl.col("ttft_ms"))
    by_host = streamed.group_by("provider_native").agg(p90=pl.col("ttft_ms").quantile(0.9), speed=speed.median())
    p90, median_speed = (dict(by_host.select("provider_native", c).iter_rows()) for c in ("p90", "speed"))
    assert p90[slow] / p90[fast] > 0.9 * min(ttft_slow / ttft_fast, tps_fast / tps_slow)
    assert median_speed[fast] / median_speed[slow] == pytest.approx(tps_fast / tps_slow, rel=0.15)


def test_byok_requests_report_a_zero_cost(year: pl.DataFrame) -> None:
    responded = year.filter(pl.col("status") != "error", pl.col("operation") == "chat")
    zero = responded.group_by("app_id").agg((pl.col("cost_usd") == 0).mean())
    shares = dict(zero.iter_rows())
    for app, share in traffic.BYOK_SHARE.items():
        assert shares.pop(app) == pytest.approx(share, abs=0.05)
    assert set(shares.values()) == {0.0}


# --- writing -------------------------------------------------------------------------------------------------


def _read_back(url: str) -> pl.DataFrame:
    with fsspec.open(url, "rb", compression="infer") as handle:
        data = handle.read()
    return pl.read_ndjson(io.BytesIO(data), infer_schema_length=None)


def _typed(frame: pl.DataFrame) -> pl.DataFrame:
    parsed = frame.with_columns(pl.col("created_at").str.to_datetime(time_zone="UTC", time_unit="us"))
    return parsed.select([pl.col(name).cast(dtype) for name, dtype in records.COLUMNS.items()])


@pytest.mark.parametrize("name", ["requests.jsonl.gz", "requests.jsonl.zst"])
def test_write_canonical_round_trips(tmp_path: Path, name: str) -> None:
    frame = simulate(START, 2, 400, seed=1)
    url = str(tmp_path / "out" / name)
    assert write_canonical(frame, url) == [url]
    magic = {"gz": b"\x1f\x8b", "zst": b"\x28\xb5\x2f\xfd"}[name.rsplit(".", 1)[1]]
    assert Path(url).read_bytes()[:4].startswith(magic)
    back = _read_back(url)
    assert back.height == frame.height
    assert back["created_at"].str.ends_with("Z").all()
    assert _typed(back).equals(frame)


def test_write_canonical_splits_into_numbered_files(tmp_path: Path) -> None:
    frame = simulate(START, 1, 500, seed=2)
    urls = write_canonical(frame, str(tmp_path / "raw"), rows_per_file=200, suffix=".jsonl.zst")
    expected = [str(tmp_path / "raw" / f"requests-{i:04d}.jsonl.zst") for i in range(-(-frame.height // 200))]
    assert urls == expected
    back = pl.concat([_read_back(url) for url in urls], how="diagonal_relaxed")
    assert _typed(back).equals(frame)


def test_rag_apps_embed_before_some_requests_from_their_own_random_stream(short: pl.DataFrame, monkeypatch) -> None:
    embeddings = short.filter(pl.col("operation") == "embeddings")
    assert set(embeddings["app_id"]) == set(records.EMBEDDING_APPS)
    parents = short.filter(pl.col("attempt") == 1).select("request_id", parent_at="created_at")
    joined = embeddings.with_columns(request_id=pl.col("request_id").str.strip_suffix("-emb")).join(
        parents, on="request_id"
    )
    assert joined.height == embeddings.height and (joined["created_at"] < joined["parent_at"]).all()
    monkeypatch.setattr(records, "EMBEDDING_APPS", {})
    without = simulate(START, 20, 500, seed=11)
    assert without["operation"].unique().to_list() == ["chat"]
    assert short.filter(pl.col("operation") == "chat").equals(without)  # the other rows do not move
