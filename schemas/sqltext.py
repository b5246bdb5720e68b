"""SQL text for the few places DuckDB takes no bound parameter (a COPY target, a macro body, a `from_json`
structure, a list of constants compiled into a model): one way to write a literal."""

from __future__ import annotations


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
