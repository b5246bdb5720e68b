"""The benchmark's report: a section of BENCHMARKS.md per row count (between markers, replaced by a rerun at the
same size) with every step's times, memory and load, the CLI row, the ratios, the ingest's phases, the slowest
models, the transform's profile, the per-format table and the targets met or missed. A result without the CLI row
or the per-format table (skipped, or older than them) renders without them, its targets "not measured".
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from devkit.bench.formats import TABLE_FORMATS
from devkit.bench.processes import SMALL_LINES, SMALL_MAX_SECONDS
from devkit.bench.runs import DEFAULT_ROWS, ROOT, stats

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
#: The CLI row's steps: whole processes on the same file, timed start to exit.
CLI_LABELS = {
    "cli_baseline_process": "bare baseline as its own process: `python -c` read_json -> COPY (whole process)",
    "cli_ingest": "`gatewaylens ingest` CLI, DAGSTER_HOME unset (whole process)",
    "cli_ingest_dagster_home": "`gatewaylens ingest` CLI, DAGSTER_HOME a temporary instance (whole process)",
}
#: The commands' rows: whole processes on the first SMALL_LINES lines of the file, in the order a new user runs
#: them (ingest into an empty warehouse, build every model, query, report), DAGSTER_HOME unset and set.
SMALL_LABELS = {
    "cli_small_ingest": f"`gatewaylens ingest` of {SMALL_LINES} lines into an empty warehouse (whole process)",
    "cli_small_build": "`gatewaylens build`, every model new, over them (whole process)",
    "cli_small_sql": "`gatewaylens sql`, one count over them (whole process)",
    "cli_small_report": "`gatewaylens report` of them (whole process)",
    "cli_small_ingest_dagster_home": f"`gatewaylens ingest` of {SMALL_LINES} lines, DAGSTER_HOME set (whole process)",
    "cli_small_build_dagster_home": "`gatewaylens build`, every model new, DAGSTER_HOME set (whole process)",
}
#: The small-files row: a folder of many small inputs, each file otherwise a transform statement of its own.
FILES_LABELS = {
    "cli_small_files": f"`gatewaylens ingest` of a folder of files of {SMALL_LINES} lines (rows / {SMALL_LINES} files) "
    "into an empty warehouse (whole process)",
}
CANONICAL_MIN = 0.7  # canonical ingest / bare baseline rows/s, in process
CLI_MIN = 0.6  # `gatewaylens ingest` / the baseline's process, whole processes
FORMAT_MIN = 0.5  # every other format's ingest / its bare read_json -> COPY, lines/s
RSS_MAX_GIB = 1.5  # the ingest's peak RSS at 2M rows
RSS_GROWTH_MAX = 0.2  # the ingest's peak RSS growth from 2M to 10M rows
GROWTH_SIZES = (DEFAULT_ROWS, 10_000_000)


def _fmt(value: float | None, pattern: str = "{:,.2f}") -> str:
    return "-" if value is None else pattern.format(value)


def targets(result: dict[str, Any], peer: dict[str, Any] | None = None) -> list[tuple[str, str, str]]:
    """(target, measured, met / missed / not measured) for the targets one run can answer; `peer`: the result of
    the other size of GROWTH_SIZES (`peer_result`), for the memory growth between them."""
    steps, r = result["steps"], result["ratios"]
    ratio = r["ingest_vs_baseline"]
    out = [
        (
            f"canonical ingest >= {CANONICAL_MIN}x of the bare baseline rows/s, in process",
            f"{ratio:.2f}x",
            _verdict(ratio >= CANONICAL_MIN),
        ),
        _cli_target(r),
        _small_target(steps),
        *(_format_target(result, name) for name in TABLE_FORMATS if name != "canonical"),
    ]
    rss = steps["ingest"]["peak_rss_mib"]["median"] / 1024
    label = f"ingest peak RSS < {RSS_MAX_GIB} GiB at 2M rows"
    if result["rows"] == DEFAULT_ROWS:
        out.append((label, f"{rss:.2f} GiB", _verdict(rss < RSS_MAX_GIB)))
    else:
        out.append((label, f"{rss:.2f} GiB at {result['rows']:,}", "n/a at this size"))
    out.append(_growth_target(result, peer))
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


def _cli_target(r: dict[str, Any]) -> tuple[str, str, str]:
    """The CLI's ratio to the baseline's process, with DAGSTER_HOME unset and set: met when both reach CLI_MIN."""
    label = f"canonical ingest >= {CLI_MIN}x of the bare baseline's process, through the CLI (whole processes)"
    unset, home = r.get("cli_ingest_vs_baseline_process"), r.get("cli_ingest_dagster_home_vs_baseline_process")
    if unset is None or home is None:
        return label, "-", "not measured in this run"
    return label, f"{unset:.2f}x (DAGSTER_HOME unset), {home:.2f}x (set)", _verdict(min(unset, home) >= CLI_MIN)


def _small_target(steps: dict[str, Any]) -> tuple[str, str, str]:
    """The commands on a small input: met when each one's median is under its SMALL_MAX_SECONDS."""
    limits = ", ".join(f"{command} < {seconds:g} s" for command, seconds in SMALL_MAX_SECONDS.items())
    label = f"`gatewaylens` on {SMALL_LINES} lines, whole processes, DAGSTER_HOME unset and set: {limits}"
    if not all(name in steps for name in SMALL_LABELS):
        return label, "-", "not measured in this run"
    measured, met = [], True
    for name in SMALL_LABELS:
        command = name.removeprefix("cli_small_").removesuffix("_dagster_home")
        median = steps[name]["seconds"]["median"]
        met = met and median < SMALL_MAX_SECONDS[command]
        measured.append(f"{command}{' (set)' if name.endswith('_dagster_home') else ''} {median:.2f} s")
    return label, ", ".join(measured), _verdict(met)


def _format_target(result: dict[str, Any], name: str) -> tuple[str, str, str]:
    label = f"{name} ingest >= {FORMAT_MIN}x of a bare read_json -> COPY of the same file (lines/s)"
    ratio = result["ratios"].get(f"format_{name}_ingest_vs_bare")
    if ratio is None:
        return label, "-", "not measured in this run"
    lines = result["formats"]["files"][name]["lines"]
    return label, f"{ratio:.2f}x ({lines:,} lines)", _verdict(ratio >= FORMAT_MIN)


def _growth_target(result: dict[str, Any], peer: dict[str, Any] | None) -> tuple[str, str, str]:
    """The ingest's peak RSS from the 2M-row result to the 10M-row one (this run and `peer`, either way)."""
    small_rows, large_rows = GROWTH_SIZES
    label = f"ingest peak RSS grows < {RSS_GROWTH_MAX:.0%} from {small_rows:,} to {large_rows:,} rows"
    if result["rows"] not in GROWTH_SIZES:
        return label, "-", "n/a at this size"
    if peer is None:
        other = small_rows if result["rows"] == large_rows else large_rows
        return label, "-", f"n/a without the {other:,}-row section's result"
    small, large = sorted((result, peer), key=lambda doc: doc["rows"])
    gib = [doc["steps"]["ingest"]["peak_rss_mib"]["median"] / 1024 for doc in (small, large)]
    growth = gib[1] / gib[0] - 1
    measured = f"{gib[0]:.2f} GiB (run {small['started']}) -> {gib[1]:.2f} GiB (run {large['started']}): {growth:+.0%}"
    return label, measured, _verdict(growth < RSS_GROWTH_MAX)


def peer_result(path: Path, rows: int) -> dict[str, Any] | None:
    """The result the other size's section of the markdown file at `path` cites (2M for 10M and back), if that
    section and its result file exist; None otherwise (and for other sizes)."""
    if rows not in GROWTH_SIZES or not path.exists():
        return None
    other = GROWTH_SIZES[0] if rows == GROWTH_SIZES[1] else GROWTH_SIZES[1]
    text = path.read_text()
    begin, end = BEGIN.format(rows=other), END.format(rows=other)
    if begin not in text or end not in text:
        return None
    cited = re.search(r"result `([^`]+)`", text.split(begin, 1)[1].split(end, 1)[0])
    if cited is None or not (ROOT / cited.group(1)).is_file():  # a relative path is the project's
        return None
    return json.loads((ROOT / cited.group(1)).read_text())


def _verdict(met: bool) -> str:
    return "met" if met else "missed"


def markdown(result: dict[str, Any], json_path: str, peer: dict[str, Any] | None = None) -> str:
    """The section of BENCHMARKS.md for `result` (saved at `json_path`); `peer` as for `targets`."""
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
    measured = CLI_LABELS | SMALL_LABELS | FILES_LABELS
    labels = STEP_LABELS | {name: label for name, label in measured.items() if name in result["steps"]}
    for name, label in labels.items():
        step = result["steps"][name]
        seconds, rss = step["seconds"], step["peak_rss_mib"]
        loads = ", ".join(f"{r['load_1m'][0]:.2f}" for r in step["runs"] if r.get("load_1m"))
        if name == "report" and step.get("status") != "ok":
            lines.append(f"| {label} | - | {step.get('status')} | - | - | {loads} |")
            continue
        lines.append(
            f"| {label} | {step['rows']:,} | {_span(seconds)} | {_fmt(step.get('rows_per_s'), '{:,.0f}')} "
            f"| {rss['median']:,.0f}, {rss['max']:,.0f} | {loads} |"
        )
    r = result["ratios"]
    lines += [
        "",
        f"Ratios: ingest / baseline rows/s **{r['ingest_vs_baseline']:.2f}x**; naive / baseline "
        f"{r['naive_vs_baseline']:.3f}x; ingest / naive {r['ingest_vs_naive']:.1f}x; one new day on 60 vs 30 days: "
        f"ingest {r['incremental_60d_vs_30d_ingest']:.2f}x, models {r['incremental_60d_vs_30d_build']:.2f}x, "
        f"together {r['incremental_60d_vs_30d_total']:.2f}x{_cli_ratios(r)}.",
        "",
        "Ingest phases (median run, seconds): "
        + ", ".join(
            f"{k} {val:.2f}"
            for k, val in _median_run(result["steps"]["ingest"])["phases"].items()
            if not k.startswith("peak_rss")
        )
        + " (stage_total: the staging of the file, read_json's parse included; within it scan: the bulk path's"
        " byte scan, for a local file on a thread of its own overlapping the parse, transform: the adapter +"
        " validation statement per batch written to staging, account and rejects: reading a batch's staged rows"
        " back; commit_group: merge, sort and write of the days, write_partition_thread_s being pyarrow's writes"
        " summed over its threads).",
        "",
        "Slowest models in the full build (median run, seconds): "
        + ", ".join(f"{k} {val:.2f}" for k, val in _slowest(_median_run(result["steps"]["full_build"])["per_model"]))
        + ".",
        "",
        *_profile_lines(result["steps"]["profile"]),
        "",
        *_format_lines(result),
        "| target | measured | verdict |",
        "| --- | --- | --- |",
    ]
    lines += [f"| {a} | {b} | {c} |" for a, b, c in targets(result, peer)]
    lines.append(END.format(rows=rows))
    return "\n".join(lines) + "\n"


def _cli_ratios(r: dict[str, Any]) -> str:
    """The CLI row's ratios as the end of the Ratios sentence (empty when not measured)."""
    if r.get("cli_ingest_vs_baseline_process") is None:
        return ""
    unset, home = r["cli_ingest_vs_baseline_process"], r["cli_ingest_dagster_home_vs_baseline_process"]
    return (
        f"; `gatewaylens ingest` / the baseline's process, whole processes: **{unset:.2f}x** with DAGSTER_HOME unset,"
        f" {home:.2f}x with it set"
    )


def _format_lines(result: dict[str, Any]) -> list[str]:
    """The per-format table and what it measures (nothing when the run has none)."""
    formats = result.get("formats")
    if formats is None:
        return []
    lines = [
        f"Per format: the same {formats['rows']:,} simulated attempts over {result['history_days']} days written "
        "as each format's JSON lines (one uncompressed file each). Rows are input lines: an OpenRouter line is a "
        "request, an OTel line one OTLP export of many spans, a provider-bodies line one attempt's response body in "
        "the proxy's envelope. *bare*: DuckDB `read_json(format = "
        "'newline_delimited')` with the file's structure (detected beforehand over every line) given as `columns`, "
        "`select *` with nested formats left nested (no mapping, no validation) -> `COPY` to one zstd Parquet file. "
        "*ingest*: `pipelines.lib.ingest.ingest` of the file into an empty warehouse. Each run alternates the two.",
        "",
        "| format | lines | MiB | records | bare s, median (min - max) | ingest s, median (min - max) "
        "| bare lines/s | ingest lines/s | ingest / bare | peak RSS MiB (median): bare, ingest |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for name, file in formats["files"].items():
        bare, ingest = result["steps"][f"format_{name}_bare"], result["steps"][f"format_{name}_ingest"]
        ratio = result["ratios"][f"format_{name}_ingest_vs_bare"]
        lines.append(
            f"| {name} | {file['lines']:,} | {file['bytes'] / 2**20:,.0f} | {_median_run(ingest)['records']:,} "
            f"| {_span(bare['seconds'])} | {_span(ingest['seconds'])} | {_fmt(bare.get('rows_per_s'), '{:,.0f}')} "
            f"| {_fmt(ingest.get('rows_per_s'), '{:,.0f}')} | **{_fmt(ratio)}x** "
            f"| {bare['peak_rss_mib']['median']:,.0f}, {ingest['peak_rss_mib']['median']:,.0f} |"
        )
    return [*lines, ""]


def _span(seconds: dict[str, float] | None) -> str:
    """Median (min - max) seconds."""
    return f"{seconds['median']:.2f} ({seconds['min']:.2f} - {seconds['max']:.2f})" if seconds else "-"


def _profile_lines(profile: dict[str, Any]) -> list[str]:
    lines = [
        f"Profile of the ingest's transform statement on the first rows the bulk path reads ({profile['rows']:,} "
        f"lines, {profile['batch_bytes'] / 2**20:.0f} MiB of read_json's columns, {profile['threads']} threads; "
        "best of 2, seconds):",
        "",
    ]
    lines += [f"- {name}: {seconds:.2f}" for name, seconds in profile["variants"].items()]
    if "bulk_line_mismatches" in profile:
        lines.append(f"- rows the bulk and line paths transform differently: {profile['bulk_line_mismatches']:,}")
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
