"""The hash key: which key made a warehouse's user hashes, and the report's caveat when it protects nothing."""

from __future__ import annotations

import json

import pytest

from dashboards import figures as F
from dashboards import report
from pipelines.lib import privacy
from pipelines.lib.ingest import ingest
from tests.conftest import record, write_lines
from tests.test_dashboards import con  # noqa: F401 - the fixture


def _ingest(tmp_path, warehouse, key: bytes, name: str) -> None:
    source = write_lines(tmp_path / f"{name}.jsonl", [record(request_id=name)])
    ingest([str(source)], warehouse, hash_key=key)


def test_a_secret_key_is_recorded_by_id_and_needs_no_caveat(tmp_path, warehouse):
    _ingest(tmp_path, warehouse, b"a-real-secret", "a")
    used = privacy.keys_used(warehouse)
    assert (
        list(used) == [privacy.key_id(b"a-real-secret")] and not used[privacy.key_id(b"a-real-secret")]["development"]
    )
    assert "a-real-secret" not in json.dumps(used)
    assert privacy.caveats(warehouse) == []


def test_the_ledger_names_the_key_of_each_file(tmp_path, warehouse):
    _ingest(tmp_path, warehouse, b"a-real-secret", "a")
    [entry] = [json.loads(warehouse.fs.cat_file(p)) for p in warehouse.fs.glob(warehouse.path("_ledger", "*.json"))]
    assert entry["hash_key_id"] == privacy.key_id(b"a-real-secret")


def test_the_development_key_makes_the_report_say_hashes_are_unprotected(tmp_path, warehouse):
    _ingest(tmp_path, warehouse, privacy.DEV_HASH_KEY.encode(), "a")
    [note] = privacy.caveats(warehouse)
    assert note.startswith("User hashes are not protected")


@pytest.mark.slow
def test_two_keys_make_one_user_count_twice_and_the_report_says_so(tmp_path, warehouse):
    _ingest(tmp_path, warehouse, b"first-secret", "a")
    _ingest(tmp_path, warehouse, b"second-secret", "b")
    [note] = privacy.caveats(warehouse)
    assert note.startswith("User hashes come from 2 different keys")


@pytest.mark.slow
def test_report_shows_the_warehouse_notes_first(con):  # noqa: F811
    page = report.render_report(con, F.Range(), notes=("User hashes are not protected: test note.",)).html
    assert page.index("User hashes are not protected: test note.") < page.index(report.CAVEATS[0])
