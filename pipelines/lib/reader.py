"""Streaming a (possibly compressed) file from any fsspec URL as Arrow batches of numbered lines.

Memory is bounded by the chunk size, not the file size. Line boundaries are found with NumPy and the lines
become an Arrow string array over the chunk's own buffer (no Python object per line, no copy); each line
keeps its terminator, which JSON parsers read as whitespace. Only a chunk that is not valid UTF-8 falls back
to per-line decoding, so that its bad lines can be quarantined one by one as "not valid UTF-8".

The bytes come from `pipelines.lib.blocks`: decompressed by what the content's magic bytes say, every
compressed stream verified to its end (a truncated file raises `IncompleteSourceError`).

Lines the reader settles itself, each counted as a line: a UTF-8 byte-order mark at the start of the file is
not content; blank lines (only whitespace) are counted, not passed on; a line longer than `max_line_bytes`
is rejected with its length and a short excerpt, never held whole beyond that limit (memory stays bounded
on a file that is one enormous broken line).
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import threading
import typing
from collections.abc import Generator, Iterable, Iterator
from dataclasses import dataclass, field
from queue import Empty, Queue

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from pipelines.lib.blocks import blocks_of, iter_blocks, read_range

DEFAULT_CHUNK_BYTES = 128 * 1024 * 1024
#: Longest line read (bytes, terminator included). Real exporters write lines of a few MB at most (an OTLP
#: export of a large batch); a longer line is almost surely broken, and bounding it bounds memory.
MAX_LINE_BYTES = 16 * 1024 * 1024
EXCERPT_BYTES = 4096
INVALID_UTF8 = "not valid UTF-8"
_NEWLINE = ord("\n")
_BOM = b"\xef\xbb\xbf"


def too_long(length: int, limit: int = MAX_LINE_BYTES) -> str:
    """The rejection reason of a line of `length` bytes."""
    return f"line longer than {limit} bytes ({length:,} bytes)"


@dataclass
class LineBatch:
    """Consecutive lines of one file: `lines` has columns source_line (1-based) and raw; `rejected` holds the
    lines the reader itself rejects, as (line number, reason, excerpt); `blank` counts whitespace-only lines."""

    lines: pa.Table
    rejected: list[tuple[int, str, str]] = field(default_factory=list)
    blank: int = 0

    @property
    def count(self) -> int:
        return self.lines.num_rows + len(self.rejected) + self.blank


def _line_table(chunk: memoryview, ends: np.ndarray, first_line: int) -> pa.Table:
    """Zero-copy Arrow view of the lines of `chunk` ending at `ends` (each keeps its trailing newline)."""
    offsets = np.concatenate(([0], ends)).astype(np.int64)
    raw = pa.LargeStringArray.from_buffers(len(ends), pa.py_buffer(offsets), pa.py_buffer(chunk))
    raw.validate(full=True)  # raises on invalid UTF-8
    numbers = np.arange(first_line, first_line + len(ends), dtype=np.int64)
    return pa.table({"source_line": numbers, "raw": raw})


def _decode(lines: Iterable[tuple[int, bytes]]) -> LineBatch:
    """(number, bytes) lines decoded one by one: a line not valid UTF-8 is rejected with an excerpt."""
    numbers: list[int] = []
    texts: list[str] = []
    rejected: list[tuple[int, str, str]] = []
    for number, raw in lines:
        try:
            texts.append(raw.decode("utf-8"))
            numbers.append(number)
        except UnicodeDecodeError:
            excerpt = raw.removesuffix(b"\n")[:EXCERPT_BYTES].decode("utf-8", errors="replace")
            rejected.append((number, INVALID_UTF8, excerpt))
    table = pa.table({"source_line": pa.array(numbers, pa.int64()), "raw": pa.array(texts, pa.large_string())})
    return LineBatch(table, rejected)


def _decode_lines(chunk: memoryview, first_line: int) -> LineBatch:
    """Decode a chunk that is not valid UTF-8 line by line (rare path)."""
    pieces = bytes(chunk).split(b"\n")
    if pieces and not pieces[-1]:
        pieces.pop()
    return _decode((first_line + offset, raw + b"\n") for offset, raw in enumerate(pieces))


def lines_batch(found: list[tuple[int, bytes, int]], max_line_bytes: int = MAX_LINE_BYTES) -> LineBatch:
    """A batch of lines picked by number, as (number, bytes with terminator, length): settled as a read from the
    start settles them (not valid UTF-8, too long, blank). `length` is the line's full length when `bytes`
    holds only its start (a line past the limit is never read whole)."""
    short: list[tuple[int, bytes]] = []
    long: list[tuple[int, str, str]] = []
    for number, raw, length in found:
        if number == 1 and raw.startswith(_BOM):  # not content: the line is measured without it
            raw, length = raw.removeprefix(_BOM), length - len(_BOM)
        if length > max_line_bytes:
            long.append((number, too_long(length, max_line_bytes), raw[:EXCERPT_BYTES].decode("utf-8", "replace")))
        else:
            short.append((number, raw))
    batch = _decode(short)
    return screen(LineBatch(batch.lines, sorted(batch.rejected + long)), max_line_bytes)


def screen(batch: LineBatch, max_line_bytes: int) -> LineBatch:
    """Take blank and over-long lines out of the batch (counted: blank ones, rejected: long ones)."""
    raw = batch.lines.column("raw")
    if not len(raw):
        return batch
    blank = pc.utf8_is_space(raw)
    long = pc.greater(pc.binary_length(raw), max_line_bytes)
    drop = pc.or_(blank, long)
    if not pc.any(drop).as_py():
        return batch
    rejected = list(batch.rejected)
    for index in np.flatnonzero(long.to_numpy(zero_copy_only=False)):
        text = raw[int(index)].as_py()
        excerpt = text[:EXCERPT_BYTES]
        number = batch.lines.column("source_line")[int(index)].as_py()
        rejected.append((number, too_long(len(text.encode()), max_line_bytes), excerpt))
    kept = batch.lines.filter(pc.invert(drop))
    return LineBatch(kept, sorted(rejected), batch.blank + pc.sum(blank).as_py())


def _to_batch(chunk: memoryview, ends: np.ndarray, first_line: int, max_line_bytes: int) -> LineBatch:
    try:
        batch = LineBatch(_line_table(chunk, ends, first_line))
    except pa.ArrowInvalid:
        batch = _decode_lines(chunk, first_line)
    return screen(batch, max_line_bytes)


def join_batches(parts: list[LineBatch]) -> LineBatch:
    """Consecutive batches of one file as one."""
    if len(parts) == 1:
        return parts[0]
    return LineBatch(
        pa.concat_tables([p.lines for p in parts]),
        [bad for p in parts for bad in p.rejected],
        sum(p.blank for p in parts),
    )


def _line_ends(view: memoryview) -> np.ndarray:
    return np.flatnonzero(np.frombuffer(view, dtype=np.uint8) == _NEWLINE) + 1


@dataclass
class _Splitter:
    """Cuts a stream of blocks into numbered lines; a line cut across blocks is carried, up to the limit."""

    max_line_bytes: int
    next_line: int = 1
    carry: list[bytes] = field(default_factory=list)
    carried: int = 0
    overlong: str | None = None  # excerpt of a line past the limit whose end is not read yet
    head: bytes | None = b""  # the file's first bytes until a byte-order mark can be told (None after)

    def feed(self, block: bytes) -> LineBatch | None:
        if self.head is not None:
            self.head += block
            if len(self.head) < len(_BOM):
                return None
            block, self.head = self.head.removeprefix(_BOM), None
        view = memoryview(block)
        ends = _line_ends(view)
        if not len(ends):
            self._hold(block)
            return None
        parts = [self._close_carried(view[: ends[0]])] if self.carry or self.overlong is not None else []
        if parts:
            view, ends = view[ends[0] :], ends[1:] - ends[0]
        if len(ends):
            parts.append(_to_batch(view[: ends[-1]], ends, self.next_line, self.max_line_bytes))
            self.next_line += parts[-1].count
            view = view[ends[-1] :]
        self._hold(bytes(view))
        return join_batches(parts)

    def finish(self) -> LineBatch | None:
        """The last line when the file does not end with a newline."""
        if self.head:  # a file shorter than a byte-order mark
            block, self.head = self.head, None
            return join_batches([b for b in (self.feed(block), self.finish()) if b is not None])
        if not self.carry and self.overlong is None:
            return None
        return self._close_carried(memoryview(b""), terminated=False)

    def _hold(self, data: bytes) -> None:
        if not data:
            return
        if self.overlong is not None:
            self.carried += len(data)
            return
        self.carry.append(data)
        self.carried += len(data)
        if self.carried > self.max_line_bytes:  # keep an excerpt and the count, not the line
            self.overlong = b"".join(self.carry)[:EXCERPT_BYTES].decode("utf-8", errors="replace")
            self.carry = []

    def _close_carried(self, tail: memoryview, terminated: bool = True) -> LineBatch:
        """The line made of what is carried plus `tail` (up to and including its newline)."""
        number, length = self.next_line, self.carried + len(tail)
        self.next_line += 1
        if self.overlong is not None or length > self.max_line_bytes:
            excerpt = self.overlong
            if excerpt is None:
                start = b"".join([*self.carry, bytes(tail[:EXCERPT_BYTES])])
                excerpt = start[:EXCERPT_BYTES].decode("utf-8", errors="replace")
            self.carry, self.carried, self.overlong = [], 0, None
            empty = pa.table({"source_line": pa.array([], pa.int64()), "raw": pa.array([], pa.large_string())})
            return LineBatch(empty, [(number, too_long(length, self.max_line_bytes), excerpt)])
        line = memoryview(b"".join([*self.carry, bytes(tail)]))
        self.carry, self.carried = [], 0
        return _to_batch(line, np.array([len(line)]), number, self.max_line_bytes)


@dataclass(frozen=True)
class ReadMark:
    """How far a file was read: the content offset just after its last newline, the lines that ended before it,
    the last line number read (one more than `lines` when the file ended inside a line), and SHA-256
    fingerprints of its first MARK_WINDOW bytes and of the MARK_WINDOW bytes before the offset.

    A later version of the file (same URL, new size or time) whose content at those two places is unchanged has
    only grown (a log appended to, or merely touched): its reading resumes at `offset`, numbering lines from
    `lines + 1`, so lines already ingested are neither read nor counted again. A line the earlier read found
    without its newline is read again, whole this time."""

    offset: int
    lines: int
    through_line: int
    head: str
    tail: str


MARK_WINDOW = 64 * 1024


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@dataclass
class _Marker:
    """Follows the content read to produce its ReadMark (a running count, two 64 KiB buffers, no copy of blocks)."""

    total: int = 0
    aligned: int = 0
    lines: int = 0
    head: bytes = b""
    recent: bytes = b""  # the last MARK_WINDOW bytes read
    window: bytes = b""  # the last MARK_WINDOW bytes before `aligned`

    def feed(self, block: bytes | bytearray, newlines: int | None = None) -> None:
        """Follow `block`, the next bytes of the content (`newlines`: how many it holds, when already counted)."""
        if len(self.head) < MARK_WINDOW:
            self.head += block[: MARK_WINDOW - len(self.head)]
        end = block.rfind(b"\n") + 1
        if end:
            self.lines += block.count(b"\n") if newlines is None else newlines
            self.aligned = self.total + end
            self.window = (self.recent + block[max(0, end - MARK_WINDOW) : end])[-MARK_WINDOW:]
        self.recent = (self.recent + block[-MARK_WINDOW:])[-MARK_WINDOW:]
        self.total += len(block)

    def mark(self, through_line: int) -> ReadMark:
        head = self.head[: min(MARK_WINDOW, self.aligned)]
        return ReadMark(self.aligned, self.lines, through_line, _digest(head), _digest(self.window))


def _unchanged_prefix(url: str, mark: ReadMark, **storage_options: typing.Any) -> tuple[bytes, bytes] | None:
    """The first bytes and the bytes before `mark.offset` when they still match the mark's fingerprints."""
    head = read_range(url, 0, min(MARK_WINDOW, mark.offset), **storage_options)
    if _digest(head) != mark.head:
        return None
    start = max(0, mark.offset - MARK_WINDOW)
    tail = read_range(url, start, mark.offset - start, **storage_options)
    return (head, tail) if _digest(tail) == mark.tail else None


class LineReader:
    """The lines of `url` in order, as LineBatch objects (see the module docstring for what the reader settles
    itself); after iterating, `mark` says how far it read and `first_line` where it began.

    With `resume` (the mark of an earlier read of the same URL), a file that has only grown is read from where
    that read ended; any other file is read from its start. A final newline does not start an extra line; a
    last line without a newline is still a line.
    """

    def __init__(
        self,
        url: str,
        chunk_bytes: int = DEFAULT_CHUNK_BYTES,
        max_line_bytes: int = MAX_LINE_BYTES,
        resume: ReadMark | None = None,
        content: bytes | None = None,
        **storage_options: typing.Any,
    ) -> None:
        self.url, self.chunk_bytes, self.max_line_bytes = url, chunk_bytes, max_line_bytes
        self.resume, self.storage_options = resume, storage_options
        if content is not None and resume is not None:
            raise ValueError("a file's bytes fetched ahead are read from its start, not resumed")
        self.content = content  # the file's bytes, fetched already
        self.first_line = 1
        self.mark: ReadMark | None = None

    def _start(self) -> tuple[int, _Splitter, _Marker]:
        if self.resume is not None and self.resume.offset:
            known = _unchanged_prefix(self.url, self.resume, **self.storage_options)
            if known is not None:
                head, tail = known
                offset, self.first_line = self.resume.offset, self.resume.lines + 1
                splitter = _Splitter(self.max_line_bytes, next_line=self.first_line, head=None)
                return offset, splitter, _Marker(offset, offset, self.resume.lines, head, tail, tail)
        self.first_line = 1
        return 0, _Splitter(self.max_line_bytes), _Marker()

    def __iter__(self) -> Iterator[LineBatch]:
        start, splitter, marker = self._start()
        if self.content is not None:
            blocks = blocks_of(io.BytesIO(self.content), self.url, self.chunk_bytes, start)
        else:
            blocks = iter_blocks(self.url, self.chunk_bytes, start, **self.storage_options)
        for block in blocks:
            marker.feed(block)
            if (batch := splitter.feed(block)) is not None and batch.count:
                yield batch
        if (batch := splitter.finish()) is not None:
            yield batch
        self.mark = marker.mark(through_line=splitter.next_line - 1)


def iter_line_batches(
    url: str,
    chunk_bytes: int = DEFAULT_CHUNK_BYTES,
    max_line_bytes: int = MAX_LINE_BYTES,
    **storage_options: typing.Any,
) -> Iterator[LineBatch]:
    """Yield the lines of `url` in order, from its start (see LineReader)."""
    return iter(LineReader(url, chunk_bytes, max_line_bytes, **storage_options))


def nonblank_lines(url: str, **storage_options: typing.Any) -> Generator[str, None, None]:
    """The non-blank lines of the file, whole and stripped, for format detection: the same reader in small
    blocks (lines not valid UTF-8 or past the length limit are left out: they are rejected anyway)."""
    return stripped_lines(iter_line_batches(url, 1 << 20, **storage_options))


def stripped_lines(batches: Iterable[LineBatch], rows: int = 1024) -> Generator[str, None, None]:
    """The lines of `batches` (their blank lines already counted apart), stripped, as Python strings `rows` at a
    time: a detection reads the first hundred or so of a batch that may hold a whole file."""
    for batch in batches:
        raw = batch.lines.column("raw")
        for start in range(0, len(raw), rows):
            for line in raw.slice(start, rows).to_pylist():
                yield line.strip()


_DONE = object()
T = typing.TypeVar("T")


def prefetch(items: Iterator[T], depth: int = 1) -> Generator[T, None, None]:
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
            yield typing.cast(T, item)
    finally:
        stop.set()
        while worker.is_alive():  # unblock a producer waiting on a full queue
            with contextlib.suppress(Empty):
                queue.get_nowait()
            worker.join(timeout=0.05)
