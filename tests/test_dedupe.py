"""Ingest: which record a key keeps: duplicates within and across files and runs, late records merged into their
day, records that disagree, the dedupe's memory, and partitions written before a field existed."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from pipelines.lib.ingest import commit, ingest
from pipelines.lib.storage import Warehouse
from tests.conftest import HASH_KEY, build_models, mart, record, stored, write_lines


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
        system = json.loads(profile.read_text())["system"]
        # DuckDB counts an operator's own spill and the buffers it evicts to the temp folder apart: either is a spill
        spilled.append(max(system["total_bytes_spilled"], system["peak_temp_dir_size"]))

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
    assert report.summary()["replaced"] == 0  # nothing was stored

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
    assert report.summary()["replaced"] == 1  # the stored ("k", "second"), by ("k", "third")
    assert warehouse.days() == ["2025-06-01", "2025-06-02", "2025-06-03"][:2]
    assert report.balanced


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

    def failing(store, day, *rows):
        if day == "2025-06-02":
            raise OSError("disk full")
        return write(store, day, *rows)

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
def test_rows_far_from_time_order_are_committed_by_groups_of_days_as_by_one(tmp_path, warehouse, run_ingest):
    """Every staged file holds every day: each group of days reads the rows of its days out of all of them, and
    what is stored is what one group writes."""
    lines = [record(request_id=f"r{i}", created_at=f"2025-06-0{1 + i % 4}T00:00:{i:02d}Z") for i in range(40)]
    path = write_lines(tmp_path / "a.jsonl", [*lines[:20], "junk", *lines[20:]])
    once = Warehouse(str(tmp_path / "once"))
    whole = ingest([str(path)], once, hash_key=HASH_KEY)
    report = run_ingest(path, commit_rows=1)  # a group per day
    assert (report.written, report.quarantined) == (whole.written, whole.quarantined) == (40, 1)
    assert report.days == whole.days and len(report.days) == 4
    assert stored(warehouse) == stored(once)
    for day in report.days:  # the same rows in the same order: the same bytes
        assert Path(warehouse.partition_path(day)).read_bytes() == Path(once.partition_path(day)).read_bytes(), day
