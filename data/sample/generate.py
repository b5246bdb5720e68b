"""Regenerate the committed sample (`make sample`): 13 months of simulated traffic, one file per month.

Deterministic: the same seed gives the same records. Months alternate .jsonl.zst and one .jsonl.gz so
that both decompressors are exercised by `make run`. `bad_lines.jsonl` is written by hand, not here.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl

from pipelines.lib.simulate import simulate, write_canonical

START = dt.date(2025, 1, 1)
DAYS = 395  # 13 months: 2025-01-01 .. 2026-01-30
REQUESTS_PER_DAY = 150
SEED = 7
OUT = Path(__file__).parent / "canonical"


def main() -> None:
    frame = simulate(START, DAYS, REQUESTS_PER_DAY, SEED)
    OUT.mkdir(parents=True, exist_ok=True)
    for old in OUT.glob("requests-*"):
        old.unlink()
    months = frame.with_columns(pl.col("created_at").dt.strftime("%Y-%m").alias("_month"))
    for (month,), part in months.group_by("_month", maintain_order=True):
        suffix = ".jsonl.gz" if month == "2025-06" else ".jsonl.zst"
        write_canonical(part.drop("_month"), str(OUT / f"requests-{month}{suffix}"))
    print(f"{frame.height:,} attempts in {len(list(OUT.iterdir()))} files under {OUT}")


if __name__ == "__main__":
    main()
