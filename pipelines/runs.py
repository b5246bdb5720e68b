"""How `gatewaylens ingest`, `build` and `run` run their job: directly, or as a Dagster run when DAGSTER_HOME is set.

Without DAGSTER_HOME a Dagster run would go to a throwaway instance that nobody can look at, and starting Dagster
costs seconds (importing it alone takes about a second with warm bytecode caches, nearly four without). So the
command runs the assets' own work in order, the functions of `pipelines.lib` that the assets call (`ingest.asset`,
`sqlmodels.asset`, `publish`), with their checks, and never imports Dagster: the same warehouse lock, ledger,
quarantine, metadata and check verdicts; a failed blocking check stops the job before the assets downstream of
it, as in Dagster.

With DAGSTER_HOME set, the job runs in process in that instance, as before: the run, its events, its check
results and its place in the `warehouse_writer` pool are Dagster's, the UI shows it, sensors and freshness policies
see its materializations, and a run this command left behind when it was killed is marked failed first (freeing
its pool slot). Only the definitions the job needs are loaded. That path pays Dagster's start and a write to the
instance's storage per event (a model build logs about seven per model): two to three seconds with the project's
instance settings, whose event log (`pipelines.instance`) keeps its SQLite engines (BENCHMARKS.md, "CLI start-up").

Either way the command gets an `Outcome`: what was materialized, the checks that failed, or one error line.
"""

from __future__ import annotations

import gc
import os
import socket
import sys
import traceback
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pipelines.lib.outcomes import CheckResult, CheckSpec, Materialization

if TYPE_CHECKING:
    from pipelines.settings import Settings

_HOST_TAG = "gatewaylens/host"
_PID_TAG = "gatewaylens/pid"
_HOST = socket.gethostname()


@dataclass(frozen=True)
class Job:
    """A Dagster job of the code location and the assets it materializes, in order (each with its checks)."""

    name: str
    assets: tuple[str, ...]


INGEST = Job("ingest_job", ("requests",))
BUILD = Job("models_job", ("sql_models",))
MAIN = Job("main", ("requests", "sql_models", "dashboards"))


@dataclass(frozen=True)
class Request:
    """What the command asks of the job: the sources to ingest (empty: the landing URL), a full rebuild; and
    whether the command has its process to itself (`own_process`: it ends when the command does), so that a
    Dagster run may freeze what Dagster loads (`_frozen_when_loaded`)."""

    sources: tuple[str, ...] = ()
    full_refresh: bool = False
    own_process: bool = False


@dataclass
class Outcome:
    """What a job did: its materializations in order, its checks that failed, or the error that stopped it."""

    materializations: list[Materialization] = field(default_factory=list)
    failed_checks: list[CheckResult] = field(default_factory=list)
    error: str | None = None


def run_job(job: Job, settings: Settings, request: Request) -> Outcome:
    """Run `job` with the resources of `settings`: as a Dagster run when DAGSTER_HOME is set, directly otherwise."""
    if os.environ.get("DAGSTER_HOME"):
        return _in_dagster(job, settings, request)
    return _direct(job, settings, request)


def print_outcome(outcome: Outcome) -> None:
    """The job's failed checks, one line each on stderr, then (when it succeeded) its summary on stdout."""
    for check in outcome.failed_checks:
        _print_failed_check(check)
    if not outcome.error:
        _print_outputs(outcome.materializations)


def _print_failed_check(check: CheckResult) -> None:
    """One line on stderr: which check failed and the plain values it compared."""
    shown = ", ".join(
        f"{name} {value:g}" if isinstance(value, float) else f"{name} {value}"
        for name, value in check.metadata.items()
        if isinstance(value, int | float) or (isinstance(value, str) and len(value) <= 60)
    )
    kind = "blocking check" if check.spec.blocking else "check"
    print(f"gatewaylens: warning: {kind} {check.spec.name} of {check.spec.asset} failed: {shown}", file=sys.stderr)


def _print_outputs(materializations: list[Materialization]) -> None:
    """The summary on stdout: the ingest's counts and folders, the models built, the report's path last."""
    modes: dict[str, int] = {}
    database = None
    reports = []
    for done in materializations:
        meta, name = done.metadata, done.asset
        if "database" in meta:
            database = meta["database"]
            modes[meta["mode"]] = modes.get(meta["mode"], 0) + 1
            continue
        if name == "requests":
            print(_ingest_line(meta))
        if "path" in meta:  # a file an asset wrote (the report): printed last
            reports.append(f"{name}: {meta['path']}")
        for label in ("warehouse", "quarantine", "ledger"):
            if label in meta:
                print(f"  {name if label == 'warehouse' else label}: {meta[label]}")
    if database:
        built = ", ".join(f"{count} {mode}" for mode, count in sorted(modes.items()))
        print(f"models: {sum(modes.values())} built ({built})")
        print(f"  database: {database}")
    for line in reports:
        print(line)


def _ingest_line(meta: dict[str, Any]) -> str:
    """The ingest's counts in one line. Records that disagree with another of the same key are `key conflicts`;
    when the winner replaced a record already stored (the dedupe keeps the more complete, then the newer), the
    line says how many stored records were replaced, as that changes what was there before the run."""
    conflicts = f"{meta.get('conflicts', 0):,} key conflicts resolved"
    if replaced := meta.get("replaced", 0):
        conflicts += f", {replaced:,} stored records replaced by other records with the same key"
    return (
        f"requests: {meta['lines']:,} lines read, {meta['records']:,} records = {meta['rows_written']:,} "
        f"written + {meta['rows_duplicates']:,} duplicates + {meta['rows_quarantined']:,} quarantined + "
        f"{meta['rows_ignored']:,} ignored; {conflicts} ({meta['files']} files ingested, "
        f"{meta['files_skipped']} already ingested, {meta['days_touched']} days touched)"
    )


# ---------------------------------------------------------------------------------------------------------
# Directly: the assets' work, no Dagster
# ---------------------------------------------------------------------------------------------------------

Log = Callable[[str], None]
Outcomes = Iterable[Materialization | CheckResult]
Step = Callable[["Settings", Request, Log], Outcomes]


def _direct(job: Job, settings: Settings, request: Request) -> Outcome:
    """Each asset's work, then its checks; the first error, or a failed blocking check, ends the job there.
    Ctrl-C (`interrupted`) is raised, not made the job's error: the command says so itself."""
    from pipelines.lib.interrupts import interrupted

    outcome = Outcome()
    for asset in job.assets:
        try:
            for done in _STEPS[asset](settings, request, _log(asset)):
                if isinstance(done, Materialization):
                    outcome.materializations.append(done)
                elif not done.passed:
                    outcome.failed_checks.append(done)
        except Exception as err:
            if interrupted(err):
                raise
            outcome.error = f"{asset}: {_last_line(err)}"
            return outcome
        if blocking := [check for check in outcome.failed_checks if check.stops_the_run]:
            outcome.error = f"blocking check failed: {blocking[0].spec.name}"
            return outcome
    return outcome


def _log(asset: str) -> Log:
    """Where an asset's progress goes: one line on stderr, named for the asset, as Dagster's log shows it."""
    return lambda message: print(f"{asset}: {message}", file=sys.stderr)


def _warn(message: str) -> None:
    print(f"gatewaylens: warning: {message}", file=sys.stderr)


def _last_line(err: BaseException) -> str:
    """The exception as Dagster reports a step's error: `module.Type: message`, its last line."""
    return "".join(traceback.format_exception_only(err)).strip().splitlines()[-1]


def _requests(settings: Settings, request: Request, log: Log) -> Outcomes:
    """The `requests` asset and its checks (`pipelines.defs.ingest`)."""
    from pipelines.lib.ingest import asset
    from pipelines.lib.privacy import UNPROTECTED, is_development, key_changed

    key = settings.hash_key.encode()
    if is_development(key):
        _warn(UNPROTECTED)
    warehouse = settings.open_warehouse()
    if changed := key_changed(warehouse, key):
        _warn(changed)
    sources = list(request.sources) or [settings.landing]
    report = asset.commit_and_ingest(
        sources, warehouse, hash_key=key, storage_options=settings.storage_options, progress=log
    )
    yield asset.materialization(report, sources, warehouse)
    yield from asset.report_checks(report)
    yield asset.key_unique(warehouse)
    yield asset.quality_flags(warehouse)


def _sql_models(settings: Settings, request: Request, log: Log) -> Outcomes:
    """The `sql_models` multi-asset: every seed and model, with their checks (`pipelines.defs.models`)."""
    from pipelines.lib.sqlmodels.asset import build_models
    from pipelines.lib.sqlmodels.parameters import Parameters
    from pipelines.lib.sqlmodels.project import load_project

    warehouse = settings.open_warehouse()
    yield from build_models(warehouse, load_project(), Parameters(), full_refresh=request.full_refresh, progress=log)


def _dashboards(settings: Settings, request: Request, log: Log) -> Outcomes:
    """The `dashboards` asset: the static report in the warehouse (`pipelines.defs.dashboards`)."""
    from pipelines.lib.publish import publish_report

    yield publish_report(settings.open_warehouse(), progress=log, warn=_warn)


_STEPS: dict[str, Step] = {"requests": _requests, "sql_models": _sql_models, "dashboards": _dashboards}


# ---------------------------------------------------------------------------------------------------------
# As a Dagster run in the DAGSTER_HOME instance
# ---------------------------------------------------------------------------------------------------------


def _in_dagster(job: Job, settings: Settings, request: Request) -> Outcome:
    """Execute the job in process in the DAGSTER_HOME instance, after failing the runs this host left orphaned."""
    from pipelines.lib.sqlmodels.asset import FULL_REFRESH_TAG

    config: dict[str, Any] = {"loggers": {"console": {"config": {"log_level": "INFO"}}}}
    if "requests" in job.assets:
        config["ops"] = {"requests": {"config": {"sources": list(request.sources)}}}
    tags = {_HOST_TAG: _HOST, _PID_TAG: str(os.getpid())}
    if request.full_refresh:
        tags[FULL_REFRESH_TAG] = "true"
    home = os.environ["DAGSTER_HOME"]
    if not os.path.isdir(home):  # before Dagster is imported: it would say so only after seconds, in a traceback
        return Outcome(error=f"DAGSTER_HOME {home} is not a folder: create it, or unset DAGSTER_HOME to run without")
    with _frozen_when_loaded(request.own_process):
        import dagster as dg

        job_def = _job_definition(job, settings)
        try:
            instance = dg.DagsterInstance.get()
        except Exception as err:  # its dagster.yaml: not YAML, an unknown key, a storage that fails to start
            return Outcome(error=f"the Dagster instance in DAGSTER_HOME {home} cannot be loaded: {_reason(err)}")
    with instance:
        _recover_orphaned_runs(instance)
        try:
            result = job_def.execute_in_process(run_config=config, instance=instance, raise_on_error=False, tags=tags)
        except dg.DagsterError as err:
            return Outcome(error=str(err).splitlines()[0])
    failed = [_check_result(e) for e in result.get_asset_check_evaluations() if not e.passed]
    if not result.success and _interrupted(result):
        raise KeyboardInterrupt  # the run is recorded failed; the command says "interrupted", as without Dagster
    if not result.success:
        return Outcome(failed_checks=failed, error=_first_failure(result))
    return Outcome([_materialization(e) for e in result.get_asset_materialization_events()], failed)


#: The most of an error's text an error line shows (Dagster's config errors list the whole config schema).
REASON_CHARS = 200


def _reason(err: Exception) -> str:
    """Why an instance failed to load, in one line cut to REASON_CHARS: Dagster's first config error without the
    schema it expected, or the error's lines joined (a YAML error's say what and where)."""
    errors = getattr(err, "errors", None)  # DagsterInvalidConfigError: one entry per config error
    text = errors[0].message.split(" Expected: ")[0] if errors else str(err)
    line = " ".join(part.strip() for part in text.splitlines() if part.strip()) or type(err).__name__
    return line if len(line) <= REASON_CHARS else line[: REASON_CHARS - 3] + "..."


@contextmanager
def _frozen_when_loaded(freeze: bool) -> Iterator[None]:
    """With `freeze`, Python's cyclic garbage collector paused while Dagster, the definitions and the instance's
    storage are loaded, and what exists then frozen (`gc.freeze`). Otherwise the collector walks those objects over
    and over while they load (about 0.2 s) and again, several times, as the interpreter exits (0.5-0.9 s after a
    build's run, against 0.05 s frozen). Frozen objects are never collected, garbage among them included (about
    2 MiB once): fine in a command's own process, not in one that calls the CLI again and again (a test worker),
    which passes `freeze` False and keeps its collector as it is."""
    if not freeze:
        yield
        return
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        gc.freeze()
        if enabled:
            gc.enable()


def _job_definition(job: Job, settings: Settings) -> Any:
    """The job with the resources of `settings`, from the definitions it needs only (ingest or models; `main`
    needs them all), so that a command does not load the report's figures to ingest a file."""
    import dagster as dg

    from pipelines.defs.resources import resources_for

    if job is INGEST:
        from pipelines.defs.ingest import defs
    elif job is BUILD:
        from pipelines.defs.models import defs
    else:
        from pipelines.definitions import definitions

        return definitions(settings).resolve_job_def(job.name)
    return dg.Definitions.merge(defs, dg.Definitions(resources=resources_for(settings))).resolve_job_def(job.name)


def _recover_orphaned_runs(instance: Any) -> None:
    """Fail the runs this command started on this host whose process is gone (killed), freeing their slot
    in the `warehouse_writer` pool; otherwise the next run would wait for it forever."""
    import dagster as dg

    from pipelines.lib.scratch import alive

    started = instance.get_runs(filters=dg.RunsFilter(statuses=[dg.DagsterRunStatus.STARTED], tags={_HOST_TAG: _HOST}))
    for run in started:
        pid = int(run.tags.get(_PID_TAG, "0"))
        if pid and not alive(pid):
            instance.report_run_failed(run, message=f"gatewaylens process {pid} ended without finishing the run")
            instance.event_log_storage.free_concurrency_slots_for_run(run.run_id)
            print(f"gatewaylens: marked orphaned run {run.run_id} (pid {pid}) as failed", file=sys.stderr)


def _first_failure(result: Any) -> str:
    """The failed run's first step error as one line, or, when a blocking check stopped it (Dagster fails the
    check's step then, with `DagsterAssetCheckFailedError`), which check: as the direct path says it."""
    for event in result.all_events:
        if event.is_step_failure and event.step_failure_data.error:
            error = event.step_failure_data.error
            if error.cls_name == _CHECK_FAILED:
                continue
            cause = error.cause or error
            return f"{event.step_key}: {cause.message.strip().splitlines()[-1]}"
    for evaluation in result.get_asset_check_evaluations():
        if evaluation.blocking and not evaluation.passed:
            return f"blocking check failed: {evaluation.check_name}"
    return "the run failed (see the Dagster logs above)"


_CHECK_FAILED = "DagsterAssetCheckFailedError"


def _interrupted(result: Any) -> bool:
    """Whether Ctrl-C stopped a step of the failed run. Dagster records a KeyboardInterrupt in a step as the
    step's failure and does not raise it (`raise_on_error` is off); a DuckDB statement Ctrl-C stopped fails the
    step with the statement's error (`pipelines.lib.interrupts`), recorded by its class name and message."""
    from pipelines.lib.interrupts import QUERY_INTERRUPTED

    for event in result.all_events:
        if event.is_step_failure and (error := event.step_failure_data.error):
            cause = error.cause or error
            if cause.cls_name in _INTERRUPTS or cause.message.strip() == f"RuntimeError: {QUERY_INTERRUPTED}":
                return True
    return False


_INTERRUPTS = {"KeyboardInterrupt", "DagsterExecutionInterruptedError", "InterruptException"}


def _materialization(event: Any) -> Materialization:
    materialization = event.event_specific_data.materialization
    metadata = {k: getattr(v, "value", v) for k, v in materialization.metadata.items()}
    return Materialization(materialization.asset_key.to_user_string(), metadata)


def _check_result(evaluation: Any) -> CheckResult:
    import dagster as dg

    spec = CheckSpec(
        evaluation.asset_key.to_user_string(),
        evaluation.check_name,
        evaluation.description or "",
        blocking=bool(evaluation.blocking),
        warn=evaluation.severity == dg.AssetCheckSeverity.WARN,
    )
    return CheckResult(spec, evaluation.passed, {k: getattr(v, "value", v) for k, v in evaluation.metadata.items()})
