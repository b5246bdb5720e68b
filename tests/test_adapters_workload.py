"""Workload-trace adapters: the Azure LLM inference trace 2023 (CSV) and the Mooncake FAST'25 traces (JSONL).

Unit tests use a few lines written here in the traces' shape (header and column layout from the Azure
dataset's `AzureLLMInferenceDataset2023.md`, keys from Mooncake's `FAST25-release/README.md`). The in-place
tests read the copies under `shared/data/external/` (see each SOURCE.md) without copying them, and skip when
that folder is absent.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

import pytest

from schemas.adapters import detect, workload
from tests.adapter_support import adapt, one, valid
from tests.conftest import stored

EXTERNAL = Path(os.environ.get("GATEWAYLENS_EXTERNAL_DATA", "/work/shared/data/external"))
AZURE = EXTERNAL / "azure-llm-inference-2023"
MOONCAKE = EXTERNAL / "mooncake-fast25"

AZURE_LINES = [
    "TIMESTAMP,ContextTokens,GeneratedTokens",
    "2023-11-16 18:17:03.9799600,4808,10",
    "2023-11-16 18:17:04.0319600,3180,8",
    "2023-11-16 18:17:04.0990600,110,27",
]
MOONCAKE_LINES = [
    '{"timestamp": 0, "input_length": 6758, "output_length": 500, "hash_ids": [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10]}',
    '{"timestamp": 0, "input_length": 7322, "output_length": 490, "hash_ids": [0, 14, 15, 16, 17, 18, 19, 20, 21, 22]}',
    '{"timestamp": 3536999, "input_length": 1024, "output_length": 12, "hash_ids": [0, 1]}',
]


def test_azure_rows_and_header():
    header, first, *_ = adapt("azure-llm-trace", *AZURE_LINES, source_uri="file:///d/AzureLLMInferenceTrace_code.csv")
    assert (header["ignored"], header["reason"]) == ("CSV header", None)
    row = valid(first)
    assert row["request_id"] == "AzureLLMInferenceTrace_code.csv:2"
    assert row["created_at"] == datetime(2023, 11, 16, 18, 17, 3, 979960, tzinfo=UTC)  # no zone given: UTC
    assert (row["prompt_tokens"], row["completion_tokens"], row["status"], row["attempt"]) == (4808, 10, "success", 1)
    assert (row["model"], row["provider"], row["provider_native"], row["finish_reason"]) == (None, None, None, None)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("line", "reason"),
    [
        (
            "2023-11-16 18:17:04.0319600,3180",
            "expected 3 comma-separated fields (TIMESTAMP,ContextTokens,GeneratedTokens), got 2",
        ),
        ("", "blank line"),
        ("2023-11-16 18:17:04.0319600,many,8", "prompt_tokens is not an integer ('many')"),
        ("16/11/2023 18:17,1,2", "created_at is not an ISO 8601 timestamp ('16/11/2023 18:17')"),
    ],
)
def test_azure_bad_rows(line, reason):
    assert one("azure-llm-trace", line)["reason"] == reason


def test_mooncake_offsets_are_anchored_at_the_documented_epoch():
    rows = adapt("mooncake-trace", *MOONCAKE_LINES, source_uri="file:///d/conversation_trace.jsonl")
    assert [valid(r)["created_at"] for r in rows] == [
        workload.MOONCAKE_EPOCH,
        workload.MOONCAKE_EPOCH,
        datetime(2025, 1, 1, 0, 58, 56, 999000, tzinfo=UTC),
    ]
    assert [r["request_id"] for r in rows] == [f"conversation_trace.jsonl:{n}" for n in (1, 2, 3)]
    assert (rows[0]["prompt_tokens"], rows[0]["completion_tokens"], rows[0]["model"]) == (6758, 500, None)
    assert rows[0]["cached_prompt_tokens"] is None  # hash_ids are not read


@pytest.mark.slow
@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ("{oops", "not JSON"),
        (
            '{"timestamp": "soon", "input_length": 1, "output_length": 1}',
            "created_at is not an ISO 8601 timestamp ('soon')",
        ),
        ('{"timestamp": 5, "input_length": -1, "output_length": 1}', "prompt_tokens is negative (-1)"),
    ],
)
def test_mooncake_bad_lines(line, reason):
    assert one("mooncake-trace", line)["reason"] == reason


def test_detection():
    assert detect(AZURE_LINES, "a.csv").name == "azure-llm-trace"
    assert detect(AZURE_LINES[:1], "header-only.csv").name == "azure-llm-trace"
    assert detect(MOONCAKE_LINES, "m.jsonl").name == "mooncake-trace"


@pytest.mark.slow
def test_slices_ingest_without_loss(tmp_path, warehouse, run_ingest):
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "azure.csv").write_text("\r\n".join(AZURE_LINES))  # CRLF, no final newline
    (tmp_path / "in" / "mooncake.jsonl").write_text("\n".join(MOONCAKE_LINES) + "\n")
    report = run_ingest(tmp_path / "in")
    assert (report.lines, report.records, report.written, report.ignored, report.quarantined) == (7, 7, 6, 1, 0)
    assert report.balanced
    assert [f.ignored_reasons for f in report.files] == [{"CSV header": 1}, {}]
    assert {r["source_format"] for r in stored(warehouse)} == {"azure-llm-trace", "mooncake-trace"}


def _external(folder: Path) -> list[Path]:
    if not folder.is_dir():
        pytest.skip(f"{folder} is absent (public traces are read in place, never copied into the repo)")
    return sorted(p for p in folder.iterdir() if p.suffix in (".csv", ".jsonl"))


@pytest.mark.slow
@pytest.mark.parametrize(("folder", "adapter"), [(AZURE, "azure-llm-trace"), (MOONCAKE, "mooncake-trace")])
def test_external_traces_ingest_in_place_without_loss(folder, adapter, warehouse, run_ingest):
    files = _external(folder)
    report = run_ingest(*files)
    for file_report, path in zip(report.files, files, strict=True):
        with path.open("rb") as handle:
            content = handle.read()
        lines = content.count(b"\n") + (not content.endswith(b"\n"))
        assert file_report.source_format == adapter
        assert file_report.lines == file_report.records == lines
        assert file_report.quarantined == 0 and file_report.duplicates == 0
        assert file_report.written == lines - file_report.ignored
        assert file_report.ignored == (1 if adapter == "azure-llm-trace" else 0)  # the CSV header
        assert file_report.balanced
