"""The Dagster code location: definitions load, the ingest asset and its checks run, the sensor requests files."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys

import dagster as dg
import pytest

from pipelines.definitions import defs
from pipelines.defs.ingest import landing_sensor, requests, requests_key_unique
from pipelines.defs.resources import LandingResource, PrivacyResource, WarehouseResource
from pipelines.lib.privacy import DEV_HASH_KEY, UNPROTECTED
from tests.conftest import PROJECT_ROOT, mart, record, write_lines


def _resources(warehouse: str, landing: str, hash_key: str = "k") -> dict[str, dg.ConfigurableResource]:
    return {
        "warehouse": WarehouseResource(url=warehouse),
        "landing": LandingResource(url=landing),
        "privacy": PrivacyResource(hash_key=hash_key),
    }


def test_definitions_load():
    assert defs.resolve_job_def("main") is not None
    assert defs.resolve_job_def("ingest_job") is not None
    assert defs.resolve_sensor_def("landing_sensor") is not None
    assert defs.resolve_schedule_def("daily_ingest_schedule").cron_schedule == "15 0 * * *"
    graph = defs.resolve_asset_graph()
    assert dg.AssetKey("requests") in graph.get_all_asset_keys()


def test_sql_models_are_assets_with_dependencies_from_their_sql():
    graph = defs.resolve_asset_graph()
    parents = graph.get(dg.AssetKey("tool_call_rate_daily")).parent_keys
    assert parents == {dg.AssetKey("int_requests_rolled_up")}
    staging = graph.get(dg.AssetKey("stg_gateway__attempts"))
    assert staging.parent_keys == {dg.AssetKey("requests"), dg.AssetKey("model_families")}
    assert staging.group_name == "staging"
    assert defs.resolve_job_def("models_job") is not None
    assert defs.resolve_sensor_def("models_after_ingest") is not None


@pytest.mark.slow
def test_dg_check_defs_passes(tmp_path):
    env = {**os.environ, "DAGSTER_HOME": str(tmp_path)}
    dg_bin = os.path.join(os.path.dirname(sys.executable), "dg")
    result = subprocess.run(
        [dg_bin, "check", "defs"], cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "All definitions loaded successfully" in result.stdout + result.stderr


def _materialize(tmp_path, lines, hash_key: str = "k", **config):
    landing = tmp_path / "landing"
    write_lines(landing / "a.jsonl", lines)
    resources = _resources(str(tmp_path / "wh"), str(landing), hash_key)
    return dg.materialize(
        [requests, requests_key_unique],
        resources=resources,
        run_config={"ops": {"requests": {"config": config}}},
        raise_on_error=False,
    )


def _checks(result) -> dict[str, dg.AssetCheckEvaluation]:
    return {e.check_name: e for e in result.get_asset_check_evaluations()}


@pytest.mark.slow
def test_ingest_asset_reports_counts_and_checks(tmp_path):
    lines = [record(request_id=f"r{i}") for i in range(19)] + ["garbage"]
    result = _materialize(tmp_path, lines)
    assert result.success
    [mat] = result.asset_materializations_for_node("requests")
    meta = {k: v.value for k, v in mat.metadata.items()}
    assert (meta["lines"], meta["rows_written"], meta["rows_duplicates"], meta["rows_quarantined"]) == (20, 19, 0, 1)
    assert json.loads(meta["days"]) == ["2025-06-01"]
    checks = _checks(result)
    assert checks["lines_conserved"].passed
    assert checks["quarantine_ratio"].passed  # 1/20 = 5% is at the threshold, not above
    assert checks["requests_key_unique"].passed
    assert checks["requests_key_unique"].metadata["records"].value == 19


@pytest.mark.slow
@pytest.mark.parametrize(("key", "warned"), [(DEV_HASH_KEY, 1), ("a-secret", 0)])
def test_the_public_development_key_is_warned_about_once_per_run(tmp_path, key, warned):
    instance = dg.DagsterInstance.ephemeral()
    landing = tmp_path / "landing"
    write_lines(landing / "a.jsonl", [record()])
    result = dg.materialize(
        [requests], resources=_resources(str(tmp_path / "wh"), str(landing), key), instance=instance
    )
    logs = instance.all_logs(result.run_id)
    found = [e for e in logs if e.level == logging.WARNING and UNPROTECTED in (e.user_message or "")]
    assert len(found) == warned


@pytest.mark.slow
def test_a_key_other_than_the_warehouses_is_warned_about_in_the_run(tmp_path):
    instance = dg.DagsterInstance.ephemeral()
    landing = tmp_path / "landing"
    write_lines(landing / "a.jsonl", [record()])
    found = []
    for key in ("first-secret", "second-secret"):
        result = dg.materialize(
            [requests], resources=_resources(str(tmp_path / "wh"), str(landing), key), instance=instance
        )
        logs = instance.all_logs(result.run_id)
        found.append([e for e in logs if e.level == logging.WARNING and "is not the key" in (e.user_message or "")])
    assert [len(warnings) for warnings in found] == [0, 1]


@pytest.mark.slow
def test_quarantine_ratio_warns_above_threshold(tmp_path):
    result = _materialize(tmp_path, [record(), "bad", "worse"], quarantine_warn_ratio=0.05)
    check = _checks(result)["quarantine_ratio"]
    assert result.success and not check.passed
    assert check.severity == dg.AssetCheckSeverity.WARN
    assert check.metadata["quarantined_ratio"].value == pytest.approx(2 / 3)


@pytest.mark.slow
def test_sensor_requests_each_new_file_once(tmp_path):
    landing = tmp_path / "landing"
    write_lines(landing / "a.jsonl", [record(request_id="a")])
    write_lines(landing / "b.jsonl", [record(request_id="b")])
    resources = _resources(str(tmp_path / "wh"), str(landing))
    with dg.build_sensor_context(resources=resources) as context:
        result = landing_sensor(context)
    assert sorted(r.run_config["ops"]["requests"]["config"]["sources"][0] for r in result.run_requests) == [
        f"file://{landing}/a.jsonl",
        f"file://{landing}/b.jsonl",
    ]
    with dg.build_sensor_context(resources=resources, cursor=result.cursor) as context:
        again = landing_sensor(context)
    assert isinstance(again, dg.SkipReason)
    write_lines(landing / "c.jsonl", [record(request_id="c")])
    with dg.build_sensor_context(resources=resources, cursor=result.cursor) as context:
        third = landing_sensor(context)
    assert [r.run_config["ops"]["requests"]["config"]["sources"][0] for r in third.run_requests] == [
        f"file://{landing}/c.jsonl"
    ]


@pytest.mark.slow
def test_sensor_skips_files_already_ingested(tmp_path):
    result = _materialize(tmp_path, [record()])
    assert result.success
    resources = _resources(str(tmp_path / "wh"), str(tmp_path / "landing"))
    with dg.build_sensor_context(resources=resources) as context:
        assert isinstance(landing_sensor(context), dg.SkipReason)


@pytest.mark.slow  # a Dagster process or run
def test_the_sql_models_build_in_one_op_and_a_selection_builds_only_itself(tmp_path):
    """One step builds every selected model (one connection, one upload); the others are left alone, and each
    built model reports its own materialization and checks."""
    from pipelines.defs.models import sql_models
    from pipelines.defs.resources import MetricsResource
    from pipelines.lib.ingest import ingest
    from pipelines.lib.storage import Warehouse

    warehouse = Warehouse(str(tmp_path / "wh"))
    source = write_lines(tmp_path / "a.jsonl", [record(request_id=f"r{i}") for i in range(3)])
    ingest([str(source)], warehouse, hash_key=b"k")
    selection = ["model_families", "stg_gateway__attempts", "int_requests_rolled_up", "tool_call_rate_daily"]
    result = dg.materialize(
        [sql_models],
        selection=selection,
        resources={"warehouse": WarehouseResource(url=warehouse.url), "metrics": MetricsResource()},
    )
    assert result.success
    built = [e.asset_key.to_user_string() for e in result.get_asset_materialization_events()]
    assert built == selection  # dependency order
    assert len({e.step_key for e in result.all_events if e.step_key}) == 1
    checks = {(e.asset_key.to_user_string(), e.check_name): e.passed for e in result.get_asset_check_evaluations()}
    assert checks == {
        ("int_requests_rolled_up", "grain_unique"): True,
        ("int_requests_rolled_up", "models_mapped"): True,
        ("tool_call_rate_daily", "grain_unique"): True,
    }
    assert mart(warehouse, "select sum(completed_requests) from tool_call_rate_daily") == [(3,)]
    assert mart(warehouse, "select count(*) from duckdb_tables() where table_name = 'spend_daily'") == [(0,)]


@pytest.mark.slow  # a Dagster run
def test_a_failing_model_fails_the_run_and_keeps_the_models_built_before_it(tmp_path, monkeypatch):
    from pipelines.defs.models import sql_models
    from pipelines.defs.resources import MetricsResource
    from pipelines.lib.ingest import ingest
    from pipelines.lib.sqlmodels.engine import Builder
    from pipelines.lib.storage import Warehouse

    warehouse = Warehouse(str(tmp_path / "wh"))
    ingest([str(write_lines(tmp_path / "a.jsonl", [record(request_id="r")]))], warehouse, hash_key=b"k")
    build = Builder.model

    def failing(self, name):
        if name == "tool_call_rate_daily":
            raise RuntimeError("a broken model")
        return build(self, name)

    monkeypatch.setattr(Builder, "model", failing)
    selection = ["model_families", "stg_gateway__attempts", "int_requests_rolled_up", "tool_call_rate_daily"]
    result = dg.materialize(
        [sql_models],
        selection=selection,
        resources={"warehouse": WarehouseResource(url=warehouse.url), "metrics": MetricsResource()},
        raise_on_error=False,
    )
    assert not result.success
    built = [e.asset_key.to_user_string() for e in result.get_asset_materialization_events()]
    assert built == selection[:3]
    assert mart(warehouse, "select count(*) from int_requests_rolled_up") == [(1,)]
