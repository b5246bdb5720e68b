"""Files of JSON documents, not JSON lines: an array of records, records pretty-printed, an API's page.

Every format gatewaylens reads is JSON lines as its emitters write it, but what reaches an analyst is often
saved another way: an API's answer kept as it came (LiteLLM's `/spend/logs` returns a JSON array of SpendLogs
rows; a page `{"data": [...], "total": ...}` as LiteLLM's `/spend/logs/v2`, Langfuse's and Helicone's APIs
return), an array written by a script, records pretty-printed one after another (`jq .`'s output) or one
pretty-printed record. Read as lines, every line of such a file was quarantined as `not JSON` or its one line as
a format not recognised. Such a file is read record by record instead, each record being what a line of a
JSON-lines file would be: detected, mapped and accounted alike.

**How a file is told** (`opens_document`): its first non-blank line (what format detection reads first) is a
JSON array on its own, or opens an object or array that it does not close. DuckDB's `read_json_objects` then
reads the file's top-level values (`format = 'unstructured'`), or a top-level array's elements (`'array'`,
chosen by the first character, so a byte-order mark does not hide it). Where the first value is an API's page
(an object whose only list is `data`, of objects, and no record a format reads), every page of the file is read as
the list's elements.

**What a record is.** Its text is the value as written, its line breaks turned into spaces (a JSON string holds
no raw line break, so only the blanks between tokens change: numbers keep their digits). It is numbered by its
position in the file: the Nth record is line N (`source_line`), the one number that names a record both in a
compact array, all on one line, and in pretty-printed records spanning many. A file's `lines` count its records.
A value longer than the reader's line limit (16 MiB: a record, or a page whose records are one value) makes the
read fail, and the file is read as JSON lines (below).

**When a file is not that.** A file that does not read as JSON values to its end (a JSON-lines file whose first
line is cut, say) raises `NotDocuments` wherever the read fails: the caller discards what it staged and reads
the file as JSON lines, every line stored or quarantined for what it holds. A file read this way keeps no mark
to resume from (a JSON document that grew is rewritten, not appended to): it is read again whole, its stored
records counting as duplicates.
"""

from __future__ import annotations

import contextlib
import io
import json
from collections.abc import Iterator
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa

from pipelines.lib.blocks import blocks_of, iter_blocks
from pipelines.lib.ingest import bulk
from pipelines.lib.reader import MAX_LINE_BYTES, LineBatch, screen
from schemas.adapters import ADAPTERS
from schemas.sqltext import literal

#: Records per Arrow batch fetched from DuckDB; a line batch gathers them up to the stager's chunk size.
FETCH_ROWS = 8_192
_BOM = "\ufeff"


class NotDocuments(Exception):
    """The file does not read as JSON values to its end: it is read as JSON lines."""


def opens_document(first_line: str) -> bool:
    """Whether a file whose first non-blank line is `first_line` holds JSON documents rather than JSON lines: the
    line is a JSON array on its own, an API's page (`is_page`), or opens an object or an array it does not close
    (no JSON-lines format holds an array per line; a line that is cut is told apart by the read that follows). A
    line nested too deeply for Python's parser is left to the line path, which quarantines it as such."""
    text = first_line.lstrip(_BOM).strip()
    if not text.startswith(("[", "{")):
        return False
    try:
        value = json.loads(text)
    except ValueError:
        return True
    except RecursionError:
        return False
    return isinstance(value, list) or is_page(value, text)


def opens_array(head: bytes) -> bool:
    """The file whose first bytes are `head` opens with a JSON array (after a byte-order mark and blanks): for a
    file whose first line the line reader leaves out (longer than its limit: a saved answer on one line)."""
    return head.removeprefix(_BOM.encode()).lstrip().startswith(b"[")


def is_page(value: Any, text: str) -> bool:
    """`value` (parsed JSON; `text`, its JSON text) is an API's page of records: an object whose `data` is a list
    of objects (or empty), its only list (beside it a page holds counts and cursors: `total`, `page`, `meta`,
    `has_more`), and no record a format reads (OpenAI's embeddings body is `{"object": "list", "data": [...]}`; an
    object with other lists is a record of its own; OpenRouter's generation stats hold an object in `data`)."""
    if not isinstance(value, dict) or not isinstance(value.get("data"), list):
        return False
    lists = sum(isinstance(item, list) for item in value.values())
    if lists != 1 or not all(isinstance(item, dict) for item in value["data"][:1]):
        return False
    return not any(adapter.sniff(text) for adapter in ADAPTERS)


#: SQL over a JSON value `v`: `is_page`'s test.
_IS_PAGE = """(json_type(v, '$.data') = 'ARRAY'
    and coalesce(json_type(v, '$.data[0]') = 'OBJECT', true)
    and len(list_filter(json_keys(v), lambda k: json_type(v, '$.' || to_json(k)) = 'ARRAY')) = 1)"""


def records(
    con: duckdb.DuckDBPyConnection, path: str, first_line: str, chunk_bytes: int, longest: int = MAX_LINE_BYTES
) -> Iterator[LineBatch]:
    """The records of the local uncompressed file `path` (see the module's docstring) as batches of numbered
    lines of about `chunk_bytes` bytes: its top-level values, each page among them as its records. `first_line`
    (its first non-blank line) says whether its values are a top-level array's elements. Raises NotDocuments
    (on the first batch or a later one) where DuckDB cannot read it."""
    array = first_line.lstrip(_BOM).strip().startswith("[")
    values = f"(select json as v from {_values(path, array)})"
    try:
        records = f"unnest(case when {_IS_PAGE} then json_extract(v, '$.data[*]') else [v] end)"
        if not _pages(con, values):
            records = "v"
        query = (
            f"select translate(r::varchar, chr(10) || chr(13), '  ') as raw from (select {records} as r from {values})"
        )
        yield from _batches(con.sql(query).to_arrow_reader(FETCH_ROWS), chunk_bytes, longest)
    except duckdb.InterruptException:
        raise
    except (duckdb.Error, pa.ArrowException, OSError) as err:
        raise NotDocuments(f"not JSON documents: {err}") from err


def _pages(con: duckdb.DuckDBPyConnection, values: str) -> bool:
    """The file's values are API pages (`is_page`), as its first one tells: then each page is read as its records.
    A file whose first value is a record keeps every value whole (an array of OpenAI embeddings bodies)."""
    first = con.sql(f"select v::varchar from {values} limit 1").fetchall()
    if not first:
        return False
    try:
        return is_page(json.loads(first[0][0]), first[0][0])
    except (ValueError, RecursionError):
        return False


def _values(path: str, array: bool) -> str:
    """SQL: the file's top-level JSON values (`array`: the elements of the array it is), as JSON, in file order,
    each at most a line's limit long (a page, whose records are one value, too). The limit bounds DuckDB's buffers
    and the time it takes to give up on a file that is JSON lines after all: with the file's size as the limit, a
    230 MiB JSON-lines file whose first line is cut held 595 MiB and took 0.43 s to fail, with 16 MiB 166 MiB
    and 0.06 s."""
    kind = "array" if array else "unstructured"
    return f"read_json_objects({literal(path)}, format = '{kind}', maximum_object_size = {MAX_LINE_BYTES + 1})"


def _batches(reader: pa.RecordBatchReader, chunk_bytes: int, longest: int) -> Iterator[LineBatch]:
    """The reader's records numbered from 1, gathered into line batches of about `chunk_bytes` bytes."""
    pending: list[pa.RecordBatch] = []
    size = first = 0
    with reader:
        for batch in reader:
            pending.append(batch)
            size += batch.nbytes
            if size >= chunk_bytes:
                yield _numbered(pending, first, longest)
                first += sum(b.num_rows for b in pending)
                pending, size = [], 0
    if pending:
        yield _numbered(pending, first, longest)


def _numbered(batches: list[pa.RecordBatch], first: int, longest: int) -> LineBatch:
    """Records after the first `first` of the file as a batch of lines numbered from `first + 1`."""
    raw = pa.Table.from_batches(batches).column("raw")
    numbers = np.arange(first + 1, first + 1 + len(raw), dtype=np.int64)
    return screen(LineBatch(pa.table({"source_line": numbers, "raw": raw.cast(pa.large_string())})), longest)


def _blocks(url: str, storage_options: dict[str, Any], content: bytes | None, size: int) -> Iterator[bytes]:
    """The content of `url` decompressed, in blocks of about `size` bytes (`content`: its bytes, fetched already)."""
    if content is not None:
        return blocks_of(io.BytesIO(content), url, size)
    return iter_blocks(url, size, **storage_options)


def head(url: str, storage_options: dict[str, Any], content: bytes | None, size: int = 4096) -> bytes:
    """The first bytes of the content of `url` (`content`: its bytes, fetched already), decompressed."""
    with contextlib.closing(_blocks(url, storage_options, content, size)) as blocks:
        return next(blocks, b"")


def local_copy(url: str, storage_options: dict[str, Any], scratch: str, content: bytes | None) -> str:
    """A local uncompressed path holding the content of `url`: the file itself when it is one (through a link at
    `scratch` when its name holds glob characters), else `scratch`, written from the file's content decompressed
    and verified to its end (`content`: its bytes, fetched already)."""
    if content is None and (local := bulk.local_plain_path(url, storage_options)) is not None:
        return bulk.unglobbed(local, scratch)
    with open(scratch, "wb") as out:
        for block in _blocks(url, storage_options, content, bulk.SCAN_BYTES):
            out.write(block)
    return scratch
