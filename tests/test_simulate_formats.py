"""Tests of the simulator's format writers: each output parses as the real shape it imitates, the daily facts
read back from the files equal the simulated frame's (wherever the format can express them), the bytes are
reproducible, and no prompt text or raw user id is written.

(Long on purpose: every format is read back from one simulation, made once per module.)"""

from __future__ import annotations

import datetime as dt
import io
import json
import pkgutil
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import fsspec
import polars as pl
import pytest

import schemas.adapters
from devkit.simulate import formats, simulate
from devkit.simulate.formats._shared import LENGTH_REASONS, REDACTED
from devkit.simulate.formats.canonical import write_canonical
from devkit.simulate.formats.openrouter import OPENROUTER_PROVIDER_NAME
from pipelines.cli import main
from schemas.adapters import ADAPTERS, openrouter_activity

START = dt.date(2025, 1, 1)
FILES = {"openrouter": "gen.jsonl.zst", "litellm": "payloads.jsonl.gz", "otel": "spans.jsonl"}
#: Keys the OpenRouter OpenAPI spec marks required in GenerationResponse.data.
OPENROUTER_REQUIRED = [
    "id",
    "upstream_id",
    "total_cost",
    "cache_discount",
    "upstream_inference_cost",
    "created_at",
    "model",
    "app_id",
    "streamed",
    "cancelled",
    "provider_name",
    "latency",
    "moderation_latency",
    "generation_time",
    "finish_reason",
    "service_tier",
    "tokens_prompt",
    "tokens_completion",
    "native_tokens_prompt",
    "native_tokens_completion",
    "native_tokens_completion_images",
    "native_tokens_reasoning",
    "native_tokens_cached",
    "num_media_prompt",
    "num_input_audio_prompt",
    "num_media_completion",
    "num_search_results",
    "num_fetches",
    "web_search_engine",
    "origin",
    "usage",
    "is_byok",
    "native_finish_reason",
    "external_user",
    "api_type",
    "preset_id",
    "router",
    "provider_responses",
    "user_agent",
    "http_referer",
    "data_region",
    "workspace_id",
]
#: StandardLoggingPayload keys every written payload has.
LITELLM_KEYS = [
    "id",
    "trace_id",
    "litellm_call_id",
    "call_type",
    "stream",
    "response_cost",
    "status",
    "status_fields",
    "custom_llm_provider",
    "total_tokens",
    "prompt_tokens",
    "completion_tokens",
    "startTime",
    "endTime",
    "completionStartTime",
    "response_time",
    "model_map_information",
    "model",
    "model_id",
    "model_group",
    "api_base",
    "metadata",
    "cache_hit",
    "cache_key",
    "saved_cache_cost",
    "request_tags",
    "end_user",
    "requester_ip_address",
    "messages",
    "response",
    "error_str",
    "error_information",
    "model_parameters",
    "hidden_params",
]
OPENAI_FINISH = {"stop", "tool_calls", "length", "content_filter"}


@pytest.fixture(scope="module")
def frame() -> pl.DataFrame:
    """8 days at 500 requests a day: includes the Anthropic outage of day 6 (fallbacks, fully failed requests)."""
    return simulate(START, 8, 500, seed=11)


@pytest.fixture(scope="module")
def written(frame: pl.DataFrame, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The frame written in every format (zstd, gzip and plain text)."""
    folder = tmp_path_factory.mktemp("formats")
    paths = {name: folder / file for name, file in FILES.items()}
    for name, path in paths.items():
        assert formats.write(frame, str(path), name) == [str(path)]
    return paths


def _text(path: Path) -> str:
    with fsspec.open(str(path), "rb", compression="infer") as handle:
        return handle.read().decode()


def _objects(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in _text(path).splitlines()]


def _frame(path: Path) -> pl.DataFrame:
    return pl.read_ndjson(io.BytesIO(_text(path).encode()), infer_schema_length=None)


def _spans(path: Path) -> Iterator[tuple[dict[str, Any], dict[str, Any]]]:
    for export in _objects(path):
        for resource_spans in export["resourceSpans"]:
            for scope_spans in resource_spans["scopeSpans"]:
                for span in scope_spans["spans"]:
                    yield resource_spans["resource"], span


def _attributes(span: dict[str, Any]) -> dict[str, Any]:
    """Attribute key -> the AnyValue's one member (the value as written, e.g. an intValue string)."""
    out = {}
    for attribute in span["attributes"]:
        (kind, value), *rest = attribute["value"].items()
        assert not rest, attribute
        out[attribute["key"]] = value if kind != "arrayValue" else [v["stringValue"] for v in value["values"]]
    return out


def _final_attempts(frame: pl.DataFrame) -> pl.DataFrame:
    """Each request's final attempt, with the request's arrival time and its number of attempts."""
    return (
        frame.with_columns(arrived=pl.col("created_at").min().over("request_id"), attempts=pl.len().over("request_id"))
        .filter(pl.col("attempt") == pl.col("attempts"))
        .sort("arrived", "request_id")
    )


# --- shapes ----------------------------------------------------------------------------------------------------


@pytest.mark.slow
def test_openrouter_is_one_generation_per_request(frame: pl.DataFrame, written: dict[str, Path]) -> None:
    records = [line["data"] for line in _objects(written["openrouter"])]
    finals = _final_attempts(frame)
    served = finals.filter(pl.col("status") != "error")
    assert served.height < finals.height, "the fixture must contain fully failed requests"
    assert [r["id"] for r in records] == served["request_id"].to_list()  # fully failed requests have no record
    for record in records:
        assert set(OPENROUTER_REQUIRED) <= set(record)
        assert isinstance(record["app_id"], int) and record["http_referer"].startswith("https://app-")
        assert dt.datetime.fromisoformat(record["created_at"]).utcoffset() == dt.timedelta(0)
        assert record["created_at"].endswith("+00:00")
        assert record["finish_reason"] in OPENAI_FINISH | {None}
        assert record["cancelled"] == (record["finish_reason"] is None)
        assert re.fullmatch(r"eu-[0-9a-f]{32}", record["external_user"])
        *failed, last = record["provider_responses"]
        assert last["provider_name"] == record["provider_name"] and last["id"] == record["upstream_id"]
        assert last["status"] == (None if record["cancelled"] else 200)
        assert all(isinstance(r["status"], int) and r["status"] >= 400 and r["id"] is None for r in failed)
        assert record["latency"] is None or record["generation_time"] >= record["latency"]  # embeddings: no TTFT
        assert record["is_byok"] == last["is_byok"] == (record["total_cost"] == 0)  # BYOK: a reported zero
    assert any(record["is_byok"] for record in records)
    attempts = {
        request_id: group.sort("attempt")
        for (request_id,), group in frame.filter(pl.col("request_id").is_in(served["request_id"].to_list())).group_by(
            "request_id"
        )
    }
    fallbacks = [r for r in records if len(r["provider_responses"]) > 1]
    assert len(fallbacks) > 5  # the outage's fallbacks (background faults are rare)
    for record in fallbacks:
        expected = attempts[record["id"]]
        names = expected["provider_native"].replace(OPENROUTER_PROVIDER_NAME).to_list()
        assert [r["provider_name"] for r in record["provider_responses"]] == names
        assert [r["status"] for r in record["provider_responses"][:-1]] == expected["http_status"].to_list()[:-1]
        assert record["created_at"] == expected["created_at"][0].strftime("%Y-%m-%dT%H:%M:%S.%f+00:00")


@pytest.mark.slow
def test_openrouter_finish_reasons_are_normalized_with_the_native_kept(written: dict[str, Path]) -> None:
    records = pl.DataFrame([line["data"] for line in _objects(written["openrouter"])], infer_schema_length=None)
    assert {"Google", "Minimax", "Anthropic", "Amazon Bedrock"} <= set(records["provider_name"])
    pairs = set(records.select("finish_reason", "native_finish_reason").unique().iter_rows())
    assert {("tool_calls", "tool_use"), ("tool_calls", "tool_calls"), ("tool_calls", "STOP")} <= pairs
    assert {("stop", "end_turn"), ("stop", "STOP"), ("stop", "stop"), ("length", "max_tokens")} <= pairs
    assert ("stop", "tool_use") not in pairs


@pytest.mark.slow
def test_litellm_is_one_standard_logging_payload_per_attempt(frame: pl.DataFrame, written: dict[str, Path]) -> None:
    payloads = _objects(written["litellm"])
    assert len(payloads) == frame.height
    rows = frame.to_dicts()
    for payload, row in zip(payloads, rows, strict=True):
        assert set(LITELLM_KEYS) <= set(payload)
        assert payload["call_type"] == {"chat": "acompletion", "embeddings": "aembedding"}[row["operation"]]
        assert isinstance(payload["startTime"], float) and payload["startTime"] <= payload["completionStartTime"]
        assert payload["completionStartTime"] <= payload["endTime"]
        assert payload["startTime"] == pytest.approx(row["created_at"].timestamp(), abs=1e-6)
        assert payload["model"] == row["model"] and payload["model_group"] == row["model_requested"]
        assert payload["metadata"]["user_api_key_team_alias"] == row["app_id"]
        assert re.fullmatch(r"[0-9a-f]{64}", payload["metadata"]["user_api_key_hash"])
        assert (
            payload["end_user"]
            == payload["metadata"]["user_api_key_end_user_id"]
            == formats.end_user_id(row["user_id"])
        )
        if row["status"] == "success" and row["operation"] == "embeddings":
            assert payload["response"]["object"] == "list" and payload["response"]["choices"] is None
            assert payload["response"]["usage"]["prompt_tokens"] == row["prompt_tokens"]
        elif row["status"] == "success":
            assert payload["status"] == "success" and payload["id"] == payload["response"]["id"]
            choice = payload["response"]["choices"][0]
            assert choice["finish_reason"] in OPENAI_FINISH
            cut = row["native_finish_reason"] in LENGTH_REASONS  # a tool call cut at the limit says length
            assert (choice["finish_reason"] == "tool_calls") == (row["tool_calls"] > 0 and not cut)
            assert len(choice["message"]["tool_calls"] or []) == row["tool_calls"]
            usage = payload["response"]["usage"]
            assert usage["prompt_tokens_details"]["cached_tokens"] == row["cached_prompt_tokens"]
            assert (usage["completion_tokens_details"] or {}).get("reasoning_tokens") == row["reasoning_tokens"]
        else:
            assert payload["status"] == "failure" and payload["response"] is None
            assert payload["id"] == payload["litellm_call_id"]
            info = payload["error_information"]
            assert info["error_code"] == ("" if row["http_status"] is None else str(row["http_status"]))
            assert (info["error_class"] == "CancelledError") == (row["status"] == "cancelled")
            if row["status"] == "error":
                assert row["error_code"] in info["error_message"] and info["error_class"] != "CancelledError"
    traces = pl.DataFrame(
        {"trace_id": [p["trace_id"] for p in payloads], "call": [p["litellm_call_id"] for p in payloads]}
    )
    assert traces["call"].n_unique() == frame.height
    assert traces["trace_id"].n_unique() == frame["request_id"].n_unique()
    same_trace = frame.with_columns(trace=traces["trace_id"]).group_by("trace").agg(pl.col("request_id").n_unique())
    assert (same_trace["request_id"] == 1).all()
    classes = {p["error_information"]["error_class"] for p in payloads if p["status"] == "failure"}
    assert {"RateLimitError", "InternalServerError", "CancelledError"} <= classes


@pytest.mark.slow
def test_otel_is_otlp_json_with_genai_attributes(frame: pl.DataFrame, written: dict[str, Path]) -> None:
    spans = list(_spans(written["otel"]))
    assert len(spans) == frame.height
    starts = frame.select(
        start=pl.col("created_at").dt.epoch("us").cast(pl.String), name=pl.concat_str("operation", pl.lit(" "), "model")
    )
    attempts = set(starts.iter_rows())
    traces: dict[str, set[str]] = {}
    for resource, span in spans:
        assert re.fullmatch(r"[0-9a-f]{32}", span["traceId"]) and re.fullmatch(r"[0-9a-f]{16}", span["spanId"])
        attributes = _attributes(span)
        operation = attributes["gen_ai.operation.name"]
        assert span["kind"] == 3 and span["name"].startswith(f"{operation} ") and operation in ("chat", "embeddings")
        start, end = span["startTimeUnixNano"], span["endTimeUnixNano"]
        assert isinstance(start, str) and start.isdigit() and int(end) >= int(start)
        for key in ("gen_ai.usage.input_tokens", "gen_ai.usage.output_tokens", "http.response.status_code"):
            assert key not in attributes or re.fullmatch(r"\d+", attributes[key])  # int64 as a JSON string
        (service,) = resource["attributes"]
        assert service["key"] == "service.name"
        traces.setdefault(span["traceId"], set()).add(span["spanId"])
        failed = span["status"].get("code") == 2
        assert failed == ("error.type" in attributes)
        assert (failed or operation == "embeddings") == ("gen_ai.response.finish_reasons" not in attributes)
        assert start.endswith("000") and (start[:-3], span["name"]) in attempts
    assert len(traces) == frame["request_id"].n_unique()
    assert sum(len(ids) for ids in traces.values()) == frame.height
    providers = {_attributes(span)["gen_ai.provider.name"] for _, span in spans}
    assert {"anthropic", "aws.bedrock", "gcp.vertex_ai", "gcp.gemini", "openai", "azure.ai.openai"} <= providers
    resends = [_attributes(span).get("http.request.resend_count") for _, span in spans]
    assert resends.count("1") == frame.filter(pl.col("attempt") == 2).height


@pytest.mark.slow
def test_otel_groups_spans_by_minute_and_app(written: dict[str, Path]) -> None:
    for export in _objects(written["otel"]):
        minutes = set()
        apps = [r["resource"]["attributes"][0]["value"]["stringValue"] for r in export["resourceSpans"]]
        assert len(apps) == len(set(apps))
        for resource_spans in export["resourceSpans"]:
            (scope_spans,) = resource_spans["scopeSpans"]
            assert scope_spans["scope"] == {"name": "gatewaylens.simulate", "version": "1.0"}
            minutes |= {int(s["startTimeUnixNano"]) // 60_000_000_000 for s in scope_spans["spans"]}
        assert len(minutes) == 1


# --- the same facts in every format ----------------------------------------------------------------------------


def _facts(frame: pl.DataFrame, day: pl.Expr, *, gemini_tool_calls: bool = True) -> pl.DataFrame:
    """Per day: completed requests, tool-call finishes and reasoning tokens of successful attempts, and error
    attempts."""
    success = pl.col("status") == "success"
    tool = success & (pl.col("tool_calls") > 0) & ~pl.col("native_finish_reason").is_in(LENGTH_REASONS)
    if not gemini_tool_calls:
        tool = tool & (pl.col("native_finish_reason") != "STOP")
    return (
        frame.group_by(day=day)
        .agg(
            completed=success.sum(),
            tool_calls=tool.sum(),
            reasoning=pl.col("reasoning_tokens").filter(success).sum(),
            errors=(pl.col("status") == "error").sum(),
        )
        .sort("day")
    )


def _expected(frame: pl.DataFrame, format: str) -> pl.DataFrame:
    if format == "openrouter":  # requests with a generation, on the day they arrived
        served = _final_attempts(frame).filter(pl.col("status") != "error")["request_id"]
        kept = frame.filter(pl.col("request_id").is_in(served.to_list()))
        return _facts(kept, pl.col("created_at").min().over("request_id").dt.date())
    return _facts(frame, pl.col("created_at").dt.date(), gemini_tool_calls=format != "otel")


def _read_openrouter(path: Path) -> pl.DataFrame:
    data = _frame(path).unnest("data")
    errors = data.select(
        "created_at", status=pl.col("provider_responses").list.eval(pl.element().struct.field("status") >= 400)
    )
    return (
        data.with_columns(
            day=pl.col("created_at").str.to_datetime(time_zone="UTC").dt.date(),
            errors=errors["status"].list.sum(),
            success=~pl.col("cancelled"),
        )
        .group_by("day")
        .agg(
            completed=pl.col("success").sum(),
            tool_calls=(pl.col("finish_reason") == "tool_calls").sum(),
            reasoning=pl.col("native_tokens_reasoning").filter(pl.col("success")).sum(),
            errors=pl.col("errors").sum(),
        )
        .sort("day")
    )


def _read_litellm(path: Path) -> pl.DataFrame:
    data = _frame(path)
    success = pl.col("status") == "success"
    usage = pl.col("response").struct.field("usage")
    choice = pl.col("response").struct.field("choices").list.first()
    error_class = pl.col("error_information").struct.field("error_class")
    return (
        data.group_by(day=pl.from_epoch((pl.col("startTime") * 1e6).round().cast(pl.Int64), "us").dt.date())
        .agg(
            completed=success.sum(),
            tool_calls=(choice.struct.field("finish_reason") == "tool_calls").sum(),
            reasoning=usage.struct.field("completion_tokens_details").struct.field("reasoning_tokens").sum(),
            errors=(~success & (error_class != "CancelledError")).sum(),
        )
        .sort("day")
    )


def _read_otel(path: Path) -> pl.DataFrame:
    """With DuckDB: unnest the export requests down to spans and pick attributes by key."""

    def attribute(key: str, member: str = "intValue") -> str:
        return f"list_filter(s.attributes, lambda a: a.key = '{key}')[1].value.{member}"

    query = f"""
        with exports as (select unnest(resourceSpans) as r from read_json(?, format = 'newline_delimited')),
        scopes as (select unnest(r.scopeSpans) as ss from exports),
        spans as (select unnest(ss.spans) as s from scopes),
        typed as (
            select
                make_timestamp(cast(s.startTimeUnixNano as bigint) // 1000)::date as day,
                s.status.code = 2 as failed,
                {attribute("error.type", "stringValue")} as error_type,
                cast({attribute("gen_ai.usage.reasoning.output_tokens")} as bigint) as reasoning,
                coalesce(
                    {attribute("gen_ai.response.finish_reasons", "arrayValue")}.values[1].stringValue,
                    -- a share of the spans writes the list as JSON inside a string (a quirk of real exporters)
                    from_json({attribute("gen_ai.response.finish_reasons", "stringValue")}, '["VARCHAR"]')[1]
                ) as finish
            from spans
        )
        select
            day,
            count(*) filter (where not coalesce(failed, false)) as completed,
            count(*) filter (where finish in ('tool_use', 'tool_calls')) as tool_calls,
            sum(reasoning) filter (where not coalesce(failed, false)) as reasoning,
            count(*) filter (where failed and error_type <> 'CancelledError') as errors
        from typed
        group by day
        order by day
    """
    return pl.from_arrow(duckdb.connect().sql(query, params=[str(path)]).to_arrow_table())


@pytest.mark.slow
@pytest.mark.parametrize("format", ["openrouter", "litellm", "otel"])
def test_daily_facts_read_back_equal_the_frame(frame: pl.DataFrame, written: dict[str, Path], format: str) -> None:
    reader = {"openrouter": _read_openrouter, "litellm": _read_litellm, "otel": _read_otel}[format]
    got = reader(written[format]).cast(pl.Int64, strict=False).with_columns(pl.col("day").cast(pl.Date))
    expected = _expected(frame, format).cast(pl.Int64, strict=False).with_columns(pl.col("day").cast(pl.Date))
    assert got.height == 8 and got["errors"].sum() > 0 and got["tool_calls"].sum() > 0
    assert got.equals(expected), (got, expected)


@pytest.mark.slow
def test_formats_agree_with_each_other(frame: pl.DataFrame, written: dict[str, Path]) -> None:
    """Completed requests and error attempts per day are the same read from LiteLLM and OTel files, and
    reasoning tokens the same in all three."""
    litellm, otel = _read_litellm(written["litellm"]), _read_otel(written["otel"]).cast({"day": pl.Date})
    columns = ["day", "completed", "reasoning", "errors"]
    assert (
        litellm.select(columns).cast(pl.Int64, strict=False).equals(otel.select(columns).cast(pl.Int64, strict=False))
    )
    openrouter = _read_openrouter(written["openrouter"])
    assert openrouter["reasoning"].sum() == litellm["reasoning"].sum()  # fully failed requests have no reasoning


# --- privacy, determinism, files -------------------------------------------------------------------------------


def _strings(value: Any, key: str = "") -> Iterator[tuple[str, str]]:
    if isinstance(value, dict):
        for k, v in value.items():
            yield from _strings(v, k)
    elif isinstance(value, list):
        for v in value:
            yield from _strings(v, key)
    elif isinstance(value, str):
        yield key, value


@pytest.mark.slow
def test_no_text_and_no_raw_user_ids(frame: pl.DataFrame, written: dict[str, Path]) -> None:
    raw_users = set(frame["user_id"].unique().to_list())
    pseudonyms = {formats.end_user_id(u) for u in raw_users}
    for format, path in written.items():
        text = _text(path)
        assert not re.search(r"user-\d{5}", text), format
        strings = [pair for obj in map(json.loads, text.splitlines()) for pair in _strings(obj)]
        assert not {value for _, value in strings} & raw_users
        for key, value in strings:
            if key in ("content", "text", "prompt", "completion", "input", "output"):
                assert value == REDACTED, (format, key, value)
            assert len(value) <= 128, (format, key)
        users = {value for key, value in strings if key in ("external_user", "end_user", "user_api_key_end_user_id")}
        assert users <= pseudonyms
        assert bool(users) == (format != "otel")


@pytest.mark.slow
def test_same_frame_same_bytes(frame: pl.DataFrame, written: dict[str, Path], tmp_path: Path) -> None:
    for format, path in written.items():
        again = tmp_path / path.name
        formats.write(simulate(START, 8, 500, seed=11), str(again), format)
        assert again.read_bytes() == path.read_bytes(), format
    magic = {".zst": b"\x28\xb5\x2f\xfd", ".gz": b"\x1f\x8b"}
    assert written["openrouter"].read_bytes()[:4] == magic[".zst"]
    assert written["litellm"].read_bytes()[:2] == magic[".gz"]


def test_rows_per_file_splits_lines_and_keeps_requests_whole(frame: pl.DataFrame, tmp_path: Path) -> None:
    urls = formats.write(frame, str(tmp_path / "or"), "openrouter", rows_per_file=1000, suffix=".jsonl.zst")
    assert urls[0].endswith("/openrouter-0000.jsonl.zst") and len(urls) > 1
    counts = [len(_text(Path(url)).splitlines()) for url in urls]
    assert all(c == 1000 for c in counts[:-1]) and 0 < counts[-1] <= 1000
    assert sum(counts) == _final_attempts(frame).filter(pl.col("status") != "error").height


def test_each_writer_module_is_named_like_the_module_reading_its_format() -> None:
    """devkit/simulate/formats/<name>.py writes what schemas/adapters/<name>.py reads: every writer module (the
    files, not a list) is registered once, has a reader of its name, and writes every format that reader reads."""
    writers = {m.name for m in pkgutil.iter_modules(formats.__path__) if not m.name.startswith("_")}
    readers = {m.name for m in pkgutil.iter_modules(schemas.adapters.__path__) if not m.name.startswith("_")}
    assert writers, "no writer modules found"
    assert writers <= readers, f"writers without a reader of their name: {sorted(writers - readers)}"
    registered = [formats.module_name(module) for module in formats.WRITERS.values()]
    assert sorted(registered) == sorted(writers), "a writer module is missing from formats.WRITERS, or listed twice"
    read_by_writers = [adapter.name for adapter in ADAPTERS if formats.reader_module(adapter) in writers]
    assert list(formats.FORMATS) == read_by_writers  # one format per writer, named as its adapter


def test_canonical_is_the_simulators_writer(frame: pl.DataFrame, tmp_path: Path) -> None:
    formats.write(frame, str(tmp_path / "a.jsonl.zst"), "canonical")
    write_canonical(frame, str(tmp_path / "b.jsonl.zst"))
    assert (tmp_path / "a.jsonl.zst").read_bytes() == (tmp_path / "b.jsonl.zst").read_bytes()
    with pytest.raises(ValueError, match="unknown format"):
        formats.write(frame, str(tmp_path / "c.jsonl"), "portkey")


def test_cli_simulate_format(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "otel.jsonl.zst"
    argv = ["simulate", "--days", "1", "--requests-per-day", "200", "--seed", "3", "--format", "otel"]
    assert main([*argv, "--out", str(out)]) == 0
    assert "otel file(s)" in capsys.readouterr().out
    spans = list(_spans(out))
    assert len(spans) == simulate(START, 1, 200, seed=3).height


def test_an_empty_frame_gives_empty_files(tmp_path: Path) -> None:
    empty = simulate(START, 0, 100, seed=1)
    for format in formats.FORMATS:
        path = tmp_path / f"{format}.jsonl.zst"
        assert formats.write(empty, str(path), format) == [str(path)]
        header = ",".join(openrouter_activity.HEADER) + "\n" if format == "openrouter-activity" else ""
        assert _text(path) == header
