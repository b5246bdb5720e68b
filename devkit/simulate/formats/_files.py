"""Writing the lines of a format to files: one file or numbered files of a bounded number of lines, zstd and gzip
compressed here so that equal frames give equal bytes (zstd at a chosen level, gzip with a zero mtime), and the
JSON text of the next chunk built while the previous one is compressed.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import gzip
from collections.abc import Iterator
from typing import BinaryIO

import fsspec
import polars as pl
import zstandard
from fsspec.implementations.local import LocalFileSystem


@contextlib.contextmanager
def _open(url: str, compression: str | None, zstd_level: int) -> Iterator[BinaryIO]:
    """A binary writer to `url`, compressed by name ("infer": from the extension). zstd and gzip are written here
    (zstd at `zstd_level`, gzip with mtime 0) so the bytes are reproducible and fast; other codecs go to fsspec."""
    fs, path = fsspec.core.url_to_fs(url)
    if isinstance(fs, LocalFileSystem):
        fs.makedirs(fs._parent(path), exist_ok=True)
    if compression == "infer":
        compression = fsspec.utils.infer_compression(url)
    if compression not in ("zstd", "gzip"):
        with fsspec.open(url, "wb", compression=compression) as handle:
            yield handle
        return
    with fsspec.open(url, "wb") as raw:
        if compression == "zstd":
            with zstandard.ZstdCompressor(level=zstd_level).stream_writer(raw, closefd=False) as handle:
                yield handle
        else:
            with gzip.GzipFile(fileobj=raw, mode="wb", compresslevel=6, mtime=0) as handle:
                yield handle


def write_lines(
    chunks: Iterator[pl.Series],
    url: str,
    compression: str | None,
    rows_per_file: int | None,
    name: str,
    zstd_level: int,
) -> list[str]:
    """Write line chunks to `url`, or to numbered files (`name` with the number) of at most `rows_per_file` lines
    in the folder `url`. JSON text for the next chunk is built while the previous one is compressed."""
    if rows_per_file is None:
        with _open(url, compression, zstd_level) as handle:
            for chunk in _prefetch(chunks):
                handle.write(_text(chunk))
        return [url]
    base, urls = url.rstrip("/"), []
    with contextlib.ExitStack() as stack:
        handle, in_file = None, 0
        for chunk in _prefetch(chunks):
            offset = 0
            while offset < chunk.len():
                if handle is None or in_file == rows_per_file:
                    stack.close()
                    urls.append(f"{base}/{name.format(len(urls))}")
                    handle, in_file = stack.enter_context(_open(urls[-1], compression, zstd_level)), 0
                take = min(rows_per_file - in_file, chunk.len() - offset)
                handle.write(_text(chunk.slice(offset, take)))
                offset, in_file = offset + take, in_file + take
    return urls


def _prefetch(chunks: Iterator[pl.Series]) -> Iterator[pl.Series]:
    """`chunks`, produced one ahead in a thread (Polars and the compressors release the GIL)."""
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        pending = pool.submit(next, chunks, None)
        while (chunk := pending.result()) is not None:
            pending = pool.submit(next, chunks, None)
            yield chunk


def _text(chunk: pl.Series) -> bytes:
    """The chunk's lines as UTF-8, each ending in a newline."""
    if chunk.len() == 0:
        return b""
    return (chunk.str.join("\n").item() + "\n").encode()
