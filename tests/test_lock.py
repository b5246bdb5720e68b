"""The warehouse lock (one writer per warehouse) and the removal of what killed runs left behind."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
import uuid
from pathlib import Path

import pytest

from pipelines.lib import lock, lock_stores, scratch
from pipelines.lib.lock import LockLost, LockSettings, WarehouseLocked, warehouse_lock
from pipelines.lib.lock_stores import LOCK_FILE
from pipelines.lib.storage import STALE_TMP_SECONDS, Warehouse
from tests.conftest import PROJECT_ROOT

REFUSE = LockSettings(timeout=0)


def _store(path: Path, **settings: float) -> Warehouse:
    return Warehouse(str(path), lock=LockSettings(**({"timeout": 0} | settings)))


def dead_pid() -> int:
    """The id of a process that has ended (and been reaped)."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def write_lock(path: Path, *, machine: str, pid: int, age: float = 0.0, purpose: str = "old run") -> None:
    """A lock file as another writer would have left it, last beaten `age` seconds ago."""
    path.parent.mkdir(parents=True, exist_ok=True)
    record = {"owner": "someone", "host": machine, "machine": machine, "pid": pid, "purpose": purpose}
    path.write_text(json.dumps(record | {"command": "gatewaylens ingest x", "token": uuid.uuid4().hex}))
    os.utime(path, (time.time() - age,) * 2)


def test_the_lock_file_names_its_holder_and_goes_on_release(tmp_path):
    store = _store(tmp_path / "wh")
    with warehouse_lock(store, "ingest"):
        record = json.loads((tmp_path / "wh" / LOCK_FILE).read_text())
        assert record["pid"] == os.getpid() and record["host"] == scratch.HOST and record["purpose"] == "ingest"
        assert {"owner", "machine", "command", "started_at", "heartbeat_seconds", "token"} <= set(record)
    assert not (tmp_path / "wh" / LOCK_FILE).exists()


def test_the_lock_is_reentrant_within_a_thread(tmp_path):
    store = _store(tmp_path / "wh")
    path = tmp_path / "wh" / LOCK_FILE
    with warehouse_lock(store, "requests asset"):
        token = json.loads(path.read_text())["token"]
        with warehouse_lock(store, "ingest"), warehouse_lock(store, "commit"):
            assert json.loads(path.read_text())["token"] == token
        assert path.exists()
    assert not path.exists()


def test_the_lock_is_released_on_an_exception(tmp_path):
    store = _store(tmp_path / "wh")
    with pytest.raises(ZeroDivisionError), warehouse_lock(store, "ingest"):
        print(1 / 0)
    assert not (tmp_path / "wh" / LOCK_FILE).exists()
    with warehouse_lock(store, "the next writer"):
        pass


HOLDER = textwrap.dedent(
    """
    import sys
    from pipelines.lib.lock import warehouse_lock
    from pipelines.lib.storage import Warehouse

    with warehouse_lock(Warehouse(sys.argv[1]), "a child holding the lock"):
        print("held", flush=True)
        sys.stdin.read()
    """
)


def test_a_second_writer_is_refused_with_the_holder_named(tmp_path):
    """Another process holds the lock: a writer that will not wait refuses at once, naming the holder (host,
    pid, what it does, since when) and the lock file; once the holder is done, the lock is free."""
    root = tmp_path / "wh"
    child = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(root)],
        cwd=PROJECT_ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stdout.readline() == "held\n"
        with pytest.raises(WarehouseLocked) as refused, warehouse_lock(_store(root), "ingest"):
            pass
        message = str(refused.value)
        started = json.loads((root / LOCK_FILE).read_text())["started_at"]
        assert f"on {scratch.HOST} (pid {child.pid}), a child holding the lock" in message
        assert f"since {started}" in message and f"delete {root / LOCK_FILE}" in message
        assert "\n" not in message
    finally:
        child.communicate("")
    assert child.returncode == 0
    with warehouse_lock(_store(root), "ingest"):
        pass


def test_a_waiting_writer_gets_the_lock_when_the_holder_releases_it(tmp_path):
    store = _store(tmp_path / "wh", timeout=300)
    waiting = threading.Event()
    held = threading.Event()

    def hold() -> None:
        with warehouse_lock(store, "first writer"):
            held.set()
            waiting.wait(300)

    first = threading.Thread(target=hold)
    first.start()
    held.wait(300)
    said = []

    def progress(message: str) -> None:
        said.append(message)
        waiting.set()

    with warehouse_lock(store, "second writer", progress):
        record = json.loads((tmp_path / "wh" / LOCK_FILE).read_text())
    first.join()
    assert record["purpose"] == "second writer"
    assert said[0].startswith("warehouse lock: waiting up to 300s for ") and "first writer" in said[0]


def test_a_lock_whose_process_ended_is_broken_at_once(tmp_path):
    path = tmp_path / "wh" / LOCK_FILE
    write_lock(path, machine=scratch.MACHINE, pid=dead_pid())
    said: list[str] = []
    with warehouse_lock(_store(tmp_path / "wh"), "ingest", said.append):
        assert json.loads(path.read_text())["pid"] == os.getpid()
    assert said[0].startswith("warehouse lock: breaking the stale lock of someone")


def test_a_lock_without_a_heartbeat_for_the_ttl_is_broken(tmp_path):
    """Another machine's lock: its process cannot be looked up here, so only its heartbeat's age counts."""
    path = tmp_path / "wh" / LOCK_FILE
    write_lock(path, machine="elsewhere-1", pid=os.getpid(), age=10)
    with pytest.raises(WarehouseLocked, match="someone on elsewhere-1"), warehouse_lock(_store(path.parent), "x"):
        pass
    os.utime(path, (time.time() - 61,) * 2)
    with warehouse_lock(_store(path.parent), "ingest"):
        assert json.loads(path.read_text())["pid"] == os.getpid()


def test_an_unreadable_lock_counts_as_held_until_it_is_stale(tmp_path):
    path = tmp_path / "wh" / LOCK_FILE
    path.parent.mkdir()
    path.write_text("{half a rec")
    with pytest.raises(WarehouseLocked, match="an unreadable lock file"), warehouse_lock(_store(path.parent), "x"):
        pass
    os.utime(path, (time.time() - 61,) * 2)
    with warehouse_lock(_store(path.parent), "ingest"):
        pass


def test_of_two_breakers_of_one_stale_lock_only_one_wins(tmp_path):
    """Both judged the same lock stale; the second to act finds the first one's fresh lock and leaves it."""
    path = tmp_path / "wh" / LOCK_FILE
    write_lock(path, machine=scratch.MACHINE, pid=dead_pid())
    first, second = lock_stores.LocalLock(path), lock_stores.LocalLock(path)
    judged = first.read()
    assert judged is not None and judged.stale(60) and second.read().version == judged.version
    assert second.take_over(judged, lock._record("second", REFUSE))
    assert not first.take_over(judged, lock._record("first", REFUSE))
    assert json.loads(path.read_text())["purpose"] == "second"
    assert [p.name for p in path.parent.iterdir()] == [LOCK_FILE]


def test_the_heartbeat_refreshes_the_lock_and_a_lock_taken_over_is_lost(tmp_path):
    path = tmp_path / "wh" / LOCK_FILE
    local = lock_stores.LocalLock(path)
    assert local.create(lock._record("ingest", REFUSE))
    os.utime(path, (time.time() - 50,) * 2)
    assert local.beat() and local.read().age < 50
    write_lock(path, machine="elsewhere-1", pid=1)
    assert not local.beat()


def test_leaving_a_lock_that_was_taken_over_raises_and_keeps_the_new_holders_lock(tmp_path):
    path = tmp_path / "wh" / LOCK_FILE
    lost = pytest.raises(LockLost, match="taken over while this process held it")
    with lost, warehouse_lock(_store(path.parent), "ingest"):
        write_lock(path, machine="elsewhere-1", pid=1, purpose="the writer that broke it")
    assert json.loads(path.read_text())["purpose"] == "the writer that broke it"


def refusal_in_another_thread(store: Warehouse) -> str:
    """The message with which a writer in another thread of this process is refused the lock."""
    refused = []

    def other() -> None:
        try:
            with warehouse_lock(store, "other thread"):
                pass
        except WarehouseLocked as err:
            refused.append(str(err))

    thread = threading.Thread(target=other)
    thread.start()
    thread.join()
    assert len(refused) == 1
    return refused[0]


def test_a_memory_warehouse_is_locked_too():
    import fsspec

    store = Warehouse(f"memory://lock-{uuid.uuid4().hex}", lock=REFUSE)
    with warehouse_lock(store, "ingest"), warehouse_lock(store, "nested"):
        assert fsspec.filesystem("memory").exists(store.path(LOCK_FILE))
        assert f"(pid {os.getpid()}), ingest:" in refusal_in_another_thread(store)
    assert not fsspec.filesystem("memory").exists(store.path(LOCK_FILE))


def test_lock_settings_are_checked():
    with pytest.raises(ValueError, match="GATEWAYLENS_LOCK_TTL"):
        LockSettings(ttl=0)
    with pytest.raises(ValueError, match="GATEWAYLENS_LOCK_TIMEOUT"):
        LockSettings(timeout=-1)
    assert LockSettings(ttl=6).heartbeat == 2 and LockSettings().heartbeat == 10


def test_lock_settings_come_from_the_environment(monkeypatch):
    from pipelines.defs.resources import resources_for

    monkeypatch.setenv("GATEWAYLENS_LOCK_TIMEOUT", "0")
    monkeypatch.setenv("GATEWAYLENS_LOCK_TTL", "120")
    assert resources_for()["warehouse"].get().lock == LockSettings(timeout=0, ttl=120)
    monkeypatch.setenv("GATEWAYLENS_LOCK_TIMEOUT", "soon")
    with pytest.raises(ValueError, match="GATEWAYLENS_LOCK_TIMEOUT must be a number of seconds, not 'soon'"):
        resources_for()


def test_readers_take_no_lock_and_the_models_build_does(tmp_path):
    from pipelines.lib.sqlmodels.database import open_database

    store = _store(tmp_path / "wh")
    with open_database(store):
        assert (tmp_path / "wh" / LOCK_FILE).exists()
    write_lock(tmp_path / "wh" / LOCK_FILE, machine="elsewhere-1", pid=1, purpose="ingest")
    with open_database(store, read_only=True) as con:
        assert con.execute("select 1").fetchall() == [(1,)]
    with pytest.raises(WarehouseLocked, match="ingest"), open_database(store):
        pass


# ---------------------------------------------------------------------------------------------------------
# What killed runs leave behind
# ---------------------------------------------------------------------------------------------------------


def test_names_carry_their_owner():
    with scratch.scratch_dir() as folder:
        assert scratch.owner_of(Path(folder).name) == scratch.Owner(scratch.MACHINE, os.getpid())
    name = scratch.temporary_name("data.parquet")
    assert name.startswith(".data.parquet.") and name.endswith(".tmp")
    assert scratch.owner_of(name) == scratch.Owner(scratch.MACHINE, os.getpid())
    assert scratch.owner_of(f".data.parquet.{uuid.uuid4().hex}.tmp") is None  # written before owners were named
    assert scratch.owner_of("gatewaylens-k2j4_x9a") is None


def _touch(path: Path, age: float = 0.0) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("partial")
    os.utime(path, (time.time() - age,) * 2)
    return path


def test_leftovers_of_killed_runs_go_when_the_next_writer_starts(tmp_path, monkeypatch):
    """Scratch folders of ended processes go; those of live processes, of other machines and without an owner
    stay. Temporary files in the warehouse go when their owner ended, when they are stale, or when they are in
    a folder only lock holders write (no other writer can be mid-write there); a live writer's stay."""
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
    dead, live, machine = dead_pid(), os.getppid(), scratch.MACHINE
    folders = {
        f"gatewaylens-{machine}.{dead}.a1b2c3": False,
        f"gatewaylens-{machine}.{live}.d4e5f6": True,
        f"gatewaylens-elsewhere-1.{dead}.g7h8i9": True,
        "gatewaylens-k2j4_x9a": True,  # an older gatewaylens': whose it is cannot be told
    }
    for name in folders:
        _touch(tmp_path / "tmp" / name / "staging" / "rows.parquet")
    root = tmp_path / "wh"
    day = root / "requests" / "date=2025-06-01"
    hex_ = uuid.uuid4().hex
    files = {
        day / f".data.parquet.{machine}.{dead}.{hex_}.tmp": False,
        day / f".data.parquet.{hex_}.tmp": False,  # no owner, but only lock holders write here
        day / f".data.parquet.{machine}.{live}.{hex_}.tmp": True,
        root / "_ledger" / f".k.json.elsewhere-1.{dead}.{hex_}.tmp": False,
        root / "dashboards" / f".index.html.{hex_}.tmp": True,  # the report is written without the lock
        root / "dashboards" / f".index.html.{machine}.{dead}.{hex_}.tmp": False,
        root / "dashboards" / f".old.html.{hex_}.tmp": False,  # older than STALE_TMP_SECONDS
    }
    for path in files:
        _touch(path, 2 * STALE_TMP_SECONDS if path.name.startswith(".old") else 0)
    said: list[str] = []
    with warehouse_lock(_store(root), "ingest", said.append):
        pass
    assert {name: (tmp_path / "tmp" / name).exists() for name in folders} == folders
    assert {path: path.exists() for path in files} == files
    removed = "removed what killed runs left: 5 temporary file(s) in the warehouse, 1 scratch folder(s) in"
    assert said == [f"{removed} {tmp_path / 'tmp'}"]


def test_a_writer_that_breaks_a_killed_writers_lock_removes_its_leftovers(tmp_path, monkeypatch):
    """Also in a process that swept the warehouse before: the killed writer ran after that."""
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
    store, dead = _store(tmp_path / "wh"), dead_pid()
    with warehouse_lock(store, "an earlier run of this process"):
        pass
    name = f".k.json.{scratch.MACHINE}.{dead}.{uuid.uuid4().hex}.tmp"
    temporary = _touch(tmp_path / "wh" / "_ledger" / name)
    folder = _touch(tmp_path / "tmp" / f"gatewaylens-{scratch.MACHINE}.{dead}.abc" / "spill.tmp").parent
    write_lock(tmp_path / "wh" / LOCK_FILE, machine=scratch.MACHINE, pid=dead)
    with warehouse_lock(store, "ingest"):
        assert not temporary.exists() and not folder.exists()


def test_a_write_does_not_list_its_folder(tmp_path, monkeypatch):
    """Leftovers are the lock holder's to sweep (above), not each write's to look for: a folder of N ledger entries
    listed at every write made a run writing N entries cost N^2 (69 ms a write at 100k entries)."""
    store = _store(tmp_path / "wh")
    for n in range(3):
        store.write_ledger(f"k{n}", {"n": n})
    listed: list[str] = []
    for name in ("scandir", "listdir"):
        original = getattr(os, name)
        monkeypatch.setattr(
            os, name, lambda *args, _original=original, **kwargs: listed.append(str(args)) or _original(*args, **kwargs)
        )
    store.write_ledger("k3", {"n": 3})
    assert listed == []
    assert len(store.ledger_keys()) == 4 and listed  # a listing is seen: the spies are in place


def test_a_write_where_no_lock_holder_sweeps_removes_a_killed_writers_temporary_file(tmp_path):
    """The report, written without the lock (`gatewaylens report --out DIR`, or the warehouse's dashboards/): a
    write there still removes the temporary file a killed writer left of the same file; a live writer's stays."""
    out, dead, live, hex_ = _store(tmp_path / "out"), dead_pid(), os.getppid(), uuid.uuid4().hex
    killed = _touch(tmp_path / "out" / f".report.html.{scratch.MACHINE}.{dead}.{hex_}.tmp")
    running = _touch(tmp_path / "out" / f".report.html.{scratch.MACHINE}.{live}.{hex_}.tmp")
    with out.atomic_write(out.path("report.html")) as local:
        Path(local).write_text("<html></html>")
    assert not killed.exists() and running.exists() and (tmp_path / "out" / "report.html").exists()
