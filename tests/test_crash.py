"""A real crash (SIGKILL) during ingest leaves every partition either as it was or complete."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from pipelines.lib import scratch as scratch_module
from pipelines.lib.ingest import ingest
from pipelines.lib.lock_stores import LOCK_FILE
from pipelines.lib.storage import Warehouse
from tests.conftest import HASH_KEY, PROJECT_ROOT, record, stored, write_lines

# The child ingests normally, but stops inside the chosen step (after the first partition is published, or
# halfway through writing a partition file) and waits there to be killed.
CHILD = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    import pyarrow.parquet as pq
    from pipelines.lib import ingest as ingest_module, storage

    source, root, marker, where = sys.argv[1:5]
    write_table = pq.write_table
    replace = storage.os.replace

    def pause():
        Path(marker).write_text("paused")
        time.sleep(120)

    def write_half(table, path, **kw):
        write_table(table, path, **kw)
        if where == "writing":
            data = Path(path).read_bytes()
            Path(path).write_bytes(data[: len(data) // 2])
            pause()

    def replace_then_pause(src, dst):
        replace(src, dst)
        if where == "published" and dst.endswith("data.parquet"):
            pause()

    class HalfWriter(pq.ParquetWriter):  # the commit writes a sorted day one row group at a time
        def __init__(self, path, *args, **kw):
            super().__init__(path, *args, **kw)
            self.path = path

        def close(self):
            was_open = self.is_open
            super().close()
            if was_open and where == "writing":
                data = Path(self.path).read_bytes()
                Path(self.path).write_bytes(data[: len(data) // 2])
                pause()

    pq.write_table = write_half
    pq.ParquetWriter = HalfWriter
    storage.os.replace = replace_then_pause
    ingest_module.ingest([source], storage.Warehouse(root), hash_key=b"test-key")
    """
)


def _snapshot(root: Path) -> dict[Path, bytes]:
    return {p: p.read_bytes() for p in root.rglob("*.parquet") if not p.name.startswith(".")}


@pytest.mark.slow
@pytest.mark.parametrize("where", ["writing", "published"])
def test_sigkill_leaves_partitions_old_or_complete(tmp_path, where, monkeypatch):
    scratch = tmp_path / "tmp"  # $TMPDIR of the child and of the rerun
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    root = tmp_path / "wh"
    days = ("2025-06-01", "2025-06-02", "2025-06-03")
    base = [record(request_id=f"old-{d}", created_at=f"{d}T00:00:00Z") for d in days]
    ingest([str(write_lines(tmp_path / "base.jsonl", base))], Warehouse(str(root)), hash_key=HASH_KEY)
    before = _snapshot(root)
    new = [record(request_id=f"new-{d}-{i}", created_at=f"{d}T01:00:00Z") for d in days for i in range(50)]
    source = write_lines(tmp_path / "new.jsonl", new)
    marker = tmp_path / "marker"
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(source), str(root), str(marker), where],
        cwd=PROJECT_ROOT,
        env={**os.environ, "PYTHONPATH": str(PROJECT_ROOT), "TMPDIR": str(scratch)},
    )
    deadline = time.monotonic() + 120
    while not marker.exists():
        assert child.poll() is None, "the child finished without reaching the injected pause"
        assert time.monotonic() < deadline
        time.sleep(0.05)
    os.kill(child.pid, signal.SIGKILL)
    child.wait()

    after = _snapshot(root)
    assert set(after) == set(before)
    changed = [p for p in after if after[p] != before[p]]
    if where == "published":
        assert changed  # at least the partition published before the pause (others may follow in parallel)
    else:
        assert len(changed) < len(after)  # the partition being written when killed kept its old content
    for path in after:
        table = pq.read_table(path)  # every visible partition is a whole, readable file
        ids = set(table.column("request_id").to_pylist())
        day = path.parent.name.removeprefix("date=")
        assert ids in ({f"old-{day}"}, {f"old-{day}"} | {f"new-{day}-{i}" for i in range(50)})

    leftovers = [p.name for p in scratch.iterdir()]  # the killed writer's scratch folder and its lock
    assert leftovers and all(scratch_module.owner_of(name).pid == child.pid for name in leftovers)
    assert json.loads((root / LOCK_FILE).read_text())["pid"] == child.pid
    if where == "writing":
        assert list(root.rglob(".*.tmp"))  # the partition file it was writing
    report = ingest([str(source)], Warehouse(str(root)), hash_key=HASH_KEY)  # not in the ledger: redo it
    assert (report.written, report.duplicates) == (150, 0)  # rows the killed run wrote count as this file's
    assert len(stored(Warehouse(str(root)))) == 153
    assert not list(root.rglob(".*.tmp"))  # removed at the next start, young as they are: their writer ended
    assert not list(scratch.iterdir()) and not (root / LOCK_FILE).exists()
