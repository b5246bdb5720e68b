"""The benchmark end to end at a tiny size: every step runs and reports sane counts (never timings)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from devkit.bench import cli, runs
from devkit.bench import markdown as md

ROWS = 5_000


@pytest.mark.slow
@pytest.mark.timeout(1200)  # simulates, ingests and builds twice
def test_bench_end_to_end(tmp_path: Path) -> None:
    results, markdown = tmp_path / "results", tmp_path / "BENCHMARKS.md"
    markdown.write_text("# Benchmarks\n\nhand-written text stays\n")
    assert (
        cli.main(
            [
                *("--rows", str(ROWS), "--runs", "1", "--naive-rows", "2000"),
                *("--workdir", str(tmp_path / "work"), "--results-dir", str(results), "--markdown", str(markdown)),
            ]
        )
        == 0
    )
    (path,) = results.glob("*.json")
    result = json.loads(path.read_text())
    steps = result["steps"]
    assert set(md.STEP_LABELS) <= set(steps)
    assert steps["simulate"]["runs"][0]["rows"] == ROWS
    # the same rows come out of the baseline, the ingest and the models' view of the warehouse
    for name in ("baseline", "ingest", "full_build"):
        (run,) = steps[name]["runs"]
        assert run["rows"] == ROWS, name
        assert run["peak_rss_mib"] > 0 and run["seconds"] > 0
    assert steps["ingest"]["runs"][0]["quarantined"] == steps["ingest"]["runs"][0]["duplicates"] == 0
    assert steps["naive"]["runs"][0]["rows"] + steps["naive"]["runs"][0]["rejected"] == 2000
    assert steps["full_build"]["runs"][0]["models"] > 0
    per_day = ROWS // runs.HISTORY_DAYS
    for days in (30, 60):
        (ingested,) = steps[f"incremental_{days}d_ingest"]["runs"]
        assert ingested["rows"] == per_day
        (built,) = steps[f"incremental_{days}d_build"]["runs"]
        assert built["rows"] == ROWS * days // runs.HISTORY_DAYS + per_day  # the history plus the new day
        assert "full" not in built["modes"].values()  # nothing rebuilt whole
    assert steps["report"]["status"] in ("ok", "not available in this checkout")
    assert all(value > 0 for value in result["ratios"].values())
    assert result["machine"]["cores"] >= 1 and result["versions"]["duckdb"]
    assert not list((tmp_path / "work").iterdir())  # the scratch folder is cleaned up
    text = markdown.read_text()
    assert "hand-written text stays" in text and text.count(md.BEGIN.format(rows=ROWS)) == 1
    md.update_markdown(markdown, md.markdown(result, str(path)), ROWS)  # a rerun replaces its section
    assert markdown.read_text().count(md.BEGIN.format(rows=ROWS)) == 1
