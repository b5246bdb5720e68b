"""One writer per warehouse, whoever starts it: a lock the warehouse itself holds.

Why: Dagster's pool `warehouse_writer` only orders the runs of one Dagster instance. Two `gatewaylens ingest`
commands without DAGSTER_HOME (each with a throwaway instance), or a command next to the daemon, merged the same
day's partition at once and the last rename won: rows were lost while both runs reported them written. The
lock lives in the warehouse, so every writer sees it, whatever started it.

Who takes it: every path that reads, merges and replaces what later runs rely on: `ingest` (the whole run),
`commit_staged`, the publishing of a staged batch by `stage` (the staging work before it runs unlocked, so
landing days still stage in parallel) and the models build (`open_database(read_only=False)`). Readers never
take it: `gatewaylens sql`, the checks, the sensor, and the report, which reads the database read-only and
replaces one file of its own whole.

Where it lives: `WAREHOUSE/_lock.json`, a JSON record of the holder (user, host, pid, purpose, command,
started_at, heartbeat interval, a random token): a file created atomically in a local folder, a lease object
kept with conditional requests on S3 (`If-None-Match: *` to create, `If-Match: <etag>` to beat, release and
take over), an object on other fsspec stores; see `pipelines.lib.lock_stores`. A background thread beats
every min(10 s, TTL / 3): it refreshes the lock's modification time.

A lock is stale when its holder ran on this machine and its process has ended, or when its heartbeat (the
lock's modification time) is older than the TTL (default 60 s; longer if the holder beats less often).
Clocks of writers on different machines must agree to well within the TTL.

A second writer waits for the lock up to the timeout (default 60 s: as long as a dead holder's lock takes to
go stale), then refuses with `WarehouseLocked`, one line naming the holder. The lock is re-entrant within a
thread (the `requests` asset holds it around `commit_staged` and `ingest`, which take it again), released when
the `with` block ends, also on an exception. A holder whose lock was broken while it held it (its heartbeat
stalled beyond the TTL) raises `LockLost` on release: another writer may have written meanwhile.

Holding the lock, a writer removes what killed runs left (`_sweep`): scratch folders in $TMPDIR whose owner
has ended (`scratch.sweep_scratch`), and temporary files in the warehouse (`Warehouse.sweep_temporary_files`)
when it broke a stale lock (a killed writer leaves its lock too) or holds the lock for the first time in its
process.
"""

from __future__ import annotations

import contextlib
import getpass
import json
import os
import shlex
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from pipelines.lib import scratch
from pipelines.lib.lock_stores import Holder, Store, store_for

if TYPE_CHECKING:
    from pipelines.lib.storage import Warehouse

TIMEOUT_ENV = "GATEWAYLENS_LOCK_TIMEOUT"
TTL_ENV = "GATEWAYLENS_LOCK_TTL"
DEFAULT_TIMEOUT_SECONDS = 60.0
DEFAULT_TTL_SECONDS = 60.0
HEARTBEAT_SECONDS = 10.0
POLL_SECONDS = 0.5
Progress = Callable[[str], None]


@dataclass(frozen=True)
class LockSettings:
    """How long a second writer waits, and when a holder that stopped beating is presumed dead."""

    timeout: float = DEFAULT_TIMEOUT_SECONDS
    """Seconds a writer waits for the lock before refusing (0: refuse at once; inf: wait as long as it takes)."""
    ttl: float = DEFAULT_TTL_SECONDS
    """A lock whose heartbeat is older than this many seconds is stale, and the next writer breaks it."""

    def __post_init__(self) -> None:
        if not self.timeout >= 0:
            raise ValueError(f"the lock timeout ({TIMEOUT_ENV}) must be 0 or more seconds, not {self.timeout}")
        if not self.ttl > 0:
            raise ValueError(f"the lock TTL ({TTL_ENV}) must be more than 0 seconds, not {self.ttl}")

    @property
    def heartbeat(self) -> float:
        """Seconds between heartbeats: at least three per TTL."""
        return min(HEARTBEAT_SECONDS, self.ttl / 3)


class LockLost(RuntimeError):
    """The lock was broken or replaced while this process held it."""


class WarehouseLocked(RuntimeError):
    """Another writer held the warehouse lock for longer than this writer would wait."""

    def __init__(self, where: str, holder: Holder, timeout: float) -> None:
        self.holder = holder
        waited = f"after waiting {timeout:g}s ({TIMEOUT_ENV})" if timeout else f"at once ({TIMEOUT_ENV}=0)"
        super().__init__(
            f"the warehouse is locked by {holder.describe()}; gave up {waited}. If that process is gone, delete {where}"
        )


@dataclass
class _Held:
    """A lock this process holds: its store, which thread of which process holds it, and its heartbeat."""

    store: Store
    pid: int = field(default_factory=os.getpid)
    thread: int = field(default_factory=threading.get_ident)
    lost: bool = False
    stop: threading.Event = field(default_factory=threading.Event)


_HELD: dict[str, _Held] = {}
_SWEPT: set[str] = set()
_GUARD = threading.Lock()


def _record(purpose: str, settings: LockSettings) -> bytes:
    """The holder's record: who, where, doing what, since when, how often it beats, and a token of its own."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):  # no name for this uid (containers)
        user = str(os.getuid())
    command = shlex.join([Path(sys.argv[0]).name, *sys.argv[1:]]) if sys.argv and sys.argv[0] else "python"
    record = {
        "owner": user,
        "host": scratch.HOST,
        "machine": scratch.MACHINE,
        "pid": os.getpid(),
        "purpose": purpose,
        "command": command[:300],
        "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "heartbeat_seconds": settings.heartbeat,
        "token": uuid.uuid4().hex,
    }
    return json.dumps(record, indent=2).encode()


def _acquire(store: Store, settings: LockSettings, purpose: str, progress: Progress) -> bool:
    """Create the lock; while another writer holds it, break it if stale, else wait up to the timeout.
    Returns whether it broke a stale lock (whose writer may have left temporary files)."""
    body = _record(purpose, settings)
    deadline = time.monotonic() + settings.timeout
    waiting = False
    while not store.create(body):
        holder = store.read()
        if holder is None:
            continue  # released between our two looks: try again at once
        if holder.stale(settings.ttl):
            progress(f"warehouse lock: breaking the stale lock of {holder.describe()}")
            if store.take_over(holder, body):
                return True
        elif time.monotonic() >= deadline:
            raise WarehouseLocked(store.where, holder, settings.timeout)
        elif not waiting:
            progress(f"warehouse lock: waiting up to {settings.timeout:g}s for {holder.describe()}")
            waiting = True
        time.sleep(max(0.0, min(POLL_SECONDS, deadline - time.monotonic())))
    return False


def _heartbeat(held: _Held, interval: float) -> None:
    """Beat until told to stop; a lock found replaced is lost (reported on release)."""
    while not held.stop.wait(interval):
        try:
            if not held.store.beat():
                held.lost = True
                return
        except OSError:
            continue  # a failed beat (network) is retried; a lock broken meanwhile shows at the next one


def _sweep(warehouse: Warehouse, where: str, broke: bool, progress: Progress) -> None:
    """Remove what killed runs left: scratch folders in $TMPDIR (one listing) every time; temporary files in
    the warehouse (a walk of its folders) when a stale lock was broken, since a killed writer leaves its lock
    too, and the first time this process holds the lock (for older leftovers)."""
    with _GUARD:
        first = where not in _SWEPT
        _SWEPT.add(where)
    files = warehouse.sweep_temporary_files() if first or broke else []
    folders = scratch.sweep_scratch()
    if files or folders:
        progress(
            f"removed what killed runs left: {len(files)} temporary file(s) in the warehouse, "
            f"{len(folders)} scratch folder(s) in {tempfile.gettempdir()}"
        )


def _holds(where: str) -> bool:
    """Whether this thread of this process holds the lock already (then taking it again is a no-op)."""
    with _GUARD:
        held = _HELD.get(where)
    return held is not None and held.pid == os.getpid() and held.thread == threading.get_ident()


@contextlib.contextmanager
def warehouse_lock(warehouse: Warehouse, purpose: str, progress: Progress = lambda _message: None) -> Iterator[None]:
    """Hold the warehouse's writer lock for the `with` block (see the module docstring).

    Raises `WarehouseLocked` when another writer holds it past `warehouse.lock.timeout`,
    `lock_stores.LockError` when the store cannot hold a lock, and `LockLost` on leaving when the lock was
    broken while held.
    """
    store = store_for(warehouse)
    if _holds(store.where):
        yield
        return
    broke = _acquire(store, warehouse.lock, purpose, progress)
    held = _Held(store)
    with _GUARD:
        _HELD[store.where] = held
    beater = threading.Thread(target=_heartbeat, args=(held, warehouse.lock.heartbeat), daemon=True)
    beater.start()
    try:
        _sweep(warehouse, store.where, broke, progress)
        yield
    finally:
        with _GUARD:
            _HELD.pop(store.where, None)
        held.stop.set()
        beater.join()
        released = store.release()
    if held.lost or not released:
        raise LockLost(
            f"the warehouse lock {store.where} was taken over while this process held it (its heartbeat was "
            "older than the TTL): another writer may have written meanwhile; run again to be sure"
        )
