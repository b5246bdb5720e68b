"""Where a warehouse lock lives (see `pipelines.lib.lock` for who takes it and when).

Each store creates the lock only if it is absent, reads it with its age (seconds since the holder's last
heartbeat) and version, takes over a stale lock only if it is still the one judged stale, and beats and
releases the lock only while it is still its own. The record is JSON: the holder's user, host, machine, pid,
purpose, command, started_at, heartbeat interval and a random token.

* Local folder: created atomically (a complete temporary file hard-linked to the name: the link fails when
  the name exists, and nobody reads half a record). The heartbeat is the file's modification time, touched
  every few seconds; the content is never rewritten, because a local disk has no conditional rewrite (and
  touching a file someone else has since created does no harm). A stale lock is broken by renaming it to a
  unique name, which only one breaker can do, then checking that the renamed file is the lock judged stale
  (its token), else putting it back; release does the same with its own token.
* S3 (`s3://`): a lease object created by a PUT with `If-None-Match: *` (S3 answers 412 when it exists). The
  heartbeat is a PUT of the same record with `If-Match: <etag of our last PUT>`, release a DELETE with
  `If-Match`, and a stale lease is taken over by a PUT with `If-Match` on the etag judged stale: a lease
  someone else replaced is never revived or deleted, and of two breakers one wins. A store that ignores the
  condition (some S3-compatible servers) would lock nothing, so after creating the lease a second conditional
  PUT must be refused; if it is not, or the store rejects conditional PUTs, the writer fails with `LockError`.
  Its age is the lease's LastModified (the store's clock) against this machine's clock.
* Other fsspec stores (memory://, gs://, az://): create-if-absent through fsspec's `pipe_file(mode="create")`
  (atomic where the store implements it); heartbeat, release and breaking check the token first, which a
  concurrent breaker can race. Use a local folder or S3 for writers on several machines.
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from fsspec.asyn import sync

from pipelines.lib import scratch

if TYPE_CHECKING:
    from pipelines.lib.storage import Warehouse

LOCK_FILE = "_lock.json"
# S3 error codes that mean "the condition did not hold": the lease is not (or no longer) the one we named
_REFUSED = frozenset({"PreconditionFailed", "ConditionalRequestConflict", "NoSuchKey"})


class LockError(RuntimeError):
    """The warehouse's store cannot hold a lock (it rejects or ignores conditional writes)."""


@dataclass(frozen=True)
class Holder:
    """A lock as a waiter sees it: the holder's record, seconds since its last heartbeat, and its version
    (what changes when the lock is replaced: the token, or the etag of an S3 lease)."""

    record: dict[str, Any] | None  # None: unreadable (half written by a store without atomic create, or junk)
    age: float
    version: str

    def stale(self, ttl: float) -> bool:
        """Its process ended on this machine, or it has not beaten for the TTL (or three of its beats)."""
        record = self.record or {}
        if record.get("machine") == scratch.MACHINE and not scratch.alive(int(record.get("pid") or 0)):
            return True
        return self.age > max(ttl, 3 * float(record.get("heartbeat_seconds") or 0))

    def describe(self) -> str:
        """One line: who holds it, doing what, since when."""
        if self.record is None:
            return f"an unreadable lock file (written {self.age:.0f}s ago)"
        r = self.record
        return (
            f"{r.get('owner')} on {r.get('host')} (pid {r.get('pid')}), {r.get('purpose')}: `{r.get('command')}`, "
            f"since {r.get('started_at')}, last heartbeat {self.age:.0f}s ago"
        )


class Store(Protocol):
    """A lock in one kind of store."""

    where: str

    def create(self, body: bytes) -> bool: ...  # True: the lock is ours now
    def read(self) -> Holder | None: ...  # None: there is no lock
    def take_over(self, stale: Holder, body: bytes) -> bool: ...  # replace the lock judged stale, if unchanged
    def beat(self) -> bool: ...  # False: it is not ours any more
    def release(self) -> bool: ...  # False: it was not ours any more


def _parse(data: bytes) -> dict[str, Any] | None:
    """A lock's record; None when it is no JSON object (half written, or edited by hand)."""
    try:
        return dict(json.loads(data))
    except (TypeError, ValueError):
        return None


class LocalLock:
    """`_lock.json` in a local folder (see the module docstring)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.where = str(path)
        self.token = ""

    def create(self, body: bytes) -> bool:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        temporary = self.path.with_name(scratch.temporary_name(self.path.name))
        temporary.write_bytes(body)
        try:
            os.link(temporary, self.path)
        except FileExistsError:
            return False
        finally:
            temporary.unlink(missing_ok=True)
        self.token = _parse(body)["token"]
        return True

    def read(self) -> Holder | None:
        try:
            modified = self.path.stat().st_mtime
            record = _parse(self.path.read_bytes())
        except FileNotFoundError:
            return None
        return Holder(record, time.time() - modified, str((record or {}).get("token", "")))

    def _take_aside(self, version: str) -> bool:
        """Remove the lock if it is still the one with this version: rename it to a unique name (one renamer
        wins), check the renamed file, and put it back if it is another one (a lock created meanwhile)."""
        aside = self.path.with_name(scratch.temporary_name(self.path.name))
        try:
            os.rename(self.path, aside)
        except FileNotFoundError:
            return False
        try:
            if str((_parse(aside.read_bytes()) or {}).get("token", "")) == version:
                return True
            with contextlib.suppress(FileExistsError):
                os.link(aside, self.path)
            return False
        finally:
            aside.unlink(missing_ok=True)

    def take_over(self, stale: Holder, body: bytes) -> bool:
        return self._take_aside(stale.version) and self.create(body)

    def beat(self) -> bool:
        holder = self.read()
        if not self.token or holder is None or holder.version != self.token:
            return False
        os.utime(self.path)
        return True

    def release(self) -> bool:
        return bool(self.token) and self._take_aside(self.token)


def _timestamp(value: Any) -> float:
    """Seconds since the epoch of a modification time as fsspec stores report it (a number, a datetime or
    ISO 8601 text); now when there is none (such a lock goes stale only when its process is seen to end)."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if isinstance(value, datetime):
        return value.timestamp()
    return float(value) if value else time.time()


class FsspecLease:
    """A lock object on an fsspec store without conditional overwrites (see the module docstring)."""

    def __init__(self, fs: Any, path: str, where: str) -> None:
        self.fs, self.path, self.where = fs, path, where
        self.body, self.token = b"", ""

    def create(self, body: bytes) -> bool:
        try:
            self.fs.pipe_file(self.path, body, mode="create")
        except FileExistsError:
            return False
        self.body, self.token = body, _parse(body)["token"]
        return True

    def read(self) -> Holder | None:
        try:
            record, info = _parse(self.fs.cat_file(self.path)), self.fs.info(self.path)
        except FileNotFoundError:
            return None
        modified = next((info[k] for k in ("mtime", "LastModified", "updated", "created") if info.get(k)), None)
        return Holder(record, time.time() - _timestamp(modified), str((record or {}).get("token", "")))

    def _ours(self, version: str) -> bool:
        holder = self.read()
        return holder is not None and holder.version == version

    def take_over(self, stale: Holder, body: bytes) -> bool:
        if not self._ours(stale.version):
            return False
        with contextlib.suppress(FileNotFoundError):
            self.fs.rm_file(self.path)
        return self.create(body)

    def beat(self) -> bool:
        if not self.token or not self._ours(self.token):
            return False
        self.fs.pipe_file(self.path, self.body)
        return True

    def release(self) -> bool:
        if not self.token or not self._ours(self.token):
            return False
        self.fs.rm_file(self.path)
        return True


def _refused(err: OSError) -> bool:
    """Whether an s3fs error is S3 saying that a condition (If-Match, If-None-Match) did not hold."""
    if isinstance(err, FileNotFoundError | FileExistsError):
        return True
    response = getattr(err.__cause__, "response", None) or {}
    return response.get("Error", {}).get("Code") in _REFUSED


class S3Lease:
    """A lease object on S3, kept with conditional requests (see the module docstring)."""

    def __init__(self, fs: Any, path: str, where: str) -> None:
        self.fs, self.where = fs, where
        self.bucket, self.key, _ = fs.split_path(path)
        self.body, self.etag = b"", ""

    def _put(self, body: bytes, **condition: str) -> str:
        out = self.fs.call_s3("put_object", Bucket=self.bucket, Key=self.key, Body=body, **condition)
        self.fs.invalidate_cache(f"{self.bucket}/{self.key}")
        return out["ETag"]

    def create(self, body: bytes) -> bool:
        try:
            self.etag = self._put(body, IfNoneMatch="*")
        except FileExistsError:
            return False
        except OSError as err:
            message = f"cannot create the lock {self.where} with a conditional PUT (If-None-Match): {err}"
            raise LockError(message) from err
        self.body = body
        try:  # a store that ignores If-None-Match would let every writer in
            self._put(body, IfNoneMatch="*")
        except FileExistsError:
            return True
        self.release()
        raise LockError(
            f"the store of {self.where} ignores If-None-Match (a conditional PUT replaced an existing object), "
            "so it cannot hold a warehouse lock: use a store with conditional writes"
        )

    def read(self) -> Holder | None:
        async def get() -> tuple[bytes, str, datetime]:
            response = await self.fs._call_s3("get_object", Bucket=self.bucket, Key=self.key)
            return await response["Body"].read(), response["ETag"], response["LastModified"]

        try:
            body, etag, modified = sync(self.fs.loop, get)
        except FileNotFoundError:
            return None
        return Holder(_parse(body), time.time() - modified.timestamp(), etag)

    def _conditional(self, call: Callable[[], str], etag: str) -> bool:
        """Run a request conditional on `etag` (never without one: botocore drops an empty If-Match, which
        would make it unconditional); remember the etag it leaves. False when the condition failed."""
        if not etag:
            return False
        try:
            self.etag = call()
        except OSError as err:
            if _refused(err):
                return False
            raise
        return True

    def take_over(self, stale: Holder, body: bytes) -> bool:
        if not self._conditional(lambda: self._put(body, IfMatch=stale.version), stale.version):
            return False
        self.body = body
        return True

    def beat(self) -> bool:
        return self._conditional(lambda: self._put(self.body, IfMatch=self.etag), self.etag)

    def release(self) -> bool:
        def delete() -> str:
            self.fs.call_s3("delete_object", Bucket=self.bucket, Key=self.key, IfMatch=self.etag)
            self.fs.invalidate_cache(f"{self.bucket}/{self.key}")
            return ""

        return self._conditional(delete, self.etag)


def store_for(warehouse: Warehouse) -> Store:
    """The lock of this warehouse, in the store it lives on."""
    if warehouse.is_local:
        return LocalLock(Path(os.path.realpath(warehouse.path(LOCK_FILE))))
    protocols = warehouse.fs.protocol if isinstance(warehouse.fs.protocol, tuple) else (warehouse.fs.protocol,)
    kind = S3Lease if "s3" in protocols else FsspecLease
    return kind(warehouse.fs, warehouse.path(LOCK_FILE), warehouse.uri(LOCK_FILE))
