"""The bulk transform of one batch of lines: adapter -> typing -> normalization -> validation.

One DuckDB statement turns a batch of raw lines into canonical records, each with `reason` (NULL when the
record is valid, else every rule it breaks, joined by '; '). A line may yield several records (an OTel export
of many spans); each keeps the line's `source_line` and the adapter's `item` label, and a line that yields no
record by design keeps one row whose `ignored` says why (its `reason` is NULL). Every rule comes from
`schemas.record` through `schemas.bulk`; the reference mappings from `schemas.normalize`.
"""

from __future__ import annotations

import hashlib
from functools import cache

import duckdb
import pyarrow as pa

from schemas.adapters import INPUT_COLUMNS, Adapter
from schemas.bulk import cross_field_checks, field_checks, field_specs, reasons_expr, typed_expr

#: Record fields computed by the transform rather than read from the adapter.
DERIVED = {
    "user_hash",
    "provider",
    "error_class",
    "finish_reason",
    "source_format",
    "source_uri",
    "source_line",
}
_HMAC_BLOCK = 64


def hmac_pads(key: bytes) -> tuple[bytes, bytes]:
    """Inner and outer HMAC-SHA256 pads of `key` (RFC 2104), so that DuckDB can compute the HMAC in bulk."""
    if len(key) > _HMAC_BLOCK:
        key = hashlib.sha256(key).digest()
    key = key.ljust(_HMAC_BLOCK, b"\0")
    return bytes(b ^ 0x36 for b in key), bytes(b ^ 0x5C for b in key)


def _typed_columns() -> list[str]:
    return [
        f"{typed_expr(spec, 'r_' + spec.name)} AS {spec.name}" for spec in field_specs() if spec.name not in DERIVED
    ]


def _checks() -> list[str]:
    checks = []
    for spec in field_specs():
        if spec.name not in DERIVED:
            checks.extend(field_checks(spec, raw="r_" + spec.name, typed=spec.name))
    return checks


@cache
def batch_sql(adapter: Adapter) -> str:
    """The statement mapping `lines` to canonical columns plus `item`, `ignored` and `reason`.

    Parameters: $source_format, $source_uri, $ipad, $opad (HMAC pads of the user-hash key).
    """
    raw_columns = ", ".join(f"adapter.{c}::VARCHAR AS r_{c}" for c in INPUT_COLUMNS)  # typed values read as text
    typed = ",\n        ".join(_typed_columns())
    record_columns = ",\n    ".join(_final_expr(spec.name) for spec in field_specs())
    return f"""
with adapted as (
    select
        adapter.source_line,
        adapter.item,
        adapter.ignored,
        adapter.reject,
        {raw_columns}
    from ({adapter.select_sql}) as adapter
),
typed as (
    select
        *,
        {typed}
    from adapted
),
checked as (
    select
        *,
        coalesce(reject, {reasons_expr(_checks())}) as field_reason
    from typed
),
users as (
    -- the keyed hash is computed once per distinct user in the batch, not once per row
    select
        r_user_key,
        sha256($opad || unhex(sha256($ipad || encode(r_user_key)))) as user_hash
    from (select distinct r_user_key from checked where r_user_key is not null)
),
normalized as (
    select
        c.*,
        coalesce(lower(c.r_provider), p.provider, gl_slug(c.provider_native)) as provider,
        coalesce(
            fo.finish_reason,
            case when c.r_finish_reason is not null then 'other' end,
            fn.finish_reason,
            case when c.native_finish_reason is not null then 'other' end
        ) as finish_reason,
        gl_error_class(
            c.status, c.http_status, c.error_code, coalesce(ec.error_class, eq.error_class), c.r_error_class
        ) as error_class,
        u.user_hash
    from checked as c
    left join users as u on u.r_user_key = c.r_user_key
    left join ref_providers as p on p.native_name = lower(trim(c.provider_native))
    left join ref_finish_reasons as fo on fo.native = lower(trim(c.r_finish_reason))
    left join ref_finish_reasons as fn on fn.native = lower(trim(c.native_finish_reason))
    left join ref_error_codes as ec on ec.code = lower(trim(c.error_code))
    -- a qualified exception name (OTel error.type 'openai.BadRequestError') is looked up by its last part
    left join ref_error_codes as eq on eq.code = lower(regexp_extract(trim(c.error_code), '[^.]+$'))
)
select
    source_line,
    {record_columns},
    item,
    ignored,
    case when ignored is null then coalesce(field_reason, {reasons_expr(cross_field_checks())}) end as reason
from normalized
"""


def _final_expr(name: str) -> str:
    if name == "source_line":
        return "source_line"
    if name == "source_format":
        return "$source_format AS source_format"
    if name == "source_uri":
        return "$source_uri AS source_uri"
    return name


def batch_params(adapter: Adapter, source_uri: str, hash_key: bytes) -> dict[str, object]:
    """The parameters `batch_sql` binds."""
    ipad, opad = hmac_pads(hash_key)
    return {"source_format": adapter.name, "source_uri": source_uri, "ipad": ipad, "opad": opad}


def transform_lines(
    con: duckdb.DuckDBPyConnection, adapter: Adapter, lines: pa.Table, source_uri: str, hash_key: bytes
) -> pa.Table:
    """Run the batch statement over `lines` (source_line, raw) and return every row with its reason.

    `con` must come from `pipelines.lib.ingest.connect` (reference tables and macros installed).
    """
    con.register("lines", lines)
    try:
        return con.sql(batch_sql(adapter), params=batch_params(adapter, source_uri, hash_key)).to_arrow_table()
    finally:
        con.unregister("lines")
