"""The knobs of the metric definitions: one dataclass, the single home of their names, defaults and meaning.

The models read them as DuckDB variables (`getvariable('gl_slo')`); the Dagster `metrics` resource and the
parameter table of docs/metrics.md are generated from this class.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any, NamedTuple, get_type_hints


def _knob(default: Any, doc: str) -> Any:
    return field(default=default, metadata={"doc": doc})


@dataclass(frozen=True)
class Parameters:
    """The knobs of the metric definitions, set as DuckDB variables (`getvariable('gl_slo')`) for the models."""

    slo: float = _knob(
        0.999,
        "Availability objective of provider_uptime_* (1 - provider faults / attempts) and of the error budget.",
    )
    burst_k: float = _knob(
        3.0, "A minute is a burst when its requests reach burst_k x the rolling baseline (and burst_min)."
    )
    burst_min: int = _knob(
        20, "A minute is a burst only with at least burst_min requests (and burst_k x the baseline)."
    )
    baseline_minutes: int = _knob(60, "Minutes of the rolling median baseline of traffic_minutely.")
    overnight_tz: str = _knob("UTC", "Time zone of the overnight window of app_traffic_profile (an IANA name).")
    overnight_start_hour: int = _knob(0, "First hour of the overnight window, local time in overnight_tz.")
    overnight_end_hour: int = _knob(6, "Hour the overnight window ends (not included), local time in overnight_tz.")
    variance_days: int = _knob(28, "Trailing days of provider_variance.")

    def variables(self) -> dict[str, Any]:
        """The DuckDB variables the models read: gl_<name> = value."""
        return {f"gl_{name}": value for name, value in self.__dict__.items()}

    @staticmethod
    def documented() -> list[Knob]:
        """Every parameter, in order, with its type, default and meaning."""
        types = get_type_hints(Parameters)
        return [Knob(f.name, types[f.name], f.default, f.metadata["doc"]) for f in fields(Parameters)]


class Knob(NamedTuple):
    """One metric parameter: its name, type, default and meaning."""

    name: str
    type: type
    default: Any
    doc: str
