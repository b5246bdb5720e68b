-- The ingest's normalization macros (temp: per connection), installed by schemas/normalize.py after the
-- reference tables of schemas/reference/ they read.
create or replace temp macro gl_slug(x) as
    nullif(trim(regexp_replace(lower(trim(x)), '[^a-z0-9]+', '-', 'g'), '-'), '');
create or replace temp macro gl_http_error_class(code) as
    case
        when code = 429 then 'rate_limit'
        when code in (408, 504, 524) then 'timeout'  -- 524: Cloudflare's origin timeout, as gateways relay it
        when code between 500 and 599 then 'server_error'
        when code between 400 and 499 then 'client_error'
    end;
-- an error that is a cancellation by the caller (Python's asyncio.CancelledError, gRPC CANCELLED), not a failure
create or replace temp macro gl_is_cancellation(error_code) as
    coalesce(
        regexp_extract(lower(trim(error_code)), '([a-z_]+)$') in ('cancellederror', 'cancelled', 'canceled'),
        false
    );
-- a provider name without its API-flavour suffix: 'openai.chat' (gen_ai.system of some SDKs) -> 'openai';
-- NULL for a router's composite name ('fallback:openai,anthropic' of Pydantic AI's FallbackModel), no company
create or replace temp macro gl_provider_name(x) as
    case when not regexp_matches(lower(trim(x)), '^fallback:') then regexp_replace(
        lower(trim(x)), '[._-](chat|responses|completions?|text|messages|embeddings?|generate_?content|converse)$', ''
    ) end;
-- the host of a URL or host[:port] ('https://api.openai.com/v1' -> 'api.openai.com'), and with its port
create or replace temp macro gl_host(x) as
    nullif(regexp_extract(lower(trim(x)), '^(?:[a-z][a-z0-9+.-]*://)?(?:[^@/]*@)?([^/:?#]+)', 1), '');
create or replace temp macro gl_host_port(x) as
    nullif(regexp_extract(lower(trim(x)), '^(?:[a-z][a-z0-9+.-]*://)?(?:[^@/]*@)?([^/?#]+)', 1), '');
-- the vendor prefix of a model id ('bedrock/anthropic.claude-3' -> 'bedrock'), NULL without one
create or replace temp macro gl_model_vendor(model) as
    nullif(regexp_extract(lower(trim(model)), '^([a-z0-9_.-]+)/', 1), '');
-- the lookup keys of a finish reason as logged: each element of a JSON list in a string, else the value;
-- lower case, enum class prefix dropped ('FinishReason.STOP'), every run of other characters an underscore;
-- placeholders for no reason left out
create or replace temp macro gl_finish_keys(x) as
    list_filter(
        list_transform(
            case
                when starts_with(ltrim(x), '[') then coalesce(try(from_json(trim(x), '["VARCHAR"]')), [x])
                else [x]
            end,
            lambda v: trim(regexp_replace(regexp_replace(lower(trim(v)), '^.*\.', ''), '[^a-z0-9]+', '_', 'g'), '_')
        ),
        -- a placeholder for no reason (Semantic Kernel's 'N/A', Python's str(None)) is none
        lambda k: k is not null and k not in ('', 'n_a', 'na', 'none', 'null', 'undefined', 'unknown')
    );
-- the normalized finish reason of a list of keys: tool_calls when any names a tool call, else the first's
create or replace temp macro gl_finish_reason(keys) as
    case
        when keys is null or len(keys) = 0 then null
        when list_has_any(keys, (select list(native) from ref_finish_reasons where finish_reason = 'tool_calls'))
            then 'tool_calls'
        else coalesce((select any_value(finish_reason) from ref_finish_reasons where native = keys[1]), 'other')
    end;
create or replace temp macro gl_error_class(status, http_status, error_code, mapped_code, hint) as
    case
        when status <> 'error' then 'none'
        -- the gateway's own refusals never count against a provider, whatever their HTTP status
        when hint = 'gateway' or mapped_code = 'gateway' then 'gateway'
        else coalesce(
            gl_http_error_class(http_status),
            mapped_code,
            gl_http_error_class(try_cast(error_code as integer)),
            case
                when regexp_matches(lower(error_code), 'time.?out|timed out|deadline') then 'timeout'
                when regexp_matches(lower(error_code), 'rate.?limit|too many requests|throttl') then 'rate_limit'
            end,
            case when hint in ('rate_limit', 'timeout', 'server_error', 'client_error') then hint end,
            'server_error'
        )
    end;
