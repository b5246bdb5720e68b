"""Where things live: source listing and the warehouse layout on any fsspec filesystem.

Layout under the warehouse root (a local folder or an object-store URL):

    requests/date=YYYY-MM-DD/data.parquet     canonical records of one UTC day (one file, replaced atomically)
    quarantine/<file-key>.parquet             rejected lines of one source file, with reasons
    _ledger/<file-key>.json                   one entry per ingested source file (URI, size, etag/checksum, counts)

Atomic publication: a file is written next to its target under a hidden temporary name, then moved over
the target (a rename on local disks; object stores make a single PUT visible whole). Readers that glob
`*.parquet` never see the temporary name.
"""

from __future__ import annotations

import json
import os
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import fsspec
from fsspec.core import url_to_fs
from fsspec.implementations.local import LocalFileSystem

REQUESTS = "requests"
QUARANTINE = "quarantine"
LEDGER = "_ledger"
DATA_FILE = "data.parquet"
_HIDDEN_PREFIXES = (".", "_")


class SourceError(ValueError):
    """A source URL that names nothing readable."""


@dataclass(frozen=True)
class SourceFile:
    """One input file: its URL, size and a key that changes when its content may have changed."""

    url: str
    size: int
    version: str

    @property
    def key(self) -> str:
        """Stable identifier of this file version (used for the ledger and quarantine file names)."""
        import hashlib

        return hashlib.sha256(f"{self.url}\0{self.size}\0{self.version}".encode()).hexdigest()[:32]


def _version(fs: fsspec.AbstractFileSystem, info: dict[str, Any]) -> str:
    for name in ("ETag", "etag", "md5", "checksum"):
        if info.get(name):
            return str(info[name]).strip('"')
    for name in ("mtime", "LastModified", "created"):
        if info.get(name) is not None:
            return str(info[name])
    return ""


def _visible(path: str) -> bool:
    return not any(part.startswith(_HIDDEN_PREFIXES) for part in Path(path).parts[-1:])


def list_sources(url: str, storage_options: dict[str, Any] | None = None) -> list[SourceFile]:
    """Expand a file, folder (recursive) or glob URL into its files, sorted by URL.

    Hidden files (names starting with '.' or '_') are skipped. Raises SourceError when nothing matches.
    """
    fs, path = url_to_fs(url, **(storage_options or {}))
    if fs.isdir(path):
        infos = {p: i for p, i in fs.find(path, detail=True).items() if i.get("type") != "directory"}
    elif fs.exists(path):
        infos = {path: fs.info(path)}
    elif any(ch in path for ch in "*?["):
        infos = {p: i for p, i in fs.glob(path, detail=True).items() if i.get("type") != "directory"}
    else:
        raise SourceError(f"source not found: {url}")
    files = [
        SourceFile(url=fs.unstrip_protocol(p), size=int(info.get("size") or 0), version=_version(fs, info))
        for p, info in sorted(infos.items())
        if _visible(p)
    ]
    if not files:
        raise SourceError(f"no files under source: {url}")
    return files


@dataclass
class Warehouse:
    """The warehouse root on an fsspec filesystem."""

    url: str
    storage_options: dict[str, Any] = field(default_factory=dict)

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

    def days(self) -> list[str]:
        """UTC days that have a requests partition."""
        found = self.fs.glob(self.path(REQUESTS, "date=*", DATA_FILE))
        return sorted(Path(p).parent.name.removeprefix("date=") for p in found)

    def publish(self, local_file: str, target: str) -> None:
        """Move a finished local file to `target` atomically (never a half-written target)."""
        self.fs.makedirs(self.fs._parent(target), exist_ok=True)
        if self.is_local:
            folder = Path(target).parent
            for stale in folder.glob(f".{Path(target).name}.*.tmp"):  # left by a crashed writer
                stale.unlink(missing_ok=True)
            tmp = f"{folder}/.{Path(target).name}.{uuid.uuid4().hex}.tmp"
            self.fs.put_file(local_file, tmp)
            os.replace(tmp, target)
        else:
            self.fs.put_file(local_file, target)

    def fetch(self, path: str, local_file: str) -> bool:
        """Copy `path` to a local file; False when it does not exist."""
        if not self.fs.exists(path):
            return False
        self.fs.get_file(path, local_file)
        return True

    def ledger_keys(self) -> set[str]:
        """Keys of source files already ingested."""
        return {Path(p).stem for p in self.fs.glob(self.path(LEDGER, "*.json"))}

    def write_ledger(self, key: str, entry: dict[str, Any], scratch: str) -> None:
        local = os.path.join(scratch, f"{key}.json")
        Path(local).write_text(json.dumps(entry, indent=2, sort_keys=True))
        self.publish(local, self.path(LEDGER, f"{key}.json"))

    def read_ledger(self) -> list[dict[str, Any]]:
        entries = []
        for p in sorted(self.fs.glob(self.path(LEDGER, "*.json"))):
            with self.fs.open(p, "r") as handle:
                entries.append(json.load(handle))
        return entries
