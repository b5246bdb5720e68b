"""The steps of the per-format table: the same simulated traffic written as canonical, OpenRouter, LiteLLM, OTel and
raw provider bodies' JSON lines, then, for each file, the gatewaylens ingest against a bare DuckDB read of the same
file.

Rows are the file's input lines throughout (an OpenRouter line is one request, an OTel line one export request of
many spans, a provider-bodies line one attempt): both sides read the same lines, so the ratio of their lines per
second is the ratio of their times.
"""

from __future__ import annotations

import datetime as dt
import os
import time
from typing import Any

from devkit.bench.measurements import (
    HASH_KEY,
    bare_connection,
    columns_literal,
    concatenate,
    scratch_tempdir,
    simulate_piece,
    simulation_pieces,
)
from schemas.sqltext import literal

#: The formats of the table, in its order (each a name of `devkit.simulate.formats.FORMATS`).
TABLE_FORMATS = ("canonical", "openrouter", "litellm", "otel", "provider-bodies")


def step_simulate_formats(outs: dict[str, str], start: dt.date, days: int, rows: int, seed: int) -> dict[str, Any]:
    """Simulate exactly `rows` attempts over `days` days from `start` (in pieces, as `step_simulate`) and write
    each piece in every format of `outs` (format -> file) with the simulator's writers, uncompressed; then, per
    file, its lines, bytes and the structure DuckDB detects over the whole file (the bare read's columns)."""
    from devkit.simulate.formats import write

    t0 = time.perf_counter()
    parts: dict[str, list[str]] = {name: [] for name in outs}
    for piece in simulation_pieces(start, days, rows):
        frame = simulate_piece(piece, rows / days, seed)
        for name, out in outs.items():
            parts[name] += write(frame, f"{out}.part{piece.number}", name, compression=None)
        del frame
    for name, out in outs.items():
        concatenate(parts[name], out)
    written = time.perf_counter() - t0
    files = {
        name: {"lines": count_lines(out), "bytes": os.path.getsize(out), "columns": detect_columns(out)}
        for name, out in outs.items()
    }
    return {"seconds": written, "rows": rows, "files": files, "detect_seconds": time.perf_counter() - t0 - written}


def count_lines(path: str) -> int:
    """The lines of a file: its newlines, plus one for a last line without one."""
    count, last = 0, b"\n"
    with open(path, "rb") as source:
        while block := source.read(16 * 1024 * 1024):
            count += block.count(b"\n")
            last = block[-1:]
    return count + (last != b"\n")


def detect_columns(path: str) -> dict[str, str]:
    """The top-level keys of a JSON-lines file and their DuckDB types, as `read_json` detects them over every line
    (`sample_size = -1`): nested objects are STRUCTs, arrays LISTs, keys null on every line "NULL"."""
    import duckdb

    con = duckdb.connect()
    con.execute("set TimeZone = 'UTC'")
    described = con.execute(
        "select column_name, column_type from (describe select * from "
        "read_json($p, format = 'newline_delimited', sample_size = -1))",
        {"p": path},
    ).fetchall()
    return dict(described)


def bare_statement(columns: dict[str, str], out: str) -> str:
    """The bare read of one file (bound as `$source`): `read_json(format = 'newline_delimited')` with the file's
    detected structure given as `columns`, every top-level key selected as DuckDB types it (nested formats stay
    nested: no mapping, no validation, no dedupe), `COPY` to one zstd Parquet file `out`."""
    return (
        f"copy (select * from read_json($source, format = 'newline_delimited', columns = {columns_literal(columns)}))"
        f" to {literal(out)} (FORMAT parquet, COMPRESSION zstd)"
    )


def step_bare(source: str, out: str, columns: dict[str, str], workdir: str) -> dict[str, Any]:
    """`bare_statement` over `source`, timed; rows: the Parquet file's (one per input line)."""
    import pyarrow.parquet as pq

    con = bare_connection(workdir)
    t0 = time.perf_counter()
    con.execute(bare_statement(columns, out), {"source": source})
    seconds = time.perf_counter() - t0
    return {"seconds": seconds, "rows": pq.ParquetFile(out).metadata.num_rows, "bytes": os.path.getsize(out)}


def step_file_ingest(source: str, warehouse_dir: str, workdir: str) -> dict[str, Any]:
    """The public `pipelines.lib.ingest.ingest` of `source` into an empty warehouse, nothing instrumented (the
    `ingest` step's phase timings wrap the ingest's internals; this step depends on its entry point alone).
    Its accounting: lines read, and the records they yielded (written + duplicates + quarantined + ignored)."""
    from pipelines.lib.ingest import ingest
    from pipelines.lib.storage import Warehouse

    scratch_tempdir(workdir)
    t0 = time.perf_counter()
    report = ingest([source], Warehouse(warehouse_dir), hash_key=HASH_KEY)
    seconds = time.perf_counter() - t0
    summary = report.summary()
    counts = ("lines", "records", "written", "duplicates", "quarantined", "ignored")
    return {"seconds": seconds, **{key: summary[key] for key in counts}, "bytes": summary["bytes_written"]}
