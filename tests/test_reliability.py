"""Nothing lost, nothing counted twice, whatever the input: grown and touched files, truncated archives, a BOM,
blank lines, hostile lines, impossible offsets, conflicting duplicates; and a bounded fuzz of real samples
through the whole ingest, asserting the conservation law (every line read is written, a duplicate, quarantined
or ignored) and that no run crashes."""

from __future__ import annotations

import gzip
import json
import os
import random
from pathlib import Path
from typing import Any

import pytest
import zstandard

from pipelines.lib import ingest as ingest_module
from pipelines.lib.ingest import QUARANTINED_BEFORE, IngestReport, bulk, stage
from pipelines.lib.ingest.report import COMPLETED_LATER
from pipelines.lib.storage import Warehouse
from tests.conftest import quarantined, record, stored, write_lines

REAL = Path(__file__).parent / "fixtures" / "real"


def _lines(n: int, prefix: str = "r") -> list[str]:
    return [json.dumps(record(request_id=f"{prefix}{i}")) for i in range(n)]


def _bump_mtime(path: Path) -> None:
    """A new modification time (a different file version), whatever the clock's resolution."""
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))


def _assert_conserved(report: IngestReport) -> None:
    assert report.balanced
    assert report.records == report.written + report.duplicates + report.quarantined + report.ignored
    for f in report.files:
        assert f.uncovered == 0, f.url


# -- a file that grew or was touched ---------------------------------------------------------------------------


@pytest.mark.slow
def test_a_grown_file_counts_only_its_new_lines(tmp_path, warehouse, run_ingest):
    source = tmp_path / "gateway.jsonl"
    lines = _lines(15)
    source.write_text("\n".join([*lines[:10], "{broken"]) + "\n")
    first = run_ingest(source)
    assert (first.lines, first.written, first.quarantined) == (11, 10, 1)
    with source.open("a") as handle:
        handle.write("\n".join(lines[10:]) + "\n")
    _bump_mtime(source)
    grown = run_ingest(source)
    assert (grown.lines, grown.written, grown.duplicates, grown.quarantined) == (5, 5, 0, 0)
    assert grown.files[0].first_line == 12
    assert len(stored(warehouse)) == 15 and len(quarantined(warehouse)) == 1  # the bad line once
    _assert_conserved(grown)


@pytest.mark.slow
def test_a_touched_file_reads_and_counts_nothing_again(tmp_path, warehouse, run_ingest):
    source = write_lines(tmp_path / "gateway.jsonl", [*_lines(10), "{broken"])
    run_ingest(source)
    _bump_mtime(source)
    again = run_ingest(source)
    assert (again.files[0].skipped, again.lines, again.written, again.quarantined) == (False, 0, 0, 0)
    assert len(stored(warehouse)) == 10 and len(quarantined(warehouse)) == 1


@pytest.mark.slow
def test_a_rewritten_file_is_read_again_and_its_old_records_are_duplicates(tmp_path, warehouse, run_ingest):
    source = write_lines(tmp_path / "gateway.jsonl", _lines(10))
    run_ingest(source)
    write_lines(source, ["{broken", *_lines(12)])  # content changed at the start: not a grown file
    _bump_mtime(source)
    again = run_ingest(source)
    assert again.files[0].first_line == 1
    # lines 2..11 hold the stored records at other line numbers: duplicates; two are new
    assert (again.lines, again.written, again.duplicates, again.quarantined) == (13, 2, 10, 1)
    assert len(stored(warehouse)) == 12


@pytest.mark.slow
def test_a_rewritten_file_with_the_same_records_on_the_same_lines_writes_nothing_twice(tmp_path, warehouse, run_ingest):
    source = write_lines(tmp_path / "gateway.jsonl", _lines(10))
    run_ingest(source)
    source.write_text("\n".join(_lines(10)) + "\n" + "\n".join(_lines(2, "new")) + "\n")
    # same records, same line numbers, but the head changed byte-wise: read again from line 1
    source.write_text(source.read_text().replace('"attempt": 1', '"attempt":  1'))
    _bump_mtime(source)
    again = run_ingest(source)
    assert again.files[0].first_line == 1
    assert (again.written, again.duplicates) == (2, 10)  # not "resumed": the earlier version counted them


@pytest.mark.slow
def test_a_line_caught_without_its_newline_is_read_again_whole(tmp_path, warehouse, run_ingest):
    source = tmp_path / "gateway.jsonl"
    whole = _lines(3)
    source.write_text(whole[0] + "\n" + whole[1][:40])  # the logger was mid-line
    first = run_ingest(source)
    assert (first.written, first.quarantined) == (1, 1)
    source.write_text(whole[0] + "\n" + whole[1] + "\n" + whole[2] + "\n")
    _bump_mtime(source)
    grown = run_ingest(source)
    assert (grown.files[0].first_line, grown.lines, grown.written) == (2, 2, 2)
    assert len(stored(warehouse)) == 3
    # the line is stored now: the earlier read's quarantine row of it is gone, and that read counts it ignored
    assert quarantined(warehouse) == []
    earlier = warehouse.ledger_entry(first.files[0].key)
    assert earlier is not None and (earlier["written"], earlier["quarantined"], earlier["ignored"]) == (1, 0, 1)
    assert earlier["ignored_reasons"] == {COMPLETED_LATER: 1} and earlier["lines"] == 2
    _bump_mtime(source)
    assert run_ingest(source).lines == 0 and quarantined(warehouse) == []  # nothing left to read or take out


@pytest.mark.slow
def test_a_line_caught_unfinished_twice_leaves_the_first_reads_quarantine_once_whole(tmp_path, warehouse, run_ingest):
    source = tmp_path / "gateway.jsonl"
    whole = _lines(2)
    source.write_text(whole[0] + "\n" + whole[1][:30])
    first = run_ingest(source)
    source.write_text(whole[0] + "\n" + whole[1][:60])  # grown, the line still unfinished
    _bump_mtime(source)
    second = run_ingest(source)
    assert second.files[0].ignored_reasons == {QUARANTINED_BEFORE: 1}
    assert second.files[0].partial_key == first.files[0].key  # where the line's row still is
    source.write_text(whole[0] + "\n" + whole[1] + "\n")
    _bump_mtime(source)
    third = run_ingest(source)
    assert third.written == 1 and len(stored(warehouse)) == 2 and quarantined(warehouse) == []
    earlier = warehouse.ledger_entry(first.files[0].key)
    assert earlier is not None and (earlier["quarantined"], earlier["ignored"]) == (0, 1)


@pytest.mark.slow
def test_a_run_stopped_while_it_takes_a_completed_line_out_is_finished_by_the_next(
    tmp_path, warehouse, run_ingest, monkeypatch
):
    """The earlier read's entry is recounted first, then the row taken out: stopped between the two, the next run
    takes the row out and recounts nothing twice."""
    source = tmp_path / "gateway.jsonl"
    whole = _lines(2)
    source.write_text(whole[0] + "\n" + whole[1][:30])
    first = run_ingest(source)
    source.write_text(whole[0] + "\n" + whole[1] + "\n")
    _bump_mtime(source)
    quarantine_file = warehouse.path("quarantine", f"{first.files[0].key}.parquet")
    atomic_write = Warehouse.atomic_write

    def stopped(self: Warehouse, target: str) -> Any:
        if target == quarantine_file:
            raise RuntimeError("stopped")
        return atomic_write(self, target)

    monkeypatch.setattr(Warehouse, "atomic_write", stopped)
    with pytest.raises(RuntimeError, match="stopped"):
        run_ingest(source)
    monkeypatch.setattr(Warehouse, "atomic_write", atomic_write)
    assert len(quarantined(warehouse)) == 1  # not yet taken out; the line is stored
    run_ingest(source)
    assert quarantined(warehouse) == [] and len(stored(warehouse)) == 2
    earlier = warehouse.ledger_entry(first.files[0].key)
    assert earlier is not None and (earlier["quarantined"], earlier["ignored"], earlier["completed_lines"]) == (
        0,
        1,
        [2],
    )


@pytest.mark.slow
def test_a_line_caught_unfinished_that_completes_into_another_refusal_is_quarantined_for_it(
    tmp_path, warehouse, run_ingest
):
    """Whole now, the line is refused for what it holds: its row says why, and the earlier read's `not JSON` row of
    it is taken out (a line is quarantined once, for its last reading)."""
    source = tmp_path / "gateway.jsonl"
    good, bad = _lines(1)[0], json.dumps(record(request_id="late", completion_tokens=-1))
    source.write_text(good + "\n" + bad[:30])
    first = run_ingest(source)
    source.write_text(good + "\n" + bad + "\n")
    _bump_mtime(source)
    grown = run_ingest(source)
    assert (grown.quarantined, grown.ignored) == (1, 0)
    [row] = quarantined(warehouse)
    assert (row["source_line"], row["reason"]) == (2, "completion_tokens is negative (-1)")
    earlier = warehouse.ledger_entry(first.files[0].key)
    assert earlier is not None and (earlier["quarantined"], earlier["ignored"]) == (0, 1)


@pytest.mark.slow
def test_a_partial_line_still_broken_is_not_quarantined_twice(tmp_path, warehouse, run_ingest):
    source = tmp_path / "gateway.jsonl"
    source.write_text(_lines(1)[0] + "\n{broken")
    run_ingest(source)
    _bump_mtime(source)
    again = run_ingest(source)
    assert (again.quarantined, again.ignored, again.files[0].ignored_reasons) == (0, 1, {QUARANTINED_BEFORE: 1})
    assert len(quarantined(warehouse)) == 1


# -- complete reads or failure ---------------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize("codec", ["zst", "gz"])
def test_a_truncated_archive_fails_the_run_after_the_others_commit_and_is_retried(
    tmp_path, warehouse, run_ingest, codec
):
    good = write_lines(tmp_path / "good.jsonl", _lines(5, "g"))
    payload = ("\n".join(_lines(3000, "t")) + "\n").encode()
    compressed = zstandard.ZstdCompressor().compress(payload) if codec == "zst" else gzip.compress(payload)
    cut = tmp_path / f"cut.jsonl.{codec}"
    cut.write_bytes(compressed[: len(compressed) // 2])
    with pytest.raises(ingest_module.UnreadableSourceError, match="truncated") as err:
        run_ingest(good, cut)
    assert err.value.report.written == 5 and len(stored(warehouse)) == 5
    cut.write_bytes(compressed)  # the complete upload arrives
    assert run_ingest(good, cut).written == 3000


@pytest.mark.slow
def test_gzip_content_under_a_plain_name_is_read_as_gzip(tmp_path, warehouse, run_ingest):
    source = tmp_path / "gateway.jsonl"
    source.write_bytes(gzip.compress(("\n".join(_lines(20)) + "\n").encode()))
    report = run_ingest(source)
    assert (report.written, report.quarantined) == (20, 0)


@pytest.mark.slow
def test_a_byte_order_mark_and_blank_lines_cost_nothing(tmp_path, warehouse, run_ingest):
    source = tmp_path / "gateway.jsonl"
    lines = _lines(3)
    source.write_bytes(b"\xef\xbb\xbf" + f"{lines[0]}\r\n\r\n  \n{lines[1]}\n\n{lines[2]}".encode())
    report = run_ingest(source)
    assert (report.lines, report.written, report.quarantined, report.ignored) == (6, 3, 0, 3)
    assert report.files[0].ignored_reasons == {"blank line": 3}


# -- hostile lines ---------------------------------------------------------------------------------------------


HOSTILE = {
    "deep array": "[" * 200_000,
    "deep object": '{"a":' * 20_000 + "1" + "}" * 20_000,
    "lone surrogate, broken": '{"request_id": "x\\ud800", "broken": ',
    "NUL and controls": '{"request_id": "x\u0000\u0001"',
    "numbers as huge strings": json.dumps(record(request_id="big", prompt_tokens="9" * 400)),
    "key as an e-mail": '{"jane.doe@example.com": {"name": "Jane Doe"}}',
    "only brackets": "}{][",
}


def test_hostile_lines_are_quarantined_with_reasons_and_never_block_the_file(tmp_path, warehouse, run_ingest):
    lines = [_lines(1, "first")[0], *HOSTILE.values(), _lines(1, "last")[0]]
    source = write_lines(tmp_path / "hostile.jsonl", lines)
    report = run_ingest(source)
    _assert_conserved(report)
    assert (report.written, report.quarantined) == (2, len(HOSTILE))
    rows = quarantined(warehouse)
    reasons = {row["source_line"]: row["reason"] for row in rows}
    assert reasons[2].startswith("nesting deeper than 64") and reasons[3].startswith("nesting deeper than 64")
    assert all("Jane Doe" not in row["raw"] and "jane.doe" not in row["raw"] for row in rows)


@pytest.mark.slow
def test_a_valid_line_with_a_lone_surrogate_escape_keeps_its_record(tmp_path, warehouse, run_ingest):
    line = json.dumps(record(request_id="s")).replace('"app-a"', '"app-\\ud83d"')  # an emoji cut in half
    report = run_ingest(write_lines(tmp_path / "s.jsonl", [line]))
    assert report.written == 1
    assert stored(warehouse)[0]["app_id"] == "app-\ufffd"


@pytest.mark.slow
def test_a_line_past_the_length_limit_is_quarantined_and_memory_stays_bounded(tmp_path, warehouse, monkeypatch):
    monkeypatch.setattr(stage, "LineReader", _small_limit_reader)
    monkeypatch.setattr(bulk, "MAX_LINE_BYTES", 1024)  # the bulk path's limit: the same for both
    source = write_lines(tmp_path / "long.jsonl", [_lines(1)[0], '{"request_id": "' + "x" * 5000, _lines(1, "b")[0]])
    report = ingest_module.ingest([str(source)], warehouse, hash_key=b"k")
    assert (report.written, report.quarantined) == (2, 1)
    [row] = quarantined(warehouse)
    assert row["reason"] == "line longer than 1024 bytes (5,017 bytes)"


def _small_limit_reader(url, chunk_bytes, resume=None, **options):
    from pipelines.lib.reader import LineReader

    return LineReader(url, chunk_bytes, 1024, resume, **options)


@pytest.mark.slow
@pytest.mark.parametrize("offset", ["+99:00", "-18:30", "+2400"])
def test_offsets_beyond_18_hours_are_quarantined(tmp_path, warehouse, run_ingest, offset):
    line = record(created_at=f"2025-06-01T12:00:00{offset}")
    report = run_ingest(write_lines(tmp_path / "o.jsonl", [line, record(request_id="ok")]))
    assert (report.written, report.quarantined) == (1, 1)
    assert "created_at is not an ISO 8601 timestamp" in quarantined(warehouse)[0]["reason"]


@pytest.mark.slow
def test_conflicting_duplicates_resolve_by_the_rule_and_are_counted(tmp_path, warehouse, run_ingest):
    first = write_lines(tmp_path / "a.jsonl", [record(request_id="k", cost_usd=None)])
    second = write_lines(tmp_path / "b.jsonl", [record(request_id="k", cost_usd=0.5)])
    report = run_ingest(first, second)
    assert report.total("conflicts") == 2 and report.written == 1 and report.duplicates == 1
    assert stored(warehouse)[0]["cost_usd"] == 0.5  # the more complete one, whatever the order
    other = Warehouse(str(tmp_path / "other"))
    ingest_module.ingest([str(second), str(first)], other, hash_key=b"k")
    assert stored(other)[0]["cost_usd"] == 0.5


# -- a bounded fuzz of real samples ------------------------------------------------------------------------------

FUZZ_SEED = 20261203
FUZZ_LINES = 120  # per format


def _mutate(line: str, rng: random.Random) -> str:
    """One random damage of a real line: cut, flip, insert, nest, duplicate, encode oddly."""
    kind = rng.randrange(9)
    at = rng.randrange(len(line) + 1)
    if kind == 0:
        return line[:at]
    if kind == 1 and line:
        return line[:at] + chr(rng.randrange(32, 0x2FFF)) + line[at + 1 :]
    if kind == 2:
        return line[:at] + rng.choice(['"', "{", "[", "\\", ",", ":", "\\ud800", "\u2028", "\t", "null"]) + line[at:]
    if kind == 3:
        return "[" * rng.randrange(1, 300) + line
    if kind == 4:
        return line.replace('"', "'", rng.randrange(1, 4))
    if kind == 5:
        return line.replace(":", ': "', 1)
    if kind == 6:
        return line[at:] + line[:at]
    if kind == 7:
        return "\ufeff" + line
    return line


def _real_lines() -> dict[str, list[str]]:
    """The corpus's non-blank lines by format folder (one adapter reads each folder's files)."""
    found: dict[str, list[str]] = {}
    for path in sorted(REAL.rglob("*")):
        if path.suffix in (".jsonl", ".json", ".csv", ".ndjson") and path.is_file():
            text = path.read_text(encoding="utf-8", errors="replace")
            lines = [line for line in text.splitlines() if line.strip()]
            found.setdefault(path.relative_to(REAL).parts[0], []).extend(lines)
    return found


def fuzz_files(folder: Path, rng: random.Random, lines_per_format: int) -> list[Path]:
    """One file per format of the corpus: its real lines, about half of them damaged once or twice."""
    sources = []
    for name, real in _real_lines().items():
        lines = []
        for line in rng.choices(real, k=lines_per_format):
            for _ in range(rng.randrange(3) if rng.random() < 0.5 else 0):
                line = _mutate(line, rng)
            lines.append(line)
        path = folder / f"fuzz-{name}.jsonl"
        path.write_bytes("\n".join(lines).encode("utf-8", errors="surrogatepass") + b"\n")
        sources.append(path)
    return sources


@pytest.mark.slow
def test_fuzzed_real_samples_never_crash_a_run_and_every_line_is_accounted_for(tmp_path, warehouse, run_ingest):
    if not REAL.is_dir():
        pytest.skip("no real-sample corpus")
    sources = fuzz_files(tmp_path, random.Random(FUZZ_SEED), FUZZ_LINES)
    report = run_ingest(*sources)
    _assert_conserved(report)
    assert report.lines == sum(len(path.read_bytes().split(b"\n")) - 1 for path in sources)
    assert all(f.written + f.duplicates > 0 for f in report.files)  # undamaged lines of every format are read
    again = run_ingest(*sources)
    assert again.skipped_files == len(sources)  # the ledger took every file
