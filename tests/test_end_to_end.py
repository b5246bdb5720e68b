"""End to end: the real Dagster assets over the committed sample in data/sample/."""

from __future__ import annotations

import json
import os
from collections import Counter

import dagster as dg
import duckdb
import pytest

from data.sample import generate
from pipelines.definitions import defs
from pipelines.defs.resources import LandingResource, MetricsResource, PrivacyResource, WarehouseResource
from pipelines.lib import simulate, simulate_formats
from pipelines.lib.storage import Warehouse
from tests.conftest import SAMPLE, ledger_entries, mart, quarantined, stored

pytestmark = pytest.mark.slow  # the whole pipeline over data: `make test-fast` leaves it out

BAD_LINES = SAMPLE / "rejects" / "bad_lines.jsonl"


MAIN = dg.AssetSelection.all() - dg.AssetSelection.assets("landing_days")  # as the `main` job


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
    [(slug, host)] = simulate.TOOL_CALL_OVERRIDES
    assert slug.endswith(model) and provider == host.lower() and abs(z) > 3


def test_outages_show_in_provider_uptime(sample_run):
    """Every scheduled outage that met traffic (at 150 requests a day a provider may see none in a window)
    makes its provider's day miss the SLO."""
    _, warehouse = sample_run
    seen = 0
    for host, begin, end in simulate.outage_windows(generate.START, generate.DAYS):
        provider = host.lower().replace(" ", "-")
        [(in_window,)] = mart(
            warehouse,
            "select coalesce(sum(attempts), 0) from provider_errors_hourly where provider = ? and hour between ? and ?",
            [provider, begin.replace(tzinfo=None), end.replace(tzinfo=None)],
        )
        if not in_window:
            continue
        [(availability, meets)] = mart(
            warehouse,
            "select availability, meets_slo from provider_uptime_daily where provider = ? and day = ?",
            [provider, begin.date()],
        )
        assert availability < 0.97 and not meets, (host, begin)
        seen += 1
    assert seen >= 15


def test_overnight_batch_apps_and_their_bursts(sample_run):
    _, warehouse = sample_run
    names = {job.app_id for job in simulate.BATCH_JOBS}
    # the OpenRouter sample names apps by number, as OpenRouter does
    batch = names | {str(simulate_formats.app_number(name)) for name in names}
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
