-- gl_model_key(model): canonical key of a served model id, the string the patterns in
-- schemas/reference/model_families.csv are matched against (regexp_full_match). Pure string functions, vectorized;
-- NULL or blank ids give NULL. Steps, in order:
--   1. gl_model_key_path: lowercase, trim, blanks/underscores -> '-', other characters outside
--      [a-z0-9.:/@~-] (quotes, brackets, non-ASCII) dropped; OpenAI fine-tune ids
--      (`ft:gpt-4o-mini-2024-07-18:org::id`, Azure `...-2024-07-18.ft-abc`) -> their base model; keep the last
--      path segment (drops `openai/`, `models/`, `publishers/x/models/`, `accounts/fireworks/models/`,
--      LiteLLM `bedrock/`, `vertex_ai/`, `azure/`, `together_ai/x/`, Bedrock ARN prefixes); drop `@version`
--      (Vertex `claude-sonnet-4@20250514`) and a leading OpenRouter `~`.
--   2. gl_model_key_bedrock: Bedrock ids: cross-region prefix (`us.`, `eu.`, `apac.`, `global.`, ...) and
--      provider prefix (`anthropic.`, `meta.`, `amazon.`, ...; `deepseek.r1` -> `deepseek-r1`); version
--      suffixes `-v1:0`, `-1:0`, `:0`.
--   3. gl_model_key_suffix: OpenRouter variants (`:free`, `:beta`, `:thinking`, `:online`, `:nitro`, ...),
--      other `:` tags become `-` (Ollama `llama3.1:8b` -> `llama3.1-8b`, the size is kept); trailing release
--      markers are dropped: `-latest`, `-preview`, `-exp`, dates `-20241022`, `-2024-08-06`, `-0613`,
--      `-2507`, `-05-06`, `-09-2025`, Gemini revisions `-001`.
--   4. gl_model_key_version: versions written with dashes or Fireworks `p` become dotted
--      (`claude-3-5-sonnet` -> `claude-3.5-sonnet`, `llama3-1-70b` -> `llama3.1-70b`, `llama-v3p1` ->
--      `llama-v3.1`; `llama-3-8b` and `gpt-4-32k` stay), Azure `gpt-35-turbo` -> `gpt-3.5-turbo`,
--      `meta-llama-...` -> `llama-...`.
-- The key keeps everything that tells tier apart: line names (mini, nano, haiku, flash, lite, scout, air),
-- sizes (8b, 30b-a3b) and variants (-instruct, -chat, -thinking, -codex, -vision).
-- the SQL linter's DuckDB grammar gives a macro body no indent; here bodies are indented under `create`
-- noqa: disable=LT02
create or replace macro gl_model_key_path(model) as
    regexp_replace(
        regexp_replace(
            regexp_replace(
                regexp_replace(
                    regexp_replace(
                        regexp_replace(lower(trim(model)), '[\s_]+', '-', 'g'),
                        '[^a-z0-9.:/@~-]+', '', 'g'
                    ),
                    '^ft:([^:]+):.*$', '\1'
                ),
                '\.ft-[0-9a-z-]+$', ''
            ),
            '^.*/', ''
        ),
        '^~|@.*$', '', 'g'
    );

create or replace macro gl_model_key_bedrock(model) as
    regexp_replace(
        regexp_replace(
            regexp_replace(
                regexp_replace(model, '^(us|us-gov|eu|apac|ap|au|ca|jp|sa|global)\.([a-z0-9-]+\.)', '\2'),
                '^deepseek\.(deepseek-)?', 'deepseek-'
            ),
            '^(ai21|amazon|anthropic|cohere|google|meta|minimax|mistral|moonshot|moonshotai|nvidia|openai|qwen|'
            || 'stability|twelvelabs|writer|zai)\.',
            ''
        ),
        '(-v?\d+)?:\d+$', ''
    );

create or replace macro gl_model_key_suffix(model) as
    regexp_replace(
        replace(
            regexp_replace(model, ':(free|beta|thinking|online|nitro|floor|extended|exacto|latest)$', ''),
            ':', '-'
        ),
        '(-(latest|preview|exp|experimental|\d{4}-\d{2}-\d{2}|\d{8}|\d{4}|0\d\d|\d\d-\d\d|\d\d-\d{4}))+$', ''
    );

create or replace macro gl_model_key_version(model) as
    regexp_replace(
        regexp_replace(
            regexp_replace(
                regexp_replace(model, '(\d)p(\d)', '\1.\2', 'g'),
                '(\d)-(\d)(-|$)', '\1.\2\3', 'g'
            ),
            '(^|-)gpt-?35(-|$)', '\1gpt-3.5\2'
        ),
        '^meta-llama', 'llama'
    );

create or replace macro gl_model_key(model) as
    nullif(gl_model_key_version(gl_model_key_suffix(gl_model_key_bedrock(gl_model_key_path(model)))), '');
