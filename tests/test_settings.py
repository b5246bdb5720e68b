"""Settings resolved once (environment, defaults, flags on top) and the resources built from them."""

from __future__ import annotations

import dataclasses

import dagster as dg
import pytest

from pipelines.defs.resources import MetricsResource, resources_for
from pipelines.lib.lock import LockSettings
from pipelines.lib.privacy import DEV_HASH_KEY
from pipelines.lib.sqlmodels.parameters import Parameters
from pipelines.settings import PROJECT_ROOT, Settings, SettingsError, parse_storage_options


def test_defaults_apply_where_no_variable_is_set_and_an_empty_one_counts_as_unset():
    settings = Settings.from_env({"GATEWAYLENS_WAREHOUSE": "", "GATEWAYLENS_LANDING": "s3://logs/"})
    assert settings.warehouse == str(PROJECT_ROOT / "warehouse") and settings.landing == "s3://logs/"
    assert (settings.hash_key, settings.storage_options, settings.lock) == (DEV_HASH_KEY, {}, LockSettings())
    assert settings.from_environment == {"landing"}
    assert DEV_HASH_KEY not in repr(settings)  # the key never shows in a log line


def test_a_given_value_wins_over_the_environment():
    environ = {"GATEWAYLENS_WAREHOUSE": "/from/env", "GATEWAYLENS_LOCK_TTL": "inf"}
    settings = Settings.from_env(environ, warehouse="/from/flag")
    assert (settings.warehouse, settings.lock_ttl) == ("/from/flag", float("inf"))
    assert settings.from_environment == {"lock_ttl"}
    assert Settings.from_env(environ, warehouse=None).warehouse == "/from/env"  # a flag not given


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({"GATEWAYLENS_STORAGE_OPTIONS": "{oops"}, "GATEWAYLENS_STORAGE_OPTIONS must be a JSON object: Expecting"),
        (
            {"GATEWAYLENS_STORAGE_OPTIONS": "[1, 2]"},
            r"GATEWAYLENS_STORAGE_OPTIONS must be a JSON object, not '\[1, 2\]'",
        ),
        ({"GATEWAYLENS_LOCK_TIMEOUT": "soon"}, "GATEWAYLENS_LOCK_TIMEOUT must be a number of seconds, not 'soon'"),
        ({"GATEWAYLENS_LOCK_TTL": "0"}, r"the lock TTL \(GATEWAYLENS_LOCK_TTL\) must be more than 0 seconds"),
    ],
)
def test_a_setting_that_cannot_mean_anything_is_one_line_naming_its_variable(environ, message):
    with pytest.raises(SettingsError, match=message):
        Settings.from_env(environ)


def test_storage_options_are_parsed_from_their_json():
    options = '{"client_kwargs": {"endpoint_url": "http://127.0.0.1:9000"}}'
    assert Settings.from_env({"GATEWAYLENS_STORAGE_OPTIONS": options}).storage_options == parse_storage_options(options)
    assert parse_storage_options(options) == {"client_kwargs": {"endpoint_url": "http://127.0.0.1:9000"}}


def test_resources_name_the_variables_they_were_read_from_and_carry_given_values(monkeypatch):
    """A setting read from the environment reaches the resource as `EnvVar` (the UI shows the name, not a
    secret); a value given on top (the CLI's --warehouse) reaches it as that value."""
    monkeypatch.setenv("GATEWAYLENS_HASH_KEY", "a-secret")
    monkeypatch.setenv("GATEWAYLENS_WAREHOUSE", "/from/env")
    monkeypatch.setenv("GATEWAYLENS_STORAGE_OPTIONS", '{"anon": true}')
    resources = resources_for(Settings.from_env(warehouse="/from/flag"))
    assert resources["privacy"].hash_key == dg.EnvVar("GATEWAYLENS_HASH_KEY")
    assert resources["landing"].storage_options == dg.EnvVar("GATEWAYLENS_STORAGE_OPTIONS")
    assert resources["warehouse"].url == "/from/flag"
    assert resources["landing"].url == str(PROJECT_ROOT / "data" / "sample")
    assert resources_for(Settings())["warehouse"].get().storage_options == {}


def test_the_metrics_resource_is_the_parameters_with_their_defaults_and_meanings():
    fields = MetricsResource.to_config_schema().as_field().config_type.fields
    assert list(fields) == [f.name for f in dataclasses.fields(Parameters)]
    assert {name: field.default_value for name, field in fields.items()} == dataclasses.asdict(Parameters())
    assert all(field.description for field in fields.values())
    assert MetricsResource(burst_k=5, overnight_tz="Europe/Paris").parameters() == Parameters(
        burst_k=5, overnight_tz="Europe/Paris"
    )
