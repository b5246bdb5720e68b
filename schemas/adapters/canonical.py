"""gatewaylens canonical JSON lines: one object per line whose keys are the canonical record's fields.

Input keys equal the record's field names (see schemas/request_record.schema.json), with two differences:
the end user is given raw as `user_id` (or `user`) and stored only as its keyed hash `user_hash`; and
`provider`, `finish_reason` and `error_class` may be given in native spelling, since they are normalized
again on ingest. Unknown keys are ignored (so prompt or completion text in a line is never read).
`created_at` is an ISO 8601 timestamp (without an offset it is read as UTC) or an epoch number
(`schemas.sqltext.EPOCH_UNITS`).
"""

from __future__ import annotations

from collections.abc import Callable

from schemas.adapters import _sql, _streams
from schemas.bulk import field_specs

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
    obj = _sql.decoded_object(first_line)
    # a provider body with created_at and status (OpenAI Responses) names its `object`, a LiteLLM SpendLogs row with
    # request_id and status is timed by `startTime`, a proxy's wire log with request_id and status holds the body
    # in `response`: a canonical line has none of these
    return (
        obj is not None
        and len(_SIGNATURE & obj.keys()) >= 2
        and not obj.keys() & {"object", "startTime"}
        and not _holds_body(obj.get("response"))
    )


def _holds_body(value: object) -> bool:
    """`value` (decoded: `_sql.decoded_object`) is a response body or stream: an object, a list or SSE text."""
    return isinstance(value, dict | list) or _streams.chunks(value) is not None


def spec(columns: tuple[str, ...]) -> dict[str, str]:
    """The `from_json` structure of a line (and `read_json`'s columns, `_sql.bulk_columns`): every key read, a key
    of a number or boolean field as JSON (the value exact, in the JSON parser's spelling: 0.000059494 stays so
    where VARCHAR would print 5.9494e-05, 1.50 becomes 1.5; the shared typing casts the text), any other as
    VARCHAR (a string as it is; a JSON number in a text field as DuckDB prints a double, alike in both forms but
    not always as written: 1e-5 as 1e-05 and 1e16 as 1e+16, where reading it as JSON gave 0.00001 and
    10000000000000000.0; an integer keeps its digits)."""
    kinds = {field.name: field.base for field in field_specs()}
    return {
        key: "JSON" if kinds.get(column) in (int, float, bool) else "VARCHAR"
        for column in columns
        for key in _KEYS.get(column, (column,))
    }


def _columns_sql(columns: tuple[str, ...], value: Callable[[str], str]) -> str:
    """Every column from its keys, the first present and not empty winning (`""` hides no fallback: a `user_id`
    of "" and a `user` of "bob" is bob); `value(key)` is a key's text."""
    exprs = []
    for column in columns:
        values = [value(key) for key in _KEYS.get(column, (column,))]
        present = ", ".join(f"nullif({v}, '')" for v in values)
        expr = "NULL" if not values else values[0] if len(values) == 1 else f"coalesce({present})"
        exprs.append(f"{expr} AS {column}")
    return ",\n    ".join(exprs)


def select_sql(columns: tuple[str, ...], bulk: bool = False) -> str:
    """SELECT over `lines` (one JSON parse per line into `spec`) or, with `bulk`, over `read_json`'s columns of
    the same structure: every column from its keys' text."""
    shape = spec(columns)

    def text(key: str) -> str:
        value = f"j.{_sql.quoted(key)}"
        return _sql.json_text(value) if shape[key] == "JSON" else value

    return _sql.one_record_per_line(_columns_sql(columns, text), shape, bulk=bulk)
