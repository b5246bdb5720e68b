"""Where the ingest's hot statement spends its time: DuckDB's profile of the transform on the first batch of the
measured file, and its JSON parse done several ways (once per run, not timed as a step).
"""

from __future__ import annotations

import json
import math
import os
import time
from typing import Any

from devkit.bench.measurements import HASH_KEY, scratch_tempdir
from schemas.sqltext import literal


def step_profile(source: str, columns: dict[str, str], workdir: str) -> dict[str, Any]:
    """Where the ingest's hot statement spends its time, on the first batch of `source` (one 128 MB chunk, as
    the ingest reads it), copied into a DuckDB table so every variant reads the same rows:

    * `operators`: DuckDB's profile (EXPLAIN ANALYZE, as JSON) of the whole transform, slowest operators first;
    * `variants`: seconds of the transform and of its JSON parse alone, done as the canonical adapter does it
      (`json_extract_string` over a list of paths) and as one `from_json` into a struct (all VARCHAR, as the
      adapter returns text; or typed), and whether the VARCHAR struct gives the adapter's values exactly.
    """
    import duckdb

    from pipelines.lib.ingest import connect
    from pipelines.lib.reader import iter_line_batches
    from pipelines.lib.transform import batch_params, batch_sql
    from schemas.adapters import BY_NAME, INPUT_COLUMNS, canonical

    scratch_tempdir(workdir)
    adapter = BY_NAME["canonical"]
    batch = next(iter_line_batches(source))
    con = connect()
    con.register("arrow_lines", batch.lines)
    con.execute("create temp table lines as select * from arrow_lines")
    con.unregister("arrow_lines")
    keys = [key for column in INPUT_COLUMNS for key in canonical._KEYS.get(column, (column,))]  # 27 paths
    paths = "[" + ", ".join(literal(canonical._json_path(k)) for k in keys) + "]"
    text_struct = literal(json.dumps(dict.fromkeys(keys, "VARCHAR")))
    typed_struct = literal(json.dumps({k: columns.get(k, "VARCHAR") for k in keys}))
    params = batch_params(adapter, source, HASH_KEY)
    variants = {
        "transform (adapter + typing + validation + normalization)": (batch_sql(adapter), params),
        "canonical adapter alone (json_extract_string over the paths)": (adapter.select_sql, None),
        "json_extract_string over the paths, nothing else": (
            f"select source_line, json_extract_string(raw, {paths}) as v from lines",
            None,
        ),
        "from_json into a struct of VARCHAR": (
            f"select source_line, from_json(raw, {text_struct}) as v from lines",
            None,
        ),
        "from_json into a typed struct": (f"select source_line, from_json(raw, {typed_struct}) as v from lines", None),
    }
    seconds: dict[str, float] = {}
    for name, (sql, bound) in variants.items():
        best = math.inf
        for _ in range(2):
            t0 = time.perf_counter()
            con.execute(f"create or replace temp table out as {sql}", bound)
            best = min(best, time.perf_counter() - t0)
        seconds[name] = round(best, 3)
    con.execute(
        f"create or replace temp table a as select source_line, json_extract_string(raw, {paths}) as v from lines"
    )
    con.execute(f"create or replace temp table b as select source_line, from_json(raw, {text_struct}) as v from lines")
    mismatched = {}  # per key: rows whose VARCHAR struct value differs from the adapter's text
    for i, key in enumerate(keys):
        count = con.execute(
            f"select count(*) from a join b using (source_line) where a.v[{i + 1}] is distinct from b.v[{literal(key)}]"
        ).fetchall()[0][0]
        if count:
            mismatched[key] = count

    profile_file = os.path.join(workdir, "tmp", "profile.json")
    con.execute("set enable_profiling = 'json'")
    con.execute("set profiling_output = ?", [profile_file])
    con.execute(f"create or replace temp table out as {batch_sql(adapter)}", params)
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
        "seconds": seconds["transform (adapter + typing + validation + normalization)"],
        "rows": batch.lines.num_rows,
        "batch_bytes": batch.lines.column("raw").nbytes,
        "threads": con.execute("select current_setting('threads')").fetchall()[0][0],
        "json_keys": len(keys),
        "variants": seconds,
        "from_json_varchar_mismatches": mismatched,
        "query": {k: v for k, v in tree.get("query", {}).items() if k != "sql"} | tree.get("system", {}),
        "operators": operators[:12],
        "duckdb": duckdb.__version__,
    }
