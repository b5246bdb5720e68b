"""gatewaylens canonical JSON lines: one object per line whose keys are the canonical record's fields.

Input keys equal the record's field names (see schemas/request_record.schema.json), with two differences:
the end user is given raw as `user_id` (or `user`) and stored only as its keyed hash `user_hash`; and
`provider`, `finish_reason` and `error_class` may be given in native spelling, since they are normalized
again on ingest. Unknown keys are ignored (so prompt or completion text in a line is never read).
`created_at` is an ISO 8601 timestamp; without an offset it is read as UTC.
"""

from __future__ import annotations

from collections.abc import Callable

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


def _keys_read(columns: tuple[str, ...]) -> list[str]:
    """Every input key read, in the order the columns read them."""
    return list(dict.fromkeys(key for column in columns for key in _KEYS.get(column, (column,))))


def bulk_columns(columns: tuple[str, ...]) -> tuple[tuple[str, str], ...]:
    """`read_json` columns of the bulk form: every key read, as JSON (a value's text exactly as
    `json_extract_string` gives it, numbers unchanged: VARCHAR would print 0.000059494 as 5.9494e-05)."""
    keys = _keys_read(columns)
    _sql.remember_keys(keys)
    return tuple((key, "JSON") for key in keys)


def _columns_sql(columns: tuple[str, ...], value: Callable[[str], str]) -> str:
    """Every column from its keys, the first present winning; `value(key)` is a key's text."""
    exprs = []
    for column in columns:
        values = [value(key) for key in _KEYS.get(column, (column,))]
        expr = "NULL" if not values else values[0] if len(values) == 1 else f"coalesce({', '.join(values)})"
        exprs.append(f"{expr} AS {column}")
    return ",\n    ".join(exprs)


def bulk_select_sql(columns: tuple[str, ...]) -> str:
    """The bulk form: SELECT over `read_json`'s columns (`bulk_columns`), each key's value as its text."""
    columns_sql = _columns_sql(columns, lambda key: f"json_extract_string({_sql.quoted(key)}, '$')")
    return f"""
select
    source_line,
    NULL::VARCHAR as item,
    NULL::VARCHAR as ignored,
    NULL::VARCHAR as reject,
    {columns_sql}
from {_sql.BULK}
"""


def select_sql(columns: tuple[str, ...]) -> str:
    """SELECT over `lines` extracting every column's keys with one JSON parse per line."""
    keys = _keys_read(columns)
    _sql.remember_keys(keys)
    slot = {key: f"v[{number}]" for number, key in enumerate(keys, start=1)}
    columns_sql = _columns_sql(columns, slot.__getitem__)
    paths = [_json_path(key) for key in keys]
    path_list = ", ".join(f"'{p}'" for p in paths)
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
