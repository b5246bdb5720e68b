"""A landing folder mixing every format: detection per file, several records per line, and the accounting
(records = written + duplicates + quarantined + ignored per file and run; every line covered)."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from pipelines.lib.ingest import stage
from schemas.adapters import BY_NAME, detect
from tests.adapter_support import adapt
from tests.conftest import ledger_entries, quarantined, record, stored, write_lines
from tests.test_adapters_litellm import SUCCESS, failure
from tests.test_adapters_openrouter import chat, generation
from tests.test_adapters_otel import CHAT, export, span
from tests.test_adapters_workload import AZURE_LINES, MOONCAKE_LINES

SECRET = "my card number is 4111 1111 1111 1111"


def landing(folder: Path) -> dict[str, tuple[str, int, int, int, int, int]]:
    """Write one file per format; returns file -> (format, lines, records, written, quarantined, ignored)."""
    attempts = [
        {"provider_name": "Anthropic", "status": 529, "latency": 300},
        {"provider_name": "Infermatic", "status": 200},
    ]
    write_lines(folder / "canonical.jsonl", [record(request_id="c1"), record(request_id="c2"), "{broken"])
    write_lines(
        folder / "openrouter.jsonl",
        [
            chat(),
            generation(provider_responses=attempts),  # 2 records from one line
            {"error": {"code": 429, "message": "Rate limit exceeded", "metadata": {"provider_name": "Anthropic"}}},
            "<html>502 Bad Gateway</html>",
        ],
    )
    write_lines(folder / "litellm.jsonl", [SUCCESS, failure("429", "RateLimitError"), "not a payload"])
    leaky = dict(CHAT, **{"gen_ai.input.messages": json.dumps([{"role": "user", "content": SECRET}])})
    write_lines(
        folder / "otel.jsonl",
        [
            export(span("s1", CHAT), span("s2", {"gen_ai.operation.name": "execute_tool"}), span("s3", CHAT)),
            export(span("t1", {"http.request.method": "GET"})),  # no model call: ignored
            export(span("u1", CHAT), span("u2", leaky, startTimeUnixNano="not a time")),  # 1 good, 1 bad
            "{",
        ],
    )
    (folder / "azure.csv").write_text("\n".join([*AZURE_LINES, "2023-11-16 18:17:05.0000000,1"]) + "\n")
    (folder / "mooncake.jsonl").write_text("\n".join([*MOONCAKE_LINES, "{oops"]) + "\n")
    return {
        "azure.csv": ("azure-llm-trace", 5, 5, 3, 1, 1),
        "canonical.jsonl": ("canonical", 3, 3, 2, 1, 0),
        "litellm.jsonl": ("litellm", 3, 3, 2, 1, 0),
        "mooncake.jsonl": ("mooncake-trace", 4, 4, 3, 1, 0),
        "openrouter.jsonl": ("openrouter", 4, 5, 3, 2, 0),
        "otel.jsonl": ("otel", 4, 6, 3, 2, 1),
    }


@pytest.mark.fast_cases(1)
@pytest.mark.parametrize("name", ["canonical", "openrouter", "litellm", "otel", "provider-bodies", "mooncake-trace"])
def test_a_line_of_json_null_is_json_but_not_an_object(name):
    """from_json gives the JSON `null` as SQL NULL, as it gives a line that does not parse: the reasons still
    tell the two apart, as they tell an array or a number."""
    rows = adapt(name, "null", " null\r", "[null]", "nul", "null,")
    assert [row["reason"] for row in rows] == ["not a JSON object"] * 3 + ["not JSON"] * 2


def test_each_file_of_a_mixed_folder_is_detected(tmp_path):
    expected = landing(tmp_path)
    for name, (fmt, *_) in expected.items():
        assert detect((tmp_path / name).read_text().splitlines(), name).name == fmt, name


@pytest.mark.slow
def test_mixed_folder_ingests_and_every_count_adds_up(tmp_path, warehouse, run_ingest):
    expected = landing(tmp_path / "landing")
    report = run_ingest(tmp_path / "landing")
    got = {
        f.url.rsplit("/", 1)[1]: (f.source_format, f.lines, f.records, f.written, f.quarantined, f.ignored)
        for f in report.files
    }
    assert got == expected
    for f in report.files:
        assert f.balanced and f.uncovered == 0 and f.duplicates == 0
        assert f.records == f.written + f.duplicates + f.quarantined + f.ignored
    assert (report.lines, report.records) == (23, 26)
    assert report.records == report.written + report.duplicates + report.quarantined + report.ignored
    assert len(stored(warehouse)) == report.written == 16

    rows = {(r["source_uri"].rsplit("/", 1)[1], r["source_line"], r["reason"]) for r in quarantined(warehouse)}
    assert ("otel.jsonl", 3, "span 2 (chat gpt-4o): created_at is not an ISO 8601 timestamp ('not a time')") in rows
    assert ("otel.jsonl", 4, "not JSON") in rows
    assert ("openrouter.jsonl", 4, "not JSON") in rows
    azure = "expected 3 comma-separated fields (TIMESTAMP,ContextTokens,GeneratedTokens), got 2"
    assert ("azure.csv", 5, azure) in rows
    assert (
        "openrouter.jsonl",
        3,
        "OpenRouter error body without id and created: nothing to key it on (store them with the error)",
    ) in rows
    assert len(rows) == report.quarantined == 8
    assert all(SECRET not in r["raw"] for r in quarantined(warehouse))

    ledger = {
        json.loads(p.read_text())["url"].rsplit("/", 1)[1]: json.loads(p.read_text())
        for p in Path(warehouse.root, "_ledger").glob("*.json")
    }
    assert ledger["otel.jsonl"]["records"] == 6
    assert ledger["otel.jsonl"]["ignored_reasons"] == {"no GenAI model-call span among 1 span(s)": 1}
    assert ledger["azure.csv"]["ignored_reasons"] == {"CSV header": 1}

    by_key = {(r["request_id"], r["attempt"]): r for r in stored(warehouse)}
    assert by_key["gen-3bhGkxlo4XFrqiabUM7NDtwDzWwG", 1]["status"] == "error"
    assert by_key["gen-3bhGkxlo4XFrqiabUM7NDtwDzWwG", 2]["status"] == "success"
    assert {r["source_line"] for r in stored(warehouse, "source_format = 'otel'")} == {1, 3}


@pytest.mark.slow
def test_records_of_a_multi_record_line_are_deduplicated_one_by_one(tmp_path, run_ingest):
    attempts = [{"provider_name": "Anthropic", "status": 529}, {"provider_name": "Infermatic", "status": 200}]
    write_lines(tmp_path / "a" / "gen.jsonl", [generation(provider_responses=attempts)])
    first = run_ingest(tmp_path / "a")
    assert (first.lines, first.records, first.written) == (1, 2, 2)
    again = [generation(provider_responses=attempts), generation(id="gen-other", provider_responses=attempts)]
    write_lines(tmp_path / "b" / "gen.jsonl", again)
    second = run_ingest(tmp_path / "b")
    assert (second.lines, second.records, second.written, second.duplicates) == (2, 4, 2, 2)
    assert second.balanced


@pytest.mark.slow
def test_a_line_that_yields_nothing_keeps_the_file_from_being_marked_done(tmp_path, warehouse, run_ingest, monkeypatch):
    canonical = BY_NAME["canonical"]
    lossy = dataclasses.replace(
        canonical,
        name="lossy",
        select_sql=f"select * from ({canonical.select_sql}) where source_line <> 2",
        bulk_sql=f"select * from ({canonical.bulk_sql}) where source_line <> 2",
    )
    monkeypatch.setattr(stage, "detect", lambda lines, source: lossy)
    source = write_lines(tmp_path / "x.jsonl", [record(request_id="a"), record(request_id="b")])
    whole = write_lines(tmp_path / "y.jsonl", [record(request_id="c")])  # one line: nothing lost
    with pytest.raises(RuntimeError, match=r"2 lines read \(1 yielded no record\)"):
        run_ingest(source, whole)
    # the file is retried next time, not lost; the other file of the run is done all the same
    assert [Path(entry["url"]).name for entry in ledger_entries(warehouse)] == ["y.jsonl"]
