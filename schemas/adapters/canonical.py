"""gatewaylens canonical JSON lines: one object per line whose keys are the canonical record's fields.

Input keys equal the record's field names (see schemas/request_record.schema.json), with two differences:
the end user is given raw as `user_id` (or `user`) and stored only as its keyed hash `user_hash`; and
`provider`, `finish_reason` and `error_class` may be given in native spelling, since they are normalized
again on ingest. Unknown keys are ignored (so prompt or completion text in a line is never read).
`created_at` is an ISO 8601 timestamp; without an offset it is read as UTC.
"""

from __future__ import annotations

from schemas.adapters import _sql

#: Input keys read for each adapter column, first present wins.
_KEYS: dict[str, tuple[str, ...]] = {
    "user_key": ("user_id", "user", "user_hash"),
    "provider_native": ("provider_native", "provider"),
    "provider": (),
    "provider_host": (),
    "provider_default": (),
    "source_format": (),
}


_SIGNATURE = frozenset({"request_id", "created_at", "status"})


def sniff(first_line: str) -> bool:
    """A canonical line is a JSON object with at least two of request_id, created_at, status at the top level."""
    obj = _sql.json_object(first_line)
    # a provider body with created_at and status (OpenAI Responses) names its `object`, a LiteLLM SpendLogs row with
    # request_id and status is timed by `startTime`: a canonical line has neither key
    return obj is not None and len(_SIGNATURE & obj.keys()) >= 2 and not obj.keys() & {"object", "startTime"}


def _json_path(key: str) -> str:
    return f'$."{key}"'


def select_sql(columns: tuple[str, ...]) -> str:
    """SELECT over `lines` extracting every column's keys with one JSON parse per line."""
    paths: list[str] = []
    exprs: list[str] = []
    for column in columns:
        keys = _KEYS.get(column, (column,))
        _sql.remember_keys(keys)
        if not keys:
            exprs.append(f"NULL AS {column}")
            continue
        slots = []
        for key in keys:
            paths.append(_json_path(key))
            slots.append(f"v[{len(paths)}]")
        exprs.append(f"coalesce({', '.join(slots)}) AS {column}" if len(slots) > 1 else f"{slots[0]} AS {column}")
    path_list = ", ".join(f"'{p}'" for p in paths)
    columns_sql = ",\n    ".join(exprs)
    return f"""
select
    source_line,
    NULL::VARCHAR as item,
    NULL::VARCHAR as ignored,
    case
        when v is null then 'not JSON'
        when not (starts_with(raw, '{{') or starts_with(ltrim(raw), '{{')) then 'not a JSON object'
    end as reject,
    {columns_sql}
from (
    select
        source_line,
        raw,
        coalesce(
            try(json_extract_string(raw, [{path_list}])), try(json_extract_string({_sql.lenient("raw")}, [{path_list}]))
        ) as v
    from lines
)
"""
