"""Sources and warehouse on real object storage: an S3 endpoint (moto's server) on loopback."""

from __future__ import annotations

import gzip
import json
import os
import uuid
from collections.abc import Iterator

import duckdb
import pytest
import s3fs

from devkit.bench.object_store import free_port, with_buckets
from pipelines.lib.ingest import UnreadableSourceError, ingest
from pipelines.lib.storage import Warehouse
from tests.conftest import HASH_KEY, record, spy

# an S3 server (moto) and builds over it: `make test-fast` leaves them out; the parallel backfill takes minutes
pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]


@pytest.fixture(scope="module")
def s3_options() -> Iterator[dict]:
    from moto.server import ThreadedMotoServer  # imported here: two seconds that `make test-fast` need not pay

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    options, _client = with_buckets(f"http://127.0.0.1:{port}")  # landing and lake
    yield options
    server.stop()


def test_ingest_from_s3_into_an_s3_warehouse(s3_options):
    fs = s3fs.S3FileSystem(**s3_options)
    lines = [record(request_id=f"s{i}", created_at=f"2025-06-0{1 + i % 2}T00:00:00Z") for i in range(6)]
    fs.pipe("landing/day/a.jsonl", "".join(json.dumps(x) + "\n" for x in lines).encode())
    fs.pipe("landing/day/b.jsonl", b"not json\n")
    store = Warehouse("s3://lake/gatewaylens", s3_options)
    report = ingest(["s3://landing/day"], store, hash_key=HASH_KEY, storage_options=s3_options)
    assert (report.lines, report.written, report.quarantined) == (7, 6, 1)
    assert store.days() == ["2025-06-01", "2025-06-02"]
    assert len(fs.glob("lake/gatewaylens/quarantine/*.parquet")) == 1
    assert len(store.ledger_keys()) == 2
    fs.invalidate_cache()
    again = ingest(["s3://landing/day"], store, hash_key=HASH_KEY, storage_options=s3_options)
    assert again.skipped_files == 2 and again.lines == 0


def test_json_documents_on_s3_are_read_record_by_record(s3_options):
    """An API's answer saved to a bucket (a pretty-printed array, the same gzipped, a page) is read by its records."""
    fs = s3fs.S3FileSystem(**s3_options)
    rows = [record(request_id=f"d{i}") for i in range(4)] + [record(request_id="bad", created_at="soon")]
    fs.pipe("landing/docs/spend.json", json.dumps(rows, indent=2).encode())
    fs.pipe("landing/docs/spend.json.gz", gzip.compress(json.dumps(rows[:2]).encode()))
    fs.pipe("landing/docs/page.json", json.dumps({"data": rows[2:4], "total": 2}).encode())
    store = Warehouse("s3://lake/documents", s3_options)
    report = ingest(["s3://landing/docs"], store, hash_key=HASH_KEY, storage_options=s3_options)
    assert (report.lines, report.written, report.duplicates, report.quarantined) == (9, 4, 4, 1)
    assert {f.read_by for f in report.files} == {"documents"} and report.balanced


def test_models_build_over_an_s3_warehouse(s3_options, tmp_path, monkeypatch):
    """The database is built in a local copy, uploaded whole, and its `requests` view reads s3:// paths
    through the fsspec filesystem; a second machine (an empty cache) fetches it and sees the same marts."""
    from pipelines.lib.sqlmodels import database
    from tests.conftest import build_models, mart

    monkeypatch.setenv("HOME", str(tmp_path / "home-1"))
    fs = s3fs.S3FileSystem(**s3_options)
    lines = [
        record(request_id=f"m{i}", native_finish_reason="tool_use" if i < 2 else "end_turn", tool_calls=int(i < 2))
        for i in range(4)
    ]
    fs.pipe("landing/models/a.jsonl", "".join(json.dumps(x) + "\n" for x in lines).encode())
    store = Warehouse("s3://lake/models", s3_options)
    ingest(["s3://landing/models"], store, hash_key=HASH_KEY, storage_options=s3_options)
    results = build_models(store)
    assert results["tool_call_rate_daily"].rows == 1
    fs.invalidate_cache()
    assert fs.exists("lake/models/gatewaylens.duckdb")

    monkeypatch.setenv("HOME", str(tmp_path / "home-2"))
    assert not database.database_path(store).exists()
    assert mart(store, "select completed_requests, tool_call_requests from tool_call_rate_daily") == [(4, 2)]
    assert mart(store, "select count(*) from requests") == [(4,)]


def _s3_warehouse(fs: s3fs.S3FileSystem, url: str, options: dict, ids: list[str], build: bool = True) -> Warehouse:
    """An S3 warehouse at `url`, ingested from the given request ids (and built)."""
    from tests.conftest import build_models

    landing = f"landing/{url.rsplit('/', 1)[1]}/a.jsonl"
    fs.pipe(landing, "".join(json.dumps(record(request_id=i)) + "\n" for i in ids).encode())
    store = Warehouse(url, options)
    ingest([f"s3://{landing}"], store, hash_key=HASH_KEY, storage_options=options)
    if build:
        build_models(store)
    return store


def test_an_s3_warehouse_opens_read_only_confined_to_its_prefix(s3_options, tmp_path, monkeypatch):
    """allowed_directories holds for the registered fsspec filesystem: the warehouse's objects read, a
    neighbouring prefix (`w[1]` next to `w1`, which a glob of it would match) and local files do not."""
    from pipelines.lib.readonly import ReadOnlyQueryError, check_query
    from pipelines.lib.sqlmodels import database

    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    fs = s3fs.S3FileSystem(**s3_options)
    neighbour = _s3_warehouse(fs, "s3://lake/w1", s3_options, ["n1", "n2"], build=False)
    store = _s3_warehouse(fs, "s3://lake/w[1]", s3_options, ["a", "b", "c"])
    with database.open_database(store, read_only=True) as con:
        assert con.execute("select count(*) from requests").fetchall() == [(3,)]
        assert con.execute("select sum(completed_requests) from tool_call_rate_daily").fetchall() == [(3,)]
        own = store.duckdb_path(store.partition_path("2025-06-01"))
        assert con.execute(f"select count(*) from read_parquet('{own}')").fetchall() == [(3,)]
        for outside in (neighbour.uri("requests", "date=2025-06-01", "data.parquet"), "/etc/passwd"):
            with pytest.raises(duckdb.PermissionException):
                con.execute(f"select * from read_text('{outside}')")
        with pytest.raises(ReadOnlyQueryError):
            check_query(con, f"copy (select 1 as a) to '{own}'")


def test_a_copied_s3_warehouse_reads_its_own_objects(s3_options, tmp_path, monkeypatch):
    from tests.conftest import mart

    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    fs = s3fs.S3FileSystem(**s3_options)
    original = _s3_warehouse(fs, "s3://lake/copied-from", s3_options, ["x", "y"])
    fs.copy("lake/copied-from", "lake/copied-to", recursive=True)
    fs.rm("lake/copied-from", recursive=True)
    copy = Warehouse("s3://lake/copied-to", s3_options)
    assert not fs.exists(original.path("requests"))
    assert mart(copy, "select count(*) from requests") == [(2,)]


@pytest.mark.slow
def test_a_parallel_backfill_on_s3_equals_the_sequential_local_run(s3_options, tmp_path, monkeypatch):
    """Three landing days in three formats: one Dagster run per day partition, launched at once, each with
    the multiprocess executor, stage into an S3 warehouse; then the main job commits the staged days and
    builds the models. Records and every model table equal a plain sequential ingest and build on local disk."""
    import datetime as dt
    import subprocess
    import sys

    import dagster as dg

    from devkit.simulate import formats, simulate
    from tests.conftest import PROJECT_ROOT, build_models, stored
    from tests.test_models import _snapshot

    frame = simulate(dt.date(2025, 6, 1), 3, 150, seed=9)
    fs = s3fs.S3FileSystem(**s3_options)
    local_files = []
    for day, name in zip(("2025-06-01", "2025-06-02", "2025-06-03"), ("canonical", "litellm", "otel"), strict=True):
        part = frame.filter(frame["created_at"].dt.strftime("%Y-%m-%d") == day)
        local = tmp_path / "landing" / day / f"{name}.jsonl"
        local.parent.mkdir(parents=True)
        formats.write(part, str(local), name)
        fs.put_file(str(local), f"landing/daily/{day}/{name}.jsonl")
        local_files.append(str(local))

    reference = Warehouse(str(tmp_path / "reference"))
    ingest(local_files, reference, hash_key=HASH_KEY)
    build_models(reference)

    home = tmp_path / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_text((PROJECT_ROOT / ".dagster" / "dagster.yaml").read_text())
    monkeypatch.setenv("DAGSTER_HOME", str(home))  # the settings name the instance's home by it
    with dg.DagsterInstance.get() as instance:  # create its storage before runs race to
        instance.get_runs()
    env = {
        **os.environ,
        "DAGSTER_HOME": str(home),
        "HOME": str(tmp_path / "home"),
        "GATEWAYLENS_WAREHOUSE": "s3://lake/backfill",
        "GATEWAYLENS_STORAGE_OPTIONS": json.dumps(s3_options),
        "GATEWAYLENS_LANDING": "s3://landing/daily",
        "GATEWAYLENS_LANDING_DAILY": "s3://landing/daily/{date}/",
        "GATEWAYLENS_HASH_KEY": HASH_KEY.decode(),
    }
    dagster = [sys.executable, "-m", "dagster", "job", "execute", "-m", "pipelines.definitions", "-a", "defs"]
    runs = [
        subprocess.Popen(
            [*dagster, "-j", "staging_job", "--tags", json.dumps({"dagster/partition": day})],
            cwd=PROJECT_ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for day in ("2025-06-01", "2025-06-02", "2025-06-03")
    ]
    for run in runs:
        output = run.communicate(timeout=600)[0]
        assert run.returncode == 0 and "Executing steps using multiprocess executor" in output, output[-3000:]
    store = Warehouse("s3://lake/backfill", s3_options)
    assert sorted(fs.ls("lake/backfill/_staging")) == [f"lake/backfill/_staging/date=2025-06-0{i}" for i in (1, 2, 3)]

    # the commit and the models: one writer, in one process (the parallel part is the staging above)
    in_process = tmp_path / "in_process.yaml"
    in_process.write_text("execution:\n  config:\n    in_process: {}\n")
    main = subprocess.run(
        [*dagster, "-j", "main", "-c", str(in_process)],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert main.returncode == 0, (main.stdout + main.stderr)[-3000:]
    fs.invalidate_cache()
    assert not fs.exists("lake/backfill/_staging/date=2025-06-01")

    def rows(warehouse):
        return [{k: v for k, v in r.items() if k != "source_uri"} for r in stored(warehouse)]

    assert rows(store) == rows(reference) and len(rows(store)) > 400
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert _snapshot(store) == _snapshot(reference)


# ---------------------------------------------------------------------------------------------------------
# The warehouse lock on S3: a lease object kept with conditional requests, which moto's server enforces
# (If-None-Match: * on PUT, If-Match on PUT and DELETE, 412 when the condition fails)
# ---------------------------------------------------------------------------------------------------------


def _lease_store(s3_options: dict, **settings: float) -> Warehouse:
    from pipelines.lib.lock import LockSettings

    return Warehouse(f"s3://lake/lock-{uuid.uuid4().hex[:8]}", s3_options, LockSettings(**({"timeout": 0} | settings)))


def test_the_lock_on_s3_is_a_lease_a_second_writer_cannot_create(s3_options):
    from pipelines.lib.lock import warehouse_lock
    from pipelines.lib.lock_stores import LOCK_FILE
    from tests.test_lock import refusal_in_another_thread

    store = _lease_store(s3_options)
    with warehouse_lock(store, "ingest"), warehouse_lock(store, "nested"):
        lease = json.loads(store.fs.cat_file(store.path(LOCK_FILE)))
        assert lease["pid"] == os.getpid() and lease["purpose"] == "ingest"
        refused = refusal_in_another_thread(store)
    assert f"(pid {os.getpid()}), ingest:" in refused and store.uri(LOCK_FILE) in refused
    store.fs.invalidate_cache()
    assert not store.fs.exists(store.path(LOCK_FILE))


def test_a_stale_lease_on_s3_is_taken_over_by_one_breaker_only(s3_options):
    """A lease whose process ended is replaced with If-Match on the etag judged stale: the second breaker's
    PUT fails the condition and the first breaker's lease stays."""
    from pipelines.lib import lock, lock_stores, scratch
    from tests.test_lock import dead_pid

    store = _lease_store(s3_options)
    record = {"owner": "someone", "host": "h", "machine": scratch.MACHINE, "pid": dead_pid(), "token": "old"}
    store.fs.pipe_file(store.path(lock_stores.LOCK_FILE), json.dumps(record).encode())
    first, second = (lock_stores.S3Lease(store.fs, store.path(lock_stores.LOCK_FILE), "lease") for _ in range(2))
    judged = first.read()
    assert judged is not None and judged.stale(60) and judged.record["token"] == "old"
    assert second.take_over(judged, lock._record("second breaker", lock.LockSettings()))
    assert not first.take_over(judged, lock._record("first breaker", lock.LockSettings()))
    assert first.read().record["purpose"] == "second breaker"
    assert second.beat() and not first.beat()
    assert second.release() and first.read() is None


def test_a_lease_replaced_while_held_is_reported_lost_and_not_deleted(s3_options):
    from pipelines.lib.lock import LockLost, warehouse_lock
    from pipelines.lib.lock_stores import LOCK_FILE

    store = _lease_store(s3_options)
    with pytest.raises(LockLost), warehouse_lock(store, "ingest"):
        store.fs.pipe_file(store.path(LOCK_FILE), b'{"purpose": "the writer that broke it", "token": "t"}')
    assert json.loads(store.fs.cat_file(store.path(LOCK_FILE)))["purpose"] == "the writer that broke it"


def test_a_store_that_ignores_if_none_match_cannot_hold_the_lock(s3_options, monkeypatch):
    """Some S3-compatible servers accept a conditional PUT and ignore the condition: every writer would get
    the lock. The second PUT that must be refused shows it, and the writer fails clearly."""
    from pipelines.lib import lock, lock_stores

    put = lock_stores.S3Lease._put
    monkeypatch.setattr(lock_stores.S3Lease, "_put", lambda self, body, **_condition: put(self, body))
    store = _lease_store(s3_options)
    with pytest.raises(lock_stores.LockError, match="ignores If-None-Match"), lock.warehouse_lock(store, "ingest"):
        pass
    assert not store.fs.exists(store.path(lock_stores.LOCK_FILE))


def test_a_models_run_on_s3_lists_the_partitions_once_and_uploads_the_database_once(s3_options, tmp_path, monkeypatch):
    """The Dagster multi-asset builds every model on one connection: one listing of the partitions and one PUT of
    the database for the whole run, not one per model."""
    import dagster as dg

    from pipelines.defs.models import PROJECT, sql_models
    from pipelines.defs.resources import MetricsResource, WarehouseResource

    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    fs = s3fs.S3FileSystem(**s3_options)
    store = _s3_warehouse(fs, "s3://lake/one-run", s3_options, ["x", "y"], build=False)
    calls = {"publish": 0, "partition_fingerprints": 0}
    for name in calls:
        original = getattr(Warehouse, name)

        def counted(self, *args, _name=name, _original=original, **kwargs):
            calls[_name] += 1
            return _original(self, *args, **kwargs)

        monkeypatch.setattr(Warehouse, name, counted)
    resource = WarehouseResource(url=store.url, storage_options=json.dumps(s3_options))
    result = dg.materialize([sql_models], resources={"warehouse": resource, "metrics": MetricsResource()})
    assert result.success
    assert len(result.get_asset_materialization_events()) == len(PROJECT.models) + len(PROJECT.seeds)
    assert calls == {"publish": 1, "partition_fingerprints": 1}


def test_small_files_on_s3_are_read_with_one_request_each_and_share_a_statement(s3_options, tmp_path, monkeypatch):
    """A bucket of one-request objects into a warehouse on the store: each small file is read once (its format
    detected from the lines read, not from a read of its own), the files share one transform statement, and
    the run looks up earlier reads of their URLs in one listing."""
    import aiobotocore.client

    from pipelines.lib.ingest import stage

    fs = s3fs.S3FileSystem(**s3_options)
    files = 12
    for n in range(files - 2):
        fs.pipe(f"landing/objects/{n}.jsonl", (json.dumps(record(request_id=f"o{n}")) + "\n").encode())
    fs.pipe("landing/objects/z.jsonl.gz", gzip.compress((json.dumps(record(request_id="gz")) + "\n").encode()))
    fs.pipe("landing/objects/zz.jsonl", b"junk\n" + (json.dumps(record(request_id="after-junk")) + "\n").encode())
    requests: list[str] = []
    original = aiobotocore.client.AioBaseClient._make_api_call

    async def counted(self, operation, params):
        requests.append(operation)
        return await original(self, operation, params)

    monkeypatch.setattr(aiobotocore.client.AioBaseClient, "_make_api_call", counted)
    monkeypatch.setattr(stage, "BULK_MIN_BYTES", None)  # small files take the line path, as outside the tests
    statements, fetched = [], []
    monkeypatch.setattr(stage.FileStager, "_stage_pack", spy(stage.FileStager._stage_pack, statements))
    monkeypatch.setattr(stage, "_fetch", spy(stage._fetch, fetched))
    store = Warehouse("s3://lake/objects", s3_options)
    report = ingest(["s3://landing/objects"], store, hash_key=HASH_KEY, storage_options=s3_options)
    assert (report.written, report.quarantined, report.balanced) == (files, 1, True)
    # fetched ahead, several at once, and read from memory: one GET a file all the same
    assert requests.count("GetObject") == len(fetched) == files and len(statements) == 1
    # no file looked for an earlier read of its URL one request at a time: the entries are listed once
    assert requests.count("HeadObject") < files and requests.count("ListObjectsV2") < files
    assert requests.count("PutObject") >= 2 * files  # each file's ledger and last-read entries
    assert len(store.ledger_keys()) == files  # published on several threads, every one of them
    monkeypatch.setattr(stage, "PREFETCH_BYTES", 0)  # each file read by the staging itself: the same outcome
    alone = Warehouse("s3://lake/objects-read-in-turn", s3_options)
    ingest(["s3://landing/objects"], alone, hash_key=HASH_KEY, storage_options=s3_options)
    assert _rows(store) == _rows(alone) and len(_rows(store)) == files


def _rows(store: Warehouse) -> list[tuple]:
    """Every stored record's key, line and source file name."""
    con = duckdb.connect()
    con.register_filesystem(store.fs)
    files = [store.duckdb_path(path) for path in store.partition_paths()]
    return con.execute(
        "select request_id, source_line, regexp_extract(source_uri, '[^/]+$') from read_parquet(?) order by all",
        [files],
    ).fetchall()


def test_an_entry_rewritten_by_another_process_after_a_listing_is_read_fresh(s3_options):
    """One process ingests again and again (a service, a notebook): the last-read entries it listed in an earlier
    run may be rewritten by another writer since. Their listing is not trusted by later reads: a grown file is
    read on from where the other writer's read ended."""
    fs = s3fs.S3FileSystem(**s3_options)
    lines = [json.dumps(record(request_id=f"g{i}")) + "\n" for i in range(5)]
    fs.pipe("landing/grown/app.jsonl", "".join(lines[:3]).encode())
    url = "s3://lake/rewritten"
    ingest(["s3://landing/grown"], Warehouse(url, s3_options), hash_key=HASH_KEY, storage_options=s3_options)
    nothing_new = ingest(
        ["s3://landing/grown"], Warehouse(url, s3_options), hash_key=HASH_KEY, storage_options=s3_options
    )
    assert nothing_new.lines == 0  # this run listed the entries
    other = s3fs.S3FileSystem(skip_instance_cache=True, **s3_options)  # another process's view of the store
    [entry_path] = other.find("lake/rewritten/_ledger/_by_url")
    entry = json.loads(other.cat_file(entry_path))
    other.pipe(entry_path, json.dumps(entry).encode())  # rewritten: same entry, other bytes and ETag
    fs.pipe("landing/grown/app.jsonl", "".join(lines).encode())  # the file grew
    fs.invalidate_cache("landing/grown")
    report = ingest(["s3://landing/grown"], Warehouse(url, s3_options), hash_key=HASH_KEY, storage_options=s3_options)
    [grown] = report.files
    assert (grown.error, grown.first_line, grown.lines, grown.written) == (None, 4, 2, 2)


def test_a_small_object_rewritten_after_the_listing_fails_as_when_the_staging_reads_it(s3_options, monkeypatch):
    """A fetch ahead reads the version the listing saw (its ETag) or fails: new bytes are never ingested under the
    old version's key. The file is retried next run; the others are ingested."""
    from pipelines.lib.ingest import run as run_module
    from pipelines.lib.ingest import stage

    fs = s3fs.S3FileSystem(**s3_options)
    for name in ("a", "b"):
        fs.pipe(f"landing/rewritten/{name}.jsonl", (json.dumps(record(request_id=name)) + "\n").encode())
    listed = run_module.expand_sources

    def list_then_rewrite(*args, **kwargs):
        files = listed(*args, **kwargs)
        other = s3fs.S3FileSystem(skip_instance_cache=True, **s3_options)
        other.pipe("landing/rewritten/b.jsonl", (json.dumps(record(request_id="b2")) + "\n").encode())
        return files

    monkeypatch.setattr(run_module, "expand_sources", list_then_rewrite)
    monkeypatch.setattr(stage, "BULK_MIN_BYTES", None)  # small files take the line path, as outside the tests
    outcomes = []
    for prefetch in (stage.PREFETCH_BYTES, 0):
        monkeypatch.setattr(stage, "PREFETCH_BYTES", prefetch)
        fs.pipe("landing/rewritten/b.jsonl", (json.dumps(record(request_id="b")) + "\n").encode())
        store = Warehouse(f"s3://lake/rewritten-{prefetch}", s3_options)
        with pytest.raises(UnreadableSourceError) as failed:
            ingest(["s3://landing/rewritten"], store, hash_key=HASH_KEY, storage_options=s3_options)
        [error] = [f.error for f in failed.value.report.files if f.error]
        outcomes.append((failed.value.report.written, "FileExpired" in error, len(store.ledger_keys())))
    assert outcomes == [(1, True, 1), (1, True, 1)]
