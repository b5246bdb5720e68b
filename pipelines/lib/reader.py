"""Streaming a (possibly compressed) file from any fsspec URL as Arrow batches of numbered lines.

Memory is bounded by the chunk size, not the file size. Line boundaries are found with NumPy and the lines
become an Arrow string array over the chunk's own buffer (no Python object per line, no copy); each line
keeps its terminator, which JSON parsers read as whitespace. Only a chunk that is not valid UTF-8 falls back
to per-line decoding, so that its bad lines can be quarantined one by one as "not valid UTF-8".
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

import fsspec
import numpy as np
import pyarrow as pa

DEFAULT_CHUNK_BYTES = 64 * 1024 * 1024
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
            data = memoryview(carry + block if carry else block)
            ends = _line_ends(data)
            if not len(ends):
                carry = bytes(data)
                continue
            cut = int(ends[-1])
            carry = bytes(data[cut:])
            batch = _to_batch(data[:cut], ends, next_line)
            next_line += batch.count
            yield batch
    if carry:
        view = memoryview(carry)
        yield _to_batch(view, np.append(_line_ends(view), len(carry)), next_line)


def sample_lines(url: str, count: int = 100, limit: int = 4 * 1024 * 1024, **storage_options) -> list[str]:
    """Up to `count` non-blank lines from the start of the file (decoded leniently), for format detection."""
    with fsspec.open(url, "rb", compression="infer", **storage_options) as handle:
        head = handle.read(limit)
    lines = [raw.decode("utf-8", errors="replace").strip() for raw in head.split(b"\n")[: count * 4]]
    return [line for line in lines if line][:count]
