"""Resources: where the warehouse and the landing files live, the key for user hashes, the metric parameters.

Local (default) and object-store deployments differ only in these values, built from `pipelines.settings`
(the GATEWAYLENS_* environment variables, see README and .env.example); asset code never branches on the
environment.
"""

import json
from typing import Any

import dagster as dg
import pydantic

from pipelines.lib.lock import LockSettings
from pipelines.lib.privacy import is_development
from pipelines.lib.sqlmodels.parameters import Parameters
from pipelines.lib.storage import Warehouse
from pipelines.settings import Settings, parse_storage_options


def _described(name: str, **default: Any) -> Any:
    """A resource field that configures setting `name`, described (in the UI) as the setting is."""
    return pydantic.Field(description=Settings.doc(name), **default)


class _StorageResource(dg.ConfigurableResource):
    """A resource on an fsspec filesystem, with its storage options as JSON text (parsed by `options`)."""

    storage_options: str = _described("storage_options", default="{}")

    def options(self) -> dict[str, Any]:
        return parse_storage_options(self.storage_options)


class WarehouseResource(_StorageResource):
    """The warehouse root, and how its writers share it (the warehouse lock)."""

    url: str = _described("warehouse")
    lock_timeout: float = _described("lock_timeout", default=LockSettings.timeout)
    lock_ttl: float = _described("lock_ttl", default=LockSettings.ttl)

    def get(self) -> Warehouse:
        return Warehouse(self.url, self.options(), LockSettings(timeout=self.lock_timeout, ttl=self.lock_ttl))


class LandingResource(_StorageResource):
    """Where new gateway log files arrive, all of them and one UTC day's."""

    url: str = _described("landing")
    daily_url: str = _described("landing_daily", default="")

    def day_url(self, day: str) -> str:
        """`daily_url` for one day (YYYY-MM-DD)."""
        if not self.daily_url:
            raise ValueError(
                f"no daily landing URL: set {Settings.env_name('landing_daily')}, e.g. s3://logs/{{date}}/"
            )
        year, month, dom = day.split("-")
        return self.daily_url.format(date=day, year=year, month=month, day=dom)


class PrivacyResource(dg.ConfigurableResource):
    """The secret key of the keyed hash (HMAC-SHA256) that replaces end-user identifiers."""

    hash_key: str = _described("hash_key")

    def key(self) -> bytes:
        return self.hash_key.encode()

    def unprotected(self) -> bool:
        """The public development key is in use (GATEWAYLENS_HASH_KEY not set): the hashes protect nothing."""
        return is_development(self.key())


class _MetricsResource(dg.ConfigurableResource):
    def parameters(self) -> Parameters:
        return Parameters(**{p.name: getattr(self, p.name) for p in Parameters.documented()})


#: The knobs of the metric definitions: one field per field of `Parameters`, with its default, and its meaning
#: (`Parameters`' field metadata) as the field's description in the UI.
MetricsResource = pydantic.create_model(
    "MetricsResource",
    __base__=_MetricsResource,
    __module__=__name__,
    __doc__="The knobs of the metric definitions (see docs/metrics.md). Changing one rebuilds the models that use it.",
    **{p.name: (p.type, pydantic.Field(default=p.default, description=p.doc)) for p in Parameters.documented()},
)


def resources_for(settings: Settings | None = None) -> dict[str, dg.ConfigurableResource]:
    """The resources of `settings` (default: read from the GATEWAYLENS_* environment variables).

    A setting read from its environment variable is passed on as `dg.EnvVar`, resolved when a run starts, so
    that the UI and the run's config show the variable's name, not its value (the hash key; credentials in
    the storage options)."""
    settings = settings or Settings.from_env()

    def setting(name: str, value: str) -> str | dg.EnvVar:
        return dg.EnvVar(Settings.env_name(name)) if name in settings.from_environment else value

    storage = setting("storage_options", json.dumps(settings.storage_options))
    return {
        "warehouse": WarehouseResource(
            url=setting("warehouse", settings.warehouse),
            storage_options=storage,
            lock_timeout=settings.lock_timeout,
            lock_ttl=settings.lock_ttl,
        ),
        "landing": LandingResource(
            url=setting("landing", settings.landing),
            storage_options=storage,
            daily_url=setting("landing_daily", settings.landing_daily),
        ),
        "privacy": PrivacyResource(hash_key=setting("hash_key", settings.hash_key)),
        "metrics": MetricsResource(),
    }
