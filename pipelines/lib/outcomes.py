"""What an asset's work yields, in plain Python: its materialization's metadata and its checks' results.

The work of the assets the CLI runs (`requests` and its checks, `sql_models`, `dashboards`) is written once, in
`pipelines.lib`, yielding these. The Dagster assets hand them to Dagster (`pipelines.defs.outcomes` turns them
into `MaterializeResult`, `AssetCheckSpec` and `AssetCheckResult`); the CLI, run without DAGSTER_HOME, takes them
as they are (`pipelines.runs`), so it never imports Dagster. A check's name, description, and whether its
failure stops the run (`blocking`) or only warns, are written once, in its `CheckSpec`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


class Location(str):
    """A metadata value that is the URL of a file or folder (Dagster shows it as a path)."""

    __slots__ = ()


@dataclass(frozen=True)
class Materialization:
    """An asset was written: its name and what the run says about it."""

    asset: str
    metadata: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class CheckSpec:
    """An asset check: the asset it checks, its name, what it holds, whether a failure stops the run
    (`blocking`: the asset's downstream assets are not built) and whether a failure is only a warning."""

    asset: str
    name: str
    description: str
    blocking: bool = False
    warn: bool = False


@dataclass(frozen=True)
class CheckResult:
    """One evaluation of a check, with the values it compared."""

    spec: CheckSpec
    passed: bool
    metadata: dict[str, Any] = field(default_factory=dict)

    @property
    def stops_the_run(self) -> bool:
        return self.spec.blocking and not self.passed
