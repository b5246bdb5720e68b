"""The bulk transform of one batch of lines: adapter -> typing -> normalization -> validation.

One DuckDB statement turns a batch of raw lines into canonical records, each with `reason` (NULL when the
record is valid, else every rule it breaks, joined by '; '). A line may yield several records (an OTel export
of many spans); each keeps the line's `source_line` and the adapter's `item` label, and a line that yields no
record by design keeps one row whose `ignored` says why (its `reason` is NULL). Every rule comes from
`schemas.record` through `schemas.bulk`; the reference mappings from `schemas.normalize`.
"""

from __future__ import annotations

import hashlib
from contextlib import AbstractContextManager
from functools import cache

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

from pipelines.lib import duckdb_settings
from schemas import quality
from schemas.adapters import INPUT_COLUMNS, Adapter
from schemas.adapters._sql import (
    BULK,
    DECODING,
    OPENS_LIKE_JSON,
    REWRITING,
    encoded_pattern,
    without_decoding,
    without_rewriting,
)
from schemas.adapters._streams import pattern as stream_pattern
from schemas.bulk import blank_is_absent, cross_field_checks, field_checks, field_specs, reasons_expr, typed_expr
from schemas.record import MEASURES, TEXT_LIMITS
from schemas.sqltext import literal

#: Record fields computed by the transform rather than read from the adapter.
DERIVED = {
    "user_hash",
    "operation",
    "quality_flags",
    "provider",
    "error_class",
    "finish_reason",
    "source_format",
    "source_uri",
    "source_line",
}
_HMAC_BLOCK = 64
#: The optimizer that picks each hash join's build side from cardinality estimates. Every join of the transform
#: is a lookup written `rows LEFT JOIN small`, the small side a reference table or the distinct values of the
#: batch; the estimates count those distinct combinations as many as the rows (1.65M estimated for 44 found in a
#: batch of 289k), so DuckDB built its hash table on the batch's wide rows and probed it with the few
#: combinations: 0.21 s of the batch's 1.15 s of CPU. Without it the right side of a LEFT JOIN is the build side,
#: as written. It is off for the transform's statements only: the dedupe and the commit keep it.
BUILD_SIDE_OPTIMIZER = "build_side_probe_side"


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


def _measures() -> list[str]:
    """The numbers a value written NaN or Infinity is repaired in (`schemas.record.MEASURES`) that adapters give."""
    return [name for name in MEASURES if name in INPUT_COLUMNS and name not in DERIVED]


def _checks() -> list[str]:
    checks = []
    measures = _measures()
    for spec in field_specs():
        if spec.name not in DERIVED:
            spared = f"coalesce(non_finite.{spec.name}, false)" if spec.name in measures else None
            checks.extend(field_checks(spec, raw="r_" + spec.name, typed=spec.name, spared=spared))
    return checks


def _non_finite() -> str:
    """A struct of booleans, a measure's text being a number written NaN or Infinity, for the rows where a measure's
    text has no typed value (NULL for every other row: one cheap test per row, the text compared only past it)."""
    measures = _measures()
    untyped = " OR ".join(f"(r_{name} IS NOT NULL AND {name} IS NULL)" for name in measures)
    words = ", ".join(f"'{name}': {quality.sql_non_finite('r_' + name)}" for name in measures)
    return f"CASE WHEN {untyped} THEN {{{words}}} END"


def _non_finite_flagged() -> str:
    """The quality flags with `non_finite_number` added where a number was written NaN or Infinity (its typed value
    is NULL, as for any text that is no number; the field's check spares it)."""
    found = " OR ".join(f"non_finite.{name}" for name in _measures())
    flag = literal(quality.NON_FINITE)
    return f"CASE WHEN {found} THEN list_sort(list_append(quality_flags, {flag})) ELSE quality_flags END"


def _repairs() -> tuple[str, str, str, str]:
    """(typed, names, replacements, flags): the typed values the repairs read (`t_<name>`, computed once: each is
    read by several repairs and flags, and the statement's planning grows with every copy of an expression) and
    their column names, the `select * replace (...)` list repairing the adapter's text columns, and the SQL list
    of quality flags, both over the values as logged (`schemas.quality`)."""
    specs = {spec.name: spec for spec in field_specs()}
    read = [name for name in quality.repair_fields() if name in specs and name not in DERIVED]
    typed = ",\n        ".join(f"{typed_expr(specs[name], 'r_' + name)} AS t_{name}" for name in read)
    values = {name: f"t_{name}" for name in read}
    limits = {name: limit for name, limit in TEXT_LIMITS.items() if name in INPUT_COLUMNS and name not in DERIVED}
    replacements = quality.sql_replacements(values, limits, raw=lambda name: "r_" + name)
    replace = ",\n            ".join(f"{expr} AS r_{name}" for name, expr in replacements.items())
    names = ", ".join(values.values())
    return typed, names, replace, quality.sql_flags(values, limits, raw=lambda name: "r_" + name)


def _raw(column: str) -> str:
    """The adapter's column as text; empty, NULL where it says nothing (`blank_is_absent`, and a user id: "" is no
    user, not one whose hash counts as a user)."""
    text = f"adapter.{column}::VARCHAR"
    return f"nullif({text}, '')" if column in blank_is_absent() or column == "user_key" else text


#: Text found in a line that may hold an object or a list written as a string of its JSON text: a colon, a quote
#: and a brace or a bracket (after blanks). The cheap first test of `may_hold_encoded`; tool-call arguments match it.
_OPENING = r":\s*" + OPENS_LIKE_JSON


def may_hold_encoded(raw: pa.Array | pa.ChunkedArray) -> bool:
    """Some line of `raw` (a batch's texts) holds a string opening with a brace or a bracket at a key an adapter
    reads as an object or a list (`_sql.encoded_pattern`): its statement must look for them (`batch_sql`'s
    `decode`). Two passes of RE2: a colon, quote and brace over every line (0.03 s per 100k), the keys over the
    lines that have one."""
    opening = pc.match_substring_regex(raw, _OPENING)
    if not pc.any(opening).as_py():
        return False
    return bool(pc.any(pc.match_substring_regex(raw.filter(opening), _keys_pattern())).as_py())


@cache
def _keys_pattern() -> str:
    return encoded_pattern()


def may_hold_stream(raw: pa.Array | pa.ChunkedArray, keys: tuple[str, ...]) -> bool:
    """Some line of `raw` (a batch's texts) holds a logged stream (SSE text or a list of objects) at one of `keys`
    (`Adapter.streams`): its statement must assemble it (`batch_sql`'s `assemble`). One pass of RE2 (0.015 s per
    100k provider bodies)."""
    return bool(keys) and bool(pc.any(pc.match_substring_regex(raw, stream_pattern(keys))).as_py())


def lines_sql(adapter: Adapter, lines: pa.Table) -> str:
    """`batch_sql` of the line path for the batch `lines` (source_line, raw): decoding where it may need to (never
    for a format that reads no object or list), assembling logged streams where a line may hold one."""
    raw = lines.column("raw")
    decode = DECODING in adapter.select_sql and may_hold_encoded(raw)
    return batch_sql(
        adapter, decode=decode, assemble=REWRITING in adapter.select_sql and may_hold_stream(raw, adapter.streams)
    )


def _adapter_sql(adapter: Adapter, bulk: bool, decode: bool, assemble: bool) -> str:
    """The adapter's SELECT of the line form or the bulk form, with its decoding arms only when `decode` and its
    rewriting arms only when `assemble`."""
    sql = str(adapter.bulk_sql if bulk else adapter.select_sql)
    sql = sql if decode else without_decoding(sql)
    return sql if assemble else without_rewriting(sql)


@cache
def batch_sql(adapter: Adapter, bulk: bool = False, decode: bool = False, assemble: bool = False) -> str:
    """The statement mapping `lines` to canonical columns plus `item`, `ignored` and `reason`; with `bulk`,
    mapping the relation `bulk` (the adapter's bulk form: `read_json`'s columns and `source_line`) alike. With
    `decode`, an object or list the adapter reads that a line holds as a string of its JSON text is read as that
    JSON (`_sql.parse`): for a batch `may_hold_encoded`; with `assemble`, a logged stream is read as the body it
    assembles into (`_streams`): for a batch `may_hold_stream`. Without them, the statement spends nothing
    looking.

    Parameters: $source_format, $source_uri, $ipad, $opad (HMAC pads of the user-hash key).
    """
    raw_columns = ", ".join(f"{_raw(c)} AS r_{c}" for c in INPUT_COLUMNS)  # typed values read as text
    typed = ",\n        ".join(_typed_columns())
    repair_typed, repair_names, replace, flags = _repairs()
    record_columns = ",\n    ".join(_final_expr(spec.name) for spec in field_specs())
    return f"""
with adapted as (
    select
        adapter.source_line,
        adapter.item,
        adapter.ignored,
        adapter.reject,
        {raw_columns}
    from ({_adapter_sql(adapter, bulk, decode, assemble)}) as adapter
),
logged as (
    -- the values the repairs read, typed once
    select
        *,
        {repair_typed}
    from adapted
),
repaired as (
    -- soft inconsistencies are kept: repaired where one reading is right, and flagged
    select
        * exclude ({repair_names}) replace (
            {replace}
        ),
        {flags} as quality_flags
    from logged
),
typed as (
    select
        *,
        {typed}
    from repaired
),
worded as (
    -- numbers written NaN or Infinity: kept as no value, flagged
    select
        *,
        {_non_finite()} as non_finite
    from typed
),
checked as (
    select
        * replace ({_non_finite_flagged()} as quality_flags),
        coalesce(reject, {reasons_expr(_checks())}) as field_reason
    from worded
),
users as (
    -- the keyed hash is computed once per distinct user in the batch, not once per row
    select
        r_user_key,
        sha256($opad || unhex(sha256($ipad || encode(r_user_key)))) as user_hash
    from (select distinct r_user_key from checked where r_user_key is not null)
),
lookups as (
    -- the lookups' inputs, once per distinct combination in the batch (a few hundred where rows are 289k): every
    -- lookup below runs on these rows, and one join maps the results back to the records
    select distinct
        r_provider,
        provider_native,
        r_provider_host,
        r_provider_default,
        model,
        model_requested,
        r_finish_reason,
        native_finish_reason,
        r_operation,
        error_code
    from checked
),
model_platforms as (
    -- the first rule of provider_model_ids.csv each distinct model id (served or requested) matches
    select
        ids.model_id,
        arg_min({{'provider': provider, 'decides': decides = 'true'}}, match_order::integer) as platform,
    from (
        select lower(coalesce(model, model_requested)) as model_id from lookups
        union
        select lower(model_requested) from lookups
    ) as ids
    join ref_provider_model_ids on regexp_matches(ids.model_id, ref_provider_model_ids.pattern)
    group by all
),
model_makers as (
    -- the lab that made each distinct model id (model_families.csv), where a rule knows it
    select
        model_id,
        lower(model_families.model_vendor) as maker
    from (
        select
            model_id,
            gl_model_rule(gl_model_key(model_id)) as match_order
        from (select distinct lower(coalesce(model, model_requested)) as model_id from lookups)
    ) as ids
    join model_families on model_families.match_order = ids.match_order
    where model_families.model_vendor <> 'unknown'
),
resolved as (
    -- provider: the company that served the call, never a framework or SDK (providers.csv lists frameworks with
    -- an empty provider). In order of trust: what the adapter read from the record itself (r_provider); a model
    -- id only one platform uses; the provider the log names, that name without an API-flavour suffix
    -- ('openai.chat'), an unknown name slugified; then (when no name or only a framework's is given) the host
    -- called, the model id's vendor prefix when it names a known provider, the shape of the model id, the
    -- company the format implies (a bare Anthropic body: anthropic) unless the model is another lab's (a Llama
    -- in an OpenAI-shaped body came from some server speaking OpenAI's API: unknown). 'openai' names the OpenAI
    -- SDK, the client of every OpenAI-compatible server, as much as the company: where the host called or the
    -- model's vendor prefix says the call went elsewhere, the host decides (NULL when unknown).
    -- finish_reason: the gateway's normalized value wins, then the native one; JSON arrays, enum names, hyphens
    -- and case are read alike; any tool-call reason among several wins.
    select
        d.*,
        case
            when d.r_provider is not null then lower(d.r_provider)
            -- a model id only one platform uses (Bedrock's 'anthropic.claude-...-v1:0', its ARNs) names the
            -- platform, whatever maker the log names (the Anthropic SDK's AnthropicBedrock says 'anthropic')
            when m.platform.decides then m.platform.provider
            when mr.platform.decides then mr.platform.provider
            when coalesce(nullif(p.provider, ''), nullif(pf.provider, '')) = 'openai'
                and (h.provider <> 'openai' or gl_model_vendor(d.model_id) <> 'openai')
                then h.provider
            -- 'google' names the company, not which of its two APIs served: the host called says which
            when lower(trim(d.provider_native)) = 'google' and h.provider in ('google-ai-studio', 'google-vertex')
                then h.provider
            else coalesce(
                nullif(p.provider, ''),
                nullif(pf.provider, ''),
                case
                    when p.native_name is null and pf.native_name is null
                        then gl_slug(gl_provider_name(d.provider_native))
                end,
                h.provider,
                nullif(pv.provider, ''),
                m.platform.provider,
                case
                    when mk.maker is null
                        or mk.maker = case lower(d.r_provider_default)
                            when 'google-ai-studio' then 'google' else lower(d.r_provider_default)
                        end
                        then lower(d.r_provider_default)
                end
            )
        end as provider,
        coalesce(
            gl_finish_reason(gl_finish_keys(d.r_finish_reason)),
            gl_finish_reason(gl_finish_keys(d.native_finish_reason))
        ) as finish_reason,
        coalesce(op.operation, case when d.r_operation is not null then 'other' end, om.operation, 'chat') as operation,
        coalesce(ec.error_class, eq.error_class) as error_code_class
    from (select *, coalesce(model, model_requested) as model_id from lookups) as d
    left join ref_providers as p on p.native_name = lower(trim(d.provider_native))
    left join ref_providers as pf on pf.native_name = gl_provider_name(d.provider_native)
    left join ref_providers as pv on pv.native_name = gl_model_vendor(d.model_id)
    left join (
        select hosts.r_provider_host, arg_min(provider, match_order::integer) as provider
        from (select distinct r_provider_host from lookups where r_provider_host is not null) as hosts
        join ref_provider_hosts
            on regexp_matches(gl_host(hosts.r_provider_host), ref_provider_hosts.pattern)
            or regexp_matches(gl_host_port(hosts.r_provider_host), ref_provider_hosts.pattern)
        group by all
    ) as h on h.r_provider_host = d.r_provider_host
    left join model_platforms as m on m.model_id = lower(d.model_id)
    left join model_platforms as mr on mr.model_id = lower(d.model_requested)
    left join model_makers as mk on mk.model_id = lower(d.model_id)
    left join ref_operations as op on op.native = lower(trim(d.r_operation))
    -- a log that does not say what was asked: an embedding, rerank, ... model's name says it
    left join (
        select ids.model_id, arg_min(operation, match_order::integer) as operation
        from (select distinct lower(model_id) as model_id from (
            select coalesce(model, model_requested) as model_id from lookups where r_operation is null
        )) as ids
        join ref_operations_by_model on regexp_matches(ids.model_id, ref_operations_by_model.pattern)
        group by all
    ) as om on d.r_operation is null and om.model_id = lower(d.model_id)
    left join ref_error_codes as ec on ec.code = lower(trim(d.error_code))
    -- a qualified exception name (OTel error.type 'openai.BadRequestError') is looked up by its last part
    left join ref_error_codes as eq on eq.code = lower(regexp_extract(trim(d.error_code), '[^.]+$'))
),
normalized as (
    select
        c.*,
        r.provider,
        case
            -- a response that carries tool calls ended in a tool call, whatever the finish reason says (Gemini
            -- stops with STOP, or UNEXPECTED_TOOL_CALL, next to a functionCall; OpenAI says stop when the tool
            -- choice was forced); a response cut at its length or filtered keeps that reason
            when c.tool_calls > 0 and c.status = 'success'
                and coalesce(r.finish_reason, 'stop') in ('stop', 'other', 'error') then 'tool_calls'
            else r.finish_reason
        end as finish_reason,
        r.operation,
        gl_error_class(c.status, c.http_status, c.error_code, r.error_code_class, c.r_error_class) as error_class,
        u.user_hash
    from checked as c
    left join users as u on u.r_user_key = c.r_user_key
    left join resolved as r
        on r.r_provider is not distinct from c.r_provider
        and r.provider_native is not distinct from c.provider_native
        and r.r_provider_host is not distinct from c.r_provider_host
        and r.r_provider_default is not distinct from c.r_provider_default
        and r.model is not distinct from c.model
        and r.model_requested is not distinct from c.model_requested
        and r.r_finish_reason is not distinct from c.r_finish_reason
        and r.native_finish_reason is not distinct from c.native_finish_reason
        and r.r_operation is not distinct from c.r_operation
        and r.error_code is not distinct from c.error_code
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
    if name == "source_format":  # an adapter reading several shapes names the one it read
        return "coalesce(r_source_format, $source_format) AS source_format"
    if name == "source_uri":
        return "$source_uri AS source_uri"
    return name


def lookup_plans(con: duckdb.DuckDBPyConnection) -> AbstractContextManager[None]:
    """Run the block with the transform's joins built on their small side (see BUILD_SIDE_OPTIMIZER), then put
    the connection's optimizer setting back."""
    previous = str(duckdb_settings.current(con, "disabled_optimizers"))
    return duckdb_settings.scoped(
        con, "disabled_optimizers", ", ".join(name for name in (previous, BUILD_SIDE_OPTIMIZER) if name)
    )


def batch_params(adapter: Adapter, source_uri: str, hash_key: bytes) -> dict[str, object]:
    """The parameters `batch_sql` binds."""
    ipad, opad = hmac_pads(hash_key)
    return {"source_format": adapter.name, "source_uri": source_uri, "ipad": ipad, "opad": opad}


def transform_lines(
    con: duckdb.DuckDBPyConnection,
    adapter: Adapter,
    lines: pa.Table,
    source_uri: str,
    hash_key: bytes,
    bulk: bool = False,
) -> pa.Table:
    """Run the batch statement over `lines` (source_line, raw) and return every row with its reason; with
    `bulk`, over the adapter's bulk columns and `source_line` (`batch_sql(adapter, bulk=True)`).

    `con` must come from `pipelines.lib.ingest.connect` (reference tables and macros installed).
    """
    name = BULK if bulk else "lines"
    con.register(name, lines)
    try:
        with lookup_plans(con):
            return con.sql(
                batch_sql(adapter, bulk=True) if bulk else lines_sql(adapter, lines),
                params=batch_params(adapter, source_uri, hash_key),
            ).to_arrow_table()
    finally:
        con.unregister(name)
