"""Model families: served model id -> model_family, model_vendor, model_tier, as DuckDB macros and a table.

`install(con)` runs every `sql/macros/*.sql` file (today `model_key.sql`: `gl_model_key(model)` and its `gl_`
helpers) and loads the user-editable rules `sql/seeds/model_families.csv` into the table `ref_model_families`
(match_order INTEGER, pattern, model_family, model_vendor, model_tier, note VARCHAR).

Matching: `gl_model_key(model)` canonicalizes an id (`us.anthropic.claude-3-5-sonnet-20241022-v2:0`,
`anthropic/claude-3.5-sonnet:beta` and `claude-3-5-sonnet@20241022` all key as `claude-3.5-sonnet`); the rule
with the lowest `match_order` whose `pattern` (RE2) matches the whole key wins. Do it once per distinct model:

    with models as (
        select distinct model from requests
    ),

    final as (
        select
            m.model,
            coalesce(f.model_family, 'Other') as model_family,
            coalesce(f.model_vendor, 'unknown') as model_vendor,
            coalesce(f.model_tier, 'unknown') as model_tier,
        from models as m
        left join lateral (
            select r.model_family, r.model_vendor, r.model_tier
            from ref_model_families as r
            where regexp_full_match(gl_model_key(m.model), r.pattern)
            order by r.match_order
            limit 1
        ) as f on true
    )

    select * from final

Vocabulary: `model_family` is one of FAMILIES; `model_tier` is `frontier` (the vendor's flagship lines) or
`small` (its fast/cheap lines: Haiku, mini/nano, Flash/Flash-Lite, Llama 4 Scout, air/flash/turbo lines, and
open-weight models of <= 32B total parameters) for every mapped family. Family `Other` always has tier
`unknown`: either a known model outside the families (Gemma, Nova, embeddings ...; its vendor is known) or an
id no rule matches (the join gives NULL; the coalesce above makes it Other / unknown / unknown). An asset
check listing `model_family = 'Other'` shows what to add to the CSV.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import duckdb

SQL_DIR = Path(__file__).resolve().parents[2] / "sql"
MACRO_DIR = SQL_DIR / "macros"
SEED = SQL_DIR / "seeds" / "model_families.csv"

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
SEED_COLUMNS = {
    "match_order": "INTEGER",
    "pattern": "VARCHAR",
    "model_family": "VARCHAR",
    "model_vendor": "VARCHAR",
    "model_tier": "VARCHAR",
    "note": "VARCHAR",
}

#: The lookup of the module docstring over a bound list of model ids (one row per distinct id).
LOOKUP_SQL = """
select
    m.model,
    gl_model_key(m.model) as model_key,
    coalesce(f.model_family, 'Other') as model_family,
    coalesce(f.model_vendor, 'unknown') as model_vendor,
    coalesce(f.model_tier, 'unknown') as model_tier,
from (select distinct unnest(?::varchar[]) as model) as m
left join lateral (
    select r.model_family, r.model_vendor, r.model_tier
    from ref_model_families as r
    where regexp_full_match(gl_model_key(m.model), r.pattern)
    order by r.match_order
    limit 1
) as f on true
"""


def install(con: duckdb.DuckDBPyConnection, seed: Path = SEED, macro_dir: Path = MACRO_DIR) -> None:
    """Create the `gl_` macros of `macro_dir` and (re)load `seed` into the table `ref_model_families`."""
    for path in sorted(macro_dir.glob("*.sql")):
        con.execute(path.read_text())
    con.execute(
        "create or replace table ref_model_families as "
        "select * from read_csv(?, header = true, auto_detect = false, columns = ?) order by match_order",
        [str(seed), SEED_COLUMNS],
    )
    con.execute(
        "comment on table ref_model_families is 'Ordered regex rules over gl_model_key(model): first match by "
        "match_order gives model_family, model_vendor, model_tier. Source: sql/seeds/model_families.csv'"
    )


def lookup(con: duckdb.DuckDBPyConnection, models: Sequence[str | None]) -> list[tuple]:
    """(model, model_key, model_family, model_vendor, model_tier) for each distinct id, after `install(con)`."""
    return con.execute(LOOKUP_SQL, [list(models)]).fetchall()
