"""Scratch space named after the process that owns it, so that a later run can tell a killed run's leftovers
from a live run's files.

A run killed with SIGKILL (or by the OOM killer) cannot clean up after itself: it leaves its scratch folder in
$TMPDIR (staged rows and DuckDB spill files, tens of MB) and, if it was writing one, a temporary file next to
a warehouse file. Both carry their owner in their name:

    $TMPDIR/gatewaylens-<machine>.<pid>.<random>/          scratch_dir()
    <folder>/.<target name>.<machine>.<pid>.<hex>.tmp      temporary_name(target name)

`<machine>` is the host name plus, on Linux, the PID namespace (containers that share a host name and a
/tmp have their own process ids), so "its owner is dead" is decided only where the process id means something:
on the same machine, by `alive(pid)`. Scratch folders without an owner in their name (an older gatewaylens')
or of another machine are left alone; for temporary files in the warehouse, the writer holding the warehouse
lock decides (`storage.Warehouse.sweep_temporary_files`).
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path

SCRATCH_PREFIX = "gatewaylens-"
_SCRATCH = re.compile(rf"^{SCRATCH_PREFIX}(?P<machine>[A-Za-z0-9-]+)\.(?P<pid>\d+)\.")
_TEMPORARY = re.compile(r"^\..+\.(?P<machine>[A-Za-z0-9-]+)\.(?P<pid>\d+)\.[0-9a-f]{32}\.tmp$")


def _machine() -> str:
    """This host's name (letters, digits and '-'), plus its PID namespace on Linux."""
    host = re.sub(r"[^A-Za-z0-9-]", "-", socket.gethostname()) or "host"
    try:
        namespace = re.sub(r"\D", "", os.readlink("/proc/self/ns/pid"))  # "pid:[4026531836]"
    except OSError:
        return host
    return f"{host}-{namespace}"


HOST = socket.gethostname()
MACHINE = _machine()


def alive(pid: int) -> bool:
    """Whether a process with this id runs on this machine (a process of another user counts)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@dataclass(frozen=True)
class Owner:
    """The process named in a scratch folder's or temporary file's name."""

    machine: str
    pid: int

    @property
    def dead_here(self) -> bool:
        """It ran on this machine and has ended: nobody will finish or remove what it left."""
        return self.machine == MACHINE and not alive(self.pid)


def owner_of(name: str) -> Owner | None:
    """The owner named in a scratch folder's or temporary file's name; None for names without one."""
    match = _SCRATCH.match(name) or _TEMPORARY.match(name)
    return Owner(match["machine"], int(match["pid"])) if match else None


def scratch_dir() -> tempfile.TemporaryDirectory[str]:
    """A scratch folder in $TMPDIR named after this process, removed when its `with` block ends."""
    return tempfile.TemporaryDirectory(prefix=f"{SCRATCH_PREFIX}{MACHINE}.{os.getpid()}.")


def temporary_name(target_name: str) -> str:
    """A hidden name next to `target_name` for writing it before a rename; readers globbing `*.parquet` or
    `*.json` never see it."""
    return f".{target_name}.{MACHINE}.{os.getpid()}.{uuid.uuid4().hex}.tmp"


def sweep_scratch(folder: str | None = None) -> list[str]:
    """Remove the scratch folders in `folder` (default $TMPDIR) whose owner was a process on this machine that
    has ended; returns their paths. Folders of live processes, of other machines and without an owner in
    their name (written by an older gatewaylens) are left alone."""
    root = Path(folder or tempfile.gettempdir())
    removed = []
    for entry in os.scandir(root) if root.is_dir() else []:
        owner = owner_of(entry.name) if entry.name.startswith(SCRATCH_PREFIX) else None
        if owner and owner.dead_here and entry.is_dir(follow_symlinks=False):
            shutil.rmtree(entry.path, ignore_errors=True)
            removed.append(entry.path)
    return removed
