"""The instance's event log (`pipelines.instance`): Dagster's SQLite files, read and written as Dagster's own
storage reads and writes them, through engines kept (a bounded number of them), a run still watched live."""

from __future__ import annotations

import multiprocessing
import shutil
import time

import dagster as dg
import pytest
import sqlalchemy
from dagster._core.storage.event_log.sqlite import sqlite_event_log as dagster_sqlite
from dagster._core.storage.event_log.sqlite.sqlite_event_log import (
    SqliteEventLogStorage as DagsterSqliteEventLogStorage,
)
from watchdog.observers.polling import PollingObserver

from pipelines import instance as project_instance
from tests.conftest import PROJECT_ROOT


@dg.asset
def answer() -> dg.MaterializeResult:
    """A stand-in asset: one materialization and one log line per run."""
    return dg.MaterializeResult(metadata={"value": 42})


@dg.asset_check(asset=answer)
def answer_is_known() -> dg.AssetCheckResult:
    return dg.AssetCheckResult(passed=True)


def _home(tmp_path, project_settings: bool):
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    settings = home / "dagster.yaml"
    if project_settings:
        shutil.copy(PROJECT_ROOT / ".dagster" / "dagster.yaml", settings)
    else:
        settings.unlink(missing_ok=True)
    return home


def _run(home, monkeypatch) -> str:
    """Materialize `answer` and its check in the instance at `home`; the run's id."""
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    with dg.DagsterInstance.get() as instance:
        result = dg.materialize([answer, answer_is_known], instance=instance)
        assert result.success
        return result.run_id


def _history(home, monkeypatch) -> dict[str, list[str]]:
    """What an instance at `home` shows: each run's event types, and the latest materialization of `answer`."""
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    with dg.DagsterInstance.get() as instance:
        runs = {run.run_id: _event_types(instance, run.run_id) for run in instance.get_runs()}
        latest = instance.get_latest_materialization_event(dg.AssetKey("answer"))
        runs["latest"] = [latest.run_id, str(latest.asset_materialization.metadata["value"].value)]
        check = instance.event_log_storage.get_latest_asset_check_execution_by_key([answer_is_known.check_key])
        runs["check"] = [check[answer_is_known.check_key].run_id]
        return runs


def _event_types(instance: dg.DagsterInstance, run_id: str) -> list[str]:
    return [entry.dagster_event_type.value for entry in instance.all_logs(run_id) if entry.dagster_event]


def test_the_project_settings_use_this_storage_where_dagster_keeps_the_event_logs(tmp_path, monkeypatch):
    home = _home(tmp_path, project_settings=True)
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    with dg.DagsterInstance.get() as instance:
        storage = instance.event_log_storage
        assert type(storage) is project_instance.SqliteEventLogStorage
        assert storage._base_dir == str(home / "history" / "runs")


def test_runs_read_the_same_through_dagster_own_storage_both_ways(tmp_path, monkeypatch):
    """A run recorded by Dagster's default storage, then one by the project's, on one home: each storage shows
    both runs with the same events, the latest materialization and the latest check execution."""
    home = _home(tmp_path, project_settings=False)
    first = _run(home, monkeypatch)
    home = _home(tmp_path, project_settings=True)
    second = _run(home, monkeypatch)
    ours = _history(home, monkeypatch)
    home = _home(tmp_path, project_settings=False)
    theirs = _history(home, monkeypatch)
    assert ours == theirs
    assert ours["latest"] == [second, "42"] and ours["check"] == [second]
    assert ours[first] == ours[second]
    kinds = {dg.DagsterEventType.ASSET_MATERIALIZATION, dg.DagsterEventType.ASSET_CHECK_EVALUATION}
    assert {kind.value for kind in kinds | {dg.DagsterEventType.RUN_SUCCESS}} <= set(ours[second])


def test_engines_are_kept_and_the_index_keeps_its_connection(tmp_path, monkeypatch):
    """Every statement of a run goes through one engine per database file, none of Dagster's own (it builds one
    per statement); the index database keeps its connection open across runs; the run databases beyond the limit
    drop the least recently used run's engine."""
    home = _home(tmp_path, project_settings=True)
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    made: list[str] = []
    for module in (project_instance, dagster_sqlite):
        real = module.create_engine
        monkeypatch.setattr(
            module, "create_engine", lambda url, real=real, **kw: made.append(str(url)) or real(url, **kw)
        )
    index_connections: list[object] = []
    with dg.DagsterInstance.get() as instance:
        storage = instance.event_log_storage
        dg.materialize([answer], instance=instance)  # creates the index and its engine
        sqlalchemy.event.listen(storage._index_engine, "connect", lambda *_: index_connections.append(1))
        made.clear()
        first = dg.materialize([answer, answer_is_known], instance=instance).run_id
        runs = [dg.materialize([answer], instance=instance).run_id for _ in range(project_instance.RUN_ENGINES_KEPT)]
        assert sorted(made) == sorted(storage.conn_string_for_shard(run) for run in [first, *runs])  # one per file
        assert index_connections == []  # the first run's connection, kept, served every later one
        assert list(storage._run_engines) == runs  # the least recently used first
        assert len(instance.all_logs(first)) > 0  # a dropped engine is made again


def test_a_run_is_watched_live_from_another_process(tmp_path, monkeypatch):
    """The UI follows a run's log by watching its database file: events written by a run in another process
    reach the watcher while that process still runs (a connection kept open to the run's file would hold them
    in SQLite's write-ahead log, unseen, until it closed). Watched by polling the file, as Dagster's watch does
    where inotify is not available, so that the test does not need it."""
    monkeypatch.setattr(dagster_sqlite, "Observer", PollingObserver)
    folder = project_instance.event_logs_directory(str(tmp_path))
    watcher = project_instance.SqliteEventLogStorage(folder)
    watcher.store_event(_log_entry("run", "the watcher's own"))  # the watcher's process has used the file too
    seen: list[str] = []
    watcher.watch("run", None, lambda entry, cursor: seen.append(entry.user_message))
    context = multiprocessing.get_context("spawn")
    done = context.Event()
    writer = context.Process(target=_write_and_wait, args=(folder, done))
    writer.start()
    try:
        deadline = time.monotonic() + 60
        while len(seen) < 1 + WRITTEN and time.monotonic() < deadline:
            time.sleep(0.05)
        assert seen[-WRITTEN:] == [f"event {i}" for i in range(WRITTEN)] and writer.is_alive()
    finally:
        done.set()
        writer.join(timeout=60)
        watcher.dispose()


WRITTEN = 3


def _write_and_wait(folder: str, done) -> None:
    storage = project_instance.SqliteEventLogStorage(folder)
    for i in range(WRITTEN):
        storage.store_event(_log_entry("run", f"event {i}"))
    done.wait(timeout=120)
    storage.dispose()


@pytest.mark.parametrize("settings", ["dagster", "project"])
def test_a_deleted_index_file_is_not_written_on(tmp_path, monkeypatch, settings):
    """The index file deleted under a running instance (`make clean` beside `make dev`): the next asset event
    fails as through Dagster's own storage, instead of going, unseen, into the deleted file."""
    home = _home(tmp_path, project_settings=settings == "project")
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    with dg.DagsterInstance.get() as instance:
        instance.report_runless_asset_event(dg.AssetMaterialization("before"))
        for path in (home / "history" / "runs").glob("index.db*"):
            path.unlink()
        with pytest.raises(sqlalchemy.exc.OperationalError, match="no such table"):
            instance.report_runless_asset_event(dg.AssetMaterialization("after"))


def test_a_replaced_index_file_is_written_in_place_of_the_deleted_one(tmp_path, monkeypatch):
    """The index file deleted and made again by another instance (as another process starting would): this
    instance's next asset event goes into the new file, where a fresh instance sees it."""
    home = _home(tmp_path, project_settings=True)
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    with dg.DagsterInstance.get() as instance:
        instance.report_runless_asset_event(dg.AssetMaterialization("before"))
        for path in (home / "history" / "runs").glob("index.db*"):
            path.unlink()
        with dg.DagsterInstance.get():  # Dagster's init creates the index again
            pass
        instance.report_runless_asset_event(dg.AssetMaterialization("after"))
    with dg.DagsterInstance.get() as fresh:
        assert [key.to_user_string() for key in fresh.get_asset_keys()] == ["after"]


def test_an_instance_opened_from_another_folder_than_dagster_home_refuses(tmp_path, monkeypatch):
    """The settings name the home by DAGSTER_HOME: an instance of another folder would keep its events apart from
    its runs, so it does not start."""
    home = _home(tmp_path, project_settings=True)
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "elsewhere"))
    with pytest.raises(ValueError, match="set DAGSTER_HOME to"):
        dg.DagsterInstance.from_config(str(home))


def test_wipe_deletes_the_runs_and_the_storage_goes_on(tmp_path, monkeypatch):
    home = _home(tmp_path, project_settings=True)
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    with dg.DagsterInstance.get() as instance:
        run_id = dg.materialize([answer], instance=instance).run_id
        instance.event_log_storage.wipe()
        assert not (home / "history" / "runs" / f"{run_id}.db").exists()
        assert instance.all_logs(run_id) == []
        again = dg.materialize([answer], instance=instance).run_id
        assert len(instance.all_logs(again)) > 0


def _store_in_child(storage: DagsterSqliteEventLogStorage, run_id: str, parent_engine: object, queue) -> None:
    try:
        storage.store_event(_log_entry(run_id, "from the child"))
        queue.put("own engine" if storage._run_engines[run_id] is not parent_engine else "the parent's engine")
    except Exception as err:  # the parent's assertion says what went wrong
        queue.put(repr(err))


def _log_entry(run_id: str, message: str) -> dg.EventLogEntry:
    return dg.EventLogEntry(
        error_info=None,
        level=20,
        user_message=message,
        run_id=run_id,
        timestamp=1.0,
        step_key=None,
        job_name=None,
        dagster_event=None,
    )


@pytest.mark.skipif("fork" not in multiprocessing.get_all_start_methods(), reason="no fork on this platform")
def test_a_forked_process_opens_its_own_connections(tmp_path):
    """After a fork the child stores through an engine (and connections) of its own, not its parent's, and the
    parent goes on with its own: both writes are in the file."""
    storage = project_instance.SqliteEventLogStorage(project_instance.event_logs_directory(str(tmp_path)))
    storage.store_event(_log_entry("run", "from the parent"))
    context = multiprocessing.get_context("fork")
    queue = context.Queue()
    child = context.Process(target=_store_in_child, args=(storage, "run", storage._run_engines["run"], queue))
    child.start()
    assert queue.get(timeout=60) == "own engine"
    child.join(timeout=60)
    storage.store_event(_log_entry("run", "from the parent again"))
    messages = [e.user_message for e in storage.get_logs_for_run("run")]
    storage.dispose()
    assert messages == ["from the parent", "from the child", "from the parent again"]
