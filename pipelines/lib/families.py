"""Model families: served model id -> model_family, model_vendor (the lab), model_tier, open_weights, as DuckDB
macros and a table.

`install(con)` runs every `sql/macros/*.sql` file (today `model_key.sql`: `gl_model_key(model)` and its `gl_`
helpers), loads the user-editable rules `schemas/reference/model_families.csv` into the table `model_families`
(match_order INTEGER, pattern, model_family, model_vendor, model_tier VARCHAR, open_weights BOOLEAN, note VARCHAR)
and compiles those rules into
the macro `gl_model_rule(model_key)`: the `match_order` of the first rule (lowest match_order) whose `pattern`
(RE2) matches the whole key, NULL when none does. Re-run `install` after editing the CSV.

`gl_model_key(model)` canonicalizes an id (`us.anthropic.claude-3-5-sonnet-20241022-v2:0`,
`anthropic/claude-3.5-sonnet:beta` and `claude-3-5-sonnet@20241022` all key as `claude-3.5-sonnet`). Map each
distinct model once, then join the result to the facts:

    with models as (
        select distinct model from requests
    ),

    keyed as (
        select
            model,
            gl_model_key(model) as model_key,
        from models
    ),

    matched as (
        select
            model,
            gl_model_rule(model_key) as match_order,
        from keyed
    ),

    final as (
        select
            m.model,
            coalesce(f.model_family, 'Other') as model_family,
            coalesce(f.model_vendor, 'unknown') as model_vendor,
            coalesce(f.model_tier, 'unknown') as model_tier,
            f.open_weights,
        from matched as m
        left join model_families as f
            on m.match_order = f.match_order
    )

    select * from final

This gives the same rows as the direct form `left join lateral (select ... from model_families as r where
regexp_full_match(gl_model_key(m.model), r.pattern) order by r.match_order limit 1) as f on true` (the tests check
it), but the direct form compiles every pattern again for every model: about 1.5 ms per distinct model with the 46
rules of the time, against 1.6 s for 100,000 distinct ids with the macro (patterns are constants there). Compute
`gl_model_rule` in its own CTE as above: written inside the join condition it is evaluated per (model, rule) pair.
Its argument may be any expression: the macro binds it once (`load`), where a plain `case` copied it into every
rule's `when` and DuckDB's optimizer spent about 0.25 s on each statement reading the staging view, whatever its
rows (0.29 s of the 0.30 s that `int_requests_rolled_up` took from 10 rows).

Vocabulary: `model_family` is one of FAMILIES; `model_tier` is `frontier` (the vendor's flagship lines) or
`small` (its fast/cheap lines: Haiku, mini/nano, Flash/Flash-Lite, Llama 4 Scout, air/flash/turbo lines, and
open-weight models of <= 32B total parameters) for every mapped family. Family `Other` always has tier
`unknown`: either a known model outside the families (Gemma, Nova, embeddings ...; its vendor is known) or an
id no rule matches (the join gives NULL; the coalesce above makes it Other / unknown / unknown). An asset
check listing `model_family = 'Other'` shows what to add to the CSV. `model_vendor` is the lab that trains
the model. `open_weights` is true when the lab publishes the model's weights for download (whatever the
licence), false when it serves the model only through APIs, NULL when unknown: a rule covering both kinds
that cannot be split, or an id no rule matches (no coalesce: unknown stays NULL). See schemas/reference/README.md.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import duckdb

from pipelines.lib.sqlmodels.project import SQL_DIR
from schemas.normalize import REFERENCE_DIR
from schemas.sqltext import literal

MACRO_DIR = SQL_DIR / "macros"
SEED = REFERENCE_DIR / "model_families.csv"

FAMILIES = (
    "Claude",
    "GPT",
    "Gemini",
    "Llama",
    "Qwen",
    "DeepSeek",
    "Mistral",
    "MiniMax",
    "Kimi",
    "GLM",
    "Grok",
    "Other",
)
TIERS = ("frontier", "small", "unknown")
#: the seed's columns, in file order, with their types in the table `model_families`
SEED_COLUMNS = {
    "match_order": "INTEGER",
    "pattern": "VARCHAR",
    "model_family": "VARCHAR",
    "model_vendor": "VARCHAR",
    "model_tier": "VARCHAR",
    "open_weights": "BOOLEAN",
    "note": "VARCHAR",
}

#: The lookup of the module docstring over a bound list of model ids (one row per distinct id).
LOOKUP_SQL = """
with keyed as (
    select
        model,
        gl_model_key(model) as model_key,
    from (select distinct unnest(?::varchar[]) as model)
),

matched as (
    select
        model,
        model_key,
        gl_model_rule(model_key) as match_order,
    from keyed
)

select
    m.model,
    m.model_key,
    coalesce(f.model_family, 'Other') as model_family,
    coalesce(f.model_vendor, 'unknown') as model_vendor,
    coalesce(f.model_tier, 'unknown') as model_tier,
    f.open_weights,
from matched as m
left join model_families as f
    on m.match_order = f.match_order
"""


def install(con: duckdb.DuckDBPyConnection, seed: Path = SEED, macro_dir: Path = MACRO_DIR) -> None:
    """Create the `gl_` macros of `macro_dir`, then `load` the rules of `seed`."""
    for path in sorted(macro_dir.glob("*.sql")):
        con.execute(path.read_text())
    load(con, seed)


def load(con: duckdb.DuckDBPyConnection, seed: Path = SEED) -> None:
    """(Re)load `seed` into the table `model_families` and compile its rules into `gl_model_rule(model_key)`.

    Refuses (naming the row) a rule without order or pattern, a repeated order, an invalid regex or an
    `open_weights` other than true, false or empty, so a bad edit fails the seed, not a model later.
    """
    # open_weights is read as text, checked, then cast: a plain cast would take 't', '1' or 'yes' and name no row
    con.execute(
        "create or replace table model_families as "
        "select * from read_csv(?, header = true, auto_detect = false, columns = ?) order by match_order",
        [str(seed), {**SEED_COLUMNS, "open_weights": "VARCHAR"}],
    )
    bad = con.execute(
        "select match_order, open_weights from model_families where open_weights not in ('true', 'false') limit 1"
    ).fetchone()
    if bad:
        raise ValueError(f"{seed}: match_order {bad[0]}: open_weights must be true, false or empty, not {bad[1]!r}")
    con.execute("alter table model_families alter open_weights type boolean")
    rules = con.execute("select match_order, pattern from model_families order by match_order").fetchall()
    if any(order is None or not pattern for order, pattern in rules):
        raise ValueError(f"{seed}: every rule needs a match_order and a pattern")
    orders = [order for order, _ in rules]
    if len(orders) != len(set(orders)):
        raise ValueError(f"{seed}: match_order values must be unique")
    for order, pattern in rules:  # a bad regex fails here, naming its row, not later inside a model
        try:
            con.execute("select regexp_full_match('', ?)", [pattern])
        except duckdb.Error as exc:
            raise ValueError(f"{seed}: match_order {order}: invalid pattern {pattern!r}: {exc}") from exc
    # The rules test `key`, a lambda's parameter bound to the argument once: a macro's argument is copied where
    # its parameter stands, and an expression (`gl_model_key(model)`) copied into every `when` cost DuckDB's
    # optimizer about 0.25 s per statement (0.107 s against 0.011 s to plan 100k ids; the same rows).
    whens = "".join(f"\n        when regexp_full_match(key, {literal(p)}) then {int(o)}" for o, p in rules)
    con.execute(
        "create or replace macro gl_model_rule(model_key) as\n"
        f"    list_transform([model_key], lambda key: case{whens}\n    end)[1]"
    )
    con.execute(
        "comment on table model_families is 'Ordered regex rules over gl_model_key(model): first match by "
        "match_order gives model_family, model_vendor (the lab), model_tier, open_weights (NULL = unknown). "
        "Source: schemas/reference/model_families.csv'"
    )


def lookup(con: duckdb.DuckDBPyConnection, models: Sequence[str | None]) -> list[tuple]:
    """(model, model_key, model_family, model_vendor, model_tier, open_weights) for each distinct id, after
    `install(con)`."""
    return con.execute(LOOKUP_SQL, [list(models)]).fetchall()
