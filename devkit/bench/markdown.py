"""The benchmark's report: a section of BENCHMARKS.md per row count (between markers, replaced by a rerun at the
same size) with every step's times, memory and load, the ratios, the ingest's phases, the slowest models, the
transform's profile and the targets met or missed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from devkit.bench.runs import DEFAULT_ROWS, stats

BEGIN = "<!-- bench:{rows}:begin -->"
END = "<!-- bench:{rows}:end -->"
APPEND = "<!-- bench:new sections go here -->"


STEP_LABELS = {
    "baseline": "bare DuckDB: read_json (explicit columns) -> COPY zstd Parquet by day",
    "ingest": "gatewaylens ingest (validate, quarantine, dedupe, atomic days)",
    "naive": "naive per-row: pydantic model_validate_json -> Arrow -> Parquet",
    "full_build": "all SQL models from scratch",
    "incremental_30d_ingest": "+1 day on 30 days: ingest",
    "incremental_30d_build": "+1 day on 30 days: models",
    "incremental_30d_total": "+1 day on 30 days: ingest + models",
    "incremental_60d_ingest": "+1 day on 60 days: ingest",
    "incremental_60d_build": "+1 day on 60 days: models",
    "incremental_60d_total": "+1 day on 60 days: ingest + models",
    "report": "static report",
}


def _fmt(value: float | None, pattern: str = "{:,.2f}") -> str:
    return "-" if value is None else pattern.format(value)


def targets(result: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(target, measured, met / missed / not measured at this size) for the targets one run can answer."""
    steps, r = result["steps"], result["ratios"]
    out = []
    ratio = r["ingest_vs_baseline"]
    out.append(("ingest >= 0.5x bare baseline rows/s (aim 0.7x)", f"{ratio:.2f}x", _verdict(ratio >= 0.5)))
    rss = steps["ingest"]["peak_rss_mib"]["median"] / 1024
    if result["rows"] == DEFAULT_ROWS:
        out.append(("ingest peak RSS < 1.5 GiB at 2M rows", f"{rss:.2f} GiB", _verdict(rss < 1.5)))
    else:
        out.append(("ingest peak RSS < 1.5 GiB at 2M rows", f"{rss:.2f} GiB at {result['rows']:,}", "n/a at this size"))
    growth = r["incremental_60d_vs_30d_total"]
    out.append(
        (
            "one new day: cost on 60 days < 1.3x cost on 30 days (ingest + models)",
            f"{growth:.2f}x (ingest {r['incremental_60d_vs_30d_ingest']:.2f}x, "
            f"models {r['incremental_60d_vs_30d_build']:.2f}x)",
            _verdict(growth < 1.3),
        )
    )
    build = steps["full_build"]["seconds"]["median"]
    if result["rows"] >= 10_000_000:
        out.append(("all marts over 10M rows < 30 s", f"{build:.1f} s", _verdict(build < 30)))
    else:
        out.append(("all marts over 10M rows < 30 s", f"{build:.1f} s at {result['rows']:,}", "n/a at this size"))
    return out


def _verdict(met: bool) -> str:
    return "met" if met else "missed"


def markdown(result: dict[str, Any], json_path: str) -> str:
    rows, m, v = result["rows"], result["machine"], result["versions"]
    lines = [
        BEGIN.format(rows=rows),
        f"### {rows:,} rows over {result['history_days']} days, {result['runs']} run(s) per step",
        "",
        f"Run {result['started']} .. {result['finished']} (UTC); result `{json_path}`.  ",
        f"Machine: {m['cores']} cores, {m['memory_gib']} GiB, {m['cpu']}, {m['platform']}; "
        f"load average at the end {m['load_avg']}.  ",
        "Versions: " + ", ".join(f"{k} {val}" for k, val in v.items()) + ".  ",
        "Peak RSS is each step's own process, interpreter and libraries included: they take "
        f"{stats(result['steps']['ingest']['runs'], 'rss_after_imports_mib')['median']:.0f} MiB before any work.",
        "",
        "| step | rows | median s (min - max) | rows/s (median) | peak RSS MiB (median, max) | load 1m (runs) |",
        "| --- | ---: | ---: | ---: | ---: | --- |",
    ]
    for name, label in STEP_LABELS.items():
        step = result["steps"][name]
        seconds, rss = step["seconds"], step["peak_rss_mib"]
        loads = ", ".join(f"{r['load_1m'][0]:.2f}" for r in step["runs"] if r.get("load_1m"))
        if name == "report" and step.get("status") != "ok":
            lines.append(f"| {label} | - | {step.get('status')} | - | - | {loads} |")
            continue
        span = f"{seconds['median']:.2f} ({seconds['min']:.2f} - {seconds['max']:.2f})" if seconds else "-"
        lines.append(
            f"| {label} | {step['rows']:,} | {span} | {_fmt(step.get('rows_per_s'), '{:,.0f}')} "
            f"| {rss['median']:,.0f}, {rss['max']:,.0f} | {loads} |"
        )
    r = result["ratios"]
    lines += [
        "",
        f"Ratios: ingest / baseline rows/s **{r['ingest_vs_baseline']:.2f}x**; naive / baseline "
        f"{r['naive_vs_baseline']:.3f}x; ingest / naive {r['ingest_vs_naive']:.1f}x; one new day on 60 vs 30 days: "
        f"ingest {r['incremental_60d_vs_30d_ingest']:.2f}x, models {r['incremental_60d_vs_30d_build']:.2f}x, "
        f"together {r['incremental_60d_vs_30d_total']:.2f}x.",
        "",
        "Ingest phases (median run, seconds): "
        + ", ".join(
            f"{k} {val:.2f}"
            for k, val in _median_run(result["steps"]["ingest"])["phases"].items()
            if not k.startswith("peak_rss")
        )
        + " (stage_total: the adapter + validation statement per batch, staging and account included;"
        " commit_group: merge, sort and write of the days, write_partition_thread_s being pyarrow's writes summed"
        " over its threads).",
        "",
        "Slowest models in the full build (median run, seconds): "
        + ", ".join(f"{k} {val:.2f}" for k, val in _slowest(_median_run(result["steps"]["full_build"])["per_model"]))
        + ".",
        "",
        *_profile_lines(result["steps"]["profile"]),
        "",
        "| target | measured | verdict |",
        "| --- | --- | --- |",
    ]
    lines += [f"| {a} | {b} | {c} |" for a, b, c in targets(result)]
    lines.append(END.format(rows=rows))
    return "\n".join(lines) + "\n"


def _profile_lines(profile: dict[str, Any]) -> list[str]:
    lines = [
        f"Profile of the ingest's transform statement on the first batch ({profile['rows']:,} lines, "
        f"{profile['batch_bytes'] / 2**20:.0f} MiB, {profile['threads']} threads; best of 2, seconds):",
        "",
    ]
    lines += [f"- {name}: {seconds:.2f}" for name, seconds in profile["variants"].items()]
    mismatches = profile["from_json_varchar_mismatches"]
    lines.append(
        "- from_json (VARCHAR) vs the adapter's text: "
        + (", ".join(f"{k} differs in {n:,} rows" for k, n in mismatches.items()) if mismatches else "identical")
    )
    lines += ["", "Slowest operators of the transform (DuckDB JSON profile, operator seconds summed over threads):", ""]
    lines += (
        ["```"]
        + [
            f"{op['seconds']:7.3f} s  {op['operator']:<18} rows {op['rows'] or 0:>9,}  {op['detail'][:90]}"
            for op in profile["operators"][:8]
        ]
        + ["```"]
    )
    return lines


def _median_run(step: dict[str, Any]) -> dict[str, Any]:
    ordered = sorted(step["runs"], key=lambda r: r["seconds"])
    return ordered[(len(ordered) - 1) // 2]


def _slowest(per_model: dict[str, float], count: int = 5) -> list[tuple[str, float]]:
    return sorted(per_model.items(), key=lambda item: -item[1])[:count]


def update_markdown(path: Path, section: str, rows: int) -> None:
    """Replace this size's section of `path` between its markers, or add it before the APPEND marker (else at
    the end)."""
    text = path.read_text() if path.exists() else "# Benchmarks\n\n## Results\n\n"
    begin, end = BEGIN.format(rows=rows), END.format(rows=rows)
    if begin in text and end in text:
        head, rest = text.split(begin, 1)
        text = head + section.rstrip("\n") + rest.split(end, 1)[1]
    elif APPEND in text:  # new sizes go where the file says, ahead of any text after the results
        head, rest = text.split(APPEND, 1)
        text = head + section + "\n" + APPEND + rest
    else:
        text = text.rstrip("\n") + "\n\n" + section
    path.write_text(text)
