"""Ingest: conservation, quarantine reasons, idempotency, sources and formats, atomicity, privacy (which record a
key keeps: tests/test_dedupe.py)."""

from __future__ import annotations

import gzip
import hashlib
import hmac
import json
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
import zstandard

from pipelines.lib import ingest as ingest_module
from pipelines.lib.ingest import commit
from pipelines.lib.storage import SourceError, Warehouse
from schemas.bulk import arrow_schema
from tests.conftest import HASH_KEY, quarantined, record, stored, write_lines


def test_every_line_is_counted_once(tmp_path, warehouse, run_ingest):
    lines = [
        record(request_id="a"),
        record(request_id="b", created_at="2025-06-02T00:00:00Z"),
        record(request_id="a"),  # duplicate of line 1
        "{not json",
        "",
        record(request_id="c", completion_tokens=-5),
    ]
    report = run_ingest(write_lines(tmp_path / "in.jsonl", lines))
    assert (report.lines, report.written, report.duplicates, report.quarantined, report.ignored) == (6, 2, 1, 2, 1)
    assert report.files[0].ignored_reasons == {"blank line": 1}  # skipped, and counted
    assert report.balanced
    assert report.days == ["2025-06-01", "2025-06-02"]
    assert [r["request_id"] for r in stored(warehouse)] == ["a", "b"]


@pytest.mark.fast_cases(1)
@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ("{not json", "not JSON"),
        ("[1, 2]", "not a JSON object"),
        (
            record(created_at="2025-06-01T12:00:00+99:00"),
            "created_at is not an ISO 8601 timestamp ('2025-06-01T12:00:00+99:00')",
        ),
        (record(created_at=None), "created_at missing"),
        (record(request_id=None), "request_id missing"),
        (record(request_id=""), "request_id is empty"),
        (record(status="ok"), "status 'ok' is not one of success|error|cancelled"),
        (record(completion_tokens=-5), "completion_tokens is negative (-5)"),
        (record(attempt=0), "attempt (0) is below 1"),
        (record(attempt="abc"), "attempt is not an integer ('abc')"),
        (record(created_at="yesterday"), "created_at is not an ISO 8601 timestamp ('yesterday')"),
        (
            record(created_at="1999-01-01T00:00:00Z"),
            "created_at (1999-01-01T00:00:00+00:00) is outside 2015..2099",
        ),
        (record(streamed="maybe"), "streamed is not a boolean ('maybe')"),
        (record(http_status=700), "http_status (700) is above 599"),
    ],
)
def test_quarantine_reason_is_readable(tmp_path, warehouse, run_ingest, line, reason):
    source = write_lines(tmp_path / "bad.jsonl", [record(request_id="ok"), line])
    report = run_ingest(source)
    assert (report.written, report.quarantined) == (1, 1)
    [row] = quarantined(warehouse)
    assert row["reason"] == reason
    assert row["source_line"] == 2
    assert row["source_uri"] == f"file://{source}"
    assert row["source_format"] == "canonical"


def test_epoch_times_are_read_in_the_unit_their_magnitude_says(tmp_path, warehouse, run_ingest):
    """Seconds, milliseconds, microseconds and nanoseconds since 1970 (as JSON numbers or text, fractions too): each
    the same instant; an integer is read exactly, nanoseconds to the microsecond."""
    spellings = [
        1748779200,
        "1748779200",
        1748779200.123456,
        1748779200123,
        "1748779200123.456",
        1748779200123456,
        "1748779200123456789",
        " 1.7487792e9 ",
    ]
    lines = [record(request_id=f"t{n}", created_at=value) for n, value in enumerate(spellings)]
    report = run_ingest(write_lines(tmp_path / "epochs.jsonl", lines))
    assert (report.written, report.quarantined) == (len(spellings), 0)
    got = {r["request_id"]: r["created_at"] for r in stored(warehouse)}
    base = datetime(2025, 6, 1, 12, tzinfo=UTC)
    micros = [0, 0, 123456, 123000, 123456, 123456, 123456, 0]
    assert [got[f"t{n}"] for n in range(len(spellings))] == [base + timedelta(microseconds=m) for m in micros]


def test_empty_texts_are_stored_as_absent(tmp_path, warehouse, run_ingest):
    """ "" says nothing: no model, app or error code named "", and no user whose id is "" (one hash for every line
    without a user would count as one user)."""
    line = record(model="", model_requested="", app_id="", error_code="", user_id="")
    run_ingest(write_lines(tmp_path / "blank.jsonl", [line]))
    [got] = stored(warehouse)
    assert [got[k] for k in ("model", "model_requested", "app_id", "error_code", "user_hash")] == [None] * 5


@pytest.mark.slow
def test_several_problems_are_all_named(tmp_path, warehouse, run_ingest):
    run_ingest(write_lines(tmp_path / "x.jsonl", [record(created_at=None, prompt_tokens=-1, status="nope")]))
    [row] = quarantined(warehouse)
    assert row["reason"] == (
        "created_at missing; status 'nope' is not one of success|error|cancelled; prompt_tokens is negative (-1)"
    )


@pytest.mark.slow
def test_invalid_utf8_line_is_quarantined_alone(tmp_path, warehouse, run_ingest):
    good = json.dumps(record(request_id="ok")).encode()
    source = tmp_path / "latin1.jsonl"
    source.write_bytes(good + b"\n" + b'{"request_id": "caf\xe9"}\n' + good.replace(b"ok", b"ok2") + b"\n")
    report = run_ingest(source)
    assert (report.lines, report.written, report.quarantined) == (3, 2, 1)
    [row] = quarantined(warehouse)
    assert (row["source_line"], row["reason"]) == (2, "not valid UTF-8")


@pytest.mark.slow
def test_quarantine_never_keeps_prompt_or_completion_text(tmp_path, warehouse, run_ingest):
    secret = "my SSN is 078-05-1120"
    lines = [
        record(completion_tokens=-1, messages=[{"role": "user", "content": secret}]),
        '{"request_id": "x", "content": "' + secret + '", broken',
    ]
    run_ingest(write_lines(tmp_path / "s.jsonl", lines))
    rows = quarantined(warehouse)
    assert len(rows) == 2
    assert all(secret not in row["raw"] for row in rows)
    assert "redacted" in rows[0]["raw"] and rows[1]["raw"].startswith('{"broken_json": {"chars": 62')


def test_text_that_rides_in_a_metadata_field_is_neither_stored_nor_quoted(tmp_path, warehouse, run_ingest):
    """A logger that puts a message object where a model or id goes, or a long text where a status or a count goes:
    the record is quarantined, its reason quotes none of it, and the quarantined line keeps none of it."""
    secret = "my SSN is 078-05-1120"
    message = {"role": "user", "content": secret}
    lines = [
        record(request_id="a", model=message),
        record(request_id=[message]),
        record(request_id="c", model=json.dumps(message)),
        record(request_id="d", prompt_tokens=message),
        record(request_id="e", status="error: " + secret * 20),
        record(request_id="ok"),
    ]
    report = run_ingest(write_lines(tmp_path / "s.jsonl", lines))
    assert (report.written, report.quarantined) == (1, 5)
    reasons = {row["source_line"]: row["reason"] for row in quarantined(warehouse)}
    assert reasons[1] == reasons[3] == "model is a JSON object or array, not text"
    assert reasons[2] == "request_id is a JSON object or array, not text"
    assert reasons[4] == "prompt_tokens is not an integer ('[49 chars not shown]')"
    assert reasons[5].startswith("status '[427 chars not shown]' is not one of")
    assert not any(secret in row["raw"] + row["reason"] for row in quarantined(warehouse))


def test_text_that_only_starts_like_json_is_text(tmp_path, warehouse, run_ingest):
    """A model named `[beta] x`, an id in braces (`{GUID}`), an app `[prod] chat`: not JSON, stored as given."""
    guid = "{3F2504E0-4F89-11D3-9A0C-0305E82C3301}"
    line = record(request_id=guid, model="[beta] x", app_id="[prod] chat", error_code="[object Object]")
    assert run_ingest(write_lines(tmp_path / "t.jsonl", [line])).written == 1
    [got] = stored(warehouse)
    assert (got["request_id"], got["model"], got["app_id"]) == (guid, "[beta] x", "[prod] chat")


def test_an_empty_value_hides_no_fallback(tmp_path, warehouse, run_ingest):
    """`user_id` "" and `user` "bob": the user is bob (a logger that writes every field, empty when unknown)."""
    run_ingest(write_lines(tmp_path / "u.jsonl", [record(request_id="a", user_id="", user="bob")]))
    run_ingest(write_lines(tmp_path / "v.jsonl", [record(request_id="b", user_id="bob")]))
    assert len({row["user_hash"] for row in stored(warehouse)}) == 1 and stored(warehouse)[0]["user_hash"]


def test_user_ids_are_stored_only_as_keyed_hashes(tmp_path, warehouse, run_ingest):
    run_ingest(write_lines(tmp_path / "u.jsonl", [record(user_id="alice@example.com")]))
    [row] = stored(warehouse)
    assert row["user_hash"] == hmac.new(HASH_KEY, b"alice@example.com", hashlib.sha256).hexdigest()
    assert "user_id" not in row
    blob = b"".join(p.read_bytes() for p in Path(warehouse.root).rglob("*") if p.is_file())
    assert b"alice@example.com" not in blob


def test_reingesting_the_same_file_changes_nothing(tmp_path, warehouse, run_ingest):
    source = write_lines(tmp_path / "in.jsonl", [record(request_id=f"r{i}") for i in range(5)] + ["oops"])
    first = run_ingest(source)
    before = {p: p.read_bytes() for p in Path(warehouse.root).rglob("*.parquet")}
    second = run_ingest(source)
    assert first.written == 5 and second.skipped_files == 1 and second.lines == 0
    assert {p: p.read_bytes() for p in Path(warehouse.root).rglob("*.parquet")} == before


@pytest.mark.slow
def test_partition_is_sorted_and_matches_the_record_schema(tmp_path, warehouse, run_ingest):
    rows = [
        record(request_id="1", provider_native="Together", model="qwen/qwen3", created_at="2025-06-01T03:00:00Z"),
        record(request_id="2", provider_native="Anthropic", model="b", created_at="2025-06-01T02:00:00Z"),
        record(request_id="3", provider_native="Anthropic", model="a", created_at="2025-06-01T05:00:00Z"),
        record(request_id="4", provider_native="Anthropic", model="a", created_at="2025-06-01T01:00:00Z"),
    ]
    run_ingest(write_lines(tmp_path / "x.jsonl", rows))
    table = pq.read_table(warehouse.partition_path("2025-06-01"))
    assert table.column("request_id").to_pylist() == ["4", "3", "2", "1"]
    assert [(f.name, f.type) for f in table.schema] == [(f.name, f.type) for f in arrow_schema()]
    metadata = pq.ParquetFile(warehouse.partition_path("2025-06-01")).metadata
    assert metadata.row_group(0).column(0).compression == "ZSTD"


def test_a_days_rows_are_put_in_storage_order_as_duckdb_orders_them():
    """`commit.storage_order` sorts text as bytes ('' < 'A' < 'o' < 'é'), a prefix first, NULLs last, then by time,
    request id and attempt, then by source (a stored record and the one it gives way to), whatever chunks the rows
    come in."""
    t0 = datetime(2025, 6, 1, 12, tzinfo=UTC)
    rows = [  # provider, model, created_at, request_id, attempt, source_uri, source_line
        ("openai", "gpt-4o", t0, "b", 1, "file:///b.jsonl", 1),
        ("openai", "gpt-4o", t0, "a", 2, "file:///b.jsonl", 2),
        ("openai", "gpt-4o", t0, "a", 1, "file:///b.jsonl", 3),
        ("openai", "gpt-4", t0 + timedelta(hours=1), "c", 1, "file:///b.jsonl", 4),
        ("Anthropic", "claude", t0 + timedelta(hours=2), "d", 1, "file:///b.jsonl", 5),
        (None, "x", t0, "e", 1, "file:///b.jsonl", 6),
        ("openai", None, t0, "f", 1, "file:///b.jsonl", 7),
        ("\u00e9bay", "m", t0, "g", 1, "file:///b.jsonl", 8),
        ("", "m", t0 + timedelta(hours=3), "h", 1, "file:///b.jsonl", 9),
        ("openai", "gpt-4o", t0 - timedelta(microseconds=1), "z", 1, "file:///b.jsonl", 10),
        ("openai", "gpt-4o", t0, "b", 1, "file:///a.jsonl", 7),  # the same record from another file
        ("openai", "gpt-4o", t0, "b", 1, "file:///b.jsonl", 0),  # ... and from an earlier line
    ]
    schema = pa.schema(
        [
            ("provider", pa.string()),
            ("model", pa.string()),
            ("created_at", pa.timestamp("us", tz="UTC")),
            ("request_id", pa.string()),
            ("attempt", pa.int64()),
            ("source_uri", pa.string()),
            ("source_line", pa.int64()),
        ]
    )
    given = pa.Table.from_batches(
        [
            pa.RecordBatch.from_pylist([dict(zip(schema.names, row, strict=True)) for row in part], schema)
            for part in (rows[:4], rows[4:], [])
        ]
    )
    ordered = commit.storage_order(given)
    keys = [(row["request_id"], row["attempt"], row["source_line"]) for row in ordered.to_pylist()]
    assert keys == [
        ("h", 1, 9), ("d", 1, 5), ("c", 1, 4), ("z", 1, 10), ("a", 1, 3), ("a", 2, 2),
        ("b", 1, 7), ("b", 1, 0), ("b", 1, 1), ("f", 1, 7), ("g", 1, 8), ("e", 1, 6),
    ]  # fmt: skip
    duckdb_order = duckdb.sql(f"select * from given order by {', '.join(commit.SORT_KEYS)}").to_arrow_table()
    assert ordered.drop_columns(["created_at"]).equals(duckdb_order.drop_columns(["created_at"]))


@pytest.mark.parametrize("group_days", [3, 2], ids=["more days than threads: copies", "as many: indices"])
def test_each_day_of_a_group_is_written_with_its_rows_in_storage_order(group_days):
    """`commit._day_rows` gives each day of a group exactly its rows, in storage order, from a group in several
    chunks with its days interleaved and rows without a day (rejects): whether it copies the day's rows (a group of
    more days than writer threads) or indexes the group's (as many or fewer)."""
    t0 = datetime(2025, 6, 1, 12, tzinfo=UTC)
    days = ["2025-06-01", "2025-06-02", "2025-06-03"][:group_days]
    rows = [
        {
            "provider": ["openai", "anthropic", None][i % 3],
            "model": ["m2", "m1"][i % 2],
            "created_at": t0 - timedelta(seconds=i),
            "request_id": f"r{i:02d}",
            "attempt": 1 + i % 2,
            "source_uri": "file:///a.jsonl",
            "source_line": i,
            "date": None if i % 7 == 6 else days[i % group_days],
        }
        for i in range(40)
    ]
    chunks = [pa.RecordBatch.from_pylist(rows[start : start + 9]) for start in range(0, 40, 9)]
    group = pa.Table.from_batches(chunks)
    assert group.column("date").num_chunks == 5
    dates, body = group.column("date"), group.drop_columns(["date"])
    for day in days:
        table, order = commit._day_rows(body, dates, day, group_days, threads=2)
        expected = commit.storage_order(group.filter(pc.equal(dates, day)).drop_columns(["date"]))
        assert table.take(order).equals(expected), day
    only = days[0]
    whole = group.filter(pc.equal(dates, only)).drop_columns(["date"])
    table, order = commit._day_rows(whole, whole.column("request_id"), only, 1, threads=2)
    assert table.take(order).equals(commit.storage_order(whole))


@pytest.mark.slow
def test_days_are_utc(tmp_path, warehouse, run_ingest):
    run_ingest(write_lines(tmp_path / "tz.jsonl", [record(created_at="2025-06-01T23:30:00-02:00")]))
    assert warehouse.days() == ["2025-06-02"]
    [row] = stored(warehouse)
    assert row["created_at"].isoformat() == "2025-06-02T01:30:00+00:00"


@pytest.mark.slow
def test_compressed_sources_and_folders(tmp_path, warehouse, run_ingest):
    folder = tmp_path / "landing"
    folder.mkdir()
    payload = "".join(json.dumps(record(request_id=f"g{i}")) + "\n" for i in range(3))
    (folder / "a.jsonl.gz").write_bytes(gzip.compress(payload.encode()))
    zpayload = payload.replace('"g', '"z')
    (folder / "b.jsonl.zst").write_bytes(zstandard.ZstdCompressor().compress(zpayload.encode()))
    (folder / ".hidden.jsonl").write_text("ignored\n")
    report = run_ingest(folder)
    assert (report.lines, report.written) == (6, 6)
    assert len(report.files) == 2


@pytest.mark.slow
def test_glob_and_file_url(tmp_path, warehouse, run_ingest):
    write_lines(tmp_path / "logs" / "a.jsonl", [record(request_id="a")])
    write_lines(tmp_path / "logs" / "b.txt", ["not a log"])
    report = run_ingest(f"file://{tmp_path}/logs/*.jsonl")
    assert [f.url for f in report.files] == [f"file://{tmp_path}/logs/a.jsonl"]


@pytest.mark.slow
def test_memory_filesystem_source_and_warehouse():
    import fsspec

    fs = fsspec.filesystem("memory")
    fs.pipe("/landing/x.jsonl", (json.dumps(record(request_id="m")) + "\n").encode())
    store = Warehouse("memory://wh")
    report = ingest_module.ingest(["memory://landing"], store, hash_key=HASH_KEY)
    assert report.written == 1
    assert store.days() == ["2025-06-01"]
    assert fs.exists("/wh/_ledger")


def test_missing_source_is_an_error(run_ingest, tmp_path):
    with pytest.raises(SourceError, match="source not found"):
        run_ingest(tmp_path / "nope.jsonl")


def test_unknown_format_file_is_quarantined_not_dropped(tmp_path, warehouse, run_ingest):
    source = write_lines(tmp_path / "other.log", ["GET /index.html 200", "GET /a 404"])
    report = run_ingest(source)
    assert (report.lines, report.quarantined) == (2, 2)
    assert quarantined(warehouse)[0]["reason"].startswith("format not recognised")


@pytest.mark.slow
def test_failure_mid_commit_leaves_partitions_as_they_were(tmp_path, warehouse, run_ingest, monkeypatch):
    run_ingest(
        write_lines(
            tmp_path / "base.jsonl",
            [record(request_id=f"old{d}", created_at=f"2025-06-0{d}T00:00:00Z") for d in (1, 2)],
        )
    )
    before = {p: p.read_bytes() for p in Path(warehouse.root).rglob("*.parquet")}
    real_writer = pq.ParquetWriter
    failed: list[Path] = []

    class FlakyWriter(real_writer):  # the commit writes a day one row group at a time
        def write_table(self, table, *args, **kwargs):
            if Path(self.where).parent.name == "date=2025-06-02":  # this day's write fails halfway
                Path(self.where).write_bytes(b"PAR1 half a file")
                failed.append(Path(self.where))
                raise OSError("disk full")
            return super().write_table(table, *args, **kwargs)

        def __init__(self, where, *args, **kwargs):
            self.where = where
            super().__init__(where, *args, **kwargs)

    monkeypatch.setattr(pq, "ParquetWriter", FlakyWriter)
    new = [record(request_id=f"new{d}", created_at=f"2025-06-0{d}T01:00:00Z") for d in (1, 2)]
    with pytest.raises(OSError, match="disk full"):
        run_ingest(write_lines(tmp_path / "new.jsonl", new))
    monkeypatch.setattr(pq, "ParquetWriter", real_writer)
    after = {p: p.read_bytes() for p in Path(warehouse.root).rglob("*.parquet")}
    day2 = Path(warehouse.partition_path("2025-06-02"))
    assert failed and after[day2] == before[day2]  # untouched
    assert not list(Path(warehouse.root).rglob(".*.tmp"))
    # the file is not in the ledger, so a rerun completes the work; day 1's row, written by the failed run
    # from this very line, counts as written (not as a duplicate)
    report = run_ingest(tmp_path / "new.jsonl")
    assert (report.written, report.duplicates) == (2, 0)
    assert sorted(r["request_id"] + "@" + r["date"].isoformat() for r in stored(warehouse)) == [
        "new1@2025-06-01",
        "new2@2025-06-02",
        "old1@2025-06-01",
        "old2@2025-06-02",
    ]


@pytest.mark.slow
def test_folders_take_log_files_only_but_named_files_are_always_read(tmp_path, run_ingest):
    write_lines(tmp_path / "in" / "a.jsonl", [record(request_id="a")])
    write_lines(tmp_path / "in" / "README.md", ["# notes"])
    write_lines(tmp_path / "in" / "_SUCCESS", [""])
    write_lines(tmp_path / "in" / ".git" / "x.log", ["not ours"])
    write_lines(tmp_path / "in" / "_temporary" / "part-0.jsonl", [record(request_id="half-written")])
    assert [f.url.rsplit("/", 1)[1] for f in run_ingest(tmp_path / "in").files] == ["a.jsonl"]
    named = run_ingest(tmp_path / "in" / "README.md")
    assert (named.lines, named.quarantined) == (1, 1)


@pytest.mark.slow
def test_rejects_after_an_undecodable_line_keep_their_own_text(tmp_path, warehouse, run_ingest):
    source = tmp_path / "mixed.jsonl"
    source.write_bytes(b"\xff\xfe\n" + json.dumps(record(request_id="z", prompt_tokens=-3)).encode() + b"\n")
    run_ingest(source)
    first, second = quarantined(warehouse)
    assert (first["source_line"], first["reason"]) == (1, "not valid UTF-8")
    assert (second["source_line"], second["reason"]) == (2, "prompt_tokens is negative (-3)")
    assert '"request_id": "z"' in second["raw"]


@pytest.mark.slow
def test_paths_with_glob_and_quote_characters(tmp_path, run_ingest, monkeypatch):
    odd = tmp_path / "we[ir]d 'dir'"
    monkeypatch.setenv("TMPDIR", str(odd / "tmp"))
    (odd / "tmp").mkdir(parents=True)
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", None)
    store = Warehouse(str(odd / "wh*"))
    source = write_lines(odd / "in[1].jsonl", [record(request_id="a"), "junk", record(request_id="b")])
    report = ingest_module.ingest([str(source)], store, hash_key=HASH_KEY)
    assert (report.lines, report.written, report.quarantined) == (3, 2, 1)
    assert store.days() == ["2025-06-01"] and len(store.ledger_keys()) == 1
    again = ingest_module.ingest([str(source)], store, hash_key=HASH_KEY)
    assert again.skipped_files == 1


@pytest.mark.slow
def test_detection_survives_a_junk_head_and_a_huge_first_line(tmp_path, warehouse, run_ingest):
    junk_head = ["junk"] * 150 + [json.dumps(record(request_id="late-valid"))]
    huge_first = [json.dumps(record(request_id="huge", app_id="a" * 200, messages=["x" * (5 * 1024 * 1024)]))]
    report = run_ingest(write_lines(tmp_path / "a.jsonl", junk_head), write_lines(tmp_path / "b.jsonl", huge_first))
    assert [(f.source_format, f.written, f.quarantined) for f in report.files] == [
        ("canonical", 1, 150),
        ("canonical", 1, 0),
    ]


def test_day_groups_pack_consecutive_days_up_to_the_row_budget():
    days = [("d1", 5), ("d2", 5), ("d3", 20), ("d4", 1)]
    assert commit._day_groups(days, 10) == [["d1", "d2"], ["d3"], ["d4"]]


@pytest.mark.slow
def test_one_file_reached_through_several_spellings_is_read_once(tmp_path, run_ingest):
    source = write_lines(tmp_path / "logs" / "a.jsonl", [record(request_id="a"), "junk"])
    (tmp_path / "link").symlink_to(tmp_path / "logs")
    report = run_ingest(tmp_path / "logs", tmp_path / "logs" / ".." / "logs" / "a.jsonl", tmp_path / "link")
    assert [f.url for f in report.files] == [f"file://{source}"]
    assert (report.lines, report.written, report.quarantined) == (2, 1, 1)


@pytest.mark.slow
def test_an_unreadable_file_does_not_block_the_others(tmp_path, warehouse, run_ingest):
    write_lines(tmp_path / "in" / "good.jsonl", [record(request_id="good")])
    (tmp_path / "in" / "bad.jsonl.gz").write_bytes(b"\x1f\x8b\x08\x00 definitely not gzip")
    with pytest.raises(ingest_module.UnreadableSourceError, match=r"1 of 2 file\(s\) could not be read: .*bad") as err:
        run_ingest(tmp_path / "in")
    assert [r["request_id"] for r in stored(warehouse)] == ["good"]
    assert err.value.report.written == 1 and err.value.report.lines == 1
    assert len(warehouse.ledger_keys()) == 1  # the bad file is retried next time


@pytest.mark.slow
def test_a_sum_repair_that_overflows_quarantines_the_line_not_the_file(tmp_path, warehouse, run_ingest):
    lines = [record(request_id="ok"), record(request_id="huge", prompt_tokens=1, cached_prompt_tokens=2**63 - 1)]
    report = run_ingest(write_lines(tmp_path / "g.jsonl", lines))
    assert (report.written, report.quarantined) == (1, 1)


@pytest.mark.parametrize("mib_per_thread", [256, 1])
def test_the_checks_over_every_stored_day_run_under_a_memory_limit_and_leave_no_spill(
    tmp_path, monkeypatch, mib_per_thread
):
    """The checks read every stored day: under the dedupe's memory limit, spilling into a temporary folder that
    is removed; a statement that cannot spill under a limit too small runs again under DuckDB's own."""
    import tempfile

    from pipelines.lib.ingest import asset, dedupe

    monkeypatch.setattr(dedupe, "DEDUPE_MIB_PER_THREAD", mib_per_thread)
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()
    when = "2025-06-{:02d}T12:00:00Z"
    lines = [record(request_id=f"r{n}", created_at=when.format(1 + n % 5)) for n in range(3_000)]
    warehouse = Warehouse(str(tmp_path / "wh"))
    ingest_module.ingest([str(write_lines(tmp_path / "logs.jsonl", lines))], warehouse, hash_key=HASH_KEY)
    unique, flags = asset.key_unique(warehouse), asset.quality_flags(warehouse)
    assert unique.passed and unique.metadata["records"] == unique.metadata["distinct_keys"] == 3_000
    assert flags.metadata["records"] == 3_000
    assert list((tmp_path / "tmp").iterdir()) == []


def test_the_checks_spill_into_a_folder_a_later_run_sweeps_if_the_process_is_killed(tmp_path, monkeypatch):
    """The checks' spill folder is named after its process (`scratch`), as the ingest's is: SIGKILL leaves it, and
    the next writer's sweep removes it once its process has ended."""
    import tempfile

    from pipelines.lib import scratch
    from pipelines.lib.ingest import asset

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()
    warehouse = Warehouse(str(tmp_path / "wh"))
    ingest_module.ingest([str(write_lines(tmp_path / "logs.jsonl", [record()]))], warehouse, hash_key=HASH_KEY)
    with asset._stored(warehouse) as stored:
        assert stored is not None
        [spill] = list((tmp_path / "tmp").iterdir())
        owner = scratch.owner_of(spill.name)
        assert owner is not None and owner.pid == os.getpid()


def test_a_check_statement_that_cannot_spill_runs_again_under_duckdbs_own_limit(monkeypatch):
    from pipelines.lib import duckdb_settings
    from pipelines.lib.ingest import dedupe
    from pipelines.lib.ingest.asset import _fetch

    monkeypatch.setattr(dedupe, "DEDUPE_MIB_PER_THREAD", 1)
    con = duckdb.connect()
    con.execute("set threads = 1")
    query = "select len(list(i)) from range(3000000) as t(i)"  # a list aggregate does not spill
    with pytest.raises(duckdb.OutOfMemoryException), duckdb_settings.scoped(con, "memory_limit", "1MiB"):
        con.execute(query).fetchall()
    assert _fetch(con, query, None) == [(3_000_000,)]


@pytest.mark.parametrize(
    "interrupt",
    [RuntimeError("Query interrupted"), duckdb.InterruptException("INTERRUPT Error: Interrupted!")],
    ids=["sigint", "interrupt"],
)
def test_ctrl_c_in_a_files_staging_stops_the_run(tmp_path, warehouse, run_ingest, monkeypatch, interrupt):
    """Ctrl-C meeting a file's DuckDB statement is not that file's failure: the run stops there, the file is not
    reported unreadable, nothing is committed and no file is marked done."""
    from pipelines.lib.ingest import stage

    original = stage.FileStager.stage_file

    def stopped_at_second(self: stage.FileStager, source, index, *args, **kwargs):
        if index == 1:
            raise interrupt
        return original(self, source, index, *args, **kwargs)

    monkeypatch.setattr(stage.FileStager, "stage_file", stopped_at_second)
    for n in range(3):
        write_lines(tmp_path / "in" / f"{n}.jsonl", [record(request_id=str(n))])
    messages: list[str] = []
    with pytest.raises(type(interrupt)):
        run_ingest(tmp_path / "in", progress=messages.append)
    assert not [m for m in messages if "cannot read" in m] and "file 3/3" not in " ".join(messages)
    assert warehouse.ledger_keys() == set() and stored(warehouse) == []


def test_files_a_folder_leaves_out_for_their_names_are_said_once_and_counted(tmp_path, run_ingest):
    """Rotated logs and files without an extension are not read from a folder or glob (as before), but the run
    says so once, naming a few, and counts them; hidden files and folders ('.', '_') stay unsaid, and a file
    another source names is read, not counted."""
    from pipelines.lib.ingest import asset

    folder = tmp_path / "in"
    write_lines(folder / "app.log", [record(request_id="a")])
    for name in ("app.log.1", "app.log.2.gz", "noext", "old/app.log.3", "old/app.log.4"):
        write_lines(folder / name, [record(request_id=name)])
    for name in (".git/x", "_SUCCESS", "_temporary/part", ".app.log.5"):
        write_lines(folder / name, ["not ours"])
    messages: list[str] = []
    report = run_ingest(folder, f"{folder}/app*", folder / "noext", progress=messages.append)
    assert [Path(f.url).name for f in report.files] == ["app.log", "noext"]  # the folder's log file, the named one
    said = [m for m in messages if m.startswith("skipped")]
    assert said == [
        "skipped 4 files whose names are not log files (.jsonl, .ndjson, .json, .log, .csv, .txt, optionally .gz,"
        " .zst, .bz2, .xz): app.log.1, app.log.2.gz, old/app.log.3 and 1 more"
    ]
    assert report.skipped_by_name == ["app.log.1", "app.log.2.gz", "old/app.log.3", "old/app.log.4"]
    metadata = asset.materialization(report, [str(folder)], Warehouse(str(tmp_path / "w"))).metadata
    assert metadata["files_skipped_by_name"] == 4


def test_a_folder_of_nothing_but_rotated_logs_names_them_in_its_error(tmp_path, run_ingest):
    write_lines(tmp_path / "in" / "app.log.1", [record()])
    with pytest.raises(SourceError, match=r"no files under source: .*\(skipped 1 file whose names .*: app\.log\.1\)"):
        run_ingest(tmp_path / "in")


@pytest.mark.parametrize("source", ["in", "in/*.log"])
def test_a_folder_of_log_files_only_says_nothing_of_skipping(tmp_path, run_ingest, source):
    write_lines(tmp_path / "in" / "a.log", [record()])
    write_lines(tmp_path / "in" / "_SUCCESS", [""])
    messages: list[str] = []
    report = run_ingest(tmp_path / source, progress=messages.append)
    assert not [m for m in messages if "skipped" in m] and report.summary()["files_skipped_by_name"] == 0
