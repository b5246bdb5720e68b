"""The plain outcomes of the assets' work (`pipelines.lib.outcomes`) as Dagster takes them: a `Location` becomes a
path in the UI, a `CheckSpec` an `AssetCheckSpec`, a `CheckResult` an `AssetCheckResult` with its severity."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import dagster as dg

from pipelines.lib.outcomes import CheckResult, CheckSpec, Location, Materialization


def metadata(values: dict[str, Any]) -> dict[str, Any]:
    """`values` with each `Location` as a path (other values are Dagster's own metadata types already)."""
    return {k: dg.MetadataValue.path(str(v)) if isinstance(v, Location) else v for k, v in values.items()}


def check_spec(spec: CheckSpec) -> dg.AssetCheckSpec:
    return dg.AssetCheckSpec(spec.name, asset=spec.asset, description=spec.description, blocking=spec.blocking)


def asset_check(spec: CheckSpec, asset: dg.AssetsDefinition) -> Callable[..., dg.AssetChecksDefinition]:
    """`dg.asset_check` for the check `spec` of `asset` (its own step, after the asset)."""
    return dg.asset_check(asset=asset, name=spec.name, blocking=spec.blocking, description=spec.description)


def check_result(result: CheckResult) -> dg.AssetCheckResult:
    return dg.AssetCheckResult(
        asset_key=result.spec.asset,
        check_name=result.spec.name,
        passed=result.passed,
        severity=dg.AssetCheckSeverity.WARN if result.spec.warn else dg.AssetCheckSeverity.ERROR,
        metadata=metadata(result.metadata),
    )


def materialize_result(done: Materialization, checks: Iterable[CheckResult] = ()) -> dg.MaterializeResult:
    return dg.MaterializeResult(
        asset_key=done.asset,
        metadata=metadata(done.metadata),
        check_results=[check_result(result) for result in checks],
    )


def dagster_outcome(outcome: Materialization | CheckResult) -> dg.MaterializeResult | dg.AssetCheckResult:
    """One outcome of a multi-asset's work, as the multi-asset yields it."""
    return materialize_result(outcome) if isinstance(outcome, Materialization) else check_result(outcome)
