"""The real-sample conformance corpus: logs other people published, read as a user's file would be.

Every folder of `tests/fixtures/real/` holds samples (SDK cassettes, instrumentation snapshots, logger fixtures,
pasted responses; provenance and licence in its SOURCES.md) and an `expected.yaml` written by reading them, not
by running gatewaylens (see the corpus README). Each sample file goes through format detection, its adapter and
the shared transform, and every row it yields is compared with the expected one, field by field. The whole
corpus then goes through the real ingest, where every line must be accounted for.
"""

from __future__ import annotations

import math
import re
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from pipelines.lib.ingest import bulk, documents
from pipelines.lib.reader import LineBatch, iter_line_batches, nonblank_lines, stripped_lines
from pipelines.lib.transform import transform_lines
from schemas.adapters import detect
from schemas.record import FIELD_NAMES
from tests.adapter_support import transform_connection
from tests.conftest import HASH_KEY

CORPUS = Path(__file__).parent / "fixtures" / "real"
_FIELDS = set(FIELD_NAMES) | {"line", "quarantined", "ignored"}


def _cases() -> list[tuple[Path, str, dict[str, Any]]]:
    cases = []
    for expected in sorted(CORPUS.rglob("expected.yaml")):
        for name, entry in (yaml.safe_load(expected.read_text()) or {}).items():
            cases.append((expected.parent / name, entry.get("reading", ""), entry))
    return cases


CASES = _cases()


def _case_id(case: tuple[Path, str, dict[str, Any]]) -> str:
    return str(case[0].relative_to(CORPUS))


def _span_order(item: str | None) -> tuple[int, ...]:
    return tuple(int(n) for n in re.findall(r"\d+", item or "")[:2])


def _batches(path: Path) -> list[LineBatch]:
    """The file's lines, or its records where it holds JSON documents (numbered by position, as the ingest does)."""
    first = next(nonblank_lines(str(path)), "")
    if documents.opens_document(first) or (not first and documents.opens_array(path.read_bytes()[:4096])):
        return list(documents.records(bulk.reader_connection(None), str(path), first or "[", 1 << 30))
    return list(iter_line_batches(str(path)))


def read_sample(path: Path) -> list[dict[str, Any]]:
    """Every row the file yields (records, quarantined and ignored rows), in line, attempt and span order."""
    batches = _batches(path)
    adapter = detect(stripped_lines(batches), str(path))
    con = transform_connection()
    rows: list[dict[str, Any]] = []
    for batch in batches:
        rows += transform_lines(con, adapter, batch.lines, path.as_uri(), HASH_KEY).to_pylist()
        rows += [{"source_line": n, "reason": reason} for n, reason, _raw in batch.rejected]
    return sorted(rows, key=lambda r: (r["source_line"], r.get("attempt") or 0, _span_order(r.get("item"))))


def _same(got: Any, want: Any) -> bool:
    if isinstance(want, datetime | date) or (isinstance(got, datetime) and isinstance(want, str)):
        want = want if isinstance(want, datetime) else datetime.fromisoformat(str(want).replace("Z", "+00:00"))
        want = want if want.tzinfo else want.replace(tzinfo=UTC)
        return got == want
    if isinstance(want, float) or (isinstance(got, float) and isinstance(want, int)):
        # a millionth, relative: durations from epoch-second floats differ from their decimal difference there
        return got is not None and math.isclose(got, want, rel_tol=1e-6, abs_tol=1e-12)
    if isinstance(want, list):
        return list(got or []) == want
    return got == want


def _params() -> list[Any]:
    """Every case; only the first sample of each format folder runs in `make test-fast` (a sample costs a DuckDB
    transform, about half a second), all of them in `make test`."""
    folders: set[str] = set()
    params = []
    for case in CASES:
        folder = case[0].relative_to(CORPUS).parts[0]
        params.append(pytest.param(*case, id=_case_id(case), marks=() if folder not in folders else pytest.mark.slow))
        folders.add(folder)
    return params


@pytest.mark.parametrize(("path", "reading", "entry"), _params())
def test_sample_reads_as_expected(path: Path, reading: str, entry: dict[str, Any]) -> None:
    """`reading` (in the parameters) says, where a sample is ambiguous, which reading the expectation chose."""
    rows = read_sample(path)
    expected = entry["rows"]
    assert [r["source_line"] for r in rows] == [e["line"] for e in expected], "rows per line differ"
    problems = []
    for index, (got, want) in enumerate(zip(rows, expected, strict=True)):
        unknown = set(want) - _FIELDS
        assert not unknown, f"row {index}: expected.yaml names unknown fields {sorted(unknown)}"
        where = f"row {index} (line {want['line']}{', ' + got['item'] if got.get('item') else ''})"
        if "quarantined" in want:
            if not got.get("reason") or want["quarantined"] not in got["reason"]:
                problems.append(f"{where}: quarantined for {got.get('reason')!r}, expected {want['quarantined']!r}")
            continue
        if "ignored" in want:
            if not got.get("ignored") or want["ignored"] not in got["ignored"]:
                problems.append(f"{where}: ignored {got.get('ignored')!r} (reason {got.get('reason')!r})")
            continue
        if got.get("reason") or got.get("ignored"):
            problems.append(f"{where}: not a record: {got.get('reason') or got.get('ignored')}")
            continue
        for name, value in want.items():
            if name != "line" and not _same(got[name], value):
                problems.append(f"{where}: {name} = {got[name]!r}, expected {value!r}")
    assert not problems, "\n".join(problems)


def test_the_corpus_is_large_and_credited() -> None:
    """At least 60 real samples, at least 5 OpenTelemetry instrumentations, and a SOURCES.md for every folder."""
    samples = {path for path, _reading, _entry in CASES}
    assert len(samples) >= 60
    instrumentations = {p.relative_to(CORPUS / "otel").parts[0] for p in samples if p.is_relative_to(CORPUS / "otel")}
    assert len(instrumentations) >= 5, instrumentations
    for folder in {p.parent for p in samples}:
        credits = (folder / "SOURCES.md").read_text()
        missing = [p.name for p in samples if p.parent == folder and p.name not in credits]
        assert not missing, f"{folder}: samples without an entry in SOURCES.md: {missing}"
    on_disk = {p for p in CORPUS.rglob("*") if p.suffix in (".jsonl", ".csv", ".json")}
    assert on_disk <= samples, f"samples without expected rows: {sorted(map(str, on_disk - samples))}"


@pytest.mark.slow
def test_the_whole_corpus_ingests_with_every_line_accounted_for(warehouse, run_ingest, tmp_path) -> None:
    """The corpus through the real ingest, each folder's JSON-lines samples as one file (the tests read every file
    in bulk, and a read of its own per sample cost a minute), the CSV exports as they are."""
    files: dict[Path, list[str]] = {}
    for path in sorted({path for path, _reading, _entry in CASES}):
        if path.suffix == ".jsonl":
            files.setdefault(path.parent, []).append(path.read_text().rstrip("\n") + "\n")
    joined = []
    for folder, texts in files.items():
        joined.append(tmp_path / f"{'-'.join(folder.relative_to(CORPUS).parts)}.jsonl")
        joined[-1].write_text("".join(texts))
    exports = sorted({str(path) for path, _reading, _entry in CASES if path.suffix != ".jsonl"})
    report = run_ingest(*map(str, joined), *exports)
    assert report.balanced
    expected_rows = sum(len(entry["rows"]) for _path, _reading, entry in CASES)
    assert report.records == expected_rows
    quarantined = sum(1 for _p, _r, entry in CASES for row in entry["rows"] if "quarantined" in row)
    assert report.quarantined == quarantined
