"""Resources: where the warehouse and the landing files live, and the key for user hashes.

Local (default) and object-store deployments differ only in these values, set by environment variables
(see README and .env.example); asset code never branches on the environment.
"""

import json
import os
from pathlib import Path
from typing import Any

import dagster as dg

from pipelines.lib.lock import TIMEOUT_ENV, TTL_ENV, LockSettings
from pipelines.lib.privacy import DEV_HASH_KEY, is_development
from pipelines.lib.sqlmodels.parameters import Parameters
from pipelines.lib.storage import Warehouse

PROJECT_ROOT = Path(__file__).resolve().parents[2]


class WarehouseResource(dg.ConfigurableResource):
    """The warehouse root: a local folder or an fsspec URL such as s3://bucket/gatewaylens."""

    url: str
    storage_options: str = "{}"
    lock_timeout: float = LockSettings.timeout
    """Seconds a writer waits for the warehouse lock held by another writer before refusing (0: at once)."""
    lock_ttl: float = LockSettings.ttl
    """Seconds without a heartbeat after which a writer's lock is stale and is broken."""

    def options(self) -> dict[str, Any]:
        return json.loads(self.storage_options or "{}")

    def get(self) -> Warehouse:
        return Warehouse(self.url, self.options(), LockSettings(timeout=self.lock_timeout, ttl=self.lock_ttl))


class LandingResource(dg.ConfigurableResource):
    """Where new gateway log files arrive (any fsspec URL: folder, glob, s3:// prefix)."""

    url: str
    storage_options: str = "{}"
    daily_url: str = ""
    """The landing files of one UTC day, for the partitioned `landing_days` asset: a URL template with
    {date} (YYYY-MM-DD) or {year}, {month}, {day}, e.g. s3://logs/gateway/{year}/{month}/{day}/."""

    def day_url(self, day: str) -> str:
        """`daily_url` for one day (YYYY-MM-DD)."""
        if not self.daily_url:
            raise ValueError("no daily landing URL: set GATEWAYLENS_LANDING_DAILY, e.g. s3://logs/{date}/")
        year, month, dom = day.split("-")
        return self.daily_url.format(date=day, year=year, month=month, day=dom)

    def options(self) -> dict[str, Any]:
        return json.loads(self.storage_options or "{}")


class PrivacyResource(dg.ConfigurableResource):
    """The secret key of the keyed hash (HMAC-SHA256) that replaces end-user identifiers."""

    hash_key: str

    def key(self) -> bytes:
        return self.hash_key.encode()

    def unprotected(self) -> bool:
        """The public development key is in use (GATEWAYLENS_HASH_KEY not set): the hashes protect nothing."""
        return is_development(self.key())


class MetricsResource(dg.ConfigurableResource):
    """The knobs of the metric definitions (see docs/metrics.md). Changing one rebuilds the models that use it."""

    slo: float = 0.999
    """Availability objective of provider_uptime_* (1 - provider faults / attempts) and of the error budget."""
    burst_k: float = 3.0
    """A minute is a burst when its requests reach burst_k x the rolling baseline ..."""
    burst_min: int = 20
    """... and at least burst_min requests."""
    baseline_minutes: int = 60
    """Minutes of the rolling median baseline of traffic_minutely."""
    overnight_tz: str = "UTC"
    """Time zone of the overnight window of app_traffic_profile (an IANA name)."""
    overnight_start_hour: int = 0
    overnight_end_hour: int = 6
    variance_days: int = 28
    """Trailing days of provider_variance."""

    def parameters(self) -> Parameters:
        return Parameters(**{name: getattr(self, name) for name in Parameters.__dataclass_fields__})


def _setting(name: str, default: str) -> str | dg.EnvVar:
    """An environment variable when it is set (shown as such in the UI), else the local default."""
    return dg.EnvVar(name) if os.environ.get(name) else default


def _seconds(name: str, default: float) -> float:
    """A number of seconds from an environment variable (`inf` allowed), else the default."""
    value = os.environ.get(name, "").strip()
    try:
        return float(value) if value else default
    except ValueError:
        raise ValueError(f"{name} must be a number of seconds, not {value!r}") from None


def resources_from_env() -> dict[str, dg.ConfigurableResource]:
    """Resources configured from GATEWAYLENS_* environment variables, with local defaults."""
    storage = _setting("GATEWAYLENS_STORAGE_OPTIONS", "{}")
    lock = LockSettings(_seconds(TIMEOUT_ENV, LockSettings.timeout), _seconds(TTL_ENV, LockSettings.ttl))
    return {
        "warehouse": WarehouseResource(
            url=_setting("GATEWAYLENS_WAREHOUSE", str(PROJECT_ROOT / "warehouse")),
            storage_options=storage,
            lock_timeout=lock.timeout,
            lock_ttl=lock.ttl,
        ),
        "landing": LandingResource(
            url=_setting("GATEWAYLENS_LANDING", str(PROJECT_ROOT / "data" / "sample")),
            storage_options=storage,
            daily_url=_setting("GATEWAYLENS_LANDING_DAILY", ""),
        ),
        "privacy": PrivacyResource(hash_key=_setting("GATEWAYLENS_HASH_KEY", DEV_HASH_KEY)),
        "metrics": MetricsResource(),
    }
