"""The committed JSON Schema of the canonical record, rendered from the pydantic model."""

from __future__ import annotations

import json
from pathlib import Path

from schemas.record import RequestRecord

SCHEMA_PATH = Path(__file__).parent / "request_record.schema.json"


def render() -> str:
    """The JSON Schema text exactly as committed (stable key order, trailing newline)."""
    schema = RequestRecord.model_json_schema()
    schema["$id"] = "https://gatewaylens.dev/schemas/request_record.schema.json"
    return json.dumps(schema, indent=2, sort_keys=True) + "\n"
