"""Benchmarks: the ingest (in process, as the CLI, per log format) and the SQL models against bare DuckDB.

    python -m devkit.bench [--rows 2000000] [--runs 3] [--workdir DIR] [--naive-rows 200000]
                           [--format-rows 500000 | --no-formats] [--no-cli]

One run simulates a canonical JSON-lines file of `--rows` rows over 30 days (plus, for the incremental
steps, 30 earlier days and one later day of the same rows per day), then measures on that same file:

1. `baseline`: DuckDB `read_json` with the canonical keys and types given explicitly, then
   `COPY ... (FORMAT parquet, COMPRESSION zstd, PARTITION_BY (date))`: no validation, no dedupe.
2. `ingest`: `pipelines.lib.ingest.ingest` of the file into an empty warehouse (validation, quarantine,
   dedupe, atomic day writes, ledger), with the time split by phase.
3. `naive`: what one writes without gatewaylens, on the first `--naive-rows` lines: per line, the input
   keys mapped onto the record (`user_id` replaced by its HMAC `user_hash`, the three lineage fields
   appended) by string surgery, `RequestRecord.model_validate_json`, then one Arrow table, then Parquet
   partitioned by day. No normalization (provider, error class), no dedupe, no quarantine file.
4. `full_build`: every seed and SQL model built from scratch over the ingested 30 days.
5. `incremental_{30,60}d`: one new day ingested, then the models built incrementally, on top of a 30-day and
   a 60-day warehouse (each run on a fresh copy); ingest and build are separate processes.
6. `report`: the static report (`dashboards.report`), rendered from the built database and written.
7. The CLI row (unless `--no-cli`), whole processes timed start to exit on the same file, alternated in each run:
   `cli_baseline_process` (the baseline's statement run by `python -c`), `cli_ingest` (the venv's
   `gatewaylens ingest FILE --warehouse EMPTY`, DAGSTER_HOME unset: an ephemeral instance) and
   `cli_ingest_dagster_home` (DAGSTER_HOME set to a temporary instance with the project's settings, created
   before the runs). No GATEWAYLENS_* variable is passed on but the hash key. Then, alternated in each run, a
   new user's first commands on the file's first 10 lines, each a whole process timed start to exit:
   `cli_small_ingest` (into an empty warehouse), `cli_small_build` (every model new), `cli_small_sql`,
   `cli_small_report`, and `cli_small_ingest_dagster_home` and `cli_small_build_dagster_home` in that instance.
8. The per-format table (unless `--no-formats`): `--format-rows` more simulated attempts over the same 30 days,
   written by the simulator's writers as canonical, OpenRouter, LiteLLM, OTel and provider-bodies JSON lines (one
   file each);
   per file, alternated in each run, `format_<name>_bare` (DuckDB `read_json(format='newline_delimited')` with
   the file's structure, detected beforehand over every line, given as `columns`; `select *`, nested formats
   left nested, no mapping; `COPY` to one zstd Parquet file) and `format_<name>_ingest`
   (`pipelines.lib.ingest.ingest` of the file into an empty warehouse, through its public entry point only).
   Rows there are input lines (an OpenRouter line is a request, an OTel line an export of many spans, a
   provider-bodies line one attempt).

Once per run, `profile` (not timed as a step) runs DuckDB's profiler over the ingest's transform statement on
the file's first batch and times its JSON parse done several ways (`step_profile`).

Every measured run is its own spawned process, so `ru_maxrss` of the child is the peak resident memory of
that step alone (it includes the interpreter and libraries: `rss_after_imports_mib`). Times are wall
clock around the step's work only, after imports, except in the CLI row, whose processes are timed whole
(and their peak is theirs: `processes`). The load average is recorded next to every run.

Results: a JSON file in `--results-dir` (default `benchmarks/results/`) and, unless `--markdown ''`, a
section of `BENCHMARKS.md` between markers per row count, replaced by a rerun at the same size. The targets'
verdicts are computed from the run; the memory growth from 2M to 10M rows compares this run with the result the
other size's section cites.

Modules: `runs` (the run: every step `--runs` times, each in its own process, and the result document),
`measurements` (the steps), `processes` (the CLI row's steps), `formats` (the per-format table's steps),
`transform_profile` (the profile of the ingest's transform), `markdown` (the section of BENCHMARKS.md and the
targets), `cli` (`python -m devkit.bench`). `commit_experiment` and
`profile_model` are one-off tools over a warehouse, not part of a run.
"""
