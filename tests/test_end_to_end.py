"""End to end: the real Dagster assets over the committed sample in data/sample/.

(Long on purpose: every test reads the one run of the main job over the sample, made once per module.)"""

from __future__ import annotations

import datetime as dt
import json
import math
import os
from collections import Counter

import dagster as dg
import duckdb
import pytest

from data.sample import generate
from devkit.simulate import effects, formats, traffic
from pipelines.definitions import defs
from pipelines.defs.resources import LandingResource, MetricsResource, PrivacyResource, WarehouseResource
from pipelines.lib.storage import Warehouse
from tests.conftest import SAMPLE, ledger_entries, mart, quarantined, stored

# the whole pipeline over data: `make test-fast` leaves it out; the first test pays for the module's run of the
# sample (minutes on a busy machine), hence a longer limit than the suite's 300 s
pytestmark = [pytest.mark.slow, pytest.mark.timeout(1800)]

BAD_LINES = SAMPLE / "rejects" / "bad_lines.jsonl"


MAIN = dg.AssetSelection.all() - dg.AssetSelection.assets("staged_days")  # as the `main` job


@pytest.fixture(scope="module")
def sample_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("e2e")
    resources = {
        "warehouse": WarehouseResource(url=str(root / "warehouse")),
        "landing": LandingResource(url=str(SAMPLE)),
        "privacy": PrivacyResource(hash_key="e2e-key"),
        "metrics": MetricsResource(),
    }
    assets = [a for a in defs.assets if isinstance(a, dg.AssetsDefinition)]
    result = dg.materialize([*assets, *defs.asset_checks], resources=resources, selection=MAIN)
    return result, Warehouse(str(root / "warehouse"))


def _meta(result) -> dict:
    [mat] = result.asset_materializations_for_node("requests")
    return {k: v.value for k, v in mat.metadata.items()}


def _sample_lines() -> int:
    import fsspec

    total = 0
    for path in sorted([*SAMPLE.rglob("*.jsonl*"), *SAMPLE.rglob("*.csv*")]):
        with fsspec.open(str(path), "rb", compression="infer") as handle:
            total += handle.read().count(b"\n")
    return total


def test_every_sample_line_is_accounted_for(sample_run):
    result, _ = sample_run
    assert result.success
    meta = _meta(result)
    assert meta["lines"] == _sample_lines()
    accounted = meta["rows_written"] + meta["rows_duplicates"] + meta["rows_quarantined"] + meta["rows_ignored"]
    assert meta["records"] == accounted
    assert meta["lines"] <= meta["records"]  # OTel lines hold many spans, OpenRouter lines several attempts
    checks = {
        e.check_name: e.passed for e in result.get_asset_check_evaluations() if e.asset_key == dg.AssetKey("requests")
    }
    assert checks == {
        "lines_conserved": True,
        "quarantine_ratio": True,
        "requests_key_unique": True,
        "requests_quality_flags": True,
    }
    [flags] = [e for e in result.get_asset_check_evaluations() if e.check_name == "requests_quality_flags"]
    per_format = flags.metadata["per_format"].value
    assert per_format["canonical"]["flags"] == {
        "http_error_on_success": 1,
        "reasoning_outside_completion": 1,
        "ttft_exceeds_latency": 1,
    }  # the three inconsistent lines of rejects/bad_lines.jsonl, kept


def test_the_bad_lines_file_is_quarantined_with_reasons_or_kept_and_flagged(sample_run):
    _, warehouse = sample_run
    rows = [r for r in quarantined(warehouse) if r["source_uri"].endswith("bad_lines.jsonl")]
    reasons = {r["source_line"]: r["reason"] for r in rows}
    assert reasons == {
        1: "not JSON",
        2: "not JSON",
        3: "not a JSON object",
        4: "created_at missing",
        5: "completion_tokens is negative (-12)",
        7: "status 'done' is not one of success|error|cancelled",
        8: "created_at is not an ISO 8601 timestamp ('last tuesday')",
        9: "attempt (0) is below 1",
        12: "not valid UTF-8",
        14: "completion_tokens is negative (-1)",
        16: "created_at (1970-01-01T00:00:00+00:00) is outside 2015..2099",
        17: "prompt_tokens is not an integer ('many')",
    }
    assert "Jane Doe" not in json.dumps(rows)  # line 14 carried prompt text: redacted
    [entry] = [e for e in ledger_entries(warehouse) if e["url"].endswith("bad_lines.jsonl")]
    assert entry["ignored_reasons"] == {"blank line": 1}  # line 11 is empty: counted, not quarantined
    # merely inconsistent lines are kept and flagged, not lost
    kept = stored(warehouse, "source_uri like '%bad_lines.jsonl'")
    assert {r["source_line"]: r["quality_flags"] for r in kept} == {
        6: ["reasoning_outside_completion"],
        10: ["http_error_on_success"],
        15: ["ttft_exceeds_latency"],
    }


def test_sample_covers_thirteen_months_in_utc_day_partitions(sample_run):
    _, warehouse = sample_run
    days = warehouse.days()
    assert (days[0], days[-1], len(days)) == ("2025-01-01", "2026-01-30", 395)


def test_stored_records_are_canonical(sample_run):
    _, warehouse = sample_run
    con = duckdb.connect()
    glob = warehouse.uri("requests", "date=*", "*.parquet")
    rows = con.sql(
        f"""select provider, finish_reason, error_class, count(*) as n,
                   count(*) filter (where user_hash is not null) as hashed
            from read_parquet('{glob}') group by all"""
    ).fetchall()
    providers = Counter()
    for provider, finish_reason, error_class, n, _hashed in rows:
        providers[provider] += n
        assert finish_reason in {None, "stop", "tool_calls", "length", "content_filter", "error", "other"}
        assert error_class in {"none", "rate_limit", "timeout", "server_error", "client_error"}
    assert {"anthropic", "google-vertex", "amazon-bedrock"} <= set(providers)
    names = con.sql(f"select * from read_parquet('{glob}') limit 0").columns
    assert "user_id" not in names and "user_hash" in names


def test_rerunning_the_main_job_adds_nothing(sample_run):
    _, warehouse = sample_run
    resources = {
        "warehouse": WarehouseResource(url=warehouse.url),
        "landing": LandingResource(url=str(SAMPLE)),
        "privacy": PrivacyResource(hash_key="e2e-key"),
        "metrics": MetricsResource(),
    }
    before = {p: warehouse.fs.info(p)["mtime"] for p in warehouse.fs.glob(warehouse.path("requests", "*", "*"))}
    assets = [a for a in defs.assets if isinstance(a, dg.AssetsDefinition)]
    again = dg.materialize(assets, resources=resources, selection=MAIN)
    meta = _meta(again)
    assert (meta["files"], meta["lines"], meta["rows_written"]) == (0, 0, 0)
    after = {p: warehouse.fs.info(p)["mtime"] for p in warehouse.fs.glob(warehouse.path("requests", "*", "*"))}
    assert after == before


# ---------------------------------------------------------------------------------------------------------
# The marts recover what the simulator encoded in the sample
# ---------------------------------------------------------------------------------------------------------


def test_every_model_was_built_and_its_grain_holds(sample_run):
    result, _ = sample_run
    grain = [e for e in result.get_asset_check_evaluations() if e.check_name == "grain_unique"]
    assert len(grain) >= 20 and all(e.passed for e in grain)
    built = {event.asset_key.to_user_string() for event in result.get_asset_materialization_events()}
    assert {"tool_call_rate_monthly", "bursts", "provider_variance", "model_families"} <= built


def test_claude_tool_call_rate_rises_from_under_5_to_over_25_percent(sample_run):
    _, warehouse = sample_run
    rates = mart(
        warehouse,
        "select tool_call_rate from tool_call_rate_monthly where model_family = 'Claude' and days >= 28 order by month",
    )
    assert rates[0][0] < 0.05 and rates[-1][0] > 0.25


def test_reasoning_share_is_near_half_at_the_end(sample_run):
    _, warehouse = sample_run
    [(share, coverage)] = mart(
        warehouse,
        "select sum(reasoning_tokens) / sum(reported_output_tokens), sum(reported_output_tokens) / sum(output_tokens) "
        "from reasoning_share_monthly where month = (select max(month) from reasoning_share_monthly)",
    )
    assert 0.4 < share < 0.6
    assert coverage < 1.0  # Bedrock's Claude does not report reasoning: the share says how much it covers


def test_the_deviating_provider_stands_out(sample_run):
    _, warehouse = sample_run
    [(model, provider, z)] = mart(
        warehouse, "select model, provider, z_score from provider_variance order by abs(z_score) desc limit 1"
    )
    [(slug, host)] = traffic.TOOL_CALL_OVERRIDES
    assert slug.endswith(model) and provider == host.lower() and abs(z) > 3


#: Attempts of a provider in the hours of an outage for it to show: all of them succeeding then has a chance
#: below 1% ((1 - OUTAGE_FAIL_SHARE) ** 3).
OUTAGE_MIN_ATTEMPTS = math.ceil(math.log(0.01) / math.log(1 - effects.OUTAGE_FAIL_SHARE))


def test_outages_show_in_provider_uptime(sample_run):
    """Every scheduled outage that met enough traffic (at 150 requests a day a provider may see none, or one, in
    a window) makes its provider's day miss the SLO."""
    _, warehouse = sample_run
    seen = 0
    for host, begin, end in effects.outage_windows(generate.START, generate.DAYS):
        provider = host.lower().replace(" ", "-")
        [(in_window,)] = mart(
            warehouse,
            "select coalesce(sum(attempts), 0) from provider_errors_hourly where provider = ? and hour between ? and ?",
            [provider, begin.replace(tzinfo=None), end.replace(tzinfo=None)],
        )
        if in_window < OUTAGE_MIN_ATTEMPTS:
            continue
        [(availability, meets)] = mart(
            warehouse,
            "select availability, meets_slo from provider_uptime_daily where provider = ? and day = ?",
            [provider, begin.date()],
        )
        assert availability < 0.97 and not meets, (host, begin)
        seen += 1
    assert seen >= 10


def _provider_id(name: str) -> str:
    return name.lower().replace(" ", "-")


def _month(number: int) -> dt.date:
    """The first day of calendar month `number` of the sample (1 = the month of generate.START)."""
    first = generate.START.year * 12 + generate.START.month - 1 + number - 1
    return dt.date(first // 12, first % 12 + 1, 1)


def test_frontier_planners_cost_many_times_their_small_executors(sample_run):
    """Within each agent app, a frontier planner's completed request costs at least k times a small executor's:
    planners read and write at least min(role factors) times the tokens at prices at least the smaller per-token
    price ratio higher, less the spread of the hosts' price factors."""
    _, warehouse = sample_run
    by_slug = {m.slug: m for m in traffic.MODELS}
    roles = traffic.ROLE_PROMPT_FACTOR, traffic.ROLE_COMPLETION_FACTOR
    role_ratio = min(factor["planner"] / factor["executor"] for factor in roles)
    host_spread = max([*traffic.PROVIDER_PRICE_FACTOR.values(), 1.0]) / min(
        [*traffic.PROVIDER_PRICE_FACTOR.values(), 1.0]
    )
    compared = 0
    for app in traffic.INTERACTIVE_APPS:
        planners = [by_slug[r.model] for r in app.routes if r.role == "planner" and by_slug[r.model].tier == "frontier"]
        executors = [by_slug[r.model] for r in app.routes if r.role == "executor" and by_slug[r.model].tier == "small"]
        per_family = dict(
            mart(
                warehouse,
                "select lower(model_family), sum(cost_usd) / sum(completed_with_cost) from spend_monthly "
                "where app_id = ? and operation = 'chat' group by all",
                [app.app_id],
            )
        )
        for big in planners:
            for small in executors:
                price_ratio = min(big.price_in / small.price_in, big.price_out / small.price_out)
                k = role_ratio * price_ratio / host_spread
                assert per_family[big.family] > k * per_family[small.family], (app.app_id, big.slug, small.slug, k)
                compared += 1
    assert compared >= 6


def test_zero_cost_byok_requests_are_reported_not_unknown(sample_run):
    _, warehouse = sample_run
    for app, share in traffic.BYOK_SHARE.items():
        ids = [app, str(formats.app_number(app))]  # the OpenRouter sample names apps by number
        [(zero, reported, requests)] = mart(
            warehouse,
            "select sum(zero_cost_requests), sum(cost_reported_requests), sum(requests) from spend_monthly "
            "where list_contains(?, app_id) and operation = 'chat'",
            [ids],
        )
        assert zero / reported == pytest.approx(share, abs=0.05) and reported < requests  # OTel carries no cost


def test_the_same_model_is_clearly_slower_on_its_slow_provider(sample_run):
    """qwen3-coder on its slowest and fastest hosts by PROVIDER_SPEED, month by month: the p90 time to first
    token of the slow one is at least the smaller planted ratio (time to first token, output speed: every part
    of it is scaled by one of them) less a tenth for sampling; its median output speed is the speed ratio."""
    _, warehouse = sample_run
    hosts = [p for p, _ in traffic.MODELS[traffic.MODEL_INDEX["qwen/qwen3-coder"]].providers]
    speed = {p: traffic.PROVIDER_SPEED.get(p, (1.0, 1.0)) for p in hosts}
    slow, fast = max(hosts, key=lambda p: speed[p][0]), min(hosts, key=lambda p: speed[p][0])
    ttft_ratio, tps_ratio = speed[slow][0] / speed[fast][0], speed[fast][1] / speed[slow][1]
    rows = mart(
        warehouse,
        """select s.ttft_p90_ms / f.ttft_p90_ms, f.tokens_per_second_p50 / s.tokens_per_second_p50
           from provider_latency_monthly as s
           join provider_latency_monthly as f using (month, model_key, operation)
           where model_key = 'qwen3-coder' and s.provider = ? and f.provider = ?
             and s.ttft_attempts >= 50 and f.ttft_attempts >= 50""",
        [_provider_id(slow), _provider_id(fast)],
    )
    assert len(rows) >= 12
    p90_ratios, speed_ratios = sorted(r[0] for r in rows), sorted(r[1] for r in rows)
    assert p90_ratios[len(rows) // 2] > max(1.3, 0.9 * min(ttft_ratio, tps_ratio))
    assert p90_ratios[0] > 1.0  # slower in every month
    assert speed_ratios[len(rows) // 2] == pytest.approx(tps_ratio, rel=0.15)


def test_agent_prompts_grow_over_the_year(sample_run):
    """The families only agent apps use: their median prompt (and completion) per completed request in the last
    full month over the first month's is the planted growth over the months' distance."""
    _, warehouse = sample_run
    apps_of: dict[str, set[str]] = {}
    for app in traffic.ALL_APPS:
        for route in app.routes:
            family = traffic.MODELS[traffic.MODEL_INDEX[route.model]].family
            apps_of.setdefault(family, set()).add(app.app_id)
    growth = {a.app_id: a.prompt_growth for a in traffic.ALL_APPS}
    agents = sorted(f for f, apps in apps_of.items() if all(growth[a] == traffic.AGENT_PROMPT_GROWTH for a in apps))
    assert {"qwen", "minimax"} <= set(agents)
    end = generate.START + dt.timedelta(days=generate.DAYS)  # exclusive
    last = (end.replace(day=1) - dt.timedelta(days=1)).replace(day=1)  # the last month the sample covers whole
    first = generate.START.replace(day=1)
    years = ((last + dt.timedelta(days=15)) - (first + dt.timedelta(days=15))).days / traffic.TREND_DAYS
    compared = 0
    for family in agents:
        [(p_first, c_first, n_first)], [(p_last, c_last, n_last)] = (
            mart(
                warehouse,
                "select prompt_tokens_p50, completion_tokens_p50, prompt_requests from context_length_monthly "
                "where lower(model_family) = ? and operation = 'chat' and month = ?",
                [family, month],
            )
            for month in (first, last)
        )
        assert p_last / p_first > 2, family
        if min(n_first, n_last) < 300:  # a median of fewer requests is too loose to compare (prompt sigma 0.9)
            continue
        assert p_last / p_first == pytest.approx(traffic.AGENT_PROMPT_GROWTH**years, rel=0.3), family
        assert c_last / c_first == pytest.approx(traffic.AGENT_COMPLETION_GROWTH**years, rel=0.3), family
        compared += 1
    assert compared >= 2


def test_the_tool_funnel(sample_run):
    """Over the whole sample: families served to apps that offer no tools offer them on fewer than all logged
    requests; the funnel's coverage is below 100% (apps and formats that do not log tools offered); and among
    requests offering tools, more use them than the share of completed requests ending in a tool call."""
    _, warehouse = sample_run
    rows = mart(
        warehouse,
        """select lower(model_family), sum(tools_offered_requests) / sum(tools_logged_requests),
                  sum(tools_logged_requests) / sum(completed_requests),
                  sum(tool_use_requests) / sum(tools_offered_requests),
                  sum(tool_call_requests) / sum(completed_requests), sum(tools_offered_requests)
           from tool_call_rate_monthly group by all""",
    )
    funnel = {family: values for family, *values in rows}
    partial = {
        traffic.MODELS[traffic.MODEL_INDEX[r.model]].family
        for a in traffic.ALL_APPS
        if a.tools_share < 1
        for r in a.routes
    }
    assert partial and all(funnel[family][0] < 1 for family in partial)
    assert all(coverage < 1 for _offered, coverage, *_ in funnel.values())
    big = {family: v for family, v in funnel.items() if v[4] >= 1000}  # enough requests for a stable share
    assert len(big) >= 6 and all(use >= rate for _o, _c, use, rate, _n in big.values()), big


def test_the_brownout_pages_and_most_provider_months_are_ok(sample_run):
    """The planted brownout's provider-month burns its budget fast enough at the month's end to page (its 6-hour
    window holds most of the brownout's attempts, 80% of them faults); the slow burn's month is overspent; and
    at a background fault rate of 0.02% a provider's last three days (a few hundred attempts at most here) rarely
    meet a fault, so well over nine provider-months in ten are ok."""
    _, warehouse = sample_run
    brownout, slow = effects.BROWNOUT, effects.SLOW_BURN
    [(alert, burn_6h)] = mart(
        warehouse,
        "select alert, burn_rate_6h from provider_error_budget_monthly where provider = ? and month = ?",
        [_provider_id(brownout.provider), _month(brownout.month)],
    )
    assert alert == "page" and burn_6h >= 6
    [(budget_left,)] = mart(
        warehouse,
        "select budget_left from provider_error_budget_monthly where provider = ? and month = ?",
        [_provider_id(slow.provider), _month(slow.month)],
    )
    assert budget_left < 0
    [(ok, total)] = mart(
        warehouse, "select count(*) filter (where alert = 'ok'), count(*) from provider_error_budget_monthly"
    )
    assert total > 100 and ok / total > 0.9


def test_overnight_batch_apps_and_their_bursts(sample_run):
    _, warehouse = sample_run
    names = {job.app_id for job in traffic.BATCH_JOBS}
    # the OpenRouter sample names apps by number, as OpenRouter does
    batch = names | {str(formats.app_number(name)) for name in names}
    profile = dict(mart(warehouse, "select app_id, overnight_share from app_traffic_profile"))
    assert all(profile[app] > 0.9 for app in batch)
    assert all(share < 0.5 for app, share in profile.items() if app not in batch)
    [(bursts, by_batch)] = mart(
        warehouse, "select count(*), count(*) filter (where list_contains(?, top_app_id)) from bursts", [sorted(batch)]
    )
    assert bursts > 100 and by_batch / bursts > 0.9


def test_the_dashboards_asset_writes_the_report(sample_run):
    result, warehouse = sample_run
    [mat] = result.asset_materializations_for_node("dashboards")
    meta = {k: v.value for k, v in mat.metadata.items()}
    path = warehouse.path("dashboards", "index.html")
    assert meta["path"] == warehouse.uri("dashboards", "index.html")
    with open(path, encoding="utf-8") as handle:
        page = handle.read()
    assert meta["bytes"] == len(page.encode()) < 8_000_000
    assert meta["empty_figures"] == "none" and meta["period"] == "2025-01-01 to 2026-01-30"
    assert "Claude tool-call rate" in page and "Period: 2025-01-01 to 2026-01-30" in page
    assert not [n for n in os.listdir(os.path.dirname(path)) if n.endswith(".tmp")]


def test_the_sample_report_in_a_browser(sample_run):
    """The sample's report opened offline in headless Chromium: every figure drew its traces, nothing was
    fetched, nothing failed; the screenshot is kept in test-artifacts/."""
    from pathlib import Path

    from dashboards import figures as F
    from tests.browser import figure_traces, open_report, screenshot

    _, warehouse = sample_run
    with open_report(Path(warehouse.path("dashboards", "index.html"))) as loaded:
        assert loaded.console_errors == [] and loaded.blocked == [] and loaded.dialogs == []
        traces = figure_traces(loaded.page)
        assert list(traces) == list(F.FIGURES)
        assert all(expected == drawn > 0 for expected, drawn in traces.values()), traces
        tiles = loaded.page.inner_text("#tiles")
        assert "Claude tool-call rate" in tiles and "pts vs Jan 2025" in tiles
        assert "Spend (" in tiles and "p90 time to first token" in tiles
        assert loaded.page.locator("a.csv").count() == len(F.FIGURES) + 1  # traffic_bursts reads two marts
        shot = screenshot(loaded.page, "report-sample.png")
    assert shot.stat().st_size > 100_000
