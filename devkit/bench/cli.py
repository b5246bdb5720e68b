"""`python -m devkit.bench` (`make bench`): run the benchmark, write its JSON result and its section of
BENCHMARKS.md, print the targets.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import tempfile
from pathlib import Path

import devkit.bench
from devkit.bench.markdown import markdown, peer_result, targets, update_markdown
from devkit.bench.runs import DEFAULT_FORMAT_ROWS, DEFAULT_NAIVE_ROWS, DEFAULT_ROWS, DEFAULT_RUNS, ROOT, run


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark as the arguments say; write the JSON result and the markdown section; 0."""
    parser = argparse.ArgumentParser(
        prog="python -m devkit.bench", description=devkit.bench.__doc__.split("\n\n", 1)[0]
    )
    parser.add_argument("--rows", type=int, default=DEFAULT_ROWS, help="rows of the 30-day file (default 2M)")
    parser.add_argument("--runs", type=int, default=DEFAULT_RUNS, help="measured runs per step (default 3)")
    parser.add_argument("--naive-rows", type=int, default=DEFAULT_NAIVE_ROWS, help="lines of the naive slice")
    parser.add_argument(
        "--format-rows",
        type=int,
        default=DEFAULT_FORMAT_ROWS,
        help=f"simulated attempts of the per-format table (default {DEFAULT_FORMAT_ROWS:,})",
    )
    parser.add_argument("--no-formats", action="store_true", help="skip the per-format table")
    parser.add_argument("--no-cli", action="store_true", help="skip the CLI row (gatewaylens ingest as a process)")
    parser.add_argument("--workdir", help="scratch folder on local disk (default: a new temporary folder)")
    parser.add_argument("--keep", action="store_true", help="keep the workdir's inputs and warehouses")
    parser.add_argument("--results-dir", default=str(ROOT / "benchmarks" / "results"))
    parser.add_argument("--markdown", default=str(ROOT / "BENCHMARKS.md"), help="'' to skip")
    args = parser.parse_args(argv)
    workdir = make_workdir(args.workdir)
    try:
        result = run(
            args.rows,
            args.runs,
            workdir,
            args.naive_rows,
            log=lambda line: print(line, flush=True),
            format_rows=None if args.no_formats else args.format_rows,
            cli=not args.no_cli,
        )
    finally:
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
    os.makedirs(args.results_dir, exist_ok=True)
    stamp = result["started"].replace(":", "").replace("-", "").replace("+0000", "Z")
    json_path = os.path.join(args.results_dir, f"{stamp}-{args.rows}.json")
    with open(json_path, "w") as out:
        json.dump(result, out, indent=1, default=str)
    shown = os.path.relpath(json_path, ROOT) if json_path.startswith(str(ROOT)) else json_path
    peer = peer_result(Path(args.markdown), args.rows) if args.markdown else None
    if args.markdown:
        update_markdown(Path(args.markdown), markdown(result, shown, peer), args.rows)
    print(f"wrote {shown}" + (f" and {args.markdown}" if args.markdown else ""))
    for target, measured, verdict in targets(result, peer):
        print(f"  {target}: {measured} ({verdict})")
    return 0


def make_workdir(parent: str | None) -> str:
    """A new scratch folder in `parent` (created if need be; None: the system's temporary folder), as an absolute
    path: the steps run commands from the project folder and hand a folder of it on as DAGSTER_HOME, which Dagster
    refuses relative."""
    if parent:
        os.makedirs(parent, exist_ok=True)
    return os.path.abspath(tempfile.mkdtemp(prefix="gatewaylens-bench-", dir=parent))
