"""Ingest: conservation, quarantine reasons, dedupe, idempotency, late data, atomicity, privacy."""

from __future__ import annotations

import gzip
import hashlib
import hmac
import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest
import zstandard

from pipelines.lib import ingest as ingest_module
from pipelines.lib.ingest import commit
from pipelines.lib.storage import SourceError, Warehouse
from schemas.bulk import arrow_schema
from tests.conftest import HASH_KEY, build_models, mart, quarantined, record, stored, write_lines


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
def test_same_records_in_a_new_file_are_duplicates(tmp_path, warehouse, run_ingest):
    rows = [record(request_id=f"r{i}") for i in range(5)]
    run_ingest(write_lines(tmp_path / "a.jsonl", rows))
    partition = Path(warehouse.partition_path("2025-06-01"))
    before = partition.read_bytes()
    report = run_ingest(write_lines(tmp_path / "copy.jsonl", rows))
    assert (report.lines, report.written, report.duplicates) == (5, 0, 5)
    assert partition.read_bytes() == before
    assert report.days == []


@pytest.mark.slow
def test_the_dedupe_spills_instead_of_growing(tmp_path, warehouse, run_ingest, monkeypatch):
    """Under a memory limit below its working set, the dedupe spills to the scratch folder (DuckDB's profile
    says how much) and every key still counts once, the stored ones winning."""
    import datetime as dt
    import json

    from devkit.simulate import simulate
    from devkit.simulate.formats.canonical import write_canonical
    from pipelines.lib.ingest import dedupe

    spilled: list[int] = []
    rank_keys = dedupe._rank_keys

    def profiled(con, keys, params):
        profile = tmp_path / "profile.json"
        con.execute("set enable_profiling = 'json'")
        con.execute("set profiling_output = ?", [str(profile)])
        rank_keys(con, keys, params)
        con.execute("pragma disable_profiling")
        spilled.append(json.loads(profile.read_text())["system"]["total_bytes_spilled"])

    monkeypatch.setattr(dedupe, "DEDUPE_MIB_PER_THREAD", 32)  # 64 MiB on the 2 threads below
    monkeypatch.setattr(dedupe, "_rank_keys", profiled)
    frame = simulate(dt.date(2025, 6, 1), 2, 60_000, seed=3)
    first = run_ingest(*write_canonical(frame, str(tmp_path / "a.jsonl")), threads=2)
    again = run_ingest(*write_canonical(frame, str(tmp_path / "copy.jsonl")), threads=2)
    assert first.written == frame.height and first.duplicates == 0
    assert (again.written, again.duplicates) == (0, frame.height)
    assert len(spilled) == 2, "the dedupe ran out of memory under the limit and was redone without it"
    assert spilled[1] > 0, "the dedupe of the second ingest did not spill: raise the rows or lower the limit"


@pytest.mark.slow
def test_a_dedupe_that_cannot_fit_its_limit_finishes_without_it(tmp_path, warehouse, run_ingest, monkeypatch):
    """Below what DuckDB needs even to spill, the dedupe fails under its limit and is redone without it: the run
    uses more memory instead of failing."""
    from pipelines.lib.ingest import dedupe

    calls: list[int] = []
    rank_keys = dedupe._rank_keys

    def counted(con, keys, params):
        calls.append(1)
        rank_keys(con, keys, params)

    monkeypatch.setattr(dedupe, "DEDUPE_MIB_PER_THREAD", 1)  # 2 MiB on the 2 threads below
    monkeypatch.setattr(dedupe, "_rank_keys", counted)
    rows = [record(request_id=f"r{i}") for i in range(5)]
    run_ingest(write_lines(tmp_path / "a.jsonl", rows), threads=2)
    report = run_ingest(write_lines(tmp_path / "copy.jsonl", rows), threads=2)
    assert (report.written, report.duplicates) == (0, 5)
    assert len(calls) == 4, "each dedupe should have failed under the limit once, then succeeded"


@pytest.mark.slow
def test_late_records_are_merged_into_their_day(tmp_path, warehouse, run_ingest):
    run_ingest(write_lines(tmp_path / "day1.jsonl", [record(request_id="early")]))
    late = [record(request_id="late", created_at="2025-06-01T23:59:59.999Z"), record(request_id="early")]
    report = run_ingest(write_lines(tmp_path / "late.jsonl", late))
    assert (report.written, report.duplicates) == (1, 1)
    assert [r["request_id"] for r in stored(warehouse)] == ["early", "late"]
    assert warehouse.days() == ["2025-06-01"]


@pytest.mark.slow
def test_copies_keep_the_first_occurrence(tmp_path, warehouse, run_ingest):
    a = write_lines(tmp_path / "a.jsonl", [record(request_id="k")])
    b = write_lines(tmp_path / "b.jsonl", [record(request_id="k")])
    report = run_ingest(tmp_path)
    assert [f.url.rsplit("/", 1)[1] for f in report.files] == [a.name, b.name]
    assert [r["source_uri"].rsplit("/", 1)[1] for r in stored(warehouse)] == ["a.jsonl"]
    assert [(f.written, f.duplicates, f.conflicts) for f in report.files] == [(1, 0, 0), (0, 1, 0)]


@pytest.mark.slow
def test_records_that_disagree_keep_the_more_complete_then_the_later(tmp_path, warehouse, run_ingest):
    """Same key, different content: within a run and against what is stored, whatever the day."""
    write_lines(tmp_path / "a.jsonl", [record(request_id="k", model="first"), record(request_id="m", cost_usd=None)])
    write_lines(tmp_path / "b.jsonl", [record(request_id="k", model="second"), record(request_id="m")])
    report = run_ingest(tmp_path)
    assert [(r["request_id"], r["model"], r["cost_usd"]) for r in stored(warehouse)] == [
        ("k", "second", record()["cost_usd"]),  # equally complete: the later file
        ("m", record()["model"], record()["cost_usd"]),  # the one that knows its cost
    ]
    assert [(f.written, f.duplicates, f.conflicts) for f in report.files] == [(0, 2, 2), (2, 0, 2)]
    assert report.summary()["conflicts"] == 4

    # a later, more complete version of a stored record logged on another day replaces it there
    moved = record(request_id="k", model="second", created_at="2025-06-03T00:00:00Z", ttft_ms=None)
    richer = record(request_id="m", created_at="2025-06-02T00:00:00Z", user_id=None, app_id=None)
    fuller = record(request_id="k", model="third", created_at="2025-06-02T00:00:00Z")
    report = run_ingest(write_lines(tmp_path / "later" / "c.jsonl", [moved, richer, fuller]))
    rows = stored(warehouse)
    assert [(r["request_id"], r["model"], str(r["date"])) for r in rows] == [
        ("k", "third", "2025-06-02"),
        ("m", record()["model"], "2025-06-01"),
    ]
    assert (report.written, report.duplicates, report.summary()["conflicts"]) == (1, 2, 3)
    assert warehouse.days() == ["2025-06-01", "2025-06-02", "2025-06-03"][:2]
    assert report.balanced


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
    real_write = pq.write_table
    failed: list[Path] = []

    def flaky_write(table, where, **kwargs):
        if Path(where).parent.name == "date=2025-06-02":  # this day's write fails halfway
            Path(where).write_bytes(b"PAR1 half a file")
            failed.append(Path(where))
            raise OSError("disk full")
        return real_write(table, where, **kwargs)

    monkeypatch.setattr(pq, "write_table", flaky_write)
    new = [record(request_id=f"new{d}", created_at=f"2025-06-0{d}T01:00:00Z") for d in (1, 2)]
    with pytest.raises(OSError, match="disk full"):
        run_ingest(write_lines(tmp_path / "new.jsonl", new))
    monkeypatch.setattr(pq, "write_table", real_write)
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
def test_keys_are_unique_across_days_and_runs(tmp_path, warehouse, run_ingest):
    first = [
        record(request_id="k", created_at="2025-06-01T00:00:00Z"),
        record(request_id="k", created_at="2025-06-05T00:00:00Z"),
    ]
    report = run_ingest(write_lines(tmp_path / "a.jsonl", first))
    assert (report.written, report.duplicates, report.summary()["conflicts"]) == (1, 1, 2)
    late_copy = [record(request_id="k", created_at="2025-06-09T00:00:00Z"), record(request_id="k", attempt=2)]
    report = run_ingest(write_lines(tmp_path / "b.jsonl", late_copy))
    # the later version of (k, 1) replaces the stored one, wherever it was stored; (k, 2) is new
    assert (report.written, report.duplicates) == (2, 0)
    assert [(r["request_id"], r["attempt"], r["date"].isoformat()) for r in stored(warehouse)] == [
        ("k", 1, "2025-06-09"),
        ("k", 2, "2025-06-01"),
    ]
    again = run_ingest(write_lines(tmp_path / "c.jsonl", late_copy))
    assert (again.written, again.duplicates, again.summary()["conflicts"]) == (0, 2, 0)


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
def test_a_key_stored_twice_before_does_not_wedge_ingest(tmp_path, warehouse, run_ingest):
    run_ingest(write_lines(tmp_path / "a.jsonl", [record(request_id="k")]))
    day = Path(warehouse.partition_path("2025-06-01"))
    copy = Path(warehouse.partition_path("2025-06-02"))
    copy.parent.mkdir()
    copy.write_bytes(day.read_bytes())  # a warehouse damaged by hand: the same key on two days
    report = run_ingest(write_lines(tmp_path / "b.jsonl", [record(request_id="k"), record(request_id="other")]))
    assert (report.lines, report.written, report.duplicates) == (2, 1, 1)


@pytest.mark.slow
def test_partitions_written_before_a_field_existed_are_read_and_merged_as_current(tmp_path, warehouse, run_ingest):
    """A warehouse of an older version (no `operation`, no `quality_flags`) takes new data and builds."""
    run_ingest(write_lines(tmp_path / "old.jsonl", [record(request_id="old")]))
    path = warehouse.partition_path("2025-06-01")
    pq.write_table(pq.read_table(path).drop_columns(["operation", "quality_flags"]), path)
    other_day = record(request_id="other", created_at="2025-06-02T00:00:00Z", operation="embeddings")
    run_ingest(write_lines(tmp_path / "new.jsonl", [record(request_id="new"), other_day]))
    rows = {r["request_id"]: r for r in stored(warehouse)}
    assert {k: (r["operation"], r["quality_flags"]) for k, r in rows.items()} == {
        "old": ("chat", []),
        "new": ("chat", []),
        "other": ("embeddings", []),
    }
    pq.write_table(pq.read_table(path).drop_columns(["operation", "quality_flags"]), path)  # old again, for the view
    build_models(warehouse)
    assert mart(warehouse, "select operation, count(*) from requests group by all order by all") == [
        ("chat", 2),
        ("embeddings", 1),
    ]


@pytest.mark.slow
def test_a_record_that_gives_way_leaves_its_day_only_after_the_winner_is_written(
    tmp_path, warehouse, run_ingest, monkeypatch
):
    """The stored version of a record is removed after its more complete version is written, in a commit of its
    own: a failure in between keeps the stored one, and a day that only loses records is rewritten on its own."""
    run_ingest(write_lines(tmp_path / "a.jsonl", [record(request_id="k", cost_usd=None)]))
    later = [
        record(request_id="k", created_at="2025-06-02T00:00:00Z"),
        record(request_id="n", created_at="2025-06-02T00:00:00Z"),
    ]
    path = write_lines(tmp_path / "b.jsonl", later)

    write = commit._write_partition

    def failing(store, day, rows):
        if day == "2025-06-02":
            raise OSError("disk full")
        return write(store, day, rows)

    monkeypatch.setattr(commit, "_write_partition", failing)
    with pytest.raises(OSError):
        run_ingest(path, commit_rows=1)
    assert [(r["request_id"], r["cost_usd"]) for r in stored(warehouse)] == [("k", None)]  # nothing lost
    monkeypatch.setattr(commit, "_write_partition", write)
    report = run_ingest(path, commit_rows=1)  # one day per commit group: the losing day in a group of its own
    assert [(r["request_id"], str(r["date"])) for r in stored(warehouse)] == [("k", "2025-06-02"), ("n", "2025-06-02")]
    assert (report.written, report.summary()["conflicts"]) == (2, 1)


@pytest.mark.slow
def test_two_records_of_one_line_with_one_key_keep_one(tmp_path, warehouse, run_ingest):
    """An OTLP export holding the same span twice: one record stored, one duplicate, whatever the content."""
    from tests.test_adapters_otel import CHAT, export, span

    same = export(span("s1", CHAT), span("s1", CHAT))
    other = export(span("s2", CHAT), span("s2", dict(CHAT, **{"gen_ai.usage.output_tokens": 999})))
    report = run_ingest(write_lines(tmp_path / "spans.jsonl", [same, other]))
    assert (report.written, report.duplicates) == (2, 2)
    assert len(stored(warehouse)) == 2


@pytest.mark.slow
def test_a_sum_repair_that_overflows_quarantines_the_line_not_the_file(tmp_path, warehouse, run_ingest):
    lines = [record(request_id="ok"), record(request_id="huge", prompt_tokens=1, cached_prompt_tokens=2**63 - 1)]
    report = run_ingest(write_lines(tmp_path / "g.jsonl", lines))
    assert (report.written, report.quarantined) == (1, 1)
