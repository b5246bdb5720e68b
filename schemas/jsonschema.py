"""Committed artefacts rendered from the pydantic model: the JSON Schema, the field reference and the stored
columns that readers use without the model (`schemas.stored`).

`gatewaylens schema` (make schema) writes them; a test fails when one is out of date.
"""

from __future__ import annotations

import json
import typing
from pathlib import Path

from schemas.bulk import field_specs, render_stored_columns
from schemas.quality import LONG_PREFIX, NON_FINITE, REPAIRS
from schemas.record import CROSS_FIELD_RULES, MEASURES, RequestRecord
from schemas.stored import STORED_COLUMNS_PATH

SCHEMA_PATH = Path(__file__).parent / "request_record.schema.json"
DOCS_PATH = Path(__file__).parent / "REQUEST_RECORD.md"


def render() -> str:
    """The JSON Schema text exactly as committed (stable key order, trailing newline)."""
    schema = RequestRecord.model_json_schema()
    schema["$id"] = "https://gatewaylens.dev/schemas/request_record.schema.json"
    return json.dumps(schema, indent=2, sort_keys=True) + "\n"


def _rules(name: str) -> str:
    spec = {s.name: s for s in field_specs()}[name]
    rules = []
    if spec.required and spec.default is None:
        rules.append("required")
    if spec.default is not None:
        rules.append(f"default {spec.default}")
    if spec.choices:
        rules.append(" \\| ".join(spec.choices))
    for label, value in (("≥", spec.ge), ("≤", spec.le)):
        if value is not None and not (label == "≤" and value >= 2**62):
            rules.append(f"{label} {value}")
    if spec.min_length:
        rules.append(f"length ≥ {spec.min_length}")
    if spec.max_length:
        rules.append(f"length ≤ {spec.max_length}")
    if spec.pattern:
        rules.append(f"matches `{spec.pattern}`")
    return ", ".join(rules)


def render_docs() -> str:
    """Markdown reference of the record: one row per field with its type, rules and meaning."""
    lines = [
        "# The canonical request record",
        "",
        "Generated from `schemas/record.py` by `gatewaylens schema`; do not edit by hand.",
        "",
        f"Grain: {' '.join(typing.cast(str, RequestRecord.__doc__).split())}",
        "Stored as `WAREHOUSE/requests/date=YYYY-MM-DD/data.parquet` (UTC day of `created_at`).",
        "",
        "| field | type | rules | meaning |",
        "| --- | --- | --- | --- |",
    ]
    for spec in field_specs():
        info = RequestRecord.model_fields[spec.name]
        kind = spec.duckdb_type + ("" if spec.required else " (nullable)" if spec.nullable else "")
        meaning = (info.description or "").replace("|", "\\|")
        lines.append(f"| `{spec.name}` | {kind} | {_rules(spec.name)} | {meaning} |")
    lines += ["", "Rules across fields (a record breaking one is quarantined with the reason):", ""]
    lines += [f"- `{rule.name}`: violated when `{rule.sql_violated}`" for rule in CROSS_FIELD_RULES]
    lines += [
        "",
        "Soft inconsistencies are not rules: the record is kept, repaired where one reading is right, and flagged in "
        "`quality_flags` (`schemas/quality.py`):",
        "",
    ]
    lines += [f"- `{rep.flag}`: found when `{rep.sql_holds.replace('{', '').replace('}', '')}`" for rep in REPAIRS]
    lines += [
        f"- `long_id`, `long_value`: `request_id` or another text value longer than its limit, stored as its first "
        f"{LONG_PREFIX} characters (fewer where the limit is shorter), '~' and the SHA-256 (hex) of the whole",
        f"- `{NON_FINITE}`: one of {', '.join(f'`{name}`' for name in MEASURES)} is written as no finite "
        "number (`NaN`, `Infinity`, `-Infinity`), stored NULL",
    ]
    return "\n".join(lines) + "\n"


ARTEFACTS = {SCHEMA_PATH: render, DOCS_PATH: render_docs, STORED_COLUMNS_PATH: render_stored_columns}
