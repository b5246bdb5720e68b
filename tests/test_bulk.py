"""The whole-file fast path (`pipelines.lib.ingest.bulk`) against the line path it must agree with.

The differential tests run the same lines through both parsers: DuckDB's `read_json` with an adapter's bulk
columns, and the line reader with the adapter's line form, then the shared transform. They must give the same
rows, over every format's real samples, simulated traffic, adversarial lines and numbers of every magnitude.
The ingest tests then check that the accounting is exact whichever lines a file holds, and that a file the bulk
reader cannot account for is read line by line with the same result.
"""

from __future__ import annotations

import gzip
import json
import math
import re
import threading
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa
import pytest
import zstandard

from pipelines.lib.fetch import LineFetcher, PastTheEndError
from pipelines.lib.ingest import bulk, ingest
from pipelines.lib.ingest import stage as stage_module
from pipelines.lib.reader import MAX_LINE_BYTES, iter_line_batches
from pipelines.lib.storage import Warehouse
from pipelines.lib.transform import batch_params, batch_sql, lookup_plans
from schemas.adapters import ADAPTERS, BY_NAME, Adapter, _sql, detect, litellm, provider_bodies
from tests.adapter_support import adapt, transform_connection
from tests.conftest import HASH_KEY, ledger_entries, quarantined, record, stored, write_lines

CORPUS = Path(__file__).parent / "fixtures" / "real"
BULK_FORMATS = [adapter.name for adapter in ADAPTERS if adapter.bulk]
ORDER = [("source_line", "ascending"), ("item", "ascending")]


def _both_forms(
    adapter_name: str, path: Path, adapter: Adapter | None = None
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Rows of every line of `path` that `read_json` reads (not an all-NULL row), by the bulk form and by the line
    form, each sorted by line and item; by `adapter`, else by the format's adapter as detection binds it to the
    file's first lines."""
    if adapter is None:
        adapter = BY_NAME[adapter_name]
        if adapter.configure is not None:
            adapter = adapter.configure(path.read_text(errors="replace").splitlines()[:100])
    con = transform_connection()
    reader = bulk.reader_connection(None)
    tables = list(bulk.read_rows(reader, str(path), adapter))
    rows = pa.concat_tables(tables) if tables else None
    reader.close()
    scan = bulk.scan(iter(Path(path).read_bytes().splitlines(keepends=True) or [b""]), str(path), copy=False)
    assert rows is not None and rows.num_rows == scan.lines - len(scan.skipped)
    numbers = bulk.line_numbers(0, rows.num_rows, scan.skipped)
    keep = ~bulk.all_null(rows) & ~np.isin(numbers, list(scan.odd)) & ~bulk.text_needed(con, adapter, rows)
    rows = rows.filter(pa.array(keep)).append_column("source_line", pa.array(numbers[keep]))
    wanted = set(numbers[keep].tolist())
    lines = pa.concat_tables([batch.lines for batch in iter_line_batches(str(path))])
    lines = lines.filter(pa.array([n in wanted for n in lines.column("source_line").to_pylist()]))
    params = batch_params(adapter, path.as_uri(), HASH_KEY)
    columns = f"select {stage_module.RECORD_COLUMNS}, item, ignored, reason from "
    results = []
    for name, table, sql in (("bulk", rows, batch_sql(adapter, bulk=True)), ("lines", lines, batch_sql(adapter))):
        con.register(name, table)
        try:
            results.append(con.sql(f"{columns}({sql})", params=params).to_arrow_table().sort_by(ORDER).to_pylist())
        finally:
            con.unregister(name)
    return results[0], results[1]


def _corpus_file(tmp_path: Path, name: str) -> Path | None:
    """Every real sample the format's adapter reads, one file of all their lines (None: the corpus has none)."""
    lines = []
    for sample in sorted(CORPUS.rglob("*.jsonl")):
        text = sample.read_text()
        if detect(iter(line.strip() for line in text.splitlines() if line.strip()), str(sample)).name == name:
            lines += [line for line in text.splitlines() if line.strip()]
    if not lines:
        return None
    path = tmp_path / f"{name}.jsonl"
    path.write_text("\n".join(lines) + "\n")
    return path


#: The canonical format is gatewaylens's own: no one else publishes it (the adversarial lines below cover it).
@pytest.mark.parametrize("name", [name for name in BULK_FORMATS if name != "canonical"])
def test_both_parsers_read_the_real_samples_alike(tmp_path, name):
    path = _corpus_file(tmp_path, name)
    assert path is not None, f"the corpus has no {name} sample"
    as_bulk, as_lines = _both_forms(name, path)
    assert as_bulk and as_bulk == as_lines


@pytest.mark.slow
@pytest.mark.parametrize("name", BULK_FORMATS)
def test_both_parsers_read_simulated_traffic_alike(tmp_path, name):
    import datetime as dt

    from devkit.simulate import simulate
    from devkit.simulate.formats import write

    frame = simulate(dt.date(2026, 1, 5), 1, 1500, seed=11)
    path = tmp_path / f"{name}.jsonl"
    write(frame, str(path), name, compression=None)
    as_bulk, as_lines = _both_forms(name, path)
    assert len(as_bulk) >= 1000 and as_bulk == as_lines


#: Canonical lines that test the reading itself: numbers of every magnitude and spelling, numbers as strings,
#: values of the wrong JSON type, escapes, duplicate keys, keys in another case, unknown keys, nesting.
def _adversarial() -> list[str]:
    numbers = ["0", "-0", "0.0", "1.50", "1e2", "1E-7", "0.000059494", "123456789012345678901"]
    numbers += ["1.7976931348623157e308", "-1", "2.5e-320", "1e400", "3.0000000000000004", "9007199254740993", "1.0e+3"]
    lines = []
    for i, number in enumerate(numbers):
        for field in ("cost_usd", "latency_ms", "prompt_tokens", "attempt", "user_id", "request_id"):
            text = json.dumps(record(request_id=f"n{i}-{field}"))
            lines.append(text.replace(f'"{field}": ', f'"{field}": {number}, "_old_{field}": ', 1))
    odd_values = ['"12"', '"1.5"', "true", "null", "[1, 2]", '{"a": 1}', '""', '" 7 "', '"\\u0031\\u0032"']
    for i, value in enumerate(odd_values):
        for field in ("prompt_tokens", "cost_usd", "status", "model", "streamed", "created_at"):
            text = json.dumps(record(request_id=f"v{i}-{field}"))
            lines.append(text.replace(f'"{field}": ', f'"{field}": {value}, "_old_{field}": ', 1))
    lines += [
        json.dumps(record(request_id='esc\\"q\u00e9\U0001f600', model="m\\u00e9")),
        '{"request_id": "dup", "request_id": "dup2", "created_at": "2025-06-01T00:00:00Z", "status": "success"}',
        '{"REQUEST_ID": "case", "created_at": "2025-06-01T00:00:00Z", "status": "success"}',
        json.dumps(record(request_id="deep") | {"extra": {"a": [[[[{"b": 1}]]]]}}),
        json.dumps(record(request_id="surrogate", model="x\ud800y"), ensure_ascii=True),
        json.dumps(record(request_id="ctl", app_id="a\u0000b\u001fc")),
        json.dumps(record(request_id="big", user_id="u" * 5000)),
        json.dumps(record(request_id="form-feed-after")) + "\f",  # read_json trims it, JSON does not allow it
        json.dumps(record(request_id="vertical-tab-after")) + " \v ",
    ]
    return lines


def test_both_parsers_read_adversarial_lines_and_numbers_alike(tmp_path):
    path = write_lines(tmp_path / "adversarial.jsonl", _adversarial())
    as_bulk, as_lines = _both_forms("canonical", path)
    assert len(as_bulk) > 100 and as_bulk == as_lines


def test_a_json_values_text_is_what_json_extract_string_gives_in_both_forms(tmp_path):
    """`_sql.json_text` skips the second parse of numbers, booleans and objects: their text as read is already
    the parser's spelling. It must give what `json_extract_string(v, '$')` gives, read by `read_json` or by
    `from_json`, for every kind of value."""
    values = ["1.50", "1e5", "1E+05", "-0", "0.000059494", "12345678901234567890", "1" * 40, "1e400", "-1e-400"]
    values += ["true", "false", '"12"', '"a\\"b"', '"\\u00e9"', '""', "[1, 2]", '{"x": 1}', "null"]
    path = tmp_path / "v.jsonl"
    path.write_text("".join(f'{{"v": {value}}}\n' for value in values))
    con = transform_connection()
    pair = f"json_extract_string(v, '$'), {_sql.json_text('v')}"
    by_read_json = con.sql(
        f"select {pair} from read_json(?, format = 'newline_delimited', records = true, columns = {{v: 'JSON'}})",
        params=[str(path)],
    ).fetchall()
    by_from_json = con.sql(
        f'select {pair} from (select from_json(unnest(?), \'{{"v": "JSON"}}\').v as v)',
        params=[[f'{{"v": {value}}}' for value in values]],
    ).fetchall()
    assert len(by_read_json) == len(by_from_json) == len(values)
    assert all(extracted == text for extracted, text in by_read_json + by_from_json)
    assert {text for _, text in by_read_json} >= {"1.5", "12345678901234567890", 'a"b', "é", "[1,2]", None}


def test_the_bulk_statements_keep_the_parse_on_every_thread():
    """`row_number()` (or any window over all rows) would put DuckDB's parse on one thread: rows are numbered
    outside the statement, from the file order `read_json` keeps."""
    for adapter in ADAPTERS:
        if adapter.bulk:
            sql = batch_sql(adapter, bulk=True).lower()
            assert "row_number(" not in sql and " over (" not in sql and "from lines" not in sql


def test_the_transform_builds_each_lookup_on_its_small_side():
    """Every join of the transform looks a value up (`rows LEFT JOIN small`); DuckDB's estimates took the batch
    for the smaller side of the provider lookup and built its hash table on the rows (a RIGHT join), which cost a
    fifth of the batch's time. Under `lookup_plans` no join is flipped, and the setting is put back after."""
    adapter, count = BY_NAME["canonical"], 50_000
    columns = {key: pa.nulls(count, pa.string()) for key, _ in adapter.bulk_columns}
    columns |= {
        "request_id": pa.array([f"r{i}" for i in range(count)]),
        "created_at": pa.array(["2026-10-01T00:00:00Z"] * count),
        "status": pa.array(["success"] * count),
        "model": pa.array([f"m{i % 7}" for i in range(count)]),
        "provider": pa.array([f"p{i % 3}" for i in range(count)]),
    }
    con = transform_connection()
    con.register("bulk", pa.table(columns).append_column("source_line", pa.array(range(1, count + 1), pa.int64())))
    explain = "explain " + batch_sql(adapter, bulk=True)
    params = batch_params(adapter, "file:///t.jsonl", HASH_KEY)
    try:
        with lookup_plans(con):
            plan = con.execute(explain, params).fetchall()[0][1]
    finally:
        con.unregister("bulk")
    kinds = re.findall(r"Join Type:\s*(\w+)", plan)
    assert kinds.count("LEFT") >= 5 and "RIGHT" not in kinds
    assert con.execute("select current_setting('disabled_optimizers')").fetchall() == [("",)]


def test_rows_are_numbered_past_the_lines_read_json_skips():
    skipped = np.array([2, 3, 7], dtype=np.int64)  # blank lines: read_json gives them no row
    assert bulk.line_numbers(0, 6, skipped).tolist() == [1, 4, 5, 6, 8, 9]
    assert bulk.line_numbers(3, 3, skipped).tolist() == [6, 8, 9]
    assert bulk.line_numbers(0, 3, np.array([], dtype=np.int64)).tolist() == [1, 2, 3]


def test_the_scan_counts_lines_and_finds_those_not_starting_with_a_brace(tmp_path, monkeypatch):
    content = b'\xef\xbb\xbf{"a":1}\n\n  \r\n{"a":2}\n\x0c\n[1]\n {"a":3}\n{"a":4}'
    path = tmp_path / "x.jsonl"
    path.write_bytes(content)
    for size in (1, 3, 7, 1 << 20):  # blocks cut anywhere, even inside a line
        blocks = [content[i : i + size] for i in range(0, len(content), size)]
        scan = bulk.scan(iter(blocks), str(path), copy=False)
        assert scan.lines == 8
        assert scan.odd == {1: False, 2: True, 3: True, 5: True, 6: False, 7: False}
        assert (scan.settled, scan.rows_settled()) == (8, 5)  # the running count of skipped lines agrees
    monkeypatch.setattr(bulk, "MAX_LINE_BYTES", 6)  # lines past the reader's limit take the line path too
    for size in (1, 4, 1 << 20):
        blocks = [content[i : i + size] for i in range(0, len(content), size)]
        assert set(bulk.scan(iter(blocks), str(path), copy=False).odd) == {1, 2, 3, 4, 5, 6, 7, 8}


def test_lines_holding_a_vertical_tab_or_form_feed_take_the_line_path(tmp_path):
    """read_json trims a vertical tab or form feed from a line's end as whitespace, reading `{...}\\f` as an
    object where JSON (the line path) rejects it: wherever the blocks are cut, the scan sends such lines to the
    line path, leaving a blank line blank."""
    content = b'{"a":1}\x0c\n{"a":2}\n{"a":3} \x0b\r\n\x0b\n{"a":\x0c4}\n{"a":5}\n{"a":6}\x0b'
    path = tmp_path / "x.jsonl"
    path.write_bytes(content)
    for size in (1, 2, 5, 9, 1 << 20):
        blocks = [content[i : i + size] for i in range(0, len(content), size)]
        assert bulk.scan(iter(blocks), str(path), copy=False).odd == {1: False, 3: False, 4: True, 5: False, 7: False}


def test_a_line_ending_in_a_form_feed_past_the_sample_is_read_alike(tmp_path, monkeypatch):
    lines: list[dict[str, Any] | str] = [record(request_id=f"r{i}") for i in range(bulk.SAMPLE_LINES + 6)]
    lines += [json.dumps(record(request_id="ff")) + "\f", json.dumps(record(request_id="vt")) + " \v\r"]
    path = write_lines(tmp_path / "x.jsonl", lines)
    [entry] = _same_outcome(_ingest_both(tmp_path, path, monkeypatch=monkeypatch))
    assert (entry["written"], entry["quarantined"]) == (bulk.SAMPLE_LINES + 6, 2)


def test_a_sample_the_two_forms_read_differently_sends_the_file_to_the_line_path(tmp_path, monkeypatch):
    """The first rows the bulk form staged are compared with the line form's reading of the same lines; where
    they differ (here a bulk form made to upper-case the model), what the bulk form staged is discarded and the
    file is read line by line, every record once."""
    real = stage_module.batch_sql

    def upper_model_when_bulk(adapter, bulk=False):
        sql = real(adapter, bulk)
        return f"select * replace (upper(model) as model) from ({sql})" if bulk else sql

    monkeypatch.setattr(stage_module, "batch_sql", upper_model_when_bulk)
    path = write_lines(tmp_path / "x.jsonl", [record(request_id=f"r{i}", model="gpt-4o") for i in range(100)])
    warehouse = Warehouse(str(tmp_path / "wh"))
    ingest([str(path)], warehouse, hash_key=HASH_KEY)
    [entry] = ledger_entries(warehouse)
    assert (entry["read_by"], entry["lines"], entry["written"], entry["duplicates"]) == ("lines", 100, 100, 0)
    assert {row["model"] for row in stored(warehouse)} == {"gpt-4o"}


def test_a_byte_order_mark_cut_by_a_short_read_still_leaves_a_blank_first_line_blank(tmp_path):
    content = b'\xef\xbb\xbf \n{"a":1}\n'
    path = tmp_path / "x.jsonl"
    path.write_bytes(content)
    for size in (1, 2, 3, 1 << 20):
        blocks = [content[i : i + size] for i in range(0, len(content), size)]
        scan = bulk.scan(iter(blocks), str(path), copy=False)
        assert (scan.lines, scan.odd, scan.skipped.tolist()) == (2, {1: True}, [1])


def test_a_time_past_year_9999_in_the_sample_is_quarantined_by_both_paths(tmp_path, monkeypatch):
    """Python has no datetime past year 9999, which a record may hold (quarantined as out of range): the sample
    both forms read is compared with its times as integers, else the bulk path failed the whole file."""
    times = ["Infinity", "-infinity", "10000-01-01T00:00:00Z", "294247-01-01T00:00:00Z"]
    lines = [record(request_id=f"t{i}", created_at=time) for i, time in enumerate(times)] + [record(request_id="ok")]
    path = write_lines(tmp_path / "x.jsonl", lines)
    [entry] = _same_outcome(_ingest_both(tmp_path, path, monkeypatch=monkeypatch))
    assert (entry["written"], entry["quarantined"]) == (1, 4)


def test_plain_blocks_give_the_file_through_one_buffer(tmp_path, monkeypatch):
    from pipelines.lib import reader

    monkeypatch.setattr(reader, "MARK_WINDOW", 16)  # the read mark's windows smaller than a block, as in a real file
    path = tmp_path / "x.jsonl"
    lines = b"\xef\xbb\xbf\n" + b"".join(b'{"n": %d}\n' % n for n in range(30)) + b" \n\x0b\n{}\x0c\n"
    lines += b'{"pad": "' + b"x" * (64 * 6 - len(lines) - 12) + b'"}\n'  # the next line starts block 7 of 64 bytes
    content = lines + b"{}\n" + b'{"last": "' + b"y" * 200 + b'"}'  # the last newline 2 bytes into that block
    path.write_bytes(content)
    blocks = [bytes(block) for block in bulk.plain_blocks(str(path), 64)]  # each copied before the next read
    assert b"".join(blocks) == content and {len(b) for b in blocks[:-1]} == {64} and blocks[6].startswith(b"{}\n")
    # the buffer is read into again for the next block: a scan that kept a block, not a copy, would see the next
    # one in its place (the read mark's window before the last newline spans blocks 6 and 7)
    for size in (1, 7, 64, len(content) - 1, len(content), len(content) + 1):
        copied = iter([content[i : i + size] for i in range(0, len(content), size)])
        assert bulk.scan(bulk.plain_blocks(str(path), size), str(path), copy=False) == bulk.scan(
            copied, str(path), copy=False
        )


def test_the_fetcher_reads_lines_by_number_across_blocks(tmp_path, monkeypatch):
    monkeypatch.setattr(bulk, "SCAN_BYTES", 5)
    path = tmp_path / "x.jsonl"
    path.write_bytes(b"one\ntwo two two two\n\nfour\r\nfive")
    fetcher = LineFetcher(str(path), max_line_bytes=8)
    assert fetcher.fetch([1, 3]) == [(1, b"one\n", 4), (3, b"\n", 1)]
    assert fetcher.fetch([4, 5]) == [(4, b"four\r\n", 6), (5, b"five", 4)]
    number, head, length = fetcher.fetch([2])[0]  # back to the start; a line past the limit: its start only
    assert (number, length) == (2, 16) and head.startswith(b"two two ")
    with pytest.raises(PastTheEndError):  # the file is shorter than when it was counted
        fetcher.fetch([6])


def _ingest_both(tmp_path: Path, *sources: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Warehouse]:
    warehouses = {}
    for mode in ("bulk", "lines"):
        monkeypatch.setattr(stage_module, "BULK_MIN_BYTES", 0 if mode == "bulk" else None)
        warehouses[mode] = Warehouse(str(tmp_path / mode))
        ingest([str(s) for s in sources], warehouses[mode], hash_key=HASH_KEY, progress=print)
    return warehouses


def _same_outcome(warehouses: dict[str, Warehouse]) -> list[dict[str, Any]]:
    """Assert both warehouses hold the same records, quarantine and ledger counts; returns the ledger entries."""
    assert stored(warehouses["bulk"]) == stored(warehouses["lines"])
    assert quarantined(warehouses["bulk"]) == quarantined(warehouses["lines"])
    entries = {}
    for mode in ("bulk", "lines"):
        entries[mode] = sorted(ledger_entries(warehouses[mode]), key=lambda e: e["url"])
        for entry in entries[mode]:
            entry.pop("ingested_at")
            assert entry.pop("read_by") == mode
    assert entries["bulk"] == entries["lines"]
    return entries["bulk"]


def test_a_number_written_nan_or_infinity_keeps_its_record_by_both_paths(tmp_path, monkeypatch):
    """Python's json.dumps writes a float NaN or infinity as a bare word (LiteLLM's cost, say): the record is kept,
    the value stored NULL and flagged `non_finite_number`; the attempt, which keys the record, is not repaired."""
    path = write_lines(
        tmp_path / "nan.jsonl",
        [
            record(request_id="nan", cost_usd=math.nan),
            record(request_id="inf", latency_ms=math.inf, ttft_ms=None),
            record(request_id="text", prompt_tokens="-Infinity", cached_prompt_tokens=None),
            record(request_id="fine"),
            record(request_id="key", attempt=math.nan),
        ],
    )
    assert "NaN" in path.read_text() and "Infinity" in path.read_text()
    [entry] = _same_outcome(warehouses := _ingest_both(tmp_path, path, monkeypatch=monkeypatch))
    assert (entry["written"], entry["quarantined"]) == (4, 1)
    rows = {row["request_id"]: row for row in stored(warehouses["bulk"])}
    assert (rows["nan"]["cost_usd"], rows["inf"]["latency_ms"], rows["text"]["prompt_tokens"]) == (None, None, None)
    assert [rows[key]["quality_flags"] for key in ("nan", "inf", "text", "fine")] == [["non_finite_number"]] * 3 + [[]]
    [reject] = quarantined(warehouses["bulk"])
    assert reject["source_line"] == 5 and "attempt" in reject["reason"]


def test_every_odd_line_is_accounted_for_as_the_line_reader_does(tmp_path, monkeypatch):
    lines = [
        "\ufeff" + json.dumps(record(request_id="bom")),
        "",
        "   \t",
        "\f",
        "\v",
        json.dumps(record(request_id="ok1")),
        "{not json",
        "{}",
        '{"request_id": null}',
        "[1, 2]",
        "  " + json.dumps(record(request_id="indented")),
        "\r" + json.dumps(record(request_id="cr-led")),
        json.dumps(record(request_id="crlf")) + "\r",
        json.dumps(record(request_id="two")) + json.dumps(record(request_id="objects")),
        json.dumps(record(request_id="bad-day", created_at="yesterday")),
        "\u00a0",
        json.dumps(record(request_id="last")),
    ]
    path = tmp_path / "odd.jsonl"
    path.write_bytes(("\n".join(lines)).encode() + b"\n\xff\xfe{\n" + json.dumps(record(request_id="end")).encode())
    [entry] = _same_outcome(_ingest_both(tmp_path, path, monkeypatch=monkeypatch))
    assert entry["lines"] == len(lines) + 2
    assert entry["records"] == entry["written"] + entry["duplicates"] + entry["quarantined"] + entry["ignored"]
    # written: bom, ok1, indented, cr-led (JSON allows a leading carriage return), crlf, last, end
    assert entry["written"] == 7 and entry["ignored"] == 5


@pytest.mark.slow
def test_a_line_past_the_limit_is_rejected_with_its_length(tmp_path, monkeypatch):
    long_line = json.dumps(record(request_id="long", model="m" * (MAX_LINE_BYTES + 10)))
    path = write_lines(tmp_path / "long.jsonl", [record(request_id="a"), long_line, record(request_id="b")])
    [entry] = _same_outcome(_ingest_both(tmp_path, path, monkeypatch=monkeypatch))
    assert (entry["lines"], entry["written"], entry["quarantined"]) == (3, 2, 1)


@pytest.mark.slow
def test_compressed_files_take_the_bulk_path_verified_to_their_end(tmp_path, monkeypatch):
    def text(prefix: str) -> bytes:
        return "".join(json.dumps(record(request_id=f"{prefix}{i}")) + "\n" for i in range(300)).encode()

    gz, zst = tmp_path / "a.jsonl.gz", tmp_path / "b.jsonl"  # zstd content under a plain name
    gz.write_bytes(gzip.compress(text("g")))
    zst.write_bytes(zstandard.ZstdCompressor().compress(text("z")))
    entries = _same_outcome(_ingest_both(tmp_path, gz, zst, monkeypatch=monkeypatch))
    assert [e["written"] for e in entries] == [300, 300]
    truncated = tmp_path / "cut" / "c.jsonl.zst"
    truncated.parent.mkdir()
    truncated.write_bytes(zst.read_bytes()[:-20])
    monkeypatch.setattr(stage_module, "BULK_MIN_BYTES", 0)
    with pytest.raises(Exception, match="could not be read"):
        ingest([str(truncated)], Warehouse(str(tmp_path / "cut-wh")), hash_key=HASH_KEY)


def test_rows_wait_for_a_scan_that_lags_behind_the_reader(tmp_path, monkeypatch):
    """A local file is scanned on a thread while read_json parses it: a table of rows waits until the scan has
    settled its lines (blank lines shift the numbering, odd ones take the line path), however far behind."""
    lines: list[dict[str, Any] | str] = []
    for i in range(240):
        lines.append(record(request_id=f"r{i}"))
        if i % 17 == 3:
            lines.append("")
        if i % 29 == 5:
            lines += ["{broken", "  ", "[1]"]
    path = write_lines(tmp_path / "x.jsonl", lines)
    monkeypatch.setattr(bulk, "PIECE_BYTES", 512)
    monkeypatch.setattr(bulk, "BULK_ROWS", 64)
    odd_lines, through_rows = bulk._odd_lines, bulk.ScanThread.through_rows
    asked = threading.Event()  # the scan's first block waits until rows have asked for their lines

    def held_odd_lines(*args: Any) -> Any:
        asked.wait(timeout=10)
        asked.set()  # held once only
        return odd_lines(*args)

    waited_early = []

    def recording(self: bulk.ScanThread, rows: int) -> Any:
        waited_early.append(not self.scan.done)
        asked.set()
        return through_rows(self, rows)

    monkeypatch.setattr(bulk, "_odd_lines", held_odd_lines)
    monkeypatch.setattr(bulk.ScanThread, "through_rows", recording)
    [entry] = _same_outcome(_ingest_both(tmp_path, path, monkeypatch=monkeypatch))
    assert waited_early[0]  # the first rows waited for a scan that had not begun
    assert (entry["lines"], entry["written"], entry["quarantined"]) == (len(lines), 240, 9 * 2)
    assert entry["ignored"] == 9 + 14  # blank lines: the "  " ones and the empty ones


def test_a_line_that_does_not_parse_sends_the_read_again_with_ignore_errors(tmp_path, monkeypatch):
    lines: list[dict[str, Any] | str] = [record(request_id=f"a{i}") for i in range(200)]
    path = write_lines(tmp_path / "x.jsonl", [*lines, "{broken", record(request_id="b0"), record(request_id="b1")])
    reads = []
    read_tables = bulk._read_tables

    def recording(*args: Any, **kwargs: Any) -> Any:
        reads.append((args[4], kwargs["skip"]))  # (tolerant, rows skipped)
        return read_tables(*args, **kwargs)

    monkeypatch.setattr(bulk, "_read_tables", recording)
    reader = bulk.reader_connection(None)
    given = bulk.read_rows(reader, str(path), BY_NAME["canonical"])
    ids = pa.concat_tables(list(given)).column("request_id").to_pylist()
    assert ids == [f"a{i}" for i in range(200)] + [None, "b0", "b1"]
    assert [tolerant for tolerant, _ in reads] == [False, True]


@pytest.mark.slow
def test_a_line_past_duckdbs_object_size_is_read_with_room_for_the_longest_line(tmp_path, monkeypatch):
    """read_json stops at a line past its maximum_object_size (16 MiB at least), with ignore_errors too: while
    the scan runs the longest line is not known, so the read is made again, past the rows given, with room for
    it."""
    short = [json.dumps(record(request_id=f"a{i}")) for i in range(100_000)]
    long_line = json.dumps(record(request_id="long", model="m" * (MAX_LINE_BYTES + (1 << 20))))
    path = tmp_path / "x.jsonl"
    path.write_text("\n".join([*short, long_line, *(line.replace('"a', '"b') for line in short)]) + "\n")
    reads = []
    read_tables = bulk._read_tables

    def recording(*args: Any, **kwargs: Any) -> Any:
        reads.append((args[3], args[4]))  # (longest, tolerant)
        return read_tables(*args, **kwargs)

    monkeypatch.setattr(bulk, "_read_tables", recording)
    longest = len(long_line) + 1
    tables = bulk.read_rows(
        bulk.reader_connection(None), str(path), BY_NAME["canonical"], MAX_LINE_BYTES, lambda: longest
    )
    ids = [i for table in tables for i in table.column("request_id").to_pylist()]
    assert ids == [f"a{i}" for i in range(100_000)] + ["long"] + [f"b{i}" for i in range(100_000)]
    assert reads == [(MAX_LINE_BYTES, False), (MAX_LINE_BYTES, True), (longest, True)]


def test_a_second_read_skips_the_rows_the_first_gave(tmp_path, monkeypatch):
    monkeypatch.setattr(bulk, "BULK_ROWS", 100)
    path = write_lines(tmp_path / "x.jsonl", [record(request_id=f"r{i}") for i in range(250)])
    reader = bulk.reader_connection(None)
    for skip in (0, 1, 99, 100, 101, 249, 250):
        tables = list(bulk._read_tables(reader, str(path), BY_NAME["canonical"], MAX_LINE_BYTES, True, skip=skip))
        ids = [i for table in tables for i in table.column("request_id").to_pylist()]
        assert ids == [f"r{i}" for i in range(skip, 250)]


def test_a_file_with_too_many_odd_lines_is_read_line_by_line_alike(tmp_path, monkeypatch):
    monkeypatch.setattr(bulk, "ODD_FLOOR", 1)
    monkeypatch.setattr(bulk, "ODD_SHARE", 0.0)
    path = write_lines(tmp_path / "x.jsonl", [record(request_id="a"), "", " ", record(request_id="b")])
    monkeypatch.setattr(stage_module, "BULK_MIN_BYTES", 0)
    warehouse = Warehouse(str(tmp_path / "wh"))
    report = ingest([str(path)], warehouse, hash_key=HASH_KEY)
    assert report.files[0].read_by == "lines" and report.summary()["written"] == 2


@pytest.mark.slow
@pytest.mark.parametrize("name", BULK_FORMATS)
def test_every_bulk_format_is_ingested_alike_by_both_paths(tmp_path, monkeypatch, name):
    import datetime as dt

    from devkit.simulate import simulate
    from devkit.simulate.formats import write

    frame = simulate(dt.date(2026, 1, 5), 1, 800, seed=5)
    path = tmp_path / f"{name}.jsonl"
    write(frame, str(path), name, compression=None)
    first = path.read_text().split("\n", 1)[0]
    with open(path, "a") as handle:  # a bad line, a blank one, the first line again with a form feed after it
        handle.write("{broken\n\n" + first + "\f\n")
    [entry] = _same_outcome(_ingest_both(tmp_path, path, monkeypatch=monkeypatch))
    assert entry["written"] >= 700 and entry["quarantined"] >= 2 and not math.isnan(entry["records"])


def test_lines_the_bulk_form_cannot_map_without_their_text_take_the_line_path(tmp_path, monkeypatch):
    """Raw provider bodies with no id are keyed by their line's hash, and those that name no provider are told by
    fields only one server writes: the bulk form has no line text, so the bulk path redoes them by line."""
    import datetime as dt

    from devkit.simulate import simulate
    from devkit.simulate.formats import write

    path = tmp_path / "bodies.jsonl"
    write(simulate(dt.date(2026, 1, 5), 1, 400, seed=5), str(path), "provider-bodies", compression=None)
    real = _corpus_file(tmp_path, "provider-bodies")
    assert real is not None
    reader = bulk.reader_connection(None)
    needed = bulk.text_needed(
        transform_connection(),
        BY_NAME["provider-bodies"],
        next(bulk.read_rows(reader, str(real), BY_NAME["provider-bodies"])),
    )
    reader.close()
    assert needed.sum() >= 20  # the real bare bodies: no envelope, most without an id or a provider's name
    with open(path, "a") as handle:
        handle.write(real.read_text())
    warehouses = _ingest_both(tmp_path, path, monkeypatch=monkeypatch)
    [entry] = _same_outcome(warehouses)
    rows = stored(warehouses["bulk"])
    assert entry["written"] >= 400 and any(row["request_id"].startswith("body-") for row in rows)


_T = '"timestamp": "2026-01-05T00:00:00Z"'
_CHAT = '"object": "chat.completion", "created": 1767571200, "model": "gpt-4o", "choices": [{"finish_reason": "stop"}]'
_ANTHROPIC = '"type": "message", "id": "msg_1", "model": "claude-sonnet-4-5", "content": [], "stop_reason": "end_turn"'
#: Provider bodies whose mapping reads their line's text (no id anywhere; a chat, Responses or embeddings shape
#: naming no provider) and bodies that do not, each envelope key beside the body's or without it.
_NEEDS_TEXT = [
    "{" + f'"provider": "openai", {_T}, "response": {{{_CHAT}}}' + "}",  # no id anywhere
    "{" + f'"id": "top", "provider": "openai", {_T}, "response": {{{_CHAT}}}' + "}",  # an id beside the body's
    "{" + f'"request_id": "r", "provider": null, {_T}, "response": {{"id": "c", {_CHAT}, "x_groq": {{}}}}' + "}",
    "{" + f'"request_id": "r", {_T}, "response": {{"id": "c", {_CHAT}, "prompt_filter_results": null}}' + "}",
    "{" + f'"provider": "openai", {_T}, "response": null, {_CHAT}' + "}",  # a bare body with no id
    "{" + f'{_T}, "id": "c", {_CHAT}' + "}",  # a bare body naming no provider
    # an empty id and an empty name are none (servers that fill every unset field write them)
    "{" + f'"request_id": "", "provider": "", {_T}, "response": {{"id": "", {_CHAT}}}' + "}",
    '{"object": "list", "data": [], "usage": {"prompt_tokens": 1}, "model": "e", "created": 1, "id": "x"}',
]
#: Bare bodies that need nothing of their text: the bulk form of a file of envelopes leaves them to the line path
#: (it does not type a bare body's nested keys), the other bulk form maps them.
_BARE = [
    "{" + f'"provider": "openai", {_T}, "response": null, "id": "c", {_CHAT}' + "}",
    "{" + f"{_T}, {_ANTHROPIC}" + "}",
    "{" + f'"request_id": "r", {_T}, "usage": {{"input_tokens": "1"}}' + "}",  # one nested key is enough
]
_NO_TEXT = [
    "{" + f'"request_id": "r", "provider": "openai", {_T}, "response": {{"id": "c", {_CHAT}}}' + "}",
    "{" + f'"request_id": "r", {_T}, "response": {{"id": "c", "provider": "x", {_CHAT}}}' + "}",
    "{" + f'"request_id": "r", "provider": "openai", {_T}, "response": {{}}' + "}",
    "{" + f'"request_id": "r", "provider": "openai", {_T}, "response": "oops"' + "}",
    "{" + f'{_T}, "response": {{{_ANTHROPIC}}}' + "}",  # no name, but a shape no marker tells apart
    # an envelope with no body at all (an upstream that failed before answering), beside it a body's flat keys
    # (an error's text, the model), or nested ones set to null
    "{" + f'"request_id": "r", "provider": "openai", {_T}, "status_code": 502, "response": null' + "}",
    "{" + f'"request_id": "r", "provider": "openai", {_T}, "status_code": 504, "response": null, '
    '"error": "upstream timeout", "model": "gpt-4o", "status": "failed", "object": "error"}',
    "{" + f'"request_id": "r", "provider": "openai", {_T}, "status_code": 502, "id": null, "choices": null' + "}",
    '{"provider": "openai", "response": {"provider": "groq", "request_id": "q", ' + _CHAT + "}}",
    # tools and tool calls that are not all objects (read_json reads the file again, forgiving), a Gemini tool
    # with no declarations
    '{"request_id": "t", "provider": "openai", "timestamp": 1767571200, "request": {"tools": ["web_search", '
    '{"functionDeclarations": null, "googleSearch": {}}, {"function_declarations": [{"name": "a"}]}]}, '
    '"response": {"id": "c", "object": "chat.completion", "choices": [{"finish_reason": "tool_calls", '
    '"message": {"tool_calls": ["x", {"type": "function", "function": {"arguments": "{\\"q\\": 1}"}}]}}]}}',
]


def test_both_parsers_read_the_real_bodies_alike_in_the_proxy_envelope(tmp_path):
    """The real bodies (most of which, bare, need their line's text) each in an envelope naming its request id and
    provider: none needs its text, and the bulk form maps every one as the line form does."""
    real = _corpus_file(tmp_path, "provider-bodies")
    assert real is not None
    providers = ["openai", "anthropic", "google-vertex", "azure", "groq"]
    lines = []
    for number, body in enumerate(real.read_text().splitlines()):
        envelope = {"timestamp": "2026-01-05T00:00:00Z", "request_id": f"r{number}", "attempt": 1}
        envelope |= {"provider": providers[number % len(providers)], "status_code": 200 + 229 * (number % 2)}
        lines.append(json.dumps(envelope)[:-1] + ', "response": ' + body + "}")
    path = tmp_path / "enveloped.jsonl"
    path.write_text("\n".join(lines) + "\n")
    as_bulk, as_lines = _both_forms("provider-bodies", path)
    assert len(as_bulk) == len(lines) and as_bulk == as_lines


#: The provider bodies' two bulk forms (`provider_bodies.configure`) and the lines each leaves to the line path.
_BODY_FORMS = {"any": _NEEDS_TEXT, "envelopes": _NEEDS_TEXT + _BARE}


def _body_form(form: str) -> Adapter:
    return BY_NAME["provider-bodies"] if form == "any" else provider_bodies.configure(['{"response": {}}'])


@pytest.mark.parametrize("form", sorted(_BODY_FORMS))
def test_lines_whose_mapping_reads_their_text_are_found_and_no_others(tmp_path, form):
    adapter, redone = _body_form(form), _BODY_FORMS[form]
    path = tmp_path / "bodies.jsonl"
    lines = _NEEDS_TEXT + _BARE + _NO_TEXT
    path.write_text("\n".join(lines) + "\n")
    reader = bulk.reader_connection(None)
    [rows] = bulk.read_rows(reader, str(path), adapter)
    reader.close()
    needed = bulk.text_needed(transform_connection(), adapter, rows)
    assert needed.tolist() == [line in redone for line in lines]
    for number, line in enumerate(lines):  # alone: a table where some keys are on every row
        alone = bulk.text_needed(transform_connection(), adapter, rows.slice(number, 1))
        assert alone.tolist() == [line in redone], line
    as_bulk, as_lines = _both_forms("provider-bodies", path, adapter)  # the lines the bulk form keeps, read alike
    assert len(as_bulk) == len(lines) - len(redone) and as_bulk == as_lines


def test_a_file_takes_the_bulk_form_of_envelopes_when_most_of_its_first_lines_are_envelopes():
    envelope, bare = json.dumps({"request_id": "r", "response": {"id": "c"}}), json.dumps({"id": "c", "choices": []})
    envelopes = provider_bodies.configure([envelope, envelope, bare, "not json"])
    assert envelopes.bulk_columns != BY_NAME["provider-bodies"].bulk_columns
    assert envelopes.select_sql == BY_NAME["provider-bodies"].select_sql  # the line path reads every line alike
    assert provider_bodies.configure([envelope, bare]) is BY_NAME["provider-bodies"]
    assert provider_bodies.configure([]) is BY_NAME["provider-bodies"]
    assert detect([envelope, envelope, bare], "x.jsonl") == envelopes


def test_a_file_of_spendlogs_rows_is_read_in_bulk_by_the_form_of_rows(tmp_path):
    """A SpendLogs row holds its `response` as a string of JSON, which the payloads' form types as an object (read
    as an empty one), so that form leaves every row to the line path. The form of rows reads every line in bulk:
    the corpus's LiteLLM samples (rows and payloads) and rows storing their response and request, as text and as
    objects, as its line form does and as the payloads' line form does."""
    from tests.test_adapters_litellm import _stored  # a row of a proxy that stores prompts

    real = _corpus_file(tmp_path, "litellm")
    assert real is not None
    lines = real.read_text().splitlines() + [json.dumps(_stored(as_text)) for as_text in (True, False)]
    path = tmp_path / "rows.jsonl"
    path.write_text("\n".join(lines) + "\n")
    rows_form = litellm.configure(['{"request_id": "r"}'])
    as_bulk, as_lines = _both_forms("litellm", path, rows_form)
    assert len(as_bulk) == len(lines) and as_bulk == as_lines
    in_bulk, in_lines = _both_forms("litellm", path, BY_NAME["litellm"])
    assert in_bulk == in_lines and {r["source_format"] for r in in_bulk} == {"litellm"}  # rows: to the line path
    by_payloads = adapt("litellm", *lines, source_uri=path.as_uri())
    columns = list(as_lines[0])
    assert [[r[c] for c in columns] for r in by_payloads] == [[r[c] for c in columns] for r in as_lines]


@pytest.mark.parametrize("form", sorted(_BODY_FORMS))
def test_a_line_that_needs_its_text_fails_the_bulk_form_rather_than_map_without_it(tmp_path, form):
    adapter = _body_form(form)
    con = transform_connection()
    for line in _BODY_FORMS[form]:
        path = tmp_path / "body.jsonl"
        path.write_text(line + "\n")
        reader = bulk.reader_connection(None)
        [rows] = bulk.read_rows(reader, str(path), adapter)
        reader.close()
        con.register("bulk", rows.append_column("source_line", pa.array([1])))
        try:
            with pytest.raises(duckdb.Error, match=_sql.NO_TEXT):
                con.sql(batch_sql(adapter, bulk=True), params=batch_params(adapter, "x", HASH_KEY)).fetchall()
        finally:
            con.unregister("bulk")


def test_a_file_whose_line_needing_its_text_slips_past_is_read_line_by_line(tmp_path, monkeypatch):
    path = tmp_path / "bodies.jsonl"
    path.write_text("\n".join(_NO_TEXT + _NEEDS_TEXT[:1]) + "\n")
    monkeypatch.setattr(bulk, "text_needed", lambda con, adapter, table: np.zeros(table.num_rows, dtype=bool))
    warehouses = _ingest_both(tmp_path, path, monkeypatch=monkeypatch)
    assert stored(warehouses["bulk"]) == stored(warehouses["lines"])
    [entry] = ledger_entries(warehouses["bulk"])
    assert entry["read_by"] == "lines" and entry["records"] == len(_NO_TEXT) + 1


def test_the_lines_that_need_their_text_are_found_by_row_whatever_the_order_duckdb_returns(tmp_path):
    adapter = BY_NAME["provider-bodies"]
    path = tmp_path / "bodies.jsonl"
    path.write_text("\n".join(_NEEDS_TEXT[0] if n % 7 == 0 else _NO_TEXT[0] for n in range(300_000)) + "\n")
    reader = bulk.reader_connection(None)
    rows = pa.concat_tables(bulk.read_rows(reader, str(path), adapter))
    reader.close()
    needed = bulk.text_needed(stage_module.connect(threads=2), adapter, rows)  # rows come back out of order
    assert np.flatnonzero(needed).tolist() == list(range(0, 300_000, 7))


def test_a_stray_line_does_not_turn_the_otel_reader_off_its_objects(tmp_path, monkeypatch):
    """One column (resourceSpans) and a line that is not an object among the first: read_json still reads every
    other line as an object (`records`), so the file stays on the bulk path."""
    monkeypatch.setattr(bulk, "ODD_FLOOR", 3)  # the two stray lines may take the line path, not the others
    sample = sorted((CORPUS / "otel").rglob("*.jsonl"))[0].read_text().splitlines()[0]
    path = write_lines(tmp_path / "otel.jsonl", ["[1, 2]", "12", sample, sample])
    [entry] = _same_outcome(_ingest_both(tmp_path, path, monkeypatch=monkeypatch))
    assert entry["quarantined"] == 2


def test_a_file_named_like_a_glob_or_an_archive_is_read_as_itself(tmp_path, monkeypatch):
    folder = tmp_path / "in"
    odd_names = [folder / "x[1].jsonl", folder / "plain.jsonl.gz"]
    write_lines(folder / "x1.jsonl", [record(request_id="decoy")])
    for number, path in enumerate(odd_names):
        write_lines(path, [record(request_id=f"r{number}-{i}") for i in range(3)])
    entries = _same_outcome(_ingest_both(tmp_path, *odd_names, monkeypatch=monkeypatch))
    assert [e["written"] for e in entries] == [3, 3]


def test_a_file_of_unreadable_lines_is_read_line_by_line(tmp_path, monkeypatch):
    monkeypatch.setattr(bulk, "ODD_FLOOR", 2)
    monkeypatch.setattr(bulk, "ODD_SHARE", 0.1)
    lines = [record(request_id=f"r{i}") for i in range(20)] + ["{broken"] * 5
    monkeypatch.setattr(stage_module, "BULK_MIN_BYTES", 0)
    report = ingest([str(write_lines(tmp_path / "x.jsonl", lines))], Warehouse(str(tmp_path / "wh")), hash_key=HASH_KEY)
    assert report.files[0].read_by == "lines" and (report.written, report.quarantined) == (20, 5)


def test_a_byte_order_mark_is_not_measured_as_part_of_the_first_line():
    from pipelines.lib.reader import lines_batch

    line = b'{"a":12}\n'
    batch = lines_batch([(1, b"\xef\xbb\xbf" + line, 3 + len(line))], max_line_bytes=len(line))
    assert batch.lines.column("raw").to_pylist() == [line.decode()] and not batch.rejected


def test_the_bulk_size_counts_a_compressed_file_by_its_bytes_and_an_unknown_size_as_big(tmp_path, monkeypatch):
    """`stage.big_enough_for_bulk`: a compressed file (by its magic bytes, whatever its name) counts
    COMPRESSION_RATIO_GUESS times its size; a size the store did not give (0) counts as big; None reads every file
    line by line."""
    from pipelines.lib.storage import SourceFile

    monkeypatch.setattr(stage_module, "BULK_MIN_BYTES", 1000)
    guess = stage_module.COMPRESSION_RATIO_GUESS
    text = (tmp_path / "plain.jsonl").as_posix()
    Path(text).write_bytes(b"{}\n" * 400)
    named_plain = tmp_path / "zstd-inside.log"  # compressed, its name says nothing
    named_plain.write_bytes(zstandard.compress(b"{}\n" * 400))
    sized = {
        (text, 999): False,
        (text, 1000): True,
        (text, 0): True,
        (named_plain.as_posix(), 1000 // guess + 1): True,
        (named_plain.as_posix(), 1000 // guess - 1): False,
    }
    for (url, size), expected in sized.items():
        assert stage_module.big_enough_for_bulk(SourceFile(url, size, ""), {}) is expected, (url, size)
    monkeypatch.setattr(stage_module, "BULK_MIN_BYTES", None)
    assert not stage_module.big_enough_for_bulk(SourceFile(text, 10**9, ""), {})


@pytest.mark.slow
def test_a_file_under_the_bulk_size_is_read_line_by_line(tmp_path, monkeypatch):
    """From BULK_MIN_BYTES (uncompressed, estimated) a file is read in bulk, under it line by line, with the same
    records; a compressed file's size counts COMPRESSION_RATIO_GUESS times; None reads every file line by line."""
    plain = write_lines(tmp_path / "a.jsonl", [record(request_id=f"a{i}") for i in range(20)])
    packed = tmp_path / "b.jsonl.zst"
    packed.write_bytes(zstandard.compress(write_lines(tmp_path / "b", [record(request_id="b")] * 3).read_bytes()))
    guess = stage_module.COMPRESSION_RATIO_GUESS
    cases = [
        (plain, plain.stat().st_size, "bulk", 20),
        (plain, plain.stat().st_size + 1, "lines", 20),
        (plain, None, "lines", 20),
        (packed, packed.stat().st_size * guess, "bulk", 1),
        (packed, packed.stat().st_size * guess + 1, "lines", 1),
    ]
    for number, (path, threshold, read_by, written) in enumerate(cases):
        monkeypatch.setattr(stage_module, "BULK_MIN_BYTES", threshold)
        report = ingest([str(path)], Warehouse(str(tmp_path / f"w{number}")), hash_key=HASH_KEY)
        assert (report.files[0].read_by, report.written) == (read_by, written), (path.name, threshold)


def _simulated_bodies(tmp_path: Path, change: Any) -> Path:
    """Simulated envelopes of provider bodies, each line's object passed through `change` (with its number; a line
    it gives None for is left out)."""
    import datetime as dt

    from devkit.simulate import simulate
    from devkit.simulate.formats import write

    path = tmp_path / "simulated.jsonl"
    write(simulate(dt.date(2026, 1, 5), 1, 300, seed=7), str(path), "provider-bodies", compression=None)
    changed = (change(n, json.loads(line)) for n, line in enumerate(path.read_text().splitlines()))
    path.write_text("".join(json.dumps(line) + "\n" for line in changed if line is not None))
    return path


def _failed_without_a_body(number: int, line: dict[str, Any]) -> dict[str, Any]:
    """Every tenth line: an attempt the upstream never answered, the proxy's error text and the model beside."""
    if number % 10:
        return line
    return line | {"status_code": 504, "response": None, "error": "upstream timeout", "model": "gpt-4o"}


def _flattened(number: int, line: dict[str, Any]) -> dict[str, Any] | None:
    """The envelope's keys and the body's side by side, no `response`, for the bodies that are not chat completions
    (a flattened chat completion naming its provider reads as OpenRouter's)."""
    body = line.pop("response") or {}
    if "choices" in body or not body:
        return None
    return line | {key: value for key, value in body.items() if key not in line}


@pytest.mark.parametrize("change", [_failed_without_a_body, _flattened])
def test_files_of_envelopes_with_bodyless_lines_and_of_flattened_envelopes_stay_on_the_bulk_path(
    tmp_path, monkeypatch, change
):
    """Past 5% of lines redone, a file is read line by line: lines with a body's flat keys beside a null response
    are read in bulk (the bulk form of envelopes types them), and a file of bodies with the envelope's keys beside
    them takes the other bulk form."""
    monkeypatch.setattr(bulk, "ODD_FLOOR", 1)
    path = _simulated_bodies(tmp_path, change)
    warehouses = _ingest_both(tmp_path, path, monkeypatch=monkeypatch)
    [entry] = _same_outcome(warehouses)  # read by the bulk path in the bulk warehouse
    assert entry["source_format"] == "provider-bodies" and entry["written"] == entry["lines"] >= 100
