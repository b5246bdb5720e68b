"""Many small files on an object store with a round trip per request: `python -m devkit.bench.object_store`.

moto's S3 server runs in a process of its own, each request delayed by `--latency-ms` (a store's round trip;
loopback has none), with the sources and the warehouse both on it. `--files` objects of `--lines` simulated
canonical lines each are ingested in this process, and the run prints its seconds by phase (staging, commit,
publishing) and its S3 requests by operation. Not part of `make bench`: the ratio between two versions of the code,
not the seconds, carries over to a real store (no bandwidth limit or throttling here). BENCHMARKS.md ("Small
files share statements") records what it measured.
"""

from __future__ import annotations

import argparse
import collections
import datetime as dt
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from typing import Any

BUCKETS = ("landing", "lake")


def serve(port: int, latency_ms: float) -> None:
    """moto's S3 server on loopback, sleeping `latency_ms` before each request (runs until killed)."""
    from moto.server import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
    from werkzeug.serving import make_server

    app = DomainDispatcherApplication(create_backend_app)

    def delayed(environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        time.sleep(latency_ms / 1000)
        return app(environ, start_response)

    server = make_server("127.0.0.1", port, delayed, True, request_handler=MotoRequestHandler)
    print("ready", flush=True)
    server.serve_forever()


def with_buckets(endpoint: str) -> tuple[dict[str, Any], Any]:
    """The fsspec storage options and a boto3 client of the S3 server at `endpoint`, its BUCKETS created."""
    import boto3

    options = {
        "key": "bench",
        "secret": "bench",
        "client_kwargs": {"endpoint_url": endpoint, "region_name": "us-east-1"},
    }
    client = boto3.client(
        "s3", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="bench", aws_secret_access_key="bench"
    )
    for bucket in BUCKETS:
        client.create_bucket(Bucket=bucket)
    return options, client


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def measure(files: int, lines: int, latency_ms: float) -> dict[str, Any]:
    """Ingest `files` objects of `lines` lines from a delayed S3 server into a warehouse on it; seconds by phase
    and requests by operation."""
    from aiobotocore.client import AioBaseClient

    from devkit.bench.measurements import HASH_KEY, step_simulate
    from pipelines.lib.ingest import run as run_module
    from pipelines.lib.storage import Warehouse

    port = free_port()
    command = [sys.executable, "-m", "devkit.bench.object_store", "serve", str(port), str(latency_ms)]
    server = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    try:
        assert server.stdout is not None and server.stdout.readline().strip() == b"ready"
        options, client = with_buckets(f"http://127.0.0.1:{port}")
        with tempfile.TemporaryDirectory() as scratch:
            source = os.path.join(scratch, "lines.jsonl")
            step_simulate(source, dt.date(2025, 6, 1), 1, files * lines, 5)
            with open(source, "rb") as handle:
                for number in range(files):
                    body = b"".join(handle.readline() for _ in range(lines))
                    client.put_object(Bucket="landing", Key=f"objects/{number:06d}.jsonl", Body=body)
        phases: collections.Counter[str] = collections.Counter()
        requests: collections.Counter[str] = collections.Counter()
        originals = {name: getattr(run_module, name) for name in ("stage_files", "commit", "publish_files")}
        api_call = AioBaseClient._make_api_call

        async def counted(client: Any, operation: str, params: Any) -> Any:
            requests[operation] += 1  # every S3 request of the run, on the client's one event loop
            return await api_call(client, operation, params)

        try:
            for name, function in originals.items():
                setattr(run_module, name, _timed(function, name, phases))
            AioBaseClient._make_api_call = counted  # type: ignore[method-assign]
            t0 = time.perf_counter()
            store = Warehouse("s3://lake/warehouse", options)
            report = run_module.ingest(["s3://landing/objects"], store, hash_key=HASH_KEY, storage_options=options)
            seconds = time.perf_counter() - t0
        finally:
            AioBaseClient._make_api_call = api_call  # type: ignore[method-assign]
            for name, function in originals.items():
                setattr(run_module, name, function)
    finally:
        server.kill()
        server.wait()
    return {
        "files": files,
        "lines": lines,
        "latency_ms": latency_ms,
        "seconds": round(seconds, 2),
        "written": report.written,
        "phases": {name: round(value, 2) for name, value in phases.items()},
        "requests": dict(requests),
    }


def _timed(function: Callable[..., Any], name: str, phases: collections.Counter[str]) -> Callable[..., Any]:
    def timed(*args: Any, **kwargs: Any) -> Any:
        t0 = time.perf_counter()
        try:
            return function(*args, **kwargs)
        finally:
            phases[name] += time.perf_counter() - t0

    return timed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m devkit.bench.object_store", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command")
    serve_parser = sub.add_parser("serve", help="the delayed S3 server (started by the measurement)")
    serve_parser.add_argument("port", type=int)
    serve_parser.add_argument("latency_ms", type=float)
    parser.add_argument("--files", type=int, default=200)
    parser.add_argument("--lines", type=int, default=10)
    parser.add_argument("--latency-ms", type=float, default=20.0)
    args = parser.parse_args(argv)
    if args.command == "serve":
        serve(args.port, args.latency_ms)
        return 0
    print(json.dumps(measure(args.files, args.lines, args.latency_ms)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
