"""Vectorized forms of the canonical record: Arrow schema, DuckDB types, validation SQL and the stored columns
that readers take from `schemas.stored` (rendered here into its committed file).

Everything here is derived from `schemas.record.RequestRecord` by introspection, so a field added or a
constraint tightened there changes the Parquet schema and the bulk validator without a second edit.
"""

from __future__ import annotations

import json
import types
import typing
from dataclasses import dataclass
from datetime import datetime
from functools import cache

import pyarrow as pa
from pydantic.fields import FieldInfo

from schemas.record import CROSS_FIELD_RULES, RequestRecord
from schemas.sqltext import epoch_micros, literal
from schemas.stored import upgraded_select as upgraded_select  # the ingest reads stored rows through it too

_DUCKDB_TYPES = {
    str: "VARCHAR",
    int: "BIGINT",
    float: "DOUBLE",
    bool: "BOOLEAN",
    datetime: "TIMESTAMPTZ",
    list: "VARCHAR[]",
}
_ARROW_TYPES = {
    list: pa.list_(pa.string()),
    str: pa.string(),
    int: pa.int64(),
    float: pa.float64(),
    bool: pa.bool_(),
    datetime: pa.timestamp("us", tz="UTC"),
}
_KIND_WORDS = {
    int: "an integer",
    float: "a number",
    bool: "a boolean",
    datetime: "an ISO 8601 timestamp",
    str: "a string",
}


@dataclass(frozen=True)
class FieldSpec:
    """What the bulk validator needs to know about one field of the record."""

    name: str
    base: type
    nullable: bool
    required: bool
    default: object
    choices: tuple[str, ...] | None
    ge: float | None
    le: float | None
    min_length: int | None
    max_length: int | None
    pattern: str | None

    @property
    def duckdb_type(self) -> str:
        return _DUCKDB_TYPES[self.base]

    @property
    def arrow_type(self) -> pa.DataType:
        return _ARROW_TYPES[self.base]


def _unwrap(annotation: object) -> tuple[type, bool, tuple[str, ...] | None]:
    """Return (base python type, nullable, literal choices) of a field annotation."""
    nullable = False
    args = typing.get_args(annotation)
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        nullable = type(None) in args
        (annotation,) = [a for a in args if a is not type(None)]
    if typing.get_origin(annotation) is list:  # a list of text (quality_flags), choices from its Literal
        (item,) = typing.get_args(annotation)
        return list, nullable, tuple(typing.get_args(item)) or None
    if typing.get_origin(annotation) is typing.Literal:
        return str, nullable, tuple(typing.get_args(annotation))
    return typing.cast(type, annotation), nullable, None


def _spec(name: str, info: FieldInfo) -> FieldSpec:
    base, nullable, choices = _unwrap(info.annotation)
    found: dict[str, object] = {}
    for meta in info.metadata:
        for attr in ("ge", "le", "min_length", "max_length", "pattern"):
            value = getattr(meta, attr, None)
            if value is not None:
                found[attr] = value
    return FieldSpec(
        name=name,
        base=base,
        nullable=nullable,
        required=info.is_required(),
        default=None if info.is_required() or info.default_factory else info.default,
        choices=choices,
        ge=typing.cast(float | None, found.get("ge")),
        le=typing.cast(float | None, found.get("le")),
        min_length=typing.cast(int | None, found.get("min_length")),
        max_length=typing.cast(int | None, found.get("max_length")),
        pattern=typing.cast(str | None, found.get("pattern")),
    )


@cache
def field_specs() -> tuple[FieldSpec, ...]:
    """One FieldSpec per record field, in record order."""
    return tuple(_spec(name, info) for name, info in RequestRecord.model_fields.items())


@cache
def arrow_schema() -> pa.Schema:
    """The Parquet/Arrow schema of stored requests, with each field's description as metadata."""
    fields = []
    for spec in field_specs():
        description = RequestRecord.model_fields[spec.name].description or ""
        fields.append(
            pa.field(
                spec.name,
                spec.arrow_type,
                nullable=spec.nullable or not spec.required,
                metadata={"description": description},
            )
        )
    return pa.schema(fields)


@cache
def blank_is_absent() -> tuple[str, ...]:
    """The optional text fields with no vocabulary and no pattern (model, provider_native, error_code, ...): an
    empty value says nothing (LiteLLM writes "" for what it does not know), so it is read as NULL (the record
    model's `_blank` alike), not stored as a model, app or error code named ""."""
    return tuple(
        spec.name
        for spec in field_specs()
        if spec.base is str and not spec.required and spec.nullable and not spec.choices and not spec.pattern
    )


#: A UTC offset after a time, beyond +-18:00 (ISO 8601 and RFC 3339 allow no more; Python refuses them too).
_OFFSET_BEYOND_18H = r"\d:\d\d(:\d\d([.,]\d*)?)? ?[+-](18:?(0[1-9]|[1-5]\d)|19|[2-9]\d)(:?\d\d)?$"


def typed_expr(spec: FieldSpec, column: str) -> str:
    """SQL casting the text column `column` to the field's type (NULL where it does not parse)."""
    cast = f"TRY_CAST({column} AS {spec.duckdb_type})"
    if spec.choices:
        cast = column  # exact spelling, as pydantic requires
    elif spec.base is bool:
        cast = f"TRY_CAST(lower({column}) AS BOOLEAN)"
    elif spec.base is int:  # integral values only: 2.0 is 2, 1.5 is not an integer (never rounded)
        cast = f"CASE WHEN TRY_CAST({column} AS DOUBLE) = {cast} THEN {cast} END"
    elif spec.base is float:  # finite values only
        cast = f"CASE WHEN isfinite({cast}) THEN {cast} END"
    elif spec.base is datetime:  # UTC offsets run from -18:00 to +18:00 (DuckDB would take +99:00)
        cast = f"CASE WHEN NOT regexp_matches({column}, {literal(_OFFSET_BEYOND_18H)}) THEN {cast} END"
        # an epoch number (no `:`, which every ISO time has): seconds to nanoseconds by magnitude
        epoch = f"try(to_timestamp(0) + to_microseconds({epoch_micros(column)}))"
        cast = f"CASE WHEN contains({column}, ':') THEN {cast} ELSE coalesce({epoch}, {cast}) END"
    if spec.default is not None:
        cast = f"CASE WHEN {column} IS NULL THEN {literal(spec.default)} ELSE {cast} END"
    return cast


@dataclass(frozen=True)
class Check:
    """A rule as SQL: `violated` is a boolean expression, `message` the reason text when it holds."""

    violated: str
    message: str


#: The longest value a reason quotes whole is the longest text a record keeps (request_id, model: 256).
QUOTED_CHARS = 256


def structured_sql(raw: str) -> str:
    """SQL: the text `raw` is a JSON object or array (what an adapter's text column holds where the line gave one:
    a prompt could ride in it)."""
    # the first character's code (one call a row; 6 prefix tests cost twice as much), the pattern only for text
    # that starts with a brace, a bracket or a blank
    pattern = f"regexp_matches({raw}, '^[ \\t\\r\\n]*[{{\\[]')"
    container = f"coalesce(try(json_type({raw})) IN ('OBJECT', 'ARRAY'), false)"  # not `[beta] x`, `{{GUID}}`
    return f"(ascii({raw}) IN (123, 91, 32, 9, 10, 13) AND {pattern} AND {container})"


def shown_sql(raw: str) -> str:
    """SQL: how a reason quotes the value `raw` it refuses: its first 60 characters, unless it is a JSON object or
    array or longer than QUOTED_CHARS, which only its length is shown of (a reason must not carry a prompt)."""
    hidden = f"{structured_sql(raw)} OR length({raw}) > {QUOTED_CHARS}"
    return f"CASE WHEN {hidden} THEN format('[{{}} chars not shown]', length({raw})) ELSE left({raw}, 60) END"


def field_checks(spec: FieldSpec, raw: str, typed: str, spared: str | None = None) -> list[Check]:
    """The field's rules over `raw` (text as the adapter produced it) and `typed` (after `typed_expr`); `spared`, a
    boolean SQL, exempts text that is no value of the type from being rejected (a number written NaN)."""
    name = spec.name
    shown = shown_sql(raw)
    checks: list[Check] = []
    if spec.required and spec.default is None:
        checks.append(Check(f"{raw} IS NULL", f"'{name} missing'"))
    if spec.base is str and not spec.choices:  # text a JSON object or array became: never stored
        checks.append(Check(structured_sql(raw), f"'{name} is a JSON object or array, not text'"))
    if spec.choices:
        allowed = "|".join(spec.choices)
        listed = ", ".join(literal(c) for c in spec.choices)
        checks.append(
            Check(f"{typed} NOT IN ({listed})", f"format('{name} ''{{}}'' is not one of {allowed}', {shown})")
        )
    elif spec.base is not str:
        kind = _KIND_WORDS[spec.base]
        untyped = f"({raw} IS NOT NULL AND {typed} IS NULL)"
        if spared is not None:
            untyped = f"({untyped} AND NOT {spared})"
        checks.append(Check(untyped, f"format('{name} is not {kind} (''{{}}'')', {shown})"))
    if spec.ge == 0:
        checks.append(Check(f"{typed} < 0", f"format('{name} is negative ({{}})', {typed})"))
    elif spec.ge is not None:
        checks.append(Check(f"{typed} < {spec.ge}", f"format('{name} ({{}}) is below {spec.ge}', {typed})"))
    if spec.le is not None:
        checks.append(Check(f"{typed} > {spec.le}", f"format('{name} ({{}}) is above {spec.le}', {typed})"))
    if spec.min_length == 1:
        checks.append(Check(f"length({typed}) = 0", f"'{name} is empty'"))
    if spec.max_length is not None:
        checks.append(
            Check(
                f"length({typed}) > {spec.max_length}",
                f"'{name} is longer than {spec.max_length} characters'",
            )
        )
    if spec.pattern is not None:
        checks.append(
            Check(
                f"NOT regexp_full_match({typed}, {literal(spec.pattern)})",
                f"'{name} does not match {spec.pattern}'",
            )
        )
    return checks


def cross_field_checks() -> list[Check]:
    """The record's cross-field rules (over typed columns)."""
    return [Check(f"({rule.sql_violated})", rule.sql_message) for rule in CROSS_FIELD_RULES]


def reasons_expr(checks: list[Check]) -> str:
    """One '; '-joined reason text, NULL when no rule is broken.

    The cheap boolean test runs on every row; the message text is only built for rows that break a rule.
    """
    any_violated = "\n        OR ".join(c.violated for c in checks)
    messages = ",\n            ".join(f"CASE WHEN {c.violated} THEN {c.message} END" for c in checks)
    return f"""CASE WHEN
        {any_violated}
    THEN concat_ws('; ',
            {messages}
        ) END"""


def _fill_sql(spec: FieldSpec) -> str | None:
    """The SQL of the value that fills the field in partitions written before it existed (`schemas.stored`):
    its default, or an empty list; None for a field without one."""
    if spec.base is list:
        return "[]::VARCHAR[]"
    if spec.default is not None and not spec.required and spec.nullable is False:
        return literal(spec.default)
    return None


def render_stored_columns() -> str:
    """`schemas/stored_columns.json` exactly as committed: each field's name, DuckDB type and fill value."""
    columns = []
    for spec in field_specs():
        fill = _fill_sql(spec)
        columns.append({"name": spec.name, "type": spec.duckdb_type, **({"fill": fill} if fill is not None else {})})
    return "[\n" + ",\n".join(f"  {json.dumps(column)}" for column in columns) + "\n]\n"
