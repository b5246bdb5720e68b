-- Macros every model may use. An incremental build sets the variables gl_from and gl_to to the days it
-- reads (the affected days plus one day of context on each side); outside such a build they are unset and
-- the macros span everything, so the same SQL serves a full rebuild, an incremental one and an analyst.
-- the SQL linter's DuckDB grammar gives a macro body no indent; here bodies are indented under `create`
-- noqa: disable=LT02
create or replace macro gl_context_from() as coalesce(cast(getvariable('gl_from') as date), date '0001-01-01');
create or replace macro gl_context_to() as coalesce(cast(getvariable('gl_to') as date), date '9999-12-31');
-- a ratio that is NULL, not an error, when the denominator is zero
create or replace macro gl_ratio(numerator, denominator) as
    case when denominator > 0 then numerator::double / denominator end;
-- the operations that generate text (the canonical record's `operation`): the generation metrics (tool-call
-- rate, reasoning share, provider variance, model mix) count only these; embeddings, images, audio, rerank and
-- moderation calls count in traffic, errors and bursts only
create or replace macro gl_is_generation(operation) as operation in ('chat', 'responses', 'text_completion');
