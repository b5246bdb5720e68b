"""Where the ingest's hot statement spends its time: DuckDB's profile of the bulk transform on the first rows of
the measured file, beside its adapter alone and the line path's transform (once per run, not timed as a step).
"""

from __future__ import annotations

import json
import math
import os
import time
from typing import Any

from devkit.bench.measurements import HASH_KEY, scratch_tempdir


def step_profile(source: str, columns: dict[str, str], workdir: str) -> dict[str, Any]:
    """Where the ingest's hot statement spends its time, on the first table of rows the bulk path reads from
    `source` (`bulk.BULK_ROWS` rows of read_json's columns, as the ingest transforms them):

    * `operators`: DuckDB's profile (EXPLAIN ANALYZE, as JSON) of the whole bulk transform, slowest first;
    * `variants`: seconds of the bulk transform, of its adapter alone (the keys' text out of read_json's JSON
      columns), and of the line path's transform of the same lines (its own JSON parse included);
    * `mismatches`: rows the two paths transform differently (0 when they agree).
    """
    import duckdb
    import numpy as np
    import pyarrow as pa

    from pipelines.lib.fetch import LineFetcher
    from pipelines.lib.ingest import bulk, connect
    from pipelines.lib.reader import lines_batch
    from pipelines.lib.transform import batch_params, batch_sql, lookup_plans
    from schemas.adapters import BY_NAME

    scratch_tempdir(workdir)
    adapter = BY_NAME["canonical"]
    reader = bulk.reader_connection(None)
    rows = next(bulk.read_rows(reader, source, adapter))
    reader.close()
    rows = rows.append_column("source_line", pa.array(np.arange(1, rows.num_rows + 1)))
    lines = lines_batch(LineFetcher(source).fetch(list(range(1, rows.num_rows + 1)))).lines
    con = connect()
    for name, table in (("bulk", rows), ("lines", lines)):
        con.register(f"arrow_{name}", table)
        con.execute(f"create temp table {name} as select * from arrow_{name}")
        con.unregister(f"arrow_{name}")
    params = batch_params(adapter, source, HASH_KEY)
    variants = {
        "bulk transform (adapter + typing + validation + normalization)": (batch_sql(adapter, bulk=True), params),
        "bulk adapter alone (the keys' text out of read_json's columns)": (adapter.bulk_sql, None),
        "line path's transform of the same lines (its JSON parse included)": (batch_sql(adapter), params),
    }
    seconds: dict[str, float] = {}
    for name, (sql, bound) in variants.items():
        best = math.inf
        for _ in range(2):
            t0 = time.perf_counter()
            with lookup_plans(con):  # planned as the ingest plans it
                con.execute(f"create or replace temp table out as {sql}", bound)
            best = min(best, time.perf_counter() - t0)
        seconds[name] = round(best, 3)
    mismatches = con.execute(
        f"""select count(*) from (
            (select * exclude (source_line) from ({batch_sql(adapter, bulk=True)})
             except all select * exclude (source_line) from ({batch_sql(adapter)}))
            union all
            (select * exclude (source_line) from ({batch_sql(adapter)})
             except all select * exclude (source_line) from ({batch_sql(adapter, bulk=True)})))""",
        params,
    ).fetchall()[0][0]

    profile_file = os.path.join(workdir, "tmp", "profile.json")
    con.execute("set enable_profiling = 'json'")
    con.execute("set profiling_output = ?", [profile_file])
    with lookup_plans(con):
        con.execute(f"create or replace temp table out as {batch_sql(adapter, bulk=True)}", params)
    con.execute("set enable_profiling = 'no_output'")
    with open(profile_file) as handle:
        tree = json.load(handle)
    operators: list[dict[str, Any]] = []

    def walk(node: dict[str, Any]) -> None:  # DuckDB 2.0: {"name", "timing", "intermediate_rows", ...}
        extra = node.get("extra_info") or {}
        detail = extra.get("CTE Name") or extra.get("Projections") or extra.get("Aggregates") or extra.get("Join Type")
        operators.append(
            {
                "operator": str(node.get("name", "?")).strip(),
                "seconds": round(float(node.get("timing", 0.0)), 3),
                "rows": node.get("intermediate_rows"),
                "detail": json.dumps(detail, default=str)[:240] if detail else "",
            }
        )
        for child in node.get("children", []):
            walk(child)

    for root in tree.get("operator", []):
        walk(root)
    operators.sort(key=lambda op: -op["seconds"])
    return {
        "seconds": seconds["bulk transform (adapter + typing + validation + normalization)"],
        "rows": rows.num_rows,
        "batch_bytes": rows.nbytes,
        "threads": con.execute("select current_setting('threads')").fetchall()[0][0],
        "json_keys": len(adapter.bulk_columns),
        "variants": seconds,
        "bulk_line_mismatches": mismatches,
        "query": {k: v for k, v in tree.get("query", {}).items() if k != "sql"} | tree.get("system", {}),
        "operators": operators[:12],
        "duckdb": duckdb.__version__,
    }
