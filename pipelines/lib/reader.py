"""Streaming a (possibly compressed) file from any fsspec URL as Arrow batches of numbered lines.

Memory is bounded by the chunk size, not the file size. Line boundaries are found with NumPy and the lines
become an Arrow string array over the chunk's own buffer (no Python object per line, no copy); each line
keeps its terminator, which JSON parsers read as whitespace. Only a chunk that is not valid UTF-8 falls back
to per-line decoding, so that its bad lines can be quarantined one by one as "not valid UTF-8".
"""

from __future__ import annotations

import contextlib
import threading
import typing
from collections.abc import Iterator
from dataclasses import dataclass, field
from queue import Empty, Queue

import fsspec
import numpy as np
import pyarrow as pa

DEFAULT_CHUNK_BYTES = 128 * 1024 * 1024
INVALID_UTF8 = "not valid UTF-8"
_NEWLINE = ord("\n")


@dataclass
class LineBatch:
    """Consecutive lines of one file: `lines` has columns source_line (1-based) and raw."""

    lines: pa.Table
    undecodable: list[tuple[int, str]] = field(default_factory=list)

    @property
    def count(self) -> int:
        return self.lines.num_rows + len(self.undecodable)


def _line_table(chunk: memoryview, ends: np.ndarray, first_line: int) -> pa.Table:
    """Zero-copy Arrow view of the lines of `chunk` ending at `ends` (each keeps its trailing newline)."""
    offsets = np.concatenate(([0], ends)).astype(np.int64)
    raw = pa.LargeStringArray.from_buffers(len(ends), pa.py_buffer(offsets), pa.py_buffer(chunk))
    raw.validate(full=True)  # raises on invalid UTF-8
    numbers = np.arange(first_line, first_line + len(ends), dtype=np.int64)
    return pa.table({"source_line": numbers, "raw": raw})


def _decode_lines(chunk: memoryview, first_line: int) -> LineBatch:
    """Decode a chunk that is not valid UTF-8 line by line (rare path)."""
    good_numbers: list[int] = []
    good: list[str] = []
    bad: list[tuple[int, str]] = []
    pieces = bytes(chunk).split(b"\n")
    if pieces and not pieces[-1]:
        pieces.pop()
    for offset, raw in enumerate(pieces):
        number = first_line + offset
        try:
            good.append(raw.decode("utf-8"))
            good_numbers.append(number)
        except UnicodeDecodeError:
            bad.append((number, raw.decode("utf-8", errors="replace")))
    table = pa.table({"source_line": pa.array(good_numbers, pa.int64()), "raw": pa.array(good, pa.large_string())})
    return LineBatch(table, bad)


def _to_batch(chunk: memoryview, ends: np.ndarray, first_line: int) -> LineBatch:
    try:
        return LineBatch(_line_table(chunk, ends, first_line))
    except pa.ArrowInvalid:
        return _decode_lines(chunk, first_line)


def _merge(parts: list[LineBatch]) -> LineBatch:
    if len(parts) == 1:
        return parts[0]
    tables = [p.lines for p in parts]
    return LineBatch(pa.concat_tables(tables), [bad for p in parts for bad in p.undecodable])


def _line_ends(view: memoryview) -> np.ndarray:
    return np.flatnonzero(np.frombuffer(view, dtype=np.uint8) == _NEWLINE) + 1


def iter_line_batches(url: str, chunk_bytes: int = DEFAULT_CHUNK_BYTES, **storage_options) -> Iterator[LineBatch]:
    """Yield the lines of `url` in order, decompressing .gz/.zst/... by extension.

    A final newline does not start an extra line; a last line without a newline is still a line.
    """
    next_line = 1
    carry = b""
    with fsspec.open(url, "rb", compression="infer", **storage_options) as handle:
        while block := handle.read(chunk_bytes):
            view = memoryview(block)
            ends = _line_ends(view)
            if not len(ends):
                carry += block
                continue
            parts = []
            if carry:  # the line cut at the end of the previous block: one small copy, not the whole block
                head = memoryview(carry + block[: ends[0]])
                parts.append(_to_batch(head, np.array([len(head)]), next_line))
                view, ends = view[ends[0] :], ends[1:] - ends[0]
            carry = bytes(view[ends[-1] :]) if len(ends) else bytes(view)
            if len(ends):
                parts.append(_to_batch(view[: ends[-1]], ends, next_line + sum(p.count for p in parts)))
            yield (batch := _merge(parts))
            next_line += batch.count
    if carry:
        view = memoryview(carry)
        yield _to_batch(view, np.append(_line_ends(view), len(carry)), next_line)


def nonblank_lines(url: str, **storage_options) -> Iterator[str]:
    """The non-blank lines of the file, whole and stripped (decoded leniently), for format detection."""
    carry = b""
    with fsspec.open(url, "rb", compression="infer", **storage_options) as handle:
        while block := handle.read(1 << 20):  # not every decompressor implements readline
            *complete, carry = (carry + block).split(b"\n")
            for raw in complete:
                if text := raw.decode("utf-8", errors="replace").strip():
                    yield text
    if text := carry.decode("utf-8", errors="replace").strip():
        yield text


_DONE = object()


def prefetch(items: Iterator[LineBatch], depth: int = 1) -> Iterator[LineBatch]:
    """Produce the next batch in a background thread while the caller works on the current one.

    Reading, decompression and line splitting release the GIL, so they overlap with DuckDB's work.
    At most `depth` batches wait in memory; an exception in the reader is raised in the caller.
    """
    queue: Queue[object] = Queue(maxsize=depth)
    stop = threading.Event()

    def produce() -> None:
        try:
            for item in items:
                if stop.is_set():
                    return
                queue.put(item)
            queue.put(_DONE)
        except BaseException as err:
            queue.put(err)

    worker = threading.Thread(target=produce, name="gatewaylens-reader", daemon=True)
    worker.start()
    try:
        while (item := queue.get()) is not _DONE:
            if isinstance(item, BaseException):
                raise item
            yield typing.cast(LineBatch, item)
    finally:
        stop.set()
        while worker.is_alive():  # unblock a producer waiting on a full queue
            with contextlib.suppress(Empty):
                queue.get_nowait()
            worker.join(timeout=0.05)
