"""Regenerate the committed sample (`make sample`): 13 months of canonical traffic, one file per month, two months
in each gateway format (OpenRouter, LiteLLM, OpenTelemetry), one file per month, and one month each of raw provider
bodies (an in-house proxy's log) and OpenRouter's activity CSV export.

Deterministic: the same seeds give the same bytes. Canonical months are .jsonl.zst except one .jsonl.gz so
that both decompressors are exercised by `make run`; the format samples are .jsonl.zst.
`rejects/bad_lines.jsonl` is written by hand, not here, except its line `DUPLICATE_LINE`: an exact copy of the
first canonical record (the sample's duplicate), refreshed here so that it stays one.

Each gateway format carries different traffic from the canonical sample: its own seed (so its own request ids,
"gen-<seed>-..."), simulated over the same 13 months so that its trends sit on the same timeline, of which
two months are kept (requests whole, by the month of their first attempt).
"""

from __future__ import annotations

import datetime as dt
import tempfile
from pathlib import Path

import polars as pl

from devkit.simulate import simulate
from devkit.simulate.formats import write
from devkit.simulate.formats.canonical import write_canonical

START = dt.date(2025, 1, 1)
DAYS = 395  # 13 months: 2025-01-01 .. 2026-01-30
REQUESTS_PER_DAY = 150
SEED = 7
HERE = Path(__file__).parent
OUT = HERE / "canonical"
#: The canonical month written as .jsonl.gz, and its gzip header time (that of the committed file, so that
#: regenerating keeps its bytes).
GZIP_MONTH = "2025-06"
CANONICAL_GZIP_MTIME = 0x6B072808
#: The line of rejects/bad_lines.jsonl that copies the first canonical record (1-based).
BAD_LINES = HERE / "rejects" / "bad_lines.jsonl"
DUPLICATE_LINE = 13
#: format -> (seed, months kept); 70 requests a day on average (the whole sample stays under 5 MB).
FORMAT_SAMPLES: dict[str, tuple[int, tuple[str, ...]]] = {
    "openrouter": (101, ("2025-03", "2025-04")),
    "litellm": (102, ("2025-07", "2025-08")),
    "otel": (103, ("2025-11", "2025-12")),
    "provider-bodies": (104, ("2025-09",)),
    "openrouter-activity": (105, ("2025-10",)),
}
#: File extension of each format's sample (the activity export is a CSV).
SUFFIX: dict[str, str] = {"openrouter-activity": ".csv.zst"}
FORMAT_REQUESTS_PER_DAY = 70
#: zstd level of the format samples (smaller committed files; the data is small).
SAMPLE_ZSTD_LEVEL = 19


def canonical() -> None:
    frame = simulate(START, DAYS, REQUESTS_PER_DAY, SEED)
    OUT.mkdir(parents=True, exist_ok=True)
    for old in OUT.glob("requests-*"):
        old.unlink()
    months = frame.with_columns(pl.col("created_at").dt.strftime("%Y-%m").alias("_month"))
    for (month,), part in months.group_by("_month", maintain_order=True):
        if month == GZIP_MONTH:
            _write_gzip(part.drop("_month"), OUT / f"requests-{month}.jsonl.gz")
        else:
            write_canonical(part.drop("_month"), str(OUT / f"requests-{month}.jsonl.zst"))
    print(f"{frame.height:,} attempts in {len(list(OUT.iterdir()))} files under {OUT}")
    _refresh_duplicate(frame.head(1))


def _refresh_duplicate(first: pl.DataFrame) -> None:
    """Line DUPLICATE_LINE of the bad lines becomes the first canonical record, as the sample writes it."""
    with tempfile.TemporaryDirectory() as scratch:
        copy = Path(scratch) / "first.jsonl"
        write_canonical(first, str(copy))
        record = copy.read_bytes().rstrip(b"\n")
    lines = BAD_LINES.read_bytes().split(b"\n")
    assert lines[DUPLICATE_LINE - 1].startswith(b'{"request_id":"gen-'), "the duplicate line moved"
    lines[DUPLICATE_LINE - 1] = record
    BAD_LINES.write_bytes(b"\n".join(lines))


def _write_gzip(part: pl.DataFrame, path: Path) -> None:
    """The canonical gzip month, its header time then set to CANONICAL_GZIP_MTIME: fsspec's gzip stamps the
    current time (bytes 4-7 of the header, outside every checksum), which would change the file on every run."""
    write_canonical(part, str(path))
    with open(path, "r+b") as handle:
        assert handle.read(4) == b"\x1f\x8b\x08\x08", "a gzip member with a file name"
        handle.write(CANONICAL_GZIP_MTIME.to_bytes(4, "little"))


def formats() -> None:
    for name, (seed, months) in FORMAT_SAMPLES.items():
        folder = HERE / name
        folder.mkdir(parents=True, exist_ok=True)
        for old in folder.glob(f"{name}-*"):
            old.unlink()
        frame = simulate(START, DAYS, FORMAT_REQUESTS_PER_DAY, seed)
        month = pl.col("created_at").min().over("request_id").dt.strftime("%Y-%m")
        attempts = 0
        for kept in months:
            part = frame.filter(month == kept)
            suffix = SUFFIX.get(name, ".jsonl.zst")
            write(part, str(folder / f"{name}-{kept}{suffix}"), name, zstd_level=SAMPLE_ZSTD_LEVEL)
            attempts += part.height
        print(f"{attempts:,} attempts in {len(months)} {name} files under {folder}")


def main() -> None:
    canonical()
    formats()


if __name__ == "__main__":
    main()
