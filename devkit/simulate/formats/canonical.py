"""Writes the canonical format (read by `schemas/adapters/canonical.py`): the simulated frame itself, as JSON lines.

One object per attempt with exactly the frame's columns (`devkit.simulate.records.COLUMNS`), `created_at` as ISO
8601 with a "Z", nulls as null. Compression is fsspec's, picked from the extension (its zstd level, and a gzip
header stamped with the current time: `data/sample/generate.py` fixes that stamp for the committed sample).
"""

from __future__ import annotations

import io

import fsspec
import polars as pl
from fsspec.implementations.local import LocalFileSystem

#: Rows serialized per write call, to bound the memory of the JSON buffer.
WRITE_CHUNK_ROWS = 200_000


def write_canonical(
    frame: pl.DataFrame,
    out: str,
    *,
    rows_per_file: int | None = None,
    compression: str | None = "infer",
    suffix: str = ".jsonl",
) -> list[str]:
    """Write `frame` as canonical JSON lines to the fsspec URL `out`; return the URLs written.

    Without `rows_per_file`, `out` is the file. With it, `out` is a directory receiving
    `requests-0000<suffix>`, `requests-0001<suffix>`, ... of at most `rows_per_file` rows each; `suffix`
    (e.g. ".jsonl.zst") carries the compression extension. `compression` is passed to `fsspec.open`:
    "infer" picks it from the extension (.gz, .zst, ...), None writes plain text. `created_at` is written
    as ISO 8601 with a "Z"; nulls are written as null.
    """
    if rows_per_file is None:
        _write_file(frame, out, compression)
        return [out]
    if rows_per_file < 1:
        raise ValueError("rows_per_file must be >= 1")
    base = out.rstrip("/")
    urls = []
    for number, offset in enumerate(range(0, frame.height, rows_per_file)):
        url = f"{base}/requests-{number:04d}{suffix}"
        _write_file(frame.slice(offset, rows_per_file), url, compression)
        urls.append(url)
    return urls


def _write_file(frame: pl.DataFrame, url: str, compression: str | None) -> None:
    """Write `frame` as JSON lines to one fsspec URL, creating local parent folders."""
    fs, path = fsspec.core.url_to_fs(url)
    if isinstance(fs, LocalFileSystem):
        fs.makedirs(fs._parent(path), exist_ok=True)
    if "created_at" in frame.columns and isinstance(frame.schema["created_at"], pl.Datetime):
        frame = frame.with_columns(
            pl.col("created_at").dt.convert_time_zone("UTC").dt.strftime("%Y-%m-%dT%H:%M:%S%.6fZ")
        )
    with fsspec.open(url, "wb", compression=compression) as handle:
        for offset in range(0, frame.height, WRITE_CHUNK_ROWS):
            buffer = io.BytesIO()
            frame.slice(offset, WRITE_CHUNK_ROWS).write_ndjson(buffer)
            handle.write(buffer.getvalue())
