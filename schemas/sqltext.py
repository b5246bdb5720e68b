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
#: An integer's text (nanoseconds are read from it exactly: a double holds them to about 256 ns).
INTEGER_TEXT = r"[+-]?[0-9]+"


def epoch_micros(text: str) -> str:
    """SQL: the text `text` (SQL) read as an epoch time, in microseconds since 1970 (BIGINT): seconds,
    milliseconds, microseconds or nanoseconds by magnitude (EPOCH_UNITS); NULL for text that is no finite number.
    The number is DuckDB's DOUBLE cast of the text (blanks around it, `1e9`, `.5` taken; hex and `_` not) scaled
    and rounded (`epoch_micros_near`); an integer past EPOCH_UNITS (nanoseconds) is read exactly, truncated."""
    number = f"try_cast({text} AS DOUBLE)"
    trimmed = f"trim({text})"
    whole = f"abs({number}) > {EPOCH_UNITS[-1][0]:.0e} AND regexp_full_match({trimmed}, {literal(INTEGER_TEXT)})"
    return f"""try_cast(CASE
        WHEN contains({text}, '_') THEN NULL  -- `1_000`: DuckDB's cast and Python's float split such text apart
        WHEN {whole} THEN try_cast({trimmed} AS HUGEINT) // 1000
        ELSE try_cast({epoch_micros_near(number)} AS HUGEINT)  -- not DOUBLE: the integer branch stays exact
    END AS BIGINT)"""


def epoch_micros_near(number: str) -> str:
    """SQL: the DOUBLE `number` read as an epoch time (`epoch_micros`), scaled in double precision and rounded,
    halves away from zero (a DOUBLE; NULL for NaN and infinities): the nearest microsecond or one off it."""
    scaled = " ".join(f"WHEN abs({number}) <= {bound:.0e} THEN {number} * {scale}" for bound, scale in EPOCH_UNITS)
    return f"CASE WHEN isfinite({number}) THEN round(CASE {scaled} ELSE {number} / 1000 END) END"


def epoch_micros_of(value: object) -> int | None:
    """`epoch_micros` in Python, for the record model, to the same microsecond: a number, or text holding one, as
    microseconds since 1970; None for anything else (a boolean, an ISO timestamp). Python's `float` reads text as
    DuckDB's DOUBLE cast does, but for digits of other scripts, which DuckDB refuses."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return None
    text = str(value)
    try:
        number = float(text) if text.isascii() and "_" not in text else math.nan
    except ValueError:
        return None
    if not math.isfinite(number):
        return None
    scale = next((scale for bound, scale in EPOCH_UNITS if abs(number) <= bound), None)
    if scale is not None:
        micros = _rounded(number * scale)
    elif re.fullmatch(INTEGER_TEXT, trimmed := text.strip(" ")):
        micros = _truncated(int(trimmed), 1000)
    else:
        micros = _rounded(number / 1000)
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
