"""Where things live: source listing and the warehouse layout on any fsspec filesystem.

Layout under the warehouse root (a local folder or an object-store URL):

    requests/date=YYYY-MM-DD/data.parquet     canonical records of one UTC day (one file, replaced atomically)
    quarantine/<file-key>.parquet             rejected lines of one source file, with reasons
    _ledger/<file-key>.json                   one entry per ingested source file (URI, size, etag/checksum, counts)
    _ledger/_by_url/<url-key>.json            the last version of each source URL ingested, with how far it was read
    _lock.json                                the writer lock while a writer runs (see pipelines.lib.lock)

Atomic publication: a file is written next to its target under a hidden temporary name, then moved over
the target (a rename on local disks; object stores make a single PUT visible whole). Readers that glob
`*.parquet` never see the temporary name, which names its writer (`scratch.temporary_name`), so a killed
writer's file is recognised and removed by the next run (`Warehouse.sweep_temporary_files`).
"""

from __future__ import annotations

import contextlib
import glob
import hashlib
import json
import os
import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import fsspec
from fsspec.core import url_to_fs
from fsspec.implementations.local import LocalFileSystem

from pipelines.lib.lock import LockSettings
from pipelines.lib.scratch import MACHINE, owner_of, scratch_dir, temporary_name

REQUESTS = "requests"
QUARANTINE = "quarantine"
LEDGER = "_ledger"
BY_URL = "_by_url"
STAGING = "_staging"
DATA_FILE = "data.parquet"
STALE_TMP_SECONDS = 3600
#: Folders only holders of the warehouse lock write (the report in `dashboards/` is written without it).
LOCKED_FOLDERS = (REQUESTS, QUARANTINE, LEDGER, STAGING)
_HIDDEN_PREFIXES = (".", "_")
#: Inside folders and globs, only files with these log extensions (optionally compressed) are read, so a
#: README or script next to the logs is not mistaken for one. A file named explicitly is always read.
LOG_SUFFIXES = (".jsonl", ".ndjson", ".json", ".log", ".csv", ".txt")
COMPRESSION_SUFFIXES = ("", ".gz", ".zst", ".bz2", ".xz")
_LOG_NAME = tuple(log + comp for log in LOG_SUFFIXES for comp in COMPRESSION_SUFFIXES)


class SourceError(ValueError):
    """A source URL that names nothing readable."""


@dataclass(frozen=True, order=True)
class SourceFile:
    """One input file: its URL, size and a key that changes when its content may have changed."""

    url: str
    size: int
    version: str

    @property
    def key(self) -> str:
        """Stable identifier of this file version (used for the ledger and quarantine file names)."""
        return hashlib.sha256(f"{self.url}\0{self.size}\0{self.version}".encode()).hexdigest()[:32]


def _version(fs: fsspec.AbstractFileSystem, info: dict[str, Any]) -> str:
    for name in ("ETag", "etag", "md5", "checksum"):
        if info.get(name):
            return str(info[name]).strip('"')
    for name in ("mtime", "LastModified", "created"):
        if info.get(name) is not None:
            return str(info[name])
    return ""


def _below(path: str, root: str) -> str:
    """`path` below the folder `root` (a glob's match: its name)."""
    return path[len(root) :].lstrip("/") if path.startswith(root.rstrip("/") + "/") else Path(path).name


def _is_hidden(path: str, root: str) -> bool:
    """A file or folder below `root` in `path` is hidden: a name starting with '.' or '_' (`.git`, Spark's
    `_SUCCESS` and `_temporary/`), never data of ours, so leaving it out goes without saying."""
    return any(part.startswith(_HIDDEN_PREFIXES) for part in _below(path, root).split("/") if part)


def _is_log_name(path: str) -> bool:
    """A log file by its name's extension (LOG_SUFFIXES, optionally compressed)."""
    return Path(path).name.lower().endswith(_LOG_NAME)


#: What a listing says of the files it left out for their names (`Listing.skipped`, `skipped_note`).
NOT_LOG_NAMES = f"names are not log files ({', '.join(LOG_SUFFIXES)}, optionally {', '.join(COMPRESSION_SUFFIXES[1:])})"
#: The skipped files a note names; the others it counts.
SKIPPED_SHOWN = 3


@dataclass(frozen=True)
class Listing:
    """The files a source URL names (`list_sources`), and the files of its folder or glob left out because their
    names are not log files, hidden ones aside (`skipped`: each one's URL, as a SourceFile's, and its name below
    the source: `app.log.1`, `old/noext`)."""

    files: list[SourceFile]
    skipped: dict[str, str] = field(default_factory=dict)


def skipped_note(skipped: list[str]) -> str:
    """One line saying which files a listing left out for their names: at most SKIPPED_SHOWN, then how many more."""
    shown = ", ".join(skipped[:SKIPPED_SHOWN])
    more = f" and {len(skipped) - SKIPPED_SHOWN} more" if len(skipped) > SKIPPED_SHOWN else ""
    return f"skipped {len(skipped)} file{'s' * (len(skipped) != 1)} whose {NOT_LOG_NAMES}: {shown}{more}"


def list_sources(url: str, storage_options: dict[str, Any] | None = None) -> list[SourceFile]:
    """Expand a file, folder (recursive) or glob URL into its files, sorted by URL (see `list_files`)."""
    return list_files(url, storage_options).files


def list_files(url: str, storage_options: dict[str, Any] | None = None) -> Listing:
    """Expand a file, folder (recursive) or glob URL into its files, sorted by URL, with the files left out.

    In folders and globs only log files are taken (LOG_SUFFIXES), so a README or script next to the logs is not
    read; the others are `skipped`, for the ingest to say (a rotated `app.log.1` is data a user expects read).
    Hidden names (starting with '.' or '_', file or folder) are left out without a word. Raises SourceError when
    nothing matches.
    """
    fs, path = url_to_fs(url, **(storage_options or {}))
    if fs.isdir(path):
        found = fs.find(path, detail=True)
    elif fs.exists(path):
        found = {path: fs.info(path)}
    elif any(ch in path for ch in "*?["):
        found = fs.glob(path, detail=True)
    else:
        raise SourceError(f"source not found: {url}")
    explicit = len(found) == 1 and path in found
    canonical = os.path.realpath if isinstance(fs, LocalFileSystem) else str  # one URL per local file
    listed = {p: info for p, info in found.items() if info.get("type") != "directory"}
    shown = listed if explicit else {p: info for p, info in listed.items() if not _is_hidden(p, path)}
    taken = shown if explicit else {p: info for p, info in shown.items() if _is_log_name(p)}
    files = sorted(
        SourceFile(url=fs.unstrip_protocol(canonical(p)), size=int(info.get("size") or 0), version=_version(fs, info))
        for p, info in taken.items()
    )
    skipped = {fs.unstrip_protocol(canonical(p)): _below(p, path) for p in sorted(shown) if p not in taken}
    if not files:
        note = f" ({skipped_note(list(skipped.values()))})" if skipped else ""
        raise SourceError(f"no files under source: {url}{note}")
    return Listing(files, skipped)


def concurrent_requests(fs: fsspec.AbstractFileSystem | type[fsspec.AbstractFileSystem]) -> bool:
    """Whether requests to `fs` (a filesystem or its class) are worth making several at once from threads: its
    client is asynchronous (S3, GCS, Azure, HTTP: one event loop serves every thread, each request a round
    trip). A local disk gains nothing, and a synchronous client (FTP, SFTP) holds one connection per thread or
    shares one that threads would break."""
    return bool(getattr(fs, "async_impl", False))


def _leftover(path: Path, locked_out: bool) -> bool:
    """Whether a temporary file will never be finished: older than STALE_TMP_SECONDS; else, when its name
    names a process of this machine, that process has ended; else (another machine's, or an older
    gatewaylens') when no other writer can be writing it (`locked_out`: the caller holds the warehouse lock
    and the file lies in a folder only lock holders write)."""
    if time.time() - path.stat().st_mtime > STALE_TMP_SECONDS:
        return True
    owner = owner_of(path.name)
    if owner is not None and owner.machine == MACHINE:
        return owner.dead_here
    return locked_out


@dataclass
class Warehouse:
    """The warehouse root on an fsspec filesystem, and how its writers share it (`lock`)."""

    url: str
    storage_options: dict[str, Any] = field(default_factory=dict)
    lock: LockSettings = field(default_factory=LockSettings)

    def __post_init__(self) -> None:
        self.fs, self.root = url_to_fs(self.url, **self.storage_options)
        self.root = self.root.rstrip("/")

    @property
    def is_local(self) -> bool:
        return isinstance(self.fs, LocalFileSystem)

    def path(self, *parts: str) -> str:
        return "/".join([self.root, *parts])

    def uri(self, *parts: str) -> str:
        return self.fs.unstrip_protocol(self.path(*parts))

    def partition_path(self, day: str) -> str:
        return self.path(REQUESTS, f"date={day}", DATA_FILE)

    def list_names(self, *parts: str) -> list[str]:
        """Entry names in a folder of the warehouse (empty when it does not exist)."""
        return self._names(*parts)

    def _names(self, *parts: str) -> list[str]:
        """Entry names in a folder (listed, never globbed: the root may contain glob characters)."""
        try:
            return sorted(Path(p.rstrip("/")).name for p in self.fs.ls(self.path(*parts), detail=False))
        except FileNotFoundError:
            return []

    def days(self) -> list[str]:
        """UTC days that have a requests partition."""
        days = [n.removeprefix("date=") for n in self._names(REQUESTS) if n.startswith("date=")]
        return [day for day in days if DATA_FILE in self._names(REQUESTS, f"date={day}")]

    def partition_fingerprints(self) -> dict[str, str]:
        """Each stored day's partition with a fingerprint (size and version) that changes whenever it is
        rewritten: what the SQL models compare to find the days to rebuild. One recursive listing."""
        try:
            found = self.fs.find(self.path(REQUESTS), detail=True)
        except FileNotFoundError:
            return {}
        fingerprints = {}
        for path, info in found.items():
            folder, _, name = path.rstrip("/").rpartition("/")
            day = folder.rpartition("/")[2].removeprefix("date=")
            if name == DATA_FILE and folder.rpartition("/")[2].startswith("date="):
                fingerprints[day] = f"{info.get('size')}:{_version(self.fs, info)}"
        return dict(sorted(fingerprints.items()))

    def partition_paths(self) -> list[str]:
        """Paths of every stored day's partition file (one recursive listing)."""
        return [self.partition_path(day) for day in self.partition_fingerprints()]

    def duckdb_path(self, path: str) -> str:
        """`path` as DuckDB is given it (a URI on object stores), with glob characters escaped (`[` as `[[]`, `*`
        as `[*]`): DuckDB globs every path it reads, an existing file's too, so `w[1]*/requests/...` would read
        the partition of a neighbour `w1-other` instead of its own."""
        return glob.escape(path if self.is_local else self.fs.unstrip_protocol(path))

    def read_path(self, path: str) -> str | None:
        """`path` as DuckDB should read it (see `duckdb_path`), or None when it does not exist."""
        return self.duckdb_path(path) if self.fs.exists(path) else None

    @contextmanager
    def atomic_write(self, target: str) -> Iterator[str]:
        """Yield a local path to write; on success it replaces `target` whole (never a half-written target).

        Local disks: a hidden temporary file next to the target, renamed over it. Object stores: a scratch
        file, uploaded in one PUT (which the store makes visible whole).
        """
        if self.is_local:
            folder = Path(target).parent
            folder.mkdir(parents=True, exist_ok=True)
            if not self._locked_folder(folder):
                self._remove_leftovers(folder, Path(target).name)
            tmp = folder / temporary_name(Path(target).name)
            try:
                yield str(tmp)
                os.replace(tmp, target)
            finally:
                tmp.unlink(missing_ok=True)
            return
        with scratch_dir() as scratch:
            local = os.path.join(scratch, Path(target).name)
            yield local
            self.fs.put_file(local, target)

    def _locked_folder(self, folder: Path) -> bool:
        """`folder` is in one only lock holders write, whose killed writers' temporary files the next holder
        sweeps (`sweep_temporary_files`): a write there does not look for them itself. It did, and a glob of the
        folder per write made writing N ledger entries cost N^2 (69 ms a write in a folder of 100k entries)."""
        try:
            top = folder.relative_to(self.root).parts
        except ValueError:
            return False
        return bool(top) and top[0] in LOCKED_FOLDERS

    @staticmethod
    def _remove_leftovers(folder: Path, name: str) -> None:
        """Remove a killed writer's temporary files of the file `name` in `folder`: where no lock holder sweeps
        (the report, written without the lock, here or in a folder of its own)."""
        for stale in folder.glob(f".{glob.escape(name)}.*.tmp"):
            with contextlib.suppress(FileNotFoundError):
                if _leftover(stale, locked_out=False):
                    stale.unlink()

    def sweep_temporary_files(self) -> list[str]:
        """Remove the temporary files killed writers left in a local warehouse (see `_leftover`); returns
        their paths. Call it holding the warehouse lock. An object store has none: it gets whole PUTs."""
        if not self.is_local or not os.path.isdir(self.root):
            return []
        removed = []
        for folder, _dirs, names in os.walk(self.root):
            top = Path(folder).relative_to(self.root).parts
            locked_out = bool(top) and top[0] in LOCKED_FOLDERS
            for name in names:
                path = Path(folder, name)
                with contextlib.suppress(FileNotFoundError):
                    if name.startswith(".") and name.endswith(".tmp") and _leftover(path, locked_out):
                        path.unlink()
                        removed.append(str(path))
        return removed

    def publish(self, local_file: str, target: str) -> None:
        """Copy a finished local file to `target` atomically."""
        with self.atomic_write(target) as local:
            shutil.copyfile(local_file, local)

    def ledger_keys(self) -> set[str]:
        """Keys of source files already ingested."""
        return {n.removesuffix(".json") for n in self._names(LEDGER) if n.endswith(".json")}

    def ledger_entry(self, key: str) -> dict[str, Any] | None:
        """The ledger entry of the source file ingested as `key` (None when there is none)."""
        try:
            with self.fs.open(self.path(LEDGER, f"{key}.json"), "r") as handle:
                return dict(json.load(handle))
        except FileNotFoundError:
            return None

    def write_ledger(self, key: str, entry: dict[str, Any]) -> None:
        """Record a source file as ingested (atomically: a reader never sees half an entry)."""
        with self.atomic_write(self.path(LEDGER, f"{key}.json")) as local:
            Path(local).write_text(json.dumps(entry, indent=2, sort_keys=True))

    def last_read_name(self, url: str) -> str:
        """The name of `url`'s last-read entry (among `last_read_names` when it was ever ingested)."""
        return hashlib.sha256(url.encode()).hexdigest()[:32] + ".json"

    def _by_url_path(self, url: str) -> str:
        return self.path(LEDGER, BY_URL, self.last_read_name(url))

    def last_read_names(self) -> set[str]:
        """The names of the last-read entries, one per URL ever ingested, listed once: `last_read` given them
        opens only an entry that exists (on an object store, looking for a missing one costs a HEAD and a LIST,
        for every new file of a run)."""
        names = set(self._names(LEDGER, BY_URL))
        # the listing's sizes and ETags are not to be trusted by later reads (s3fs keeps them): another writer may
        # rewrite an entry, and a later listing in this process must see new ones
        self.fs.invalidate_cache(self.path(LEDGER, BY_URL))
        return names

    def last_read(self, url: str, known: set[str] | None = None) -> dict[str, Any] | None:
        """The ledger entry of the last version of `url` ingested (None when none was; none is looked for when
        the entry's name is not among `known`, the names `last_read_names` listed)."""
        if known is not None and self.last_read_name(url) not in known:
            return None
        path = self._by_url_path(url)
        try:
            with self.fs.open(path, "r") as handle:
                return dict(json.load(handle))
        except FileNotFoundError:
            return None

    def write_last_read(self, url: str, entry: dict[str, Any]) -> None:
        """Record `entry` as the last version of `url` ingested (atomically)."""
        with self.atomic_write(self._by_url_path(url)) as local:
            Path(local).write_text(json.dumps(entry, indent=2, sort_keys=True))
