"""The whole-file fast path: DuckDB's own `read_json` parses a file whose format has a bulk form.

The line path (`stage.FileStager`) cuts a file into lines in Python and parses each line in SQL; this path
hands the file to `read_json(format='newline_delimited')` (strict, then with `ignore_errors` from the first
line that does not parse: `read_rows`), which parses it on every thread into the adapter's columns, and runs
the same transform over them (`transform.batch_sql(adapter, bulk=True)`). Every guarantee of the line path
holds, because the line path settles every line this one is not sure of:

1. `scan` reads the bytes once (a compressed or remote file is written to a local scratch file on the way,
   verified to its end by `blocks`): it counts the lines and finds those that do not start with `{` (blank,
   a byte-order mark, junk) and those holding a vertical tab or form feed (which `read_json` trims from a
   line's end as whitespace, where JSON does not allow them), without a Python object per line. A local file
   is scanned on a thread of its own while `read_json` parses it (`ScanThread`); each table of rows waits
   until the scan has settled its lines.
2. `read_json` returns rows in file order (`preserve_insertion_order`), one per line, except for lines of
   nothing but ASCII whitespace, which it skips. The rows are numbered outside DuckDB from that rule (no
   `row_number()`, which would put the parse on one thread). Rows must add up to the lines the rule expects,
   else the file goes the line path (`BulkMismatch`).
3. A row all of whose columns are NULL (a malformed line, `{}`), a row whose mapping reads the line's text
   (`Adapter.bulk_text_needed`) and every line not starting with `{` are redone through the line path by number
   (`fetch.LineFetcher`); the raw texts of rejected records are fetched alike, for the quarantine.
4. The first lines the bulk form keeps go through both paths and must give the same rows, else the line path.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from fsspec.core import url_to_fs
from fsspec.implementations.local import LocalFileSystem

from pipelines.lib.blocks import compression_of
from pipelines.lib.fetch import LineFetcher
from pipelines.lib.reader import MAX_LINE_BYTES, ReadMark, _Marker, lines_batch
from schemas.adapters import Adapter
from schemas.adapters._sql import BULK, NO_TEXT, OPENS_LIKE_JSON, holds_encoded, quoted
from schemas.adapters._streams import OPENS_LIKE_STREAM
from schemas.sqltext import literal

if TYPE_CHECKING:
    from pipelines.lib import quarantine
    from pipelines.lib.ingest.report import FileReport
    from pipelines.lib.ingest.stage import FileStager
    from pipelines.lib.lock import Progress
    from pipelines.lib.storage import SourceFile

SCAN_BYTES = 64 * 1024 * 1024
#: The scan looks at blocks of at most this many bytes (a bigger block read is cut), so that NumPy's passes over
#: a block stay in the CPU's caches: 1.16 GB scanned in 0.28-0.29 s in 4 MiB blocks, 0.67-0.68 s in 64 MiB ones.
PIECE_BYTES = 4 * 1024 * 1024
#: Rows transformed per statement: large enough to keep DuckDB's threads busy, small enough to bound memory.
BULK_ROWS = 256 * 1024
#: ... and at most this many bytes of read_json's columns (an OTel line holds many spans).
BULK_BYTES = 96 * 1024 * 1024
#: At most this share of lines (and at least ODD_FLOOR lines) may need the line path; past it the whole file
#: takes the line path, which streams them in bounded batches.
ODD_SHARE, ODD_FLOOR = 0.05, 10_000
#: Lines checked through both parsers at the start of every file.
SAMPLE_LINES = 64
_ASCII_SPACE = b" \t\r\n\x0b\x0c"
_BRACE = ord("{")
_NEWLINE = ord("\n")
_BOM = b"\xef\xbb\xbf"
#: Bytes `read_json` trims from a line's end as whitespace, with JSON's own; JSON allows them nowhere outside a
#: string's escapes, so the line path rejects `{...}\f` as 'not JSON' where `read_json` reads an object.
_TRIMMED_NOT_JSON = (0x0B, 0x0C)


class BulkMismatch(Exception):
    """The bulk read of a file does not account for its lines exactly: the file takes the line path."""


@dataclass
class Scan:
    """A file's lines as far as `read_json` is concerned: how many, and which do not start with `{` (line
    number -> whether `read_json` skips it, being nothing but ASCII whitespace). While a `ScanThread` fills it,
    lines 1 to `settled` are final (the last line started may still grow) and `changed` guards every field."""

    path: str
    lines: int = 0
    odd: dict[int, bool] = field(default_factory=dict)
    mark: ReadMark | None = None
    longest: int = 0  # bytes of the longest line, terminator included
    settled: int = 0
    skipped_settled: int = 0  # skipped lines among lines 1 to `settled`
    done: bool = False
    changed: threading.Condition = field(default_factory=threading.Condition, repr=False, compare=False)

    def odd_limit(self) -> int:
        """How many of the lines counted so far may take the line path before the whole file does."""
        return max(ODD_FLOOR, int(ODD_SHARE * self.lines))

    @property
    def skipped(self) -> np.ndarray:
        return np.array(sorted(n for n, skip in self.odd.items() if skip), dtype=np.int64)

    def rows_settled(self) -> int:
        """How many rows `read_json` gives for the settled lines (all but the skipped ones)."""
        return self.settled - self.skipped_settled

    def settle(self, through: int, changed: Iterable[int]) -> None:
        """Lines up to `through` are settled; those after `settled` are odd only if among the `changed` numbers
        (a block changes the lines it starts and the one the block before left open)."""
        self.skipped_settled += sum(1 for n in set(changed) if self.settled < n <= through and self.odd.get(n))
        self.settled = through


def _odd_lines(
    block: bytes | bytearray, line_start: bool, first_number: int
) -> tuple[np.ndarray, int, dict[int, bool], int | None]:
    """The lines starting in `block` (the first at its byte 0 when `line_start`): their start offsets in the
    block, the block's newline count, those whose first byte is not `{` by number (`first_number` being the
    first's) with whether they are blank, and the number of such a line that does not end in the block (the
    next blocks settle whether it is blank)."""
    data = np.frombuffer(block, dtype=np.uint8)
    newlines = np.flatnonzero(data == _NEWLINE)
    starts = newlines[: len(newlines) - (block[-1] == _NEWLINE)] + 1
    if line_start:
        starts = np.concatenate(([0], starts))
    odd: dict[int, bool] = {}
    open_line = None
    for index in np.flatnonzero(data[starts] != _BRACE):
        start = int(starts[index])
        end = block.find(b"\n", start)
        line = block[start:] if end < 0 else block[start:end]
        number = first_number + int(index)
        if number == 1:
            line = line.removeprefix(_BOM)
        odd[number] = not line.strip(_ASCII_SPACE)
        if end < 0:
            open_line = number
    return starts, len(newlines), odd, open_line


def _trimmed_lines(block: bytes | bytearray, starts: np.ndarray, first_number: int) -> np.ndarray:
    """Numbers of the lines holding a byte of _TRIMMED_NOT_JSON in `block`, whose lines starting in it start at
    `starts`, the first numbered `first_number` (a byte before the first start is in the line before, which
    the previous block opened). Such bytes are rare: looked for with `find` first, NumPy only where one is."""
    if all(block.find(byte) < 0 for byte in _TRIMMED_NOT_JSON):
        return np.empty(0, dtype=np.int64)
    data = np.frombuffer(block, dtype=np.uint8)
    found = np.flatnonzero(np.isin(data, _TRIMMED_NOT_JSON))
    return np.unique(first_number - 1 + np.searchsorted(starts, found, side="right"))


def _pieces(blocks: Iterable[bytes | bytearray], size: int) -> Iterator[bytes | bytearray]:
    """`blocks`, each cut into pieces of at most `size` bytes (a block that fits is passed on as it is)."""
    for block in blocks:
        if len(block) <= size:
            yield block
        else:
            yield from (block[start : start + size] for start in range(0, len(block), size))


def _mark_whole(blocks: Iterable[bytes | bytearray]) -> Iterator[bytes | bytearray]:
    """`blocks` with the first holding at least a byte-order mark's length (all the content, when shorter): a
    block may end anywhere (a short read), but `_odd_lines` knows a mark only whole, and a mark cut in two
    would make a blank first line look like content. Only a first block that short is joined to the next."""
    blocks = iter(blocks)
    head = b""
    for block in blocks:
        if len(head) + len(block) < len(_BOM):
            head += block
            continue
        yield head + block if head else block
        yield from blocks
        return
    if head:
        yield head


@dataclass
class _Lengths:
    """Finds the lines longer than `limit` bytes from their start offsets (a line may span blocks)."""

    limit: int
    last_start: int = 0  # offset in the content of the latest line start
    last_number: int = 0
    longest: int = 0  # the longest line seen whole

    def long_lines(self, starts: np.ndarray, offset: int, first_number: int) -> list[int]:
        if not len(starts):
            return []
        absolute = np.concatenate(([self.last_start], offset + starts))
        numbers = np.concatenate(([self.last_number], first_number + np.arange(len(starts))))
        lengths = np.diff(absolute)
        self.longest = max(self.longest, int(lengths.max()))
        long = [int(numbers[i]) for i in np.flatnonzero(lengths > self.limit) if numbers[i] > 0]
        self.last_start, self.last_number = int(absolute[-1]), int(numbers[-1])
        return long

    def last_is_long(self, total: int) -> bool:
        """Whether the last line (up to the end of the content, `total` bytes) is past the limit."""
        self.longest = max(self.longest, total - self.last_start)
        return self.last_number > 0 and total - self.last_start > self.limit


def scan(
    blocks: Iterator[bytes] | Iterator[bytes | bytearray],
    path: str,
    copy: bool,
    into: Scan | None = None,
    stop: threading.Event | None = None,
) -> Scan:
    """Count the lines of the content `blocks` and find the odd ones (not starting with `{`, holding a byte of
    _TRIMMED_NOT_JSON, or longer than the reader's limit); with `copy`, write the content to `path` (the local
    file `read_json` then reads), else `path` is the file the blocks come from. The result is filled block by
    block into `into` (a new Scan when None), under its lock, waking whoever waits on it; `stop` ends the scan
    (ScanStopped) at the next block."""
    result, marker, lengths = into or Scan(path), _Marker(), _Lengths(MAX_LINE_BYTES)
    line_start = True  # the next block's byte 0 starts a line
    open_line: int | None = None  # an odd line, blank so far, that goes on into the next block
    with open(path if copy else os.devnull, "wb") as target:
        for block in _mark_whole(_pieces(blocks, PIECE_BYTES)):
            if stop is not None and stop.is_set():
                raise ScanStopped
            if not block:
                continue
            target.write(block)
            first = result.lines + 1
            starts, newlines, odd, still_open = _odd_lines(block, line_start, first)
            trimmed = _trimmed_lines(block, starts, first).tolist()
            long = lengths.long_lines(starts, marker.total, first)
            end = block.find(b"\n") if open_line is not None else -1
            rest = block if end < 0 else block[:end]  # the open line's end (when it has one)
            with result.changed:
                changed = [*odd, *trimmed, *long, first - 1]  # first - 1: the line the block before left open
                if open_line is not None:
                    result.odd[open_line] = result.odd[open_line] and not rest.strip(_ASCII_SPACE)
                    open_line = open_line if end < 0 else None
                result.odd.update(odd)
                for number in trimmed:
                    result.odd.setdefault(number, False)  # not blank: read_json gives it a row
                result.odd.update(dict.fromkeys(long, False))
                result.lines += len(starts)
                result.settle(result.lines - 1, changed)  # the last line started may go on into the next block
                if len(result.odd) > result.odd_limit():
                    odd = len(result.odd)
                    raise BulkMismatch(f"{odd:,} of the first {result.lines:,} lines do not start with '{{'")
                result.changed.notify_all()
            open_line = still_open if still_open is not None else open_line
            line_start = block[-1] == _NEWLINE
            marker.feed(block, newlines)
    with result.changed:
        if lengths.last_is_long(marker.total):
            result.odd[lengths.last_number] = False
        result.longest = lengths.longest
        result.mark = marker.mark(through_line=result.lines)
        result.settle(result.lines, [result.lines])
        result.done = True
        result.changed.notify_all()
    return result


class ScanStopped(Exception):
    """The reader of a `ScanThread` asked it to stop."""


class ScanThread:
    """`scan` of a local file on a thread of its own, while `read_json` parses the same file: the scan costs
    0.25-0.3 core-seconds per GB in NumPy, which the parse's threads leave partly idle. `through_rows` waits until
    the scan has settled the lines of the rows read so far. `read_json` then takes lines up to the reader's limit
    (`maximum_object_size`: the longest line is not known yet); DuckDB reads with room for 16 MiB lines whatever
    smaller size it is given, so this costs no memory (`read_rows` goes on past a longer line)."""

    def __init__(self, blocks: Iterator[bytes | bytearray], path: str) -> None:
        self.scan = Scan(path)
        self._stop = threading.Event()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, args=(blocks,), name="gatewaylens-scan", daemon=True)
        self._thread.start()

    def _run(self, blocks: Iterator[bytes | bytearray]) -> None:
        try:
            scan(blocks, self.scan.path, False, into=self.scan, stop=self._stop)
        except ScanStopped:
            pass
        except OSError as err:
            self._error = BulkMismatch(f"cannot read it: {err}")
            self._error.__cause__ = err
        except BaseException as err:  # handed to the reader, which raises it
            self._error = err
        finally:
            with self.scan.changed:
                self.scan.done = True
                self.scan.changed.notify_all()

    def through_rows(self, rows: int) -> tuple[np.ndarray, np.ndarray, int]:
        """Wait until the lines of the first `rows` rows are settled (or the scan ends); returns the odd lines
        and the skipped lines known so far, sorted, and how many rows their settled lines give. Raises the scan's
        error."""
        scan = self.scan
        with scan.changed:
            scan.changed.wait_for(lambda: scan.done or self._error is not None or scan.rows_settled() >= rows)
            if self._error is not None:
                raise self._error
            return np.array(sorted(scan.odd), dtype=np.int64), scan.skipped, scan.rows_settled()

    def finish(self) -> Scan:
        """The whole scan, once done; raises its error."""
        self._thread.join()
        if self._error is not None:
            raise self._error
        return self.scan

    def close(self) -> None:
        """Stop the scan (if still running) and wait for its thread."""
        self._stop.set()
        self._thread.join()


def plain_blocks(path: str, size: int) -> Iterator[bytes | bytearray]:
    """The bytes of the local uncompressed file `path` in blocks of at most `size` bytes, read into one buffer
    used again for every block (a new 64 MiB object per block cost more than scanning it: 1.16 GB read in 0.99 s
    against 0.20 s), so a block is only valid until the next one is asked for."""
    buffer = bytearray(size)
    with open(path, "rb", buffering=0) as handle:
        while count := handle.readinto(buffer):
            yield buffer if count == size else bytes(buffer[:count])


def local_plain_path(url: str, storage_options: dict) -> str | None:
    """The local path of `url` when it is an uncompressed local file (read in place), else None."""
    fs, path = url_to_fs(url, **storage_options)
    if not isinstance(fs, LocalFileSystem):
        return None
    with open(path, "rb") as handle:
        head = handle.read(8)
    return None if compression_of(head) else path


def reader_connection(threads: int | None, spill: str | None = None) -> duckdb.DuckDBPyConnection:
    """The connection that runs `read_json`: its own database, rows in file order, spilling (if ever) into the
    folder `spill`."""
    con = duckdb.connect()
    con.execute("set preserve_insertion_order = true")
    con.execute("set enable_progress_bar = false")
    if spill:
        con.execute("set temp_directory = ?", [spill])
    if threads:
        con.execute(f"set threads = {int(threads)}")
    return con


def read_rows(
    con: duckdb.DuckDBPyConnection,
    path: str,
    adapter: Adapter,
    longest: int = MAX_LINE_BYTES,
    longest_known: Callable[[], int] | None = None,
    on_tolerant: Callable[[int], None] | None = None,
) -> Iterator[pa.Table]:
    """The file's rows in the adapter's bulk columns, in file order, in tables of about BULK_ROWS rows or
    BULK_BYTES bytes, whichever comes first. `path` (without glob characters: `unglobbed`) is read as one plain
    file (no compression guessed from the extension; the scan read its bytes), each line as one object
    (`records`), up to `longest` bytes long.

    The file is read strictly first: `ignore_errors` costs a fifth more of the parse's CPU (2M canonical lines:
    3.03-3.05 CPU-s against 2.51-2.54). At a line that does not parse, it is read again with `ignore_errors`,
    which gives such a line one all-NULL row (redone by the line path), and the rows already given are skipped:
    both reads give a line that parses the same row (a bad line near the end costs a second parse of the file).
    `longest_known` (when the scan is still running) waits for the file's longest line: when the read with
    `ignore_errors` fails too, a line longer than `longest` is read with room for it (DuckDB stops at a line
    past its `maximum_object_size`, 16 MiB at least). An error of the last read is a BulkMismatch: the line path
    reads the file. (An error met while the rows stream comes through Arrow's stream interface, as an
    OSError.) `on_tolerant(longest)` runs before each read with `ignore_errors`: where the strict read failed on
    a value of another type than its column's, `ignore_errors` reads it as a NULL list or a struct of NULLs
    without a word (`encoded_rows` finds the rows that held an object or a list as a string)."""
    given, tolerant = 0, False
    while True:
        try:
            for table in _read_tables(con, path, adapter, longest, tolerant, skip=given):
                given += table.num_rows
                yield table
            return
        except duckdb.InterruptException:
            raise
        except (duckdb.Error, pa.ArrowException, OSError) as err:
            if not tolerant:
                tolerant = True
            elif longest_known is not None and (known := longest_known()) > longest:
                longest = known
            else:
                raise BulkMismatch(f"read_json cannot read it: {err}") from err
            if on_tolerant is not None:
                on_tolerant(longest)


def _read_json(path: str, columns: Iterable[tuple[str, str]], longest: int, tolerant: bool) -> str:
    """SQL: `read_json` of the file `path` (one object per line) into `columns` (key, DuckDB type)."""
    typed = "{" + ", ".join(f"{literal(key)}: {literal(kind)}" for key, kind in columns) + "}"
    size = max(longest + 1, 1 << 20)
    return f"""read_json({literal(path)}, format = 'newline_delimited', records = true, columns = {typed},
        ignore_errors = {str(tolerant).lower()}, compression = 'none', maximum_object_size = {size})"""


def _read_tables(
    con: duckdb.DuckDBPyConnection, path: str, adapter: Adapter, longest: int, tolerant: bool, skip: int
) -> Iterator[pa.Table]:
    """`read_rows`' tables of one read (`tolerant`: with `ignore_errors`), without its first `skip` rows."""
    reader = con.sql(f"select * from {_read_json(path, adapter.bulk_columns, longest, tolerant)}").to_arrow_reader(
        BULK_ROWS
    )
    pending: list[pa.RecordBatch] = []
    rows = size = 0
    with reader:
        for batch in reader:
            if skip >= batch.num_rows:
                skip -= batch.num_rows
                continue
            batch, skip = batch.slice(skip), 0
            pending.append(batch)
            rows, size = rows + batch.num_rows, size + batch.nbytes
            if rows >= BULK_ROWS or size >= BULK_BYTES:
                yield pa.Table.from_batches(pending)
                pending, rows, size = [], 0, 0
    if pending:
        yield pa.Table.from_batches(pending)


#: The JSON text of a string that opens like a JSON object or list (after blanks, written or escaped).
_OPENS_LIKE_JSON = "^" + OPENS_LIKE_JSON
_OPENS_LIKE_STREAM = "^" + OPENS_LIKE_STREAM


def encoded_rows(con: duckdb.DuckDBPyConnection, path: str, adapter: Adapter, longest: int) -> np.ndarray:
    """The rows (in file order, as `read_rows` reads them with `ignore_errors`) that hold, at a key the adapter's
    bulk form types as an object or a list, a string that opens like JSON text, or a string where it reads an
    object or a list inside one (`Adapter.bulk_nested`), or a logged stream at one of `Adapter.streams`:
    `read_json` with `ignore_errors` reads it as NULL, the line path decodes it. The keys are read as JSON, one
    more parse of the file; only a file whose strict read failed pays it (0.44 s for 500k provider bodies)."""
    if not adapter.bulk_nested:
        return np.zeros(0, dtype=bool)
    columns = [(key, "JSON") for key, _ in adapter.bulk_nested]
    opens, stream = literal(_OPENS_LIKE_JSON), literal(_OPENS_LIKE_STREAM)
    tests = " OR ".join(
        f"regexp_matches({quoted(key)}::VARCHAR, {opens}) OR {holds_encoded(quoted(key), list(paths))}"
        + (f" OR regexp_matches({quoted(key)}::VARCHAR, {stream})" if key in adapter.streams else "")
        for key, paths in adapter.bulk_nested
    )
    reader = con.sql(
        f"select coalesce({tests}, false) AS encoded from {_read_json(path, columns, longest, True)}"
    ).to_arrow_reader(BULK_ROWS)
    with reader:
        parts = [batch.column(0).to_numpy(zero_copy_only=False) for batch in reader]
    return np.concatenate(parts) if parts else np.zeros(0, dtype=bool)


def json_text_rows(adapter: Adapter, table: pa.Table) -> np.ndarray:
    """Rows of `table` (the bulk columns) holding, where the adapter reads an object or a list as its JSON
    (`Adapter.bulk_json`), a string that opens like one: `read_json` reads it as JSON without failing, the line
    path decodes it. One regular expression over each such column (an error body, say)."""
    found = np.zeros(table.num_rows, dtype=bool)
    for path in adapter.bulk_json:
        values: pa.Array | pa.ChunkedArray = table.column(path[0])
        for key in path[1:]:
            values = pc.struct_field(values, key)
        if values.null_count < len(values):
            found |= pc.fill_null(pc.match_substring_regex(values, _OPENS_LIKE_JSON), False).to_numpy(
                zero_copy_only=False
            )
    return found


def unglobbed(path: str, link: str) -> str:
    """`path`, or the symbolic link `link` made to it when `path` holds a character DuckDB would read as a glob
    (`*?[`)."""
    if not any(ch in path for ch in "*?["):
        return path
    os.symlink(os.path.abspath(path), link)
    return link


def line_numbers(first_row: int, count: int, skipped: np.ndarray) -> np.ndarray:
    """Line numbers of rows `first_row` .. `first_row + count - 1` (0-based, file order) when the lines in
    `skipped` (sorted) yield no row: the q-th row comes from the q-th line not skipped."""
    ordinals = np.arange(first_row + 1, first_row + count + 1, dtype=np.int64)
    if not len(skipped):
        return ordinals
    before = skipped - 1 - np.arange(len(skipped))  # rows before each skipped line
    return ordinals + np.searchsorted(before, ordinals, side="left")


def all_null(table: pa.Table) -> np.ndarray:
    """Rows every column of which is NULL (a line `read_json` could not read, or one with none of the keys)."""
    mask = np.ones(table.num_rows, dtype=bool)
    for column in table.columns:
        mask &= pc.is_null(column).to_numpy(zero_copy_only=False)
    return mask


def _given(column: pa.ChunkedArray) -> bool:
    """Every row holds a value in `column`: not NULL, nor an empty string (which names nothing: an empty id)."""
    if column.null_count:
        return False
    return (
        not (pa.types.is_string(column.type) or pa.types.is_large_string(column.type))
        or not pc.any(pc.equal(column, "")).as_py()
    )


def text_needed(con: duckdb.DuckDBPyConnection, adapter: Adapter, table: pa.Table) -> np.ndarray:
    """Rows of `table` (the bulk form's columns) whose mapping reads the line's text (`adapter.bulk_text_needed`),
    which the bulk form does not have: the line path maps them."""
    needed = np.zeros(table.num_rows, dtype=bool)
    if adapter.bulk_text_needed is None or not table.num_rows:
        return needed
    if adapter.bulk_text_keys and all(_given(table.column(key)) for key in adapter.bulk_text_keys):
        return needed  # every row has the keys that leave nothing to read from the text (no statement: 0.06 s)
    con.register(BULK, table.append_column("source_line", pa.array(np.arange(table.num_rows))))
    try:  # the connection may return rows in any order: each row's number (its index here) says which
        rows = con.sql(adapter.bulk_text_needed).fetchnumpy()["source_line"]
    finally:
        con.unregister(BULK)
    needed[rows] = True
    return needed


@dataclass
class BulkFile:
    """One file through the bulk path: its scan, the lines still to redo through the line path, and the fetcher
    that reads those lines (and the raw text of rejected records) by number."""

    stager: FileStager
    source: SourceFile
    index: int
    report: FileReport
    adapter: Adapter
    scan: Scan
    redone_through: int = 0  # the odd lines up to this line number are staged
    unread: int = 0  # rows read_json could not read (all NULL), redone line by line
    text_needed: int = 0  # rows whose mapping reads the line's text, redone line by line
    encoded: np.ndarray | None = None  # by row: holds an object or list as a string (`encoded_rows`), once needed
    decoded: int = 0  # rows that hold one, redone line by line
    sampled: bool = False  # the sample check ran (on the first table that kept any row)
    odd: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=np.int64))  # the scan's odd lines, sorted
    thread: ScanThread | None = None  # the scan still running, filling `scan`
    _skipped: np.ndarray | None = None  # the skipped lines of a whole scan, sorted

    def stage(self, rejects: quarantine.Writer, progress: Progress) -> None:
        """Stage every line of the file, rejected records into `rejects`; raises BulkMismatch (after which the
        caller discards what was staged) when the rows do not account for the lines. With `thread`, the scan is
        still running: each table of rows waits for the lines it needs, and `read_json` takes lines up to the
        reader's limit (the longest is not known yet)."""
        fetcher = LineFetcher(self.scan.path, MAX_LINE_BYTES)
        spill = os.path.join(os.path.dirname(self.stager.staging), "spill-reader")
        con = reader_connection(self.stager.threads, spill)
        rows = 0
        longest = MAX_LINE_BYTES if self.thread else self.scan.longest
        longest_known = (lambda: self.thread.finish().longest) if self.thread else None
        tables = read_rows(con, self.scan.path, self.adapter, longest, longest_known, self._find_encoded(con))
        try:
            for number, table in enumerate(tables):
                skipped, available = self._settled(rows + table.num_rows)
                numbers = line_numbers(rows, table.num_rows, skipped)
                first, rows = rows, rows + table.num_rows
                if rows > available:
                    raise BulkMismatch(f"read_json gave more rows than the {available:,} lines it reads")
                self._batch(table, numbers, number, fetcher, rejects, self._encoded(first, table.num_rows))
                progress(f"{os.path.basename(self.source.url)}: {int(numbers[-1]):,} lines")
        finally:
            tables.close()
            con.close()
        scan = self.thread.finish() if self.thread else self.scan
        self.odd = np.array(sorted(scan.odd), dtype=np.int64)
        expected = scan.lines - len(scan.skipped)
        if rows != expected:
            raise BulkMismatch(f"read_json gave {rows:,} rows for the {expected:,} lines it reads")
        self._redo([], scan.lines, "end", fetcher, rejects)
        self.report.lines = scan.lines
        self.report.read_mark = asdict(scan.mark) if scan.mark else None

    def _find_encoded(self, con: duckdb.DuckDBPyConnection) -> Callable[[int], None]:
        """`read_rows`' hook before a read with `ignore_errors`: find the rows that hold an object or a list as a
        string (`encoded_rows`)."""

        def find(longest: int) -> None:
            try:
                self.encoded = encoded_rows(con, self.scan.path, self.adapter, longest)
            except (duckdb.Error, pa.ArrowException, OSError) as err:
                if isinstance(err, duckdb.InterruptException):
                    raise
                raise BulkMismatch(f"read_json cannot read its nested keys: {err}") from err

        return find

    def _encoded(self, first: int, count: int) -> np.ndarray:
        """Which of rows `first` .. `first + count - 1` hold an object or a list as a string."""
        if self.encoded is None or not len(self.encoded):
            return np.zeros(count, dtype=bool)
        if first + count > len(self.encoded):
            raise BulkMismatch(f"read_json gave {len(self.encoded):,} rows of nested keys, fewer than the rows")
        return self.encoded[first : first + count]

    def _settled(self, rows: int) -> tuple[np.ndarray, int]:
        """The skipped lines among those of the first `rows` rows, and how many rows the lines known give; sets
        `odd` to the odd lines known."""
        if self.thread is None:  # the scan is whole: its lines sorted once
            if self._skipped is None:
                self.odd, self._skipped = np.array(sorted(self.scan.odd), dtype=np.int64), self.scan.skipped
            return self._skipped, self.scan.lines - len(self._skipped)
        self.odd, skipped, available = self.thread.through_rows(rows)
        return skipped, available

    def _batch(
        self,
        table: pa.Table,
        numbers: np.ndarray,
        number: int,
        fetcher: LineFetcher,
        rejects: quarantine.Writer,
        encoded: np.ndarray,
    ) -> None:
        """Stage one table of rows; its unreadable rows, those whose mapping reads the line's text, those that
        hold an object or a list as a string (`encoded`) and the odd lines among them take the line path."""
        odd = np.isin(numbers, self.odd)
        unread = all_null(table) & ~odd
        text = text_needed(self.stager.con, self.adapter, table) & ~odd & ~unread
        encoded = (encoded | json_text_rows(self.adapter, table)) & ~odd & ~unread & ~text
        self.unread += int(unread.sum())
        self.text_needed += int(text.sum())
        self.decoded += int(encoded.sum())
        if len(self.odd) + self.unread + self.text_needed + self.decoded > self.scan.odd_limit():
            raise BulkMismatch(
                f"{self.unread:,} lines read_json cannot read, {self.text_needed:,} whose mapping reads their text,"
                f" {self.decoded:,} holding an object or a list as a string, {len(self.odd):,} odd ones"
            )
        redo = unread | odd | text | encoded
        keep = ~redo
        if not keep.all():  # a filter copies every column, nested ones slowly (0.27 s per 256k OpenRouter rows)
            table = table.filter(pa.array(keep))
        bulk = table.append_column("source_line", pa.array(numbers[keep]))
        try:
            rejected = self.stager.stage_bulk(bulk, self.adapter, self.source, self.index, number, self.report)
        except duckdb.Error as err:
            if NO_TEXT not in str(err):
                raise
            raise BulkMismatch("a line whose mapping reads its text reached the bulk form") from err
        if not self.sampled and bulk.num_rows:  # the first table that kept any row
            self.sampled = True
            sample = bulk.column("source_line").slice(0, SAMPLE_LINES).to_pylist()
            self.stager.check_sample(sample, self.adapter, self.source, self.scan.path, self.index, number)
        self._redo(rejected, int(numbers[-1]), number, fetcher, rejects, numbers[redo].tolist())

    def _redo(
        self,
        rejected: list[tuple[int, str]],
        through: int,
        number: int | str,
        fetcher: LineFetcher,
        rejects: quarantine.Writer,
        unread: list[int] | None = None,
    ) -> None:
        """Fetch, in one forward pass, the raw text of the `rejected` records and the lines to redo (`unread`
        rows, odd lines up to `through`); stage the latter through the line path, quarantine the former."""
        start, stop = np.searchsorted(self.odd, [self.redone_through, through], "right")
        redo = set(unread or ()) | set(self.odd[start:stop].tolist())
        self.redone_through = through
        wanted = sorted(redo | {n for n, _ in rejected})
        if not wanted:
            return
        found = {line[0]: line for line in fetcher.fetch(wanted)}
        if redo:
            batch = lines_batch([found[n] for n in sorted(redo)], MAX_LINE_BYTES)
            self.stager.stage_lines(batch, self.adapter, self.source, self.index, f"r{number}", self.report, rejects)
        if rejected:
            rejects.write(sorted((n, reason, _text(found[n][1])) for n, reason in rejected))


def _text(raw: bytes) -> str:
    """A fetched line as the quarantine keeps it: without its terminator."""
    return raw.rstrip(b"\r\n").decode("utf-8", errors="replace")
