"""The Dagster instance's event log (`.dagster/dagster.yaml`): Dagster's SQLite storage, one engine per database.

Dagster's `SqliteEventLogStorage` builds a new SQLAlchemy engine for every statement it runs (`_connect`,
`has_table`), opens a new SQLite connection with it, and so compiles every statement again: a `gatewaylens build`
of 34 models writes 244 events through 808 engines and 837 connections, and that, not SQLite's writes, made the
build take 3.4-3.8 s with DAGSTER_HOME against 0.5 s without (BENCHMARKS.md, "CLI start-up"). This storage keeps
the engines of the database files it used last (the index and the current runs'), each with one connection kept
open between statements, and is otherwise Dagster's: the same files in the same place (`<DAGSTER_HOME>/history/runs`,
where Dagster's default storage keeps them, so the instance's history reads the same either way), the same schema
and initialization, and a transaction committed around every statement, so the webserver and the daemon, other
processes, see every write when Dagster's own storage would have shown it.
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

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
from sqlalchemy.pool import QueuePool

#: Engines kept, the least recently used closed first: the index and the runs in progress. A process that reads
#: many runs (the webserver) keeps no more than this many database files open.
ENGINES_KEPT = 8


class SqliteEventLogStorage(DagsterSqliteEventLogStorage):
    """Dagster's run-sharded SQLite event log, with an engine and a connection kept per database file (module
    docstring).

    Configured in `dagster.yaml` by the instance's home, from which the folder is derived as Dagster derives it.
    A storage's settings cannot see the folder they were read from, so the project's settings name the home by
    `DAGSTER_HOME`, as Dagster's commands and `DagsterInstance.get()` find it; an instance opened from another
    folder (`DagsterInstance.from_config(folder)`) with these settings needs DAGSTER_HOME set to that folder.

    ```yaml
    event_log_storage:
      module: pipelines.instance
      class: SqliteEventLogStorage
      config:
        dagster_home:
          env: DAGSTER_HOME
    ```
    """

    def __init__(self, base_dir: str, inst_data: ConfigurableClassData | None = None) -> None:
        self._engines: OrderedDict[str, Engine] = OrderedDict()  # before Dagster's init, which may connect
        self._engines_lock = threading.Lock()  # not Dagster's `_db_lock`: `has_table` runs inside `_connect`
        self._engines_pid = os.getpid()
        super().__init__(base_dir, inst_data)

    @classmethod
    def config_type(cls) -> dict[str, Any]:
        return {"dagster_home": StringSource}

    @classmethod
    def from_config_value(  # type: ignore[override]
        cls, inst_data: ConfigurableClassData | None, config_value: Mapping[str, Any]
    ) -> SqliteEventLogStorage:
        return cls(event_logs_directory(config_value["dagster_home"]), inst_data=inst_data)

    def _engine(self, shard: str) -> Engine:
        """The engine of `shard`'s database file: the one kept, or a new one kept from now on. One idle
        connection stays open per engine; a connection wanted while it is in use is opened and closed after
        (`max_overflow=-1`: never a wait). A forked process drops its parent's connections unused, as SQLAlchemy
        asks (a SQLite connection must not cross a fork)."""
        with self._engines_lock:
            if self._engines_pid != os.getpid():
                for engine in self._engines.values():
                    engine.dispose(close=False)
                self._engines.clear()
                self._engines_pid = os.getpid()
            engine = self._engines.pop(shard, None)
            if engine is None:
                engine = create_engine(
                    self.conn_string_for_shard(shard),
                    poolclass=QueuePool,
                    pool_size=1,
                    max_overflow=-1,
                    connect_args={"timeout": SQLITE_BUSY_TIMEOUT_SECONDS},
                )
            self._engines[shard] = engine  # now the most recently used
            while len(self._engines) > ENGINES_KEPT:
                self._engines.popitem(last=False)[1].dispose()
            return engine

    def _dispose_engines(self) -> None:
        with self._engines_lock:
            while self._engines:
                self._engines.popitem()[1].dispose()

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
        """Dagster's `has_table` of the index database (asked before every asset event's tags are stored),
        through the kept engine."""
        engine = self._engine(INDEX_SHARD_NAME)
        with engine.connect() as conn:
            return bool(engine.dialect.has_table(conn, table_name))

    def wipe(self) -> None:
        """Dagster's `wipe`, which deletes the runs' database files: their connections are closed first."""
        self._dispose_engines()
        super().wipe()

    def dispose(self) -> None:
        super().dispose()
        self._dispose_engines()


def event_logs_directory(dagster_home: str) -> str:
    """Where Dagster's default SQLite storage keeps the event logs of the instance at `dagster_home`."""
    return os.path.join(os.path.abspath(dagster_home), "history", "runs", "")
