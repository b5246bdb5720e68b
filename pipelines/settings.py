"""Settings: what a deployment sets, each default and each description written once.

- Where gatewaylens reads and writes, and how writers share the warehouse: `Settings`, resolved once from the
  GATEWAYLENS_* environment variables (README, "Configuration") over the local defaults below. The CLI (its
  flags on top: `--warehouse` wins) and the Dagster resources (`pipelines.defs.resources.resources`) both start
  from it; nothing writes the environment to pass a setting on.
The knobs of the metric definitions are not settings of a deployment but of the metrics: they live, with their
defaults and meanings, in `pipelines.lib.sqlmodels.parameters.Parameters`.
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pipelines.lib.lock import TIMEOUT_ENV, TTL_ENV, LockSettings
from pipelines.lib.privacy import DEV_HASH_KEY
from pipelines.lib.storage import Warehouse

PROJECT_ROOT = Path(__file__).resolve().parents[1]
STORAGE_OPTIONS_ENV = "GATEWAYLENS_STORAGE_OPTIONS"


class SettingsError(ValueError):
    """A setting's environment variable holds something it cannot mean (one line, naming the variable)."""


def _about(env: str, doc: str) -> dict[str, str]:
    """Field metadata of a setting: the environment variable it is read from, and what it means (the
    description of the resource field it configures, in the Dagster UI)."""
    return {"env": env, "doc": doc}


@dataclass(frozen=True)
class Settings:
    """Where the data lives and how writers share the warehouse (see README, "Configuration")."""

    warehouse: str = field(
        default=str(PROJECT_ROOT / "warehouse"),
        metadata=_about(
            "GATEWAYLENS_WAREHOUSE", "The warehouse root: a local folder or an fsspec URL such as s3://bucket/prefix."
        ),
    )
    landing: str = field(
        default=str(PROJECT_ROOT / "data" / "sample"),
        metadata=_about(
            "GATEWAYLENS_LANDING",
            "Where new gateway log files arrive (any fsspec URL: folder, glob, s3:// prefix), for the sensor, "
            "the schedule and `gatewaylens run` without --source.",
        ),
    )
    landing_daily: str = field(
        default="",
        metadata=_about(
            "GATEWAYLENS_LANDING_DAILY",
            "The landing files of one UTC day, for the partitioned `staged_days` asset: a URL template with {date} "
            "(YYYY-MM-DD) or {year}, {month}, {day}, e.g. s3://logs/gateway/{year}/{month}/{day}/.",
        ),
    )
    storage_options: dict[str, Any] = field(
        default_factory=dict,
        metadata=_about(
            STORAGE_OPTIONS_ENV, "fsspec storage options of the warehouse and the landing URLs, as a JSON object."
        ),
    )
    hash_key: str = field(
        default=DEV_HASH_KEY,
        repr=False,
        metadata=_about(
            "GATEWAYLENS_HASH_KEY",
            "The secret key of the user-id HMAC (default: the public development key, which every run warns of).",
        ),
    )
    lock_timeout: float = field(
        default=LockSettings.timeout,
        metadata=_about(
            TIMEOUT_ENV,
            "Seconds a writer waits for the warehouse lock another writer holds before refusing (0: at once).",
        ),
    )
    lock_ttl: float = field(
        default=LockSettings.ttl,
        metadata=_about(
            TTL_ENV, "Seconds without a heartbeat after which a writer's lock is stale and the next writer breaks it."
        ),
    )
    partitions_start: str = field(
        default="2025-01-01",
        metadata=_about("GATEWAYLENS_PARTITIONS_START", "The first day (YYYY-MM-DD) of the daily partitions."),
    )
    from_environment: frozenset[str] = frozenset()
    """The settings above that were read from their environment variable (not defaults, not given)."""

    def __post_init__(self) -> None:
        try:
            _ = self.lock  # an impossible timeout or TTL fails here, where the settings are read
        except ValueError as err:
            raise SettingsError(str(err)) from None

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ, **given: Any) -> Settings:
        """The settings whose environment variable is set (not empty), `given` values on top (None or empty:
        not given; a CLI flag wins), defaults for the rest."""
        values: dict[str, Any] = {}
        for setting in _SETTINGS.values():
            if text := environ.get(setting.metadata["env"]):
                values[setting.name] = _parse(setting, text)
        given = {name: value for name, value in given.items() if value not in (None, "")}
        return cls(**(values | given), from_environment=frozenset(values) - set(given))

    @classmethod
    def env_name(cls, name: str) -> str:
        """The environment variable of setting `name`."""
        return str(_SETTINGS[name].metadata["env"])

    @classmethod
    def doc(cls, name: str) -> str:
        """What setting `name` means."""
        return str(_SETTINGS[name].metadata["doc"])

    @property
    def lock(self) -> LockSettings:
        return LockSettings(timeout=self.lock_timeout, ttl=self.lock_ttl)

    def open_warehouse(self) -> Warehouse:
        """The warehouse these settings name."""
        return Warehouse(self.warehouse, self.storage_options, self.lock)


_SETTINGS = {setting.name: setting for setting in dataclasses.fields(Settings) if "env" in setting.metadata}


def _parse(setting: dataclasses.Field[Any], text: str) -> Any:
    """The value of `setting` from its environment variable's text."""
    if setting.name == "storage_options":
        return parse_storage_options(text)
    if isinstance(setting.default, float):
        return _seconds(setting.metadata["env"], text)
    return text


def parse_storage_options(text: str) -> dict[str, Any]:
    """fsspec storage options from their JSON text (as GATEWAYLENS_STORAGE_OPTIONS holds them); empty: none.

    The one place they are parsed: the settings read the variable through it, and the Dagster resources,
    which keep the text (so that the UI shows the variable's name, not credentials), parse it here too."""
    try:
        options = json.loads(text or "{}")
    except json.JSONDecodeError as err:
        raise SettingsError(f"{STORAGE_OPTIONS_ENV} must be a JSON object: {err}") from None
    if not isinstance(options, dict):
        raise SettingsError(f"{STORAGE_OPTIONS_ENV} must be a JSON object, not {text!r}")
    return options


def _seconds(name: str, text: str) -> float:
    """A number of seconds (`inf` allowed) from environment variable `name`."""
    try:
        return float(text.strip())
    except ValueError:
        raise SettingsError(f"{name} must be a number of seconds, not {text!r}") from None
