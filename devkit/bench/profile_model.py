"""DuckDB's operator profile of one SQL model's full build (not part of `make bench`).

    .venv/bin/python -m devkit.bench.profile_model WAREHOUSE_DIR MODEL [--top 12]

Opens a copy of the warehouse database (the warehouse is not changed), installs the macros and the `requests`
view, builds the model's upstream models, then runs the model's SELECT once with JSON profiling and prints the
query time and the slowest operators (operator seconds are summed over threads).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import tempfile
import time

from pipelines.lib.sqlmodels.database import DATABASE_FILE
from pipelines.lib.sqlmodels.engine import open_build
from pipelines.lib.sqlmodels.parameters import Parameters
from pipelines.lib.sqlmodels.project import load_project
from pipelines.lib.storage import Warehouse


def operators(tree: dict) -> list[tuple[float, str, int, str]]:
    found = []

    def walk(node: dict) -> None:
        extra = node.get("extra_info") or {}
        detail = extra.get("CTE Name") or extra.get("Aggregates") or extra.get("Groups") or extra.get("Join Type") or ""
        found.append((float(node.get("timing", 0.0)), node.get("name", "?"), node.get("intermediate_rows", 0), detail))
        for child in node.get("children", []):
            walk(child)

    for root in tree.get("operator", []):
        walk(root)
    return sorted(found, key=lambda item: -item[0])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("warehouse")
    parser.add_argument("model")
    parser.add_argument("--top", type=int, default=12)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="gatewaylens-profile-") as scratch:
        # a warehouse whose requests are the original's (symlinked) and whose database is a copy
        os.symlink(os.path.abspath(os.path.join(args.warehouse, "requests")), os.path.join(scratch, "requests"))
        shutil.copy(os.path.join(args.warehouse, DATABASE_FILE), scratch)
        warehouse = Warehouse(scratch)
        project = load_project()
        with open_build(warehouse, project, Parameters()) as builder:
            con = builder.con
            profile = os.path.join(scratch, "profile.json")
            con.execute("set enable_profiling = 'json'")
            con.execute("set profiling_output = ?", [profile])
            t0 = time.perf_counter()
            con.execute(f"create temp table profiled as {project.models[args.model].sql}")
            seconds = time.perf_counter() - t0
            con.execute("set enable_profiling = 'no_output'")
            rows = con.execute("select count(*) from profiled").fetchall()[0][0]
            requests = con.execute("select count(*) from requests").fetchall()[0][0]
        with open(profile) as handle:
            tree = json.load(handle)
    print(
        f"{args.model}: {seconds:.2f} s wall, {rows:,} rows from {requests:,} requests; load {os.getloadavg()[0]:.2f}"
    )
    print(
        f"cpu_time {tree['query'].get('cpu_time', 0):.2f} s, peak buffer memory "
        f"{tree.get('system', {}).get('peak_buffer_memory', 0) / 2**20:,.0f} MiB"
    )
    for timing, name, count, detail in operators(tree)[: args.top]:
        print(f"{timing:8.3f} s  {name:<22} rows {count or 0:>11,}  {json.dumps(detail)[:100]}")


if __name__ == "__main__":
    main()
