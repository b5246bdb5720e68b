"""The Dagster instance's event log (`.dagster/dagster.yaml`): Dagster's SQLite storage, its engines kept.

Dagster's `SqliteEventLogStorage` builds a new SQLAlchemy engine for every statement it runs (`_connect`,
`has_table`), and so compiles every statement again and opens every database file again: a `gatewaylens build` of
33 models with nothing new writes 244 events through 808 engines, which took the build from about 0.5 s without
DAGSTER_HOME to 3.5-4.0 s with it (BENCHMARKS.md, "CLI start-up"). This storage keeps

* the index database's engine with one connection open (the index is written with every asset event); a
  deleted or replaced index file (`make clean` under a running `make dev`) is noticed by its inode and opened
  again, so a write fails as through Dagster's storage instead of going to the deleted file, and
* the engines of the run databases it used last, each opening and closing its connection around every statement
  as Dagster's does: a run's live log in the UI is a watch on its database file, which SQLite in WAL mode
  writes only when the last connection closes (or at a checkpoint), so a connection kept open would freeze it;
  and a run database deleted by another process (`wipe`) is not written on through a stale connection.

It is otherwise Dagster's: the same files in the same place (`<DAGSTER_HOME>/history/runs`, where Dagster's
default storage keeps them, so the instance's history reads the same either way), the same schema, initialization
and transactions.
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from dagster._config import StringSource
from dagster._core.storage.event_log.sqlite.sqlite_event_log import (
    INDEX_SHARD_NAME,
    SQLITE_BUSY_TIMEOUT_SECONDS,
)
from dagster._core.storage.event_log.sqlite.sqlite_event_log import (
    SqliteEventLogStorage as DagsterSqliteEventLogStorage,
)
from dagster._serdes import ConfigurableClassData
from sqlalchemy import Connection, Engine, create_engine
from sqlalchemy.pool import NullPool, QueuePool

if TYPE_CHECKING:
    from dagster import DagsterInstance

#: Run databases whose engines are kept, the least recently used dropped first: the runs in progress. A process
#: that reads many runs (the webserver) keeps no more than this many engines.
RUN_ENGINES_KEPT = 8


class SqliteEventLogStorage(DagsterSqliteEventLogStorage):
    """Dagster's run-sharded SQLite event log, with its engines kept (module docstring).

    Configured in `dagster.yaml` by the instance's home, from which the folder is derived as Dagster derives it:

    ```yaml
    event_log_storage:
      module: pipelines.instance
      class: SqliteEventLogStorage
      config:
        dagster_home:
          env: DAGSTER_HOME
    ```

    A storage's settings cannot see the folder they were read from, so the project's settings name the home by
    `DAGSTER_HOME`, as Dagster's commands and `DagsterInstance.get()` find it: every process that opens the
    instance needs that variable. An instance opened from another folder (`DagsterInstance.from_config(folder)`)
    refuses to start (`register_instance`) rather than keep its events apart from its runs.
    """

    def __init__(self, base_dir: str, inst_data: ConfigurableClassData | None = None) -> None:
        self._engines_lock = threading.Lock()  # not Dagster's `_db_lock`: `has_table` runs inside `_connect`
        self._engines_pid = os.getpid()
        self._index_engine: Engine | None = None
        self._index_file: tuple[int, int] | None = None  # (device, inode) of the index file it was opened on
        self._run_engines: OrderedDict[str, Engine] = OrderedDict()
        self._tables_found: set[str] = set()
        super().__init__(base_dir, inst_data)  # after the above: Dagster's init may connect

    @classmethod
    def config_type(cls) -> dict[str, Any]:
        return {"dagster_home": StringSource}

    @classmethod
    def from_config_value(  # type: ignore[override]
        cls, inst_data: ConfigurableClassData | None, config_value: Mapping[str, Any]
    ) -> SqliteEventLogStorage:
        return cls(event_logs_directory(config_value["dagster_home"]), inst_data=inst_data)

    def register_instance(self, instance: DagsterInstance) -> None:
        """Refuse an instance read from another folder than the home the settings named (class docstring). The
        instance's folder is its `root_directory` when that holds its `dagster.yaml` (Dagster's default); a
        `local_artifact_storage` configured elsewhere says nothing of the folder, and is not checked."""
        root = instance.root_directory
        configured, expected = os.path.realpath(self._base_dir), os.path.realpath(event_logs_directory(root))
        if os.path.isfile(os.path.join(root, "dagster.yaml")) and configured != expected:
            raise ValueError(
                f"the event log is configured at {self._base_dir} (dagster_home: DAGSTER_HOME), but this instance "
                f"was read from {root}: set DAGSTER_HOME to {root}"
            )
        super().register_instance(instance)

    def _engine(self, shard: str) -> Engine:
        """The engine of `shard`'s database file, kept (module docstring). A forked process first drops its
        parent's engines unused, as SQLAlchemy asks (a SQLite connection must not cross a fork)."""
        with self._engines_lock:
            if self._engines_pid != os.getpid():
                for engine in [self._index_engine, *self._run_engines.values()]:
                    if engine is not None:
                        engine.dispose(close=False)
                self._index_engine, self._run_engines, self._engines_pid = None, OrderedDict(), os.getpid()
            return self._kept_index_engine() if shard == INDEX_SHARD_NAME else self._kept_run_engine(shard)

    def _kept_index_engine(self) -> Engine:
        """The index's engine, with a connection open between statements (a second one, wanted while the first
        is in use, is opened and closed: `max_overflow=-1`, never a wait); made again when the file it was
        opened on is gone or replaced."""
        current = _file_identity(self.path_for_shard(INDEX_SHARD_NAME))
        if self._index_engine is not None and current != self._index_file:
            self._index_engine.dispose()
            self._index_engine = None
            self._tables_found = set()  # another file: its tables are asked again
        if self._index_engine is None:
            self._index_engine = create_engine(
                self.conn_string_for_shard(INDEX_SHARD_NAME),
                poolclass=QueuePool,
                pool_size=1,
                max_overflow=-1,
                connect_args={"timeout": SQLITE_BUSY_TIMEOUT_SECONDS},
            )
            self._index_file = current
        return self._index_engine

    def _kept_run_engine(self, shard: str) -> Engine:
        """A run database's engine, opening and closing its connection per statement; the RUN_ENGINES_KEPT most
        recently used are kept."""
        engine = self._run_engines.pop(shard, None) or create_engine(
            self.conn_string_for_shard(shard),
            poolclass=NullPool,
            connect_args={"timeout": SQLITE_BUSY_TIMEOUT_SECONDS},
        )
        self._run_engines[shard] = engine  # now the most recently used
        while len(self._run_engines) > RUN_ENGINES_KEPT:
            self._run_engines.popitem(last=False)[1].dispose()
        return engine

    @contextmanager
    def _connect(self, shard: str) -> Iterator[Connection]:
        """Dagster's `_connect` (a connection in a transaction, the database initialized on first use), through
        the kept engine."""
        with self._db_lock:
            engine = self._engine(shard)
            if shard not in self._initialized_dbs:
                self._initdb(engine)
                self._initialized_dbs.add(shard)
            with engine.connect() as conn, conn.begin():
                yield conn

    def has_table(self, table_name: str) -> bool:
        """Dagster's `has_table` of the index database (asked before every asset event's tags are stored, inside
        an index transaction), through the kept engine; a table found is remembered (none is ever dropped, a
        migration only adds them), one not found is asked again."""
        if table_name in self._tables_found:
            return True
        engine = self._engine(INDEX_SHARD_NAME)
        with engine.connect() as conn:
            found = bool(engine.dialect.has_table(conn, table_name))
        if found:
            self._tables_found.add(table_name)
        return found

    def _dispose_engines(self) -> None:
        with self._engines_lock:
            if self._index_engine is not None:
                self._index_engine.dispose()
                self._index_engine = None
            while self._run_engines:
                self._run_engines.popitem()[1].dispose()

    def dispose(self) -> None:
        super().dispose()
        self._dispose_engines()


def event_logs_directory(dagster_home: str) -> str:
    """Where Dagster's default SQLite storage keeps the event logs of the instance at `dagster_home` (`~`
    expanded, as Dagster expands it)."""
    return os.path.join(os.path.abspath(os.path.expanduser(dagster_home)), "history", "runs", "")


def _file_identity(path: str) -> tuple[int, int] | None:
    """(device, inode) of the file at `path`, None when there is none."""
    try:
        found = os.stat(path)
    except FileNotFoundError:
        return None
    return found.st_dev, found.st_ino
