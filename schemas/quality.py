"""Soft inconsistencies: what real emitters write that does not add up, kept and flagged instead of lost.

Real logs report reasoning tokens beyond completion tokens (some upstreams count reasoning outside it),
cached tokens beyond prompt tokens, a time to first token after the last byte, negative durations, ids longer
than any sane limit, a cost written `NaN`. Each of these costs nothing to keep: the record is stored, the value
is repaired where one reading is clearly right, and `quality_flags` says what was found. Quarantine stays for
what cannot be placed or keyed.

Each repair is written once for Python (`repair`, which the pydantic model applies before validating) and
once for DuckDB (`sql_flags`, `sql_replacements`, which the bulk transform applies to the adapter's text
columns before typing; `sql_non_finite`, which it applies after typing, to the values it could not type), and
`tests/test_schema.py` checks that both agree.
"""

from __future__ import annotations

import hashlib
import math
import string
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

#: A text value longer than its limit keeps at most this many leading characters, then '~' and its SHA-256.
LONG_PREFIX = 128
_HASH_CHARS = 1 + 64


def shorten(value: str, limit: int) -> str:
    """`value` itself when it fits `limit`, else its first characters, '~' and the SHA-256 (hex) of the whole:
    the same in every run, so a shortened id still keys its record."""
    if len(value) <= limit:
        return value
    prefix = min(LONG_PREFIX, limit - _HASH_CHARS)
    return f"{value[:prefix]}~{hashlib.sha256(value.encode()).hexdigest()}"


def sql_shorten(column: str, limit: int) -> str:
    """SQL form of `shorten` over a text column."""
    prefix = min(LONG_PREFIX, limit - _HASH_CHARS)
    shortened = f"left({column}, {prefix}) || '~' || sha256({column})"
    return f"CASE WHEN length({column}) > {limit} THEN {shortened} ELSE {column} END"


def _number(value: Any) -> float | None:
    """A finite number from JSON-ish input (numbers or their text), as the bulk typing reads it; else None."""
    if value is None or isinstance(value, bool):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def whole_number(value: Any) -> int | None:
    """An integral number from JSON-ish input (`400`, `400.0`, `"400"`, `" 4e2 "`), as the bulk typing reads a count
    or a status; else None."""
    number = _number(value)
    return int(number) if number is not None and number.is_integer() else None


@dataclass(frozen=True)
class Repair:
    """One soft inconsistency: when it holds (over the values as logged), the flag, and what is stored."""

    flag: str
    holds: Callable[[Mapping[str, Any]], bool]
    fix: Callable[[Mapping[str, Any]], dict[str, Any]]
    sql_holds: str  # over typed expressions {name} of the adapter's columns
    sql_fix: dict[str, str]  # column -> new text value when it holds


def _gt(a: int | float | None, b: int | float | None) -> bool:
    """Both known and valid (not negative, which the field rules reject) and a > b."""
    return a is not None and b is not None and b >= 0 and a > b


def _ttft_after_latency(r: Mapping[str, Any]) -> bool:
    ttft, latency = _number(r.get("ttft_ms")), _number(r.get("latency_ms"))
    return _gt(ttft, latency) and latency is not None and latency >= 0


REPAIRS: tuple[Repair, ...] = (
    Repair(
        flag="cached_outside_prompt",
        holds=lambda r: _gt(whole_number(r.get("cached_prompt_tokens")), whole_number(r.get("prompt_tokens"))),
        fix=lambda r: {"prompt_tokens": whole_number(r["prompt_tokens"]) + whole_number(r["cached_prompt_tokens"])},
        sql_holds="{prompt_tokens} >= 0 AND {cached_prompt_tokens} > {prompt_tokens}",
        sql_fix={"prompt_tokens": "({prompt_tokens}::HUGEINT + {cached_prompt_tokens})::VARCHAR"},
    ),
    Repair(
        flag="http_error_on_success",
        holds=lambda r: r.get("status") == "success" and (whole_number(r.get("http_status")) or 0) >= 400,
        fix=lambda r: {},
        sql_holds="{status} = 'success' AND {http_status} >= 400",
        sql_fix={},
    ),
    Repair(
        flag="negative_latency",
        holds=lambda r: (_number(r.get("latency_ms")) or 0) < 0,
        fix=lambda r: {"latency_ms": None},
        sql_holds="{latency_ms} < 0",
        sql_fix={"latency_ms": "NULL"},
    ),
    Repair(
        flag="negative_ttft",
        holds=lambda r: (_number(r.get("ttft_ms")) or 0) < 0,
        fix=lambda r: {"ttft_ms": None},
        sql_holds="{ttft_ms} < 0",
        sql_fix={"ttft_ms": "NULL"},
    ),
    Repair(
        flag="reasoning_outside_completion",
        holds=lambda r: _gt(whole_number(r.get("reasoning_tokens")), whole_number(r.get("completion_tokens"))),
        fix=lambda r: {"completion_tokens": whole_number(r["completion_tokens"]) + whole_number(r["reasoning_tokens"])},
        sql_holds="{completion_tokens} >= 0 AND {reasoning_tokens} > {completion_tokens}",
        sql_fix={"completion_tokens": "({completion_tokens}::HUGEINT + {reasoning_tokens})::VARCHAR"},
    ),
    Repair(
        flag="ttft_exceeds_latency",
        holds=_ttft_after_latency,
        fix=lambda r: {},
        sql_holds="{ttft_ms} > {latency_ms} AND {latency_ms} >= 0",
        sql_fix={},
    ),
)

#: A number written as no finite number: `NaN`, `Infinity`, `-Infinity`. Python's `json.dumps` writes a float NaN
#: or infinity as those bare words by default, so Python loggers (LiteLLM's among them) put them where a cost or a
#: latency goes. The value says nothing; the record is kept and the value stored NULL. (A number past a double's
#: range written in digits is no such word: it stays a value out of range, for the rules to reject. Python's JSON
#: parser alone reads a bare `1e999` as infinity, which the model then takes for the word; no logger writes it.)
NON_FINITE = "non_finite_number"
#: What DuckDB's `trim` strips: Unicode's space separators (category Zs), not tabs or line breaks.
_SPACES = " \u00a0\u1680" + "".join(map(chr, range(0x2000, 0x200B))) + "\u202f\u205f\u3000"
#: The spellings of a non-finite number (any case, spaces around), as Python and DuckDB read them.
_NON_FINITE_WORDS = tuple(sign + word for sign in ("", "+", "-") for word in ("nan", "inf", "infinity"))


def non_finite(value: Any) -> bool:
    """`value` is a number written as no finite number: a float NaN or infinity (what a JSON parser makes of the
    bare words) or one of those words as text."""
    if isinstance(value, float):
        return not math.isfinite(value)
    return isinstance(value, str) and value.strip(_SPACES).lower() in _NON_FINITE_WORDS


def sql_non_finite(raw: str) -> str:
    """SQL form of `non_finite` over a text column (DuckDB writes the bare words it parses as `NaN`, `Infinity`).
    A comparison of text: the transform runs it only on the rare values its typing could not read."""
    words = ", ".join(f"'{word}'" for word in _NON_FINITE_WORDS)
    return f"coalesce(lower(trim({raw})) IN ({words}), false)"


#: The text field whose overflow is flagged `long_id`; every other limited text field flags `long_value`.
ID_FIELD = "request_id"


def repair(values: Mapping[str, Any], text_limits: Mapping[str, int], measures: Sequence[str]) -> dict[str, Any]:
    """The values as stored: repairs applied, over-long text shortened, `quality_flags` set (sorted).

    `values` are as logged (numbers or their text); `text_limits` maps each limited text field to its limit;
    `measures` are the numbers a non-finite value is repaired in.
    """
    flags = {rep.flag for rep in REPAIRS if rep.holds(values)}
    fixed = dict(values)
    for rep in REPAIRS:
        if rep.flag in flags:
            fixed |= rep.fix(values)
    for name in measures:
        if non_finite(values.get(name)):
            fixed[name] = None
            flags.add(NON_FINITE)
    for name, limit in text_limits.items():
        value = values.get(name)
        if isinstance(value, str) and len(value) > limit:
            fixed[name] = shorten(value, limit)
            flags.add("long_id" if name == ID_FIELD else "long_value")
    fixed["quality_flags"] = sorted(flags | set(values.get("quality_flags") or ()))
    return fixed


def repair_fields() -> list[str]:
    """The fields the repairs read (by the names their SQL is formatted with), each once, in order."""
    names: dict[str, None] = {}
    for rep in REPAIRS:
        for text in (rep.sql_holds, *rep.sql_fix.values()):
            names |= dict.fromkeys(name for _, name, _, _ in string.Formatter().parse(text) if name)
    return list(names)


def sql_flags(typed: Mapping[str, str], text_limits: Mapping[str, int], raw: Callable[[str], str]) -> str:
    """SQL list of the flags that hold (sorted), given the typed expression of each column and the raw text
    column of a name. (`non_finite_number` is added where the typing finds the value: `sql_non_finite`.)"""
    items = [(rep.flag, rep.sql_holds.format(**typed)) for rep in REPAIRS]
    overflow = " OR ".join(f"length({raw(n)}) > {limit}" for n, limit in text_limits.items() if n != ID_FIELD)
    items.append(("long_value", overflow or "false"))
    if ID_FIELD in text_limits:
        items.append(("long_id", f"length({raw(ID_FIELD)}) > {text_limits[ID_FIELD]}"))
    cases = ", ".join(f"CASE WHEN {cond} THEN '{flag}' END" for flag, cond in sorted(items))
    any_holds = " OR ".join(f"coalesce({cond}, false)" for _flag, cond in items)
    # most records have no flag: the list is only built for those that do
    return f"CASE WHEN {any_holds} THEN list_filter([{cases}], lambda f: f IS NOT NULL) ELSE []::VARCHAR[] END"


def sql_replacements(
    typed: Mapping[str, str], text_limits: Mapping[str, int], raw: Callable[[str], str]
) -> dict[str, str]:
    """Raw text column name -> SQL of its stored text (repairs and shortening applied)."""
    out: dict[str, str] = {}
    for rep in REPAIRS:
        for name, expr in rep.sql_fix.items():
            out[name] = f"CASE WHEN {rep.sql_holds.format(**typed)} THEN {expr.format(**typed)} ELSE {raw(name)} END"
    for name, limit in text_limits.items():
        out[name] = sql_shorten(raw(name), limit)
    return out
