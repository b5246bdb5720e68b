"""SQL text for the few places DuckDB takes no bound parameter (a COPY target, a macro body, a `from_json`
structure, a list of constants compiled into a model): one way to write a literal."""

from __future__ import annotations

import math
import re


def literal(value: object) -> str:
    """`value` as a DuckDB literal: NULL, a quoted string (DuckDB strings have no backslash escapes; a quote is
    doubled), or a number's repr."""
    if value is None:
        return "NULL"
    if isinstance(value, str):
        return "'" + value.replace("'", "''") + "'"
    return repr(value)


def literal_list(values: list[str]) -> str:
    """Comma-separated string literals, for `IN (...)`."""
    return ", ".join(literal(v) for v in values)


#: Epoch times as logged, told apart by magnitude as pydantic tells seconds from milliseconds (up to 2e10: seconds,
#: which reach the year 2603), extended to microseconds and nanoseconds: the largest value of each unit.
EPOCH_UNITS = ((2e10, 1_000_000), (2e13, 1_000), (2e16, 1))
#: Text that is an epoch number: an integer, or a decimal or exponent form (`1739235379.683053`, `1.7e9`).
#: ASCII digits only (Python's `\d` takes any script's digits, DuckDB's casts do not).
INTEGER_TEXT = r"[+-]?[0-9]+"
NUMBER_TEXT = r"[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?"
#: The blanks trimmed around an epoch number, in SQL and in Python alike.
BLANKS = " \t\n\r"


def epoch_micros(text: str) -> str:
    """SQL: the text `text` (SQL) read as an epoch time, in microseconds since 1970 (BIGINT): seconds,
    milliseconds, microseconds or nanoseconds by magnitude (EPOCH_UNITS); NULL for other text. An integer is read
    exactly (nanoseconds truncated to the microsecond), a fraction scaled in double precision and rounded (half
    away from zero), which is the nearest microsecond or one off it."""
    blanks = " || ".join(f"chr({ord(c)})" for c in BLANKS)
    trimmed = f"trim({text}, {blanks})"
    whole = f"try_cast({trimmed} AS HUGEINT)"
    near = epoch_micros_near(f"try_cast({trimmed} AS DOUBLE)")
    exact = " ".join(f"WHEN abs({whole}) <= {bound:.0e} THEN {whole} * {scale}" for bound, scale in EPOCH_UNITS)
    return f"""try_cast(CASE
        WHEN regexp_full_match({trimmed}, {literal(INTEGER_TEXT)}) THEN CASE {exact} ELSE {whole} // 1000 END
        WHEN regexp_full_match({trimmed}, {literal(NUMBER_TEXT)}) THEN {near}
    END AS BIGINT)"""


def epoch_micros_near(number: str) -> str:
    """SQL: the DOUBLE `number` read as an epoch time (`epoch_micros`), to the nearest microsecond (a DOUBLE; NULL
    for NaN and infinities). Cheaper than `epoch_micros`, and as exact for times as logged (a double holds
    microseconds since 1970 exactly; nanoseconds to about a quarter of a microsecond)."""
    scaled = " ".join(f"WHEN abs({number}) <= {bound:.0e} THEN {number} * {scale}" for bound, scale in EPOCH_UNITS)
    return f"CASE WHEN isfinite({number}) THEN round(CASE {scaled} ELSE {number} / 1000 END) END"


def epoch_micros_of(value: object) -> int | None:
    """`epoch_micros` in Python, for the record model, to the same microsecond: a number, or text holding one, as
    microseconds since 1970; None for anything else (a boolean, an ISO timestamp)."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return None
    text = str(value).strip(BLANKS)
    if re.fullmatch(INTEGER_TEXT, text):
        whole = int(text)
        scale = next((scale for bound, scale in EPOCH_UNITS if abs(whole) <= bound), None)
        micros = whole * scale if scale else _truncated(whole, 1000)
    elif re.fullmatch(NUMBER_TEXT, text) and math.isfinite(number := float(text)):
        scale = next((scale for bound, scale in EPOCH_UNITS if abs(number) <= bound), None)
        micros = _rounded(number * scale if scale else number / 1000)
    else:
        return None
    return micros if -(2**63) <= micros < 2**63 else None


def _truncated(whole: int, divisor: int) -> int:
    """Integer division toward zero, as DuckDB's `//` divides (Python's floors)."""
    quotient = abs(whole) // divisor
    return quotient if whole >= 0 else -quotient


def _rounded(number: float) -> int:
    """The nearest integer, halves away from zero, as DuckDB's `round` (Python's rounds halves to even)."""
    whole = math.floor(abs(number))
    if abs(number) - whole >= 0.5:  # exact: the difference of two close doubles
        whole += 1
    return int(math.copysign(whole, number))
