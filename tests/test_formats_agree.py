"""The same simulated traffic, carried by each log format, gives the same metrics wherever the format can express
them: the writers (devkit.simulate.formats), the adapters (schemas.adapters), the ingest and the SQL
models all take part.

What a format cannot express is left out of its comparison, as documented in the writers and the adapters:
OpenRouter has no record of a request whose every attempt failed (so no errors of those), OTel carries a
Gemini tool call only in message content (its finish reason stays STOP), raw provider bodies carry no client
abort. The simulated traffic includes embedding calls: every format must keep them out of the generation metrics.
"""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest

from devkit.simulate import formats, simulate
from pipelines.lib.ingest import ingest
from pipelines.lib.storage import Warehouse
from tests.conftest import HASH_KEY, build_models, mart

# the whole pipeline over data: `make test-fast` leaves it out; the first test pays for the module's runs
pytestmark = [pytest.mark.slow, pytest.mark.timeout(1200)]


@pytest.fixture(scope="module")
def marts(tmp_path_factory) -> dict[str, Warehouse]:
    root = tmp_path_factory.mktemp("formats")
    # two weekdays, the second with the scheduled outage of day 6 (background provider faults are rare)
    frame = simulate(dt.date(2025, 9, 3), 7, 400, seed=21)
    frame = frame.filter(pl.col("created_at").min().over("request_id").dt.date() >= dt.date(2025, 9, 8))
    built = {}
    for name in formats.FORMATS:
        path = root / (f"{name}.csv" if name == "openrouter-activity" else f"{name}.jsonl")
        formats.write(frame, str(path), name)
        warehouse = Warehouse(str(root / f"warehouse-{name}"))
        report = ingest([str(path)], warehouse, hash_key=HASH_KEY)
        assert report.quarantined == 0 and report.balanced, name
        build_models(warehouse)
        built[name] = warehouse
    return built


def _tool_calls(warehouse: Warehouse, families: tuple[str, ...]) -> list[tuple]:
    return mart(
        warehouse,
        "select day, model_family, completed_requests, tool_call_requests from tool_call_rate_daily "
        "where list_contains(?, model_family) order by all",
        [list(families)],
    )


def _reasoning(warehouse: Warehouse) -> list[tuple]:
    return mart(
        warehouse,
        "select day, model_family, output_tokens, reported_output_tokens, reasoning_tokens "
        "from reasoning_share_daily order by all",
    )


def _errors(warehouse: Warehouse) -> list[tuple]:
    return mart(
        warehouse,
        "select cast(hour as date), provider, sum(attempts), sum(errors), sum(rate_limited), sum(timeouts), "
        "sum(server_errors), sum(client_errors) from provider_errors_hourly group by all order by all",
    )


ALL_FAMILIES = ("Claude", "GPT", "Gemini", "Llama", "Qwen", "DeepSeek", "Mistral", "MiniMax", "Kimi", "GLM", "Grok")


@pytest.mark.parametrize("name", ["openrouter", "litellm", "provider-bodies", "openrouter-activity"])
def test_tool_call_rates_agree(marts, name):
    expected = _tool_calls(marts["canonical"], ALL_FAMILIES)
    assert expected and any(row[3] for row in expected)
    assert _tool_calls(marts[name], ALL_FAMILIES) == expected


def test_otel_tool_call_rates_agree_except_gemini(marts):
    families = tuple(f for f in ALL_FAMILIES if f != "Gemini")
    assert _tool_calls(marts["otel"], families) == _tool_calls(marts["canonical"], families)


@pytest.mark.parametrize("name", ["openrouter", "litellm", "otel", "provider-bodies", "openrouter-activity"])
def test_reasoning_shares_agree(marts, name):
    expected = _reasoning(marts["canonical"])
    assert any(row[4] for row in expected) and any(row[3] < row[2] for row in expected)  # real, partial coverage
    assert _reasoning(marts[name]) == expected


@pytest.mark.parametrize("name", ["litellm", "otel"])
def test_provider_errors_agree(marts, name):
    expected = _errors(marts["canonical"])
    assert any(row[3] for row in expected)
    assert _errors(marts[name]) == expected


@pytest.mark.parametrize("name", formats.FORMATS)
def test_every_format_keeps_embeddings_as_traffic_not_generation(marts, name):
    operations = mart(marts[name], "select operation, is_generation, count(*) from int_requests_rolled_up group by all")
    assert {op: gen for op, gen, _n in operations} == {"chat": True, "embeddings": False}
    assert mart(marts[name], "select count(*) from model_mix_daily where model_family = 'Other'") == [(0,)]
