"""The `gatewaylens` command line.

`ingest`, `build` and `run` do what the assets of `pipelines.definitions` do (the jobs `ingest_job`,
`models_job` and `main`), through the same functions of `pipelines.lib`; how depends on DAGSTER_HOME
(`pipelines.runs`):

* DAGSTER_HOME unset: the command calls those functions directly, with the assets' checks, and does not import
  Dagster: a small ingest or build answers in about a second. Nothing is recorded beyond the warehouse itself
  (its ledger, quarantine and database): without DAGSTER_HOME there is no instance to record a run in.
* DAGSTER_HOME set (as `make run` sets it): the command executes the Dagster job in process in that instance,
  so the run shows up in the Dagster UI (`make dev`) with its events and check results, takes its place in the
  `warehouse_writer` pool and feeds the sensors; it costs Dagster's start (a few seconds).

Either way: the same warehouse lock, ledger, quarantine, blocking checks, summary lines, error lines and exit
codes. `sql`, `export` and `report` only read the warehouse and never import Dagster; `sql` imports no dataframe
library either, so it answers in a fraction of a second. Every command starts from the settings of
`pipelines.settings` (the GATEWAYLENS_* variables), with its flags on top (`--warehouse` wins).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pipelines.runs import Job, Request
    from pipelines.settings import Settings

EXIT_FAILURE = 1
#: Ctrl-C: 128 + SIGINT, what a shell reports for a command the signal ended.
EXIT_INTERRUPTED = 130
EXIT_USAGE = 2  # argparse's exit code for a command line it refuses


class Refused(Exception):
    """A command's arguments name something it cannot use (a file where a folder belongs, ...): one line, exit 1."""


def _fail(message: str, code: int = EXIT_FAILURE) -> int:
    print(f"gatewaylens: error: {message}", file=sys.stderr)
    return code


def _settings(args: argparse.Namespace) -> Settings:
    """The settings of this command: the environment's, with `--warehouse` (where the command has it) on top.
    A local warehouse that is a file is refused here, before a command tries to make folders in it."""
    from pipelines.settings import Settings

    settings = Settings.from_env(warehouse=getattr(args, "warehouse", None))
    warehouse = settings.open_warehouse()
    if warehouse.is_local and os.path.isfile(warehouse.root):
        raise Refused(f"warehouse {settings.warehouse} is a file, not a folder")
    return settings


def _check_sources(sources: Sequence[str], settings: Settings) -> str | None:
    """The first problem with the sources, as one line, or None."""
    from pipelines.lib.storage import list_sources

    for url in sources:
        try:
            list_sources(url, settings.storage_options)
        except Exception as err:
            return str(err) if str(err) else f"{type(err).__name__}: {url}"
    return None


def _run(job: Job, settings: Settings, request: Request) -> int:
    """Run a job (`pipelines.runs`); print its failed checks, then its summary or one error line."""
    from pipelines.runs import print_outcome, run_job

    outcome = run_job(job, settings, request)
    print_outcome(outcome)
    return _fail(outcome.error) if outcome.error else 0


def cmd_ingest(args: argparse.Namespace) -> int:
    from pipelines.runs import INGEST, Request

    settings = _settings(args)
    problem = _check_sources(args.sources, settings)
    if problem:
        return _fail(problem)
    return _run(INGEST, settings, Request(sources=tuple(args.sources), own_process=args.own_process))


def cmd_run(args: argparse.Namespace) -> int:
    from pipelines.runs import MAIN, Request

    settings = _settings(args)
    sources = [args.source] if args.source else []
    if sources and (problem := _check_sources(sources, settings)):
        return _fail(problem)
    return _run(MAIN, settings, Request(sources=tuple(sources), own_process=args.own_process))


def cmd_build(args: argparse.Namespace) -> int:
    from pipelines.runs import BUILD, Request

    return _run(BUILD, _settings(args), Request(full_refresh=args.full_refresh, own_process=args.own_process))


def cmd_sql(args: argparse.Namespace) -> int:
    """Run one query against the warehouse database and print the result.

    Read-only and confined to the warehouse (`pipelines.lib.readonly`): one SELECT, which reads no file outside
    the warehouse, writes none and reaches no network. It runs in the warehouse folder, so a relative path in the
    query (`read_parquet('requests/date=2025-06-01/data.parquet')`) names a file of the warehouse.

    DuckDB renders the result (its box table, its text and JSON forms of each value): no dataframe library is
    imported, so the command answers in well under a second."""
    import duckdb

    from pipelines.lib.readonly import ReadOnlyQueryError, check_query
    from pipelines.lib.sqlmodels.database import open_database

    warehouse = _settings(args).open_warehouse()
    try:
        with open_database(warehouse, read_only=True) as con:
            query = check_query(con, args.query)
            if warehouse.is_local:
                os.chdir(warehouse.root)
            if args.format == "table":
                _print_table(con.sql(query), args.max_rows)
            else:
                _print_rows(con.sql(query), args.format)
    except duckdb.PermissionException as err:
        return _fail(f"{str(err).splitlines()[0]} (gatewaylens sql reads only inside {warehouse.uri()})")
    except (duckdb.Error, FileNotFoundError, ReadOnlyQueryError) as err:
        return _fail(str(err).splitlines()[0])
    return 0


#: The widest a table is drawn when standard output is not a terminal; a terminal's own width otherwise.
TABLE_WIDTH = 200


def _print_table(result: Any, max_rows: int) -> None:
    """`result` as DuckDB draws it: a box with the column types, at most `max_rows` rows (-1: all), as wide as
    the terminal (columns that do not fit are elided)."""
    import shutil

    width = shutil.get_terminal_size((TABLE_WIDTH, 24)).columns
    result.show(max_width=width, max_rows=sys.maxsize if max_rows < 0 else max_rows)


def _print_rows(result: Any, form: str) -> None:
    """`result` as CSV (a header, then each value as DuckDB writes it as text; NULL empty) or as JSON (one
    array of row objects). Every row is fetched before anything is printed, so a query that fails midway prints
    only its error."""
    import csv

    if form == "json":
        rows = result.set_alias(_ROW).project(f"to_json({_ROW})").fetchall()
        sys.stdout.write("[" + ",".join(row for (row,) in rows) + "]\n")
        return
    text = result.project("columns(*)::varchar")
    rows = text.fetchall()
    writer = csv.writer(sys.stdout, lineterminator="\n")
    writer.writerow(text.columns)
    writer.writerows(rows)


#: The name a result row goes by when it is turned into one JSON object.
_ROW = "gatewaylens_row"


def cmd_export(args: argparse.Namespace) -> int:
    """Write one mart, optionally limited to a range of days, as CSV (stdout or a file) or Parquet (a file)."""
    import duckdb

    from pipelines.lib.export import ExportError, check_out, export_mart
    from pipelines.lib.sqlmodels.database import open_database

    if args.format == "parquet" and not args.out:
        return _fail("--format parquet writes a file: give --out PATH")
    if args.start and args.end and args.start > args.end:
        return _fail(f"--from {args.start} is after --to {args.end}")
    settings = _settings(args)
    try:
        replacing = bool(args.out) and check_out(args.out, args.format, settings.storage_options)
        with open_database(settings.open_warehouse(), read_only=True) as con:
            rows = export_mart(con, args.mart, args.start, args.end, args.format, args.out, settings.storage_options)
    except BrokenPipeError:
        raise  # standard output's reader went away: `main` ends quietly
    except (duckdb.Error, OSError, ExportError) as err:
        return _fail(_one_line(err))
    if args.out:
        replaced = " (replaced the file that was there)" if replacing else ""
        print(f"{args.mart}: {rows:,} rows -> {args.out}{replaced}", file=sys.stderr)
    return 0


def _one_line(err: Exception) -> str:
    """An error as one line: an OS error's reason and file (`[Errno 13] ...` left out), others' first line."""
    if isinstance(err, OSError) and err.strerror and err.filename:
        return f"{err.filename}: {err.strerror}"
    return (str(err).splitlines() or [type(err).__name__])[0]


def cmd_report(args: argparse.Namespace) -> int:
    """Write the static report from the warehouse database (read-only), optionally with a PDF and PNGs."""
    import duckdb

    from dashboards import export, figures, report
    from pipelines.lib import privacy
    from pipelines.lib.sqlmodels.database import open_database
    from pipelines.lib.storage import Warehouse

    if args.start and args.end and args.start > args.end:
        return _fail(f"--from {args.start} is after --to {args.end}")
    settings = _settings(args)
    warehouse = settings.open_warehouse()
    out = Warehouse(args.out, settings.storage_options) if args.out else warehouse
    if args.out and out.fs.isfile(out.root):
        return _fail(f"--out {args.out} is a file, not a folder: the report writes {report.REPORT_FILE} into a folder")
    try:
        with open_database(warehouse, read_only=True) as con:
            period = figures.Range(args.start, args.end, args.grain)
            notes = tuple(privacy.caveats(warehouse))
            page = report.render_report(con, period, warehouse=warehouse.uri(), notes=notes)
    except (duckdb.Error, FileNotFoundError) as err:
        return _fail(_one_line(err))
    folder = () if args.out else ("dashboards",)
    try:
        report.write_report(page, out, out.path(*folder, report.REPORT_FILE))
    except OSError as err:
        return _fail(_one_line(err))
    first, last = page.period
    print(
        f"report: {len(page.figures)} figures ({len(page.empty_figures)} empty), "
        f"{f'{first} to {last}' if first else page.period_text}, {len(page.html.encode()):,} bytes, "
        f"rendered in {page.render_seconds:.1f}s"
    )
    print(f"  dashboards: {out.uri(*folder, report.REPORT_FILE)}")
    if args.pdf:  # the exports are extras: without a browser they say so, and the command still succeeds
        try:
            pdf = export.export_pdf(page.html)
        except export.ExportUnavailable as err:
            print(f"gatewaylens: {err}", file=sys.stderr)
        else:
            with out.atomic_write(out.path(*folder, export.PDF_FILE)) as local:
                Path(local).write_bytes(pdf)
            print(f"  pdf: {out.uri(*folder, export.PDF_FILE)} ({export.pdf_pages(pdf)} pages)")
    if args.png:
        if not out.is_local:
            print("gatewaylens: PNG export writes local files only: use a local --out", file=sys.stderr)
            return 0
        try:
            written = export.export_pngs(page.figures, Path(out.path(*folder, export.PNG_DIR)))
        except export.ExportUnavailable as err:
            print(f"gatewaylens: {err}", file=sys.stderr)
            return 0
        print(f"  png: {len(written)} files in {out.uri(*folder, export.PNG_DIR)}")
    return 0


def cmd_simulate(args: argparse.Namespace) -> int:
    import devkit.simulate as simulate  # a development tool: imported only when this command runs
    from devkit.simulate import formats as simulate_formats

    if args.format not in simulate_formats.FORMATS:
        print(f"unknown format {args.format!r}: one of {', '.join(simulate_formats.FORMATS)}", file=sys.stderr)
        return EXIT_USAGE
    if problem := _simulate_out_problem(args.out, args.rows_per_file):
        return _fail(problem)
    frame = simulate.simulate(args.start, args.days, args.requests_per_day, args.seed)
    written = simulate_formats.write(frame, args.out, args.format, rows_per_file=args.rows_per_file)
    print(
        f"simulated {frame.height:,} attempts over {args.days} days -> {len(written)} {args.format} file(s): {args.out}"
    )
    return 0


def _simulate_out_problem(out: str, rows_per_file: int | None) -> str | None:
    """What is wrong with `simulate --out`, as one line, or None: a folder where a file is written, or (with
    --rows-per-file, which writes numbered files into a folder) a file."""
    import fsspec

    fs, path = fsspec.core.url_to_fs(out)
    if rows_per_file is None and fs.isdir(path):
        return f"--out {out} is a folder: give a file name (or --rows-per-file N to write numbered files into it)"
    if rows_per_file is not None and fs.isfile(path):
        return f"--out {out} is a file: with --rows-per-file it names the folder of the numbered files"
    return None


def cmd_schema(args: argparse.Namespace) -> int:
    from pipelines.lib.sqlmodels.docs import METRICS_DOC, render_docs
    from schemas.jsonschema import ARTEFACTS

    artefacts = {**ARTEFACTS, METRICS_DOC: render_docs}
    stale = [path for path, render in artefacts.items() if not path.exists() or path.read_text() != render()]
    if args.check:
        if stale:
            return _fail(f"out of date: {', '.join(str(p) for p in stale)}; run `gatewaylens schema`")
        print("generated files are up to date")
        return 0
    for path, render in artefacts.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(render())
        print(f"wrote {path}")
    return 0


WAREHOUSE_HELP = "warehouse URL (default: GATEWAYLENS_WAREHOUSE or ./warehouse)"


def _whole_number(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None


def _positive(text: str) -> int:
    """A count of days, requests or lines: a whole number of at least 1 (argparse's refusal otherwise)."""
    if (value := _whole_number(text)) < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {value}")
    return value


def _rows_shown(text: str) -> int:
    """`sql --max-rows`: the rows a table shows, at least 1, or -1 for all. Not 0: DuckDB draws a small result
    whole whatever its limit, so a table of no rows could not be promised."""
    if (value := _whole_number(text)) < 1 and value != -1:
        raise argparse.ArgumentTypeError(f"must be at least 1, or -1 for all rows, not {value}")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="gatewaylens", description="Agent-traffic analytics from gateway logs.")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("ingest", help="ingest log files (fsspec URLs: files, folders, globs) into the warehouse")
    p.add_argument("sources", nargs="+", metavar="SOURCE")
    p.add_argument("--warehouse", help=WAREHOUSE_HELP)
    p.set_defaults(func=cmd_ingest)

    p = sub.add_parser("run", help="run the main job: ingest, then everything downstream")
    p.add_argument("--source", help="source URL (default: GATEWAYLENS_LANDING or data/sample)")
    p.add_argument("--warehouse", help=WAREHOUSE_HELP)
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("build", help="build the SQL models into WAREHOUSE/gatewaylens.duckdb (incrementally)")
    p.add_argument("--warehouse", help=WAREHOUSE_HELP)
    p.add_argument("--full-refresh", action="store_true", help="rebuild incremental models whole")
    p.set_defaults(func=cmd_build)

    p = sub.add_parser(
        "sql", help="run one SELECT against the warehouse database (read-only, confined to the warehouse) and print it"
    )
    p.add_argument("query", help='SQL, e.g. "select * from tool_call_rate_monthly"')
    p.add_argument("--warehouse", help=WAREHOUSE_HELP)
    p.add_argument("--format", choices=["table", "csv", "json"], default="table")
    p.add_argument("--max-rows", type=_rows_shown, default=50, help="rows shown in table format (-1: all)")
    p.set_defaults(func=cmd_sql)

    p = sub.add_parser("export", help="write one mart as CSV or Parquet, optionally for a range of days")
    p.add_argument("mart", help="a mart name, e.g. spend_monthly (see docs/metrics.md)")
    p.add_argument("--warehouse", help=WAREHOUSE_HELP)
    p.add_argument("--format", choices=["csv", "parquet"], default="csv")
    p.add_argument("--out", help="file or fsspec URL to write (default for csv: stdout)")
    p.add_argument("--from", dest="start", type=date.fromisoformat, help="first UTC day (default: all)")
    p.add_argument("--to", dest="end", type=date.fromisoformat, help="last UTC day (default: all)")
    p.set_defaults(func=cmd_export)

    p = sub.add_parser("report", help="write the static report WAREHOUSE/dashboards/index.html (offline HTML)")
    p.add_argument("--warehouse", help=WAREHOUSE_HELP)
    p.add_argument("--out", help="output folder or URL for index.html (default: WAREHOUSE/dashboards)")
    p.add_argument("--from", dest="start", type=date.fromisoformat, help="first UTC day (default: the first with data)")
    p.add_argument("--to", dest="end", type=date.fromisoformat, help="last UTC day (default: the last with data)")
    p.add_argument("--grain", choices=["day", "week", "month"], default="month", help="grain of the time series")
    p.add_argument("--png", action="store_true", help="also write a PNG per figure (needs Chromium)")
    p.add_argument("--pdf", action="store_true", help="also write report.pdf, A4 landscape (needs Chromium)")
    p.set_defaults(func=cmd_report)

    p = sub.add_parser("simulate", help="write simulated gateway traffic")
    p.add_argument("--start", type=date.fromisoformat, default=date(2025, 1, 1))
    p.add_argument("--days", type=_positive, default=30)
    p.add_argument("--requests-per-day", type=_positive, default=1000)
    p.add_argument(
        "--format",
        default="canonical",
        metavar="FORMAT",
        help="canonical (JSON lines), openrouter (generation stats), litellm (StandardLoggingPayload), otel "
        "(OTLP/JSON spans), provider-bodies (raw bodies in the proxy envelope), openrouter-activity (the CSV export)",
    )
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--rows-per-file", type=_positive, default=None, help="split into files of this many lines")
    p.add_argument(
        "--out",
        required=True,
        help="output URL (.jsonl, .jsonl.gz, .jsonl.zst; .csv for the activity export; a folder with --rows-per-file)",
    )
    p.set_defaults(func=cmd_simulate)

    p = sub.add_parser(
        "schema", help="write the generated docs: the record's JSON Schema and field reference, metrics.md"
    )
    p.add_argument("--check", action="store_true", help="only check that the committed file is current")
    p.set_defaults(func=cmd_schema)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """The `gatewaylens` command. Without `argv` it reads the process's own arguments and has the process to itself
    (the console script, `python -m pipelines.cli`: `Request.own_process`); a caller passing `argv` (a test) may
    call it again in the same process. Ctrl-C ends any command with one line and EXIT_INTERRUPTED, whether
    Python or DuckDB took it (`pipelines.lib.interrupts`); what it stopped cleans up as after any error."""
    args = build_parser().parse_args(argv)
    args.own_process = argv is None
    if empty := _empty_place(args):
        return _fail(f"{empty} is empty (an unset variable?): give a path or URL", EXIT_USAGE)
    from pipelines.settings import SettingsError

    try:
        code = args.func(args)
        sys.stdout.flush()  # here, not as the interpreter exits: a reader gone early is noticed below
    except (SettingsError, Refused) as err:
        return _fail(str(err))
    except BrokenPipeError:
        return _stdout_closed()
    except (KeyboardInterrupt, Exception) as err:
        from pipelines.lib.interrupts import interrupted

        if not interrupted(err):
            raise
        print("gatewaylens: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    return code


#: The arguments that name a place to read or write, as the command line calls them. Empty, each would quietly
#: mean another place (the current folder, the default warehouse or landing, standard output), which is what an
#: unset shell variable ("$LOGDIR") gives: so an empty one is refused.
PLACES = {"sources": "SOURCE", "source": "--source", "warehouse": "--warehouse", "out": "--out"}


def _empty_place(args: argparse.Namespace) -> str | None:
    """The first place argument (`PLACES`) given empty or blank, by its name on the command line, or None."""
    for dest, name in PLACES.items():
        value = getattr(args, dest, None)
        if any(given is not None and not given.strip() for given in (value if isinstance(value, list) else [value])):
            return name
    return None


def _stdout_closed() -> int:
    """The reader of standard output went away (`gatewaylens sql ... | head -1`): end quietly, as the Python
    documentation advises (its note on SIGPIPE): point stdout at devnull, so that the interpreter's last flush
    finds nowhere to fail, and exit 1."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    return EXIT_FAILURE


if __name__ == "__main__":
    sys.exit(main())
