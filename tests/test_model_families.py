"""Model families: gl_model_key over real served model ids in every spelling gateways log, the rules in
schemas/reference/model_families.csv (well formed, each one reachable, open or closed weights) and the lookup of
pipelines.lib.families.

(Long on purpose: most of it is data, the real served ids in every spelling and what each must map to.)"""

from __future__ import annotations

import re

import duckdb
import pytest

from pipelines.lib import families

C, F, S, U = "Claude", "frontier", "small", "unknown"

# (served model id, model_family, model_vendor, model_tier, expected key or None when not asserted)
# fmt: off
CASES: list[tuple[str, str, str, str, str | None]] = [
    # Anthropic API, OpenRouter, LiteLLM, Bedrock (plain, cross-region, ARN), Vertex
    ("claude-3-haiku-20240307", C, "Anthropic", S, "claude-3-haiku"),
    ("claude-3-5-haiku-20241022", C, "Anthropic", S, "claude-3.5-haiku"),
    ("claude-haiku-4-5-20251001", C, "Anthropic", S, "claude-haiku-4.5"),
    ("anthropic/claude-haiku-4.5", C, "Anthropic", S, "claude-haiku-4.5"),
    ("claude-3-opus-20240229", C, "Anthropic", F, "claude-3-opus"),
    ("claude-3-5-sonnet-20240620", C, "Anthropic", F, "claude-3.5-sonnet"),
    ("claude-3-5-sonnet-latest", C, "Anthropic", F, "claude-3.5-sonnet"),
    ("anthropic/claude-3.5-sonnet:beta", C, "Anthropic", F, "claude-3.5-sonnet"),
    ("anthropic/claude-3.7-sonnet:thinking", C, "Anthropic", F, "claude-3.7-sonnet"),
    ("claude-sonnet-4-20250514", C, "Anthropic", F, "claude-sonnet-4"),
    ("anthropic/claude-sonnet-4.5", C, "Anthropic", F, "claude-sonnet-4.5"),
    ("claude-sonnet-4-5-20250929", C, "Anthropic", F, "claude-sonnet-4.5"),
    ("claude-opus-4-1-20250805", C, "Anthropic", F, "claude-opus-4.1"),
    ("anthropic/claude-opus-4.5", C, "Anthropic", F, "claude-opus-4.5"),
    ("claude-2.1", C, "Anthropic", F, "claude-2.1"),
    ("anthropic.claude-3-5-sonnet-20240620-v1:0", C, "Anthropic", F, "claude-3.5-sonnet"),
    ("us.anthropic.claude-3-5-sonnet-20241022-v2:0", C, "Anthropic", F, "claude-3.5-sonnet"),
    ("eu.anthropic.claude-3-7-sonnet-20250219-v1:0", C, "Anthropic", F, "claude-3.7-sonnet"),
    ("apac.anthropic.claude-3-haiku-20240307-v1:0", C, "Anthropic", S, "claude-3-haiku"),
    ("global.anthropic.claude-sonnet-4-5-20250929-v1:0", C, "Anthropic", F, "claude-sonnet-4.5"),
    ("us.anthropic.claude-haiku-4-5-20251001-v1:0", C, "Anthropic", S, "claude-haiku-4.5"),
    ("anthropic.claude-instant-v1", C, "Anthropic", S, None),
    ("anthropic.claude-v2:1", C, "Anthropic", F, None),
    ("arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.anthropic.claude-3-7-sonnet-20250219-v1:0",
     C, "Anthropic", F, "claude-3.7-sonnet"),
    ("bedrock/us.anthropic.claude-opus-4-1-20250805-v1:0", C, "Anthropic", F, "claude-opus-4.1"),
    ("claude-sonnet-4@20250514", C, "Anthropic", F, "claude-sonnet-4"),
    ("claude-3-5-sonnet-v2@20241022", C, "Anthropic", F, "claude-3.5-sonnet-v2"),
    ("vertex_ai/claude-3-5-haiku@20241022", C, "Anthropic", S, "claude-3.5-haiku"),
    ("publishers/anthropic/models/claude-opus-4-1@20250805", C, "Anthropic", F, "claude-opus-4.1"),
    # OpenAI API, OpenRouter, Azure, fine-tunes, gpt-oss
    ("gpt-3.5-turbo-0125", "GPT", "OpenAI", S, "gpt-3.5-turbo"),
    ("gpt-35-turbo", "GPT", "OpenAI", S, "gpt-3.5-turbo"),
    ("azure/gpt-35-turbo-16k", "GPT", "OpenAI", S, "gpt-3.5-turbo-16k"),
    ("gpt-4-0613", "GPT", "OpenAI", F, "gpt-4"),
    ("gpt-4-32k-0314", "GPT", "OpenAI", F, "gpt-4-32k"),
    ("gpt-4-1106-preview", "GPT", "OpenAI", F, "gpt-4"),
    ("gpt-4-turbo-2024-04-09", "GPT", "OpenAI", F, "gpt-4-turbo"),
    ("gpt-4o-2024-08-06", "GPT", "OpenAI", F, "gpt-4o"),
    ("openai/gpt-4o", "GPT", "OpenAI", F, "gpt-4o"),
    ("chatgpt-4o-latest", "GPT", "OpenAI", F, "chatgpt-4o"),
    ("gpt-4o-mini-2024-07-18", "GPT", "OpenAI", S, "gpt-4o-mini"),
    ("openai/gpt-4o-mini", "GPT", "OpenAI", S, "gpt-4o-mini"),
    ("azure/gpt-4o-mini", "GPT", "OpenAI", S, "gpt-4o-mini"),
    ("gpt-4o-deploy", "GPT", "OpenAI", F, None),
    ("gpt4o-mini-prod", "GPT", "OpenAI", S, None),
    ("gpt-4o-realtime-preview-2024-12-17", "GPT", "OpenAI", F, "gpt-4o-realtime"),
    ("gpt-4.1-2025-04-14", "GPT", "OpenAI", F, "gpt-4.1"),
    ("gpt-4.1-mini", "GPT", "OpenAI", S, "gpt-4.1-mini"),
    ("openai/gpt-4.1-nano", "GPT", "OpenAI", S, "gpt-4.1-nano"),
    ("gpt-4.5-preview", "GPT", "OpenAI", F, "gpt-4.5"),
    ("gpt-5", "GPT", "OpenAI", F, "gpt-5"),
    ("gpt-5-2025-08-07", "GPT", "OpenAI", F, "gpt-5"),
    ("gpt-5-mini-2025-08-07", "GPT", "OpenAI", S, "gpt-5-mini"),
    ("openai/gpt-5-nano", "GPT", "OpenAI", S, "gpt-5-nano"),
    ("gpt-5-codex", "GPT", "OpenAI", F, "gpt-5-codex"),
    ("gpt-5.1-codex-mini", "GPT", "OpenAI", S, "gpt-5.1-codex-mini"),
    ("codex-mini-latest", "GPT", "OpenAI", S, "codex-mini"),
    ("o1-preview-2024-09-12", "GPT", "OpenAI", F, "o1"),
    ("o1-mini", "GPT", "OpenAI", S, "o1-mini"),
    ("o1-pro", "GPT", "OpenAI", F, "o1-pro"),
    ("openai/o3", "GPT", "OpenAI", F, "o3"),
    ("o3-2025-04-16", "GPT", "OpenAI", F, "o3"),
    ("o3-mini-high", "GPT", "OpenAI", S, "o3-mini-high"),
    ("openai/o4-mini", "GPT", "OpenAI", S, "o4-mini"),
    ("ft:gpt-4o-mini-2024-07-18:acme::9abcDEF1", "GPT", "OpenAI", S, "gpt-4o-mini"),
    ("openai/gpt-oss-120b", "GPT", "OpenAI", F, "gpt-oss-120b"),
    ("openai/gpt-oss-20b:free", "GPT", "OpenAI", S, "gpt-oss-20b"),
    ("openai.gpt-oss-120b-1:0", "GPT", "OpenAI", F, "gpt-oss-120b"),
    ("openai.gpt-oss-safeguard-20b", "GPT", "OpenAI", S, "gpt-oss-safeguard-20b"),
    ("gpt-oss:20b", "GPT", "OpenAI", S, "gpt-oss-20b"),
    # Google: Gemini API (models/), Vertex (publishers/...), OpenRouter
    ("gemini-pro", "Gemini", "Google", F, "gemini-pro"),
    ("models/gemini-1.5-pro-002", "Gemini", "Google", F, "gemini-1.5-pro"),
    ("gemini-1.5-flash-001", "Gemini", "Google", S, "gemini-1.5-flash"),
    ("models/gemini-1.5-flash-8b", "Gemini", "Google", S, "gemini-1.5-flash-8b"),
    ("google/gemini-flash-1.5", "Gemini", "Google", S, "gemini-flash-1.5"),
    ("google/gemini-2.0-flash-exp:free", "Gemini", "Google", S, "gemini-2.0-flash"),
    ("gemini-2.0-flash-thinking-exp-01-21", "Gemini", "Google", S, "gemini-2.0-flash-thinking"),
    ("gemini-2.0-flash-lite-001", "Gemini", "Google", S, "gemini-2.0-flash-lite"),
    ("gemini-exp-1206", "Gemini", "Google", F, "gemini"),
    ("google/gemini-2.5-pro", "Gemini", "Google", F, "gemini-2.5-pro"),
    ("gemini-2.5-pro-preview-05-06", "Gemini", "Google", F, "gemini-2.5-pro"),
    ("vertex_ai/gemini-2.5-flash", "Gemini", "Google", S, "gemini-2.5-flash"),
    ("gemini-2.5-flash-preview-09-2025", "Gemini", "Google", S, "gemini-2.5-flash"),
    ("gemini-2.5-flash-lite-preview-06-17", "Gemini", "Google", S, "gemini-2.5-flash-lite"),
    ("gemini-flash-latest", "Gemini", "Google", S, "gemini-flash"),
    ("projects/acme/locations/us-central1/publishers/google/models/gemini-2.0-flash-001",
     "Gemini", "Google", S, "gemini-2.0-flash"),
    ("gemini-3-pro-preview", "Gemini", "Google", F, "gemini-3-pro"),
    ("google/gemini-2.5-flash-image-preview", "Gemini", "Google", S, "gemini-2.5-flash-image"),
    # Meta Llama: OpenRouter, Together, Fireworks, Groq, Bedrock, Vertex MaaS, Ollama, Cerebras
    ("meta-llama/llama-3.1-70b-instruct", "Llama", "Meta", F, "llama-3.1-70b-instruct"),
    ("meta-llama/llama-3.1-8b-instruct:free", "Llama", "Meta", S, "llama-3.1-8b-instruct"),
    ("meta-llama/llama-3.3-70b-instruct", "Llama", "Meta", F, "llama-3.3-70b-instruct"),
    ("meta-llama/Meta-Llama-3.1-405B-Instruct-Turbo", "Llama", "Meta", F, "llama-3.1-405b-instruct-turbo"),
    ("together_ai/meta-llama/Meta-Llama-3.1-8B-Instruct-Turbo", "Llama", "Meta", S, "llama-3.1-8b-instruct-turbo"),
    ("accounts/fireworks/models/llama-v3p1-8b-instruct", "Llama", "Meta", S, "llama-v3.1-8b-instruct"),
    ("accounts/fireworks/models/llama-v3p3-70b-instruct", "Llama", "Meta", F, "llama-v3.3-70b-instruct"),
    ("llama-3.1-8b-instant", "Llama", "Meta", S, "llama-3.1-8b-instant"),
    ("llama-3.3-70b-versatile", "Llama", "Meta", F, "llama-3.3-70b-versatile"),
    ("llama3-70b-8192", "Llama", "Meta", F, "llama3-70b"),
    ("meta.llama3-1-70b-instruct-v1:0", "Llama", "Meta", F, "llama3.1-70b-instruct"),
    ("us.meta.llama3-2-11b-instruct-v1:0", "Llama", "Meta", S, "llama3.2-11b-instruct"),
    ("meta.llama3-2-1b-instruct-v1:0", "Llama", "Meta", S, "llama3.2-1b-instruct"),
    ("us.meta.llama4-scout-17b-instruct-v1:0", "Llama", "Meta", S, "llama4-scout-17b-instruct"),
    ("us.meta.llama4-maverick-17b-instruct-v1:0", "Llama", "Meta", F, "llama4-maverick-17b-instruct"),
    ("meta-llama/llama-4-scout", "Llama", "Meta", S, "llama-4-scout"),
    ("meta-llama/Llama-4-Maverick-17B-128E-Instruct-FP8", "Llama", "Meta", F, None),
    ("meta/llama-3.1-405b-instruct-maas", "Llama", "Meta", F, "llama-3.1-405b-instruct-maas"),
    ("llama3.1:8b", "Llama", "Meta", S, "llama3.1-8b"),
    ("llama3.1-8b", "Llama", "Meta", S, "llama3.1-8b"),
    ("meta-llama/llama-3.2-90b-vision-instruct", "Llama", "Meta", F, None),
    ("meta-llama/llama-guard-3-8b", "Llama", "Meta", S, "llama-guard-3-8b"),
    ("nvidia/llama-3.1-nemotron-70b-instruct", "Llama", "Meta", F, None),
    # Qwen
    ("qwen/qwen3-coder", "Qwen", "Alibaba", F, "qwen3-coder"),
    ("qwen/qwen3-coder:free", "Qwen", "Alibaba", F, "qwen3-coder"),
    ("Qwen/Qwen3-Coder-480B-A35B-Instruct", "Qwen", "Alibaba", F, "qwen3-coder-480b-a35b-instruct"),
    ("qwen/qwen3-coder-30b-a3b-instruct", "Qwen", "Alibaba", S, None),
    ("Qwen/Qwen3-235B-A22B-Instruct-2507", "Qwen", "Alibaba", F, "qwen3-235b-a22b-instruct"),
    ("qwen/qwen3-30b-a3b", "Qwen", "Alibaba", S, "qwen3-30b-a3b"),
    ("qwen/qwen3-32b", "Qwen", "Alibaba", S, None),
    ("qwen.qwen3-32b-v1:0", "Qwen", "Alibaba", S, "qwen3-32b"),
    ("qwen3:8b", "Qwen", "Alibaba", S, "qwen3-8b"),
    ("qwen/qwen-2.5-72b-instruct", "Qwen", "Alibaba", F, None),
    ("Qwen/Qwen2.5-72B-Instruct-Turbo", "Qwen", "Alibaba", F, None),
    ("Qwen/Qwen2.5-7B-Instruct-Turbo", "Qwen", "Alibaba", S, None),
    ("accounts/fireworks/models/qwen2p5-coder-32b-instruct", "Qwen", "Alibaba", S, "qwen2.5-coder-32b-instruct"),
    ("qwen/qwq-32b", "Qwen", "Alibaba", S, "qwq-32b"),
    ("qwen-max", "Qwen", "Alibaba", F, "qwen-max"),
    ("qwen3-max", "Qwen", "Alibaba", F, "qwen3-max"),
    ("qwen-plus-latest", "Qwen", "Alibaba", F, "qwen-plus"),
    ("qwen-turbo", "Qwen", "Alibaba", S, "qwen-turbo"),
    ("qwen-flash", "Qwen", "Alibaba", S, "qwen-flash"),
    ("qwen/qwen3-next-80b-a3b-instruct", "Qwen", "Alibaba", F, None),
    # DeepSeek
    ("deepseek-chat", "DeepSeek", "DeepSeek", F, "deepseek-chat"),
    ("deepseek-reasoner", "DeepSeek", "DeepSeek", F, "deepseek-reasoner"),
    ("deepseek/deepseek-r1", "DeepSeek", "DeepSeek", F, "deepseek-r1"),
    ("deepseek/deepseek-r1-0528:free", "DeepSeek", "DeepSeek", F, "deepseek-r1"),
    ("deepseek/deepseek-chat-v3-0324", "DeepSeek", "DeepSeek", F, "deepseek-chat-v3"),
    ("deepseek-ai/DeepSeek-V3", "DeepSeek", "DeepSeek", F, "deepseek-v3"),
    ("accounts/fireworks/models/deepseek-v3p1", "DeepSeek", "DeepSeek", F, "deepseek-v3.1"),
    ("us.deepseek.r1-v1:0", "DeepSeek", "DeepSeek", F, "deepseek-r1"),
    ("deepseek.v3.2", "DeepSeek", "DeepSeek", F, "deepseek-v3.2"),
    ("deepseek-r1-distill-llama-70b", "DeepSeek", "DeepSeek", F, "deepseek-r1-distill-llama-70b"),
    ("deepseek-ai/DeepSeek-R1-Distill-Qwen-32B", "DeepSeek", "DeepSeek", S, None),
    ("deepseek-r1:1.5b", "DeepSeek", "DeepSeek", S, "deepseek-r1-1.5b"),
    ("deepseek-ai/deepseek-coder-v2-lite-instruct", "DeepSeek", "DeepSeek", S, None),
    # Mistral
    ("mistral-large-latest", "Mistral", "Mistral", F, "mistral-large"),
    ("mistral-large-2411", "Mistral", "Mistral", F, "mistral-large"),
    ("mistral.mistral-large-2402-v1:0", "Mistral", "Mistral", F, "mistral-large"),
    ("mistral.mistral-large-3-675b-instruct", "Mistral", "Mistral", F, None),
    ("mistralai/mistral-medium-3.1", "Mistral", "Mistral", F, "mistral-medium-3.1"),
    ("mistral-small-2409", "Mistral", "Mistral", S, "mistral-small"),
    ("mistralai/mistral-small", "Mistral", "Mistral", S, "mistral-small"),
    ("mistralai/mistral-small-3.2-24b-instruct", "Mistral", "Mistral", S, None),
    ("open-mistral-nemo", "Mistral", "Mistral", S, "open-mistral-nemo"),
    ("ministral-8b-2410", "Mistral", "Mistral", S, "ministral-8b"),
    ("codestral-2501", "Mistral", "Mistral", S, "codestral"),
    ("mistralai/Mistral-7B-Instruct-v0.3", "Mistral", "Mistral", S, None),
    ("mistralai/mixtral-8x7b-instruct", "Mistral", "Mistral", S, None),
    ("mistral.mixtral-8x7b-instruct-v0:1", "Mistral", "Mistral", S, None),
    ("open-mixtral-8x22b", "Mistral", "Mistral", F, None),
    ("pixtral-large-2411", "Mistral", "Mistral", F, "pixtral-large"),
    ("mistralai/devstral-small-2505", "Mistral", "Mistral", S, "devstral-small"),
    ("mistral.devstral-2-123b", "Mistral", "Mistral", F, None),
    ("magistral-medium-2506", "Mistral", "Mistral", F, "magistral-medium"),
    # MiniMax, Kimi, GLM, Grok
    ("minimax/minimax-m2", "MiniMax", "MiniMax", F, "minimax-m2"),
    ("MiniMax-M1", "MiniMax", "MiniMax", F, "minimax-m1"),
    ("minimax.minimax-m2.1", "MiniMax", "MiniMax", F, "minimax-m2.1"),
    ("minimax/minimax-01", "MiniMax", "MiniMax", F, None),
    ("abab6.5s-chat", "MiniMax", "MiniMax", F, None),
    ("moonshotai/kimi-k2", "Kimi", "Moonshot", F, "kimi-k2"),
    ("moonshotai/Kimi-K2-Instruct-0905", "Kimi", "Moonshot", F, "kimi-k2-instruct"),
    ("kimi-k2-0711-preview", "Kimi", "Moonshot", F, "kimi-k2"),
    ("moonshot.kimi-k2-thinking", "Kimi", "Moonshot", F, "kimi-k2-thinking"),
    ("moonshot-v1-128k", "Kimi", "Moonshot", F, None),
    ("moonshotai/kimi-vl-a3b-thinking", "Kimi", "Moonshot", S, None),
    ("z-ai/glm-4.6", "GLM", "Zhipu", F, "glm-4.6"),
    ("zai-org/GLM-4.5", "GLM", "Zhipu", F, "glm-4.5"),
    ("z-ai/glm-4.5-air:free", "GLM", "Zhipu", S, "glm-4.5-air"),
    ("zai-org/GLM-4.5-Air-FP8", "GLM", "Zhipu", S, None),
    ("glm-4-flash", "GLM", "Zhipu", S, "glm-4-flash"),
    ("glm-4-plus", "GLM", "Zhipu", F, "glm-4-plus"),
    ("zai.glm-4.7", "GLM", "Zhipu", F, "glm-4.7"),
    ("THUDM/glm-4-9b-chat", "GLM", "Zhipu", S, "glm-4-9b-chat"),
    ("grok-2-1212", "Grok", "xAI", F, "grok-2"),
    ("x-ai/grok-3", "Grok", "xAI", F, "grok-3"),
    ("grok-3-fast", "Grok", "xAI", F, "grok-3-fast"),
    ("x-ai/grok-3-mini", "Grok", "xAI", S, "grok-3-mini"),
    ("grok-4-0709", "Grok", "xAI", F, "grok-4"),
    ("xai/grok-4-fast-reasoning", "Grok", "xAI", S, "grok-4-fast-reasoning"),
    ("x-ai/grok-code-fast-1", "Grok", "xAI", S, "grok-code-fast-1"),
    ("grok-beta", "Grok", "xAI", F, "grok-beta"),
    # Known models outside the families: Other with a vendor, tier unknown
    ("text-embedding-3-small", "Other", "OpenAI", U, "text-embedding-3-small"),
    ("text-embedding-ada-002", "Other", "OpenAI", U, "text-embedding-ada"),
    ("whisper-1", "Other", "OpenAI", U, None),
    ("gpt-image-1", "Other", "OpenAI", U, None),
    ("text-embedding-v3", "Other", "Alibaba", U, None),
    ("Qwen/Qwen3-Embedding-8B", "Other", "Alibaba", U, None),
    ("models/text-embedding-004", "Other", "Google", U, "text-embedding"),
    ("gemini-embedding-001", "Other", "Google", U, "gemini-embedding"),
    ("google/gemma-3-27b-it", "Other", "Google", U, "gemma-3-27b-it"),
    ("gemma2-9b-it", "Other", "Google", U, None),
    ("mistral-embed", "Other", "Mistral", U, None),
    ("amazon.nova-pro-v1:0", "Other", "Amazon", U, "nova-pro"),
    ("us.amazon.nova-lite-v1:0", "Other", "Amazon", U, "nova-lite"),
    ("amazon.titan-embed-text-v2:0", "Other", "Amazon", U, None),
    ("cohere.command-r-plus-v1:0", "Other", "Cohere", U, "command-r-plus"),
    ("command-a-03-2025", "Other", "Cohere", U, "command-a"),
    ("microsoft/phi-4", "Other", "Microsoft", U, "phi-4"),
    ("perplexity/sonar-pro", "Other", "Perplexity", U, None),
    ("nvidia.nemotron-nano-12b-v2", "Other", "NVIDIA", U, None),
    ("ai21.jamba-1-5-large-v1:0", "Other", "AI21", U, "jamba-1.5-large"),
    ("ibm/granite-3.3-8b-instruct", "Other", "IBM", U, None),
    ("baidu/ernie-4.5-300b-a47b", "Other", "Baidu", U, None),
    ("doubao-seed-1.6", "Other", "ByteDance", U, None),
    ("tencent/hunyuan-a13b-instruct", "Other", "Tencent", U, None),
    ("nomic-embed-text", "Other", U, U, None),
    ("nvidia/llama-3.2-nv-embedqa-1b-v2", "Other", U, U, None),
    # More hosts and gateway spellings: Groq, Cerebras, DeepInfra, Novita, Vertex MaaS, Azure AI, Ollama, LiteLLM
    ("groq/meta-llama/llama-4-scout-17b-16e-instruct", "Llama", "Meta", S, "llama-4-scout-17b-16e-instruct"),
    ("groq/openai/gpt-oss-120b", "GPT", "OpenAI", F, "gpt-oss-120b"),
    ("groq/moonshotai/kimi-k2-instruct-0905", "Kimi", "Moonshot", F, "kimi-k2-instruct"),
    ("cerebras/qwen-3-235b-a22b-instruct-2507", "Qwen", "Alibaba", F, "qwen-3-235b-a22b-instruct"),
    ("cerebras/zai-glm-4.6", "GLM", "Zhipu", F, "zai-glm-4.6"),
    ("deepinfra/deepseek-ai/DeepSeek-V3.1-Terminus", "DeepSeek", "DeepSeek", F, "deepseek-v3.1-terminus"),
    ("deepinfra/MiniMaxAI/MiniMax-M2", "MiniMax", "MiniMax", F, "minimax-m2"),
    ("novita/deepseek/deepseek-v3.2-exp", "DeepSeek", "DeepSeek", F, "deepseek-v3.2"),
    ("vertex_ai/qwen/qwen3-coder-480b-a35b-instruct-maas", "Qwen", "Alibaba", F, None),
    ("vertex_ai/openai/gpt-oss-20b-maas", "GPT", "OpenAI", S, "gpt-oss-20b-maas"),
    ("vertex_ai/mistral-large@2411-001", "Mistral", "Mistral", F, "mistral-large"),
    ("azure_ai/Llama-4-Maverick-17B-128E-Instruct-FP8", "Llama", "Meta", F, None),
    ("azure_ai/Phi-4-mini-instruct", "Other", "Microsoft", U, "phi-4-mini-instruct"),
    ("azure/eu/gpt-4o-2024-11-20", "GPT", "OpenAI", F, "gpt-4o"),
    ("azure/gpt-35-turbo-instruct-0914", "GPT", "OpenAI", S, "gpt-3.5-turbo-instruct"),
    ("azure/o3-mini-2025-01-31", "GPT", "OpenAI", S, "o3-mini"),
    ("ollama_chat/qwen3:30b-a3b", "Qwen", "Alibaba", S, "qwen3-30b-a3b"),
    ("ollama/qwen2.5-coder:7b", "Qwen", "Alibaba", S, "qwen2.5-coder-7b"),
    ("ollama/gemma3:27b", "Other", "Google", U, "gemma3-27b"),
    ("bedrock/converse/us.anthropic.claude-sonnet-4-20250514-v1:0", C, "Anthropic", F, "claude-sonnet-4"),
    ("us-gov.anthropic.claude-3-haiku-20240307-v1:0", C, "Anthropic", S, "claude-3-haiku"),
    ("au.anthropic.claude-sonnet-4-5-20250929-v1:0", C, "Anthropic", F, "claude-sonnet-4.5"),
    ("arn:aws:bedrock:us-west-2::foundation-model/meta.llama3-2-90b-instruct-v1:0", "Llama", "Meta", F,
     "llama3.2-90b-instruct"),
    ("mistral.voxtral-small-24b-2507", "Mistral", "Mistral", S, "voxtral-small-24b"),
    ("mistral.ministral-3-14b-instruct", "Mistral", "Mistral", S, None),
    ("xai/grok-4-1-fast-reasoning", "Grok", "xAI", S, "grok-4.1-fast-reasoning"),
    ("xai/grok-3-mini-fast-beta", "Grok", "xAI", S, None),
    ("gemini/gemini-3.1-flash-lite-preview", "Gemini", "Google", S, "gemini-3.1-flash-lite"),
    ("openrouter/google/gemini-2.5-pro-exp-03-25:free", "Gemini", "Google", F, "gemini-2.5-pro"),
    ("gpt-realtime-mini", "GPT", "OpenAI", S, None),
    ("gpt-5.2-pro-2025-12-11", "GPT", "OpenAI", F, "gpt-5.2-pro"),
    ("cohere.embed-v4:0", "Other", "Cohere", U, None),
    ("computer-use-preview", "Other", "OpenAI", U, "computer-use"),
    # Unknown ids: no rule matches -> Other / unknown / unknown
    ("my-finetune-v2", "Other", U, U, "my-finetune-v2"),
    ("arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/a1b2c3d4e5", "Other", U, U, None),
    ("projects/acme/locations/us-central1/endpoints/1234567890", "Other", U, U, None),
    ("writer.palmyra-x4-v1:0", "Other", U, U, None),
    ("openrouter/auto", "Other", U, U, "auto"),
]
# fmt: on

# Open or closed weights where a rule was split on it: both sides of every split, and the calls a reader may
# doubt. (served model id, model_family, model_vendor, model_tier, open_weights)
# fmt: off
OPEN_CASES: list[tuple[str, str, str, str, bool | None]] = [
    # OpenAI: Whisper's weights are released, the other non-GPT models and GPT are API-only; gpt-oss is open
    ("whisper-1", "Other", "OpenAI", U, True),
    ("groq/whisper-large-v3", "Other", "OpenAI", U, True),
    ("text-embedding-3-large", "Other", "OpenAI", U, False),
    ("gpt-4o-2024-08-06", "GPT", "OpenAI", F, False),
    ("openai/gpt-oss-120b", "GPT", "OpenAI", F, True),
    ("openai/gpt-oss-20b", "GPT", "OpenAI", S, True),
    # Alibaba: Model Studio embeddings and gte-rerank are API-only; GTE and Qwen3 embeddings are published
    ("text-embedding-v4", "Other", "Alibaba", U, False),
    ("gte-rerank-v2", "Other", "Alibaba", U, False),
    ("Alibaba-NLP/gte-Qwen2-7B-instruct", "Other", "Alibaba", U, True),
    ("Alibaba-NLP/gte-reranker-modernbert-base", "Other", "Alibaba", U, True),
    ("Qwen/Qwen3-Reranker-4B", "Other", "Alibaba", U, True),
    # Google: Gemma (any prefix) vs the API-only models outside Gemini, and Gemini itself
    ("google/gemma-3-27b-it", "Other", "Google", U, True),
    ("google/embeddinggemma-300m", "Other", "Google", U, True),
    ("models/text-embedding-004", "Other", "Google", U, False),
    ("imagen-4.0-generate-001", "Other", "Google", U, False),
    ("gemini-2.5-flash", "Gemini", "Google", S, False),
    ("gemini-2.5-pro", "Gemini", "Google", F, False),
    # Cohere: Command R / R+ / R7B / A and Aya published under CC-BY-NC (counted open); the rest API-only
    ("cohere.command-r-plus-v1:0", "Other", "Cohere", U, True),
    ("command-r7b-12-2024", "Other", "Cohere", U, True),
    ("CohereForAI/c4ai-command-r7b-12-2024", "Other", "Cohere", U, True),
    ("command-a-03-2025", "Other", "Cohere", U, True),
    ("c4ai-aya-expanse-32b", "Other", "Cohere", U, True),
    ("command-light", "Other", "Cohere", U, False),
    ("cohere.command-text-v14", "Other", "Cohere", U, False),
    ("cohere.embed-v4:0", "Other", "Cohere", U, False),
    # Perplexity: Sonar is API-only, R1 1776 is published
    ("perplexity/sonar-pro", "Other", "Perplexity", U, False),
    ("perplexity/r1-1776-distill-llama-70b", "Other", "Perplexity", U, True),
    # AI21: Jamba-Instruct and Jurassic-2 API-only; Jamba 1.5+ published
    ("ai21.jamba-instruct-v1:0", "Other", "AI21", U, False),
    ("j2-ultra", "Other", "AI21", U, False),
    ("ai21.jamba-1-5-large-v1:0", "Other", "AI21", U, True),
    ("jamba-large", "Other", "AI21", U, True),
    # Baidu: ERNIE 4.5 releases by size vs the Qianfan API models
    ("baidu/ernie-4.5-300b-a47b", "Other", "Baidu", U, True),
    ("baidu/ERNIE-4.5-21B-A3B-Thinking", "Other", "Baidu", U, True),
    ("ernie-4.0-8k", "Other", "Baidu", U, False),
    ("ernie-x1-turbo-32k", "Other", "Baidu", U, False),
    # Tencent: Hunyuan releases by size and Hunyuan-Large vs the API lines
    ("tencent/hunyuan-a13b-instruct", "Other", "Tencent", U, True),
    ("tencent/Hunyuan-MT-7B", "Other", "Tencent", U, True),
    ("hunyuan-large", "Other", "Tencent", U, True),
    ("hunyuan-turbos-latest", "Other", "Tencent", U, False),
    ("hunyuan-t1", "Other", "Tencent", U, False),
    # Anthropic publishes no weights; DeepSeek publishes all
    ("claude-sonnet-4-5-20250929", C, "Anthropic", F, False),
    ("claude-haiku-4-5-20251001", C, "Anthropic", S, False),
    ("deepseek-chat", "DeepSeek", "DeepSeek", F, True),
    ("deepseek-r1:1.5b", "DeepSeek", "DeepSeek", S, True),
    # Llama: published, except Perplexity's llama-3.1-sonar fine-tunes
    ("meta-llama/llama-3.3-70b-instruct", "Llama", "Meta", F, True),
    ("meta-llama/llama-4-scout", "Llama", "Meta", S, True),
    ("llama-3.1-sonar-large-128k-online", "Llama", "Meta", F, False),
    ("perplexity/llama-3.1-sonar-small-128k-online", "Llama", "Meta", F, False),
    # Qwen: Model Studio commercial names are API-only, numbered releases are published
    ("qwen-max", "Qwen", "Alibaba", F, False),
    ("qwen3-max", "Qwen", "Alibaba", F, False),
    ("qwen-plus-latest", "Qwen", "Alibaba", F, False),
    ("qwen-vl-max", "Qwen", "Alibaba", F, False),
    ("qwen3-coder-plus", "Qwen", "Alibaba", F, False),
    ("qwq-plus", "Qwen", "Alibaba", F, False),
    ("qwen-omni-turbo", "Qwen", "Alibaba", F, False),
    ("qwen-turbo", "Qwen", "Alibaba", S, False),
    ("qwen3-coder-flash", "Qwen", "Alibaba", S, False),
    ("qwen/qwen3-coder", "Qwen", "Alibaba", F, True),
    ("Qwen/Qwen3-235B-A22B-Instruct-2507", "Qwen", "Alibaba", F, True),
    ("Qwen/Qwen2.5-72B-Instruct-Turbo", "Qwen", "Alibaba", F, True),
    ("qwen/qwen3-30b-a3b", "Qwen", "Alibaba", S, True),
    ("Qwen/Qwen2.5-7B-Instruct-Turbo", "Qwen", "Alibaba", S, True),
    # Mistral: Saba, Codestral as served, the Medium lines are API-only; the rest is published. Ids that key
    # alike (the key drops the date) count as their -latest alias: Large 1 (2402) counts open, Codestral 22B
    # (2405) closed.
    ("mistral-saba-2502", "Mistral", "Mistral", S, False),
    ("codestral-2501", "Mistral", "Mistral", S, False),
    ("codestral-latest", "Mistral", "Mistral", S, False),
    ("mistralai/Codestral-22B-v0.1", "Mistral", "Mistral", S, True),
    ("codestral-mamba-2407", "Mistral", "Mistral", S, True),
    ("mistral-small-2409", "Mistral", "Mistral", S, True),
    ("ministral-3b-2512", "Mistral", "Mistral", S, True),
    ("mistralai/Mistral-7B-Instruct-v0.3", "Mistral", "Mistral", S, True),
    ("mistralai/mistral-medium-3.1", "Mistral", "Mistral", F, False),
    ("magistral-medium-2506", "Mistral", "Mistral", F, False),
    ("devstral-medium-2507", "Mistral", "Mistral", F, False),
    ("mistral-large-2411", "Mistral", "Mistral", F, True),
    ("mistral.mistral-large-2402-v1:0", "Mistral", "Mistral", F, True),
    ("mistral.mistral-large-3-675b-instruct", "Mistral", "Mistral", F, True),
    ("open-mixtral-8x22b", "Mistral", "Mistral", F, True),
    ("devstral-2512", "Mistral", "Mistral", F, True),
    # MiniMax: the M series and MiniMax-01 are published, abab is API-only
    ("minimax/minimax-m2", "MiniMax", "MiniMax", F, True),
    ("MiniMaxAI/MiniMax-Text-01", "MiniMax", "MiniMax", F, True),
    ("abab6.5s-chat", "MiniMax", "MiniMax", F, False),
    # Kimi: K2 and Kimi-VL are published; moonshot-v1, kimi-latest, K1.5 are API-only
    ("moonshotai/kimi-k2", "Kimi", "Moonshot", F, True),
    ("kimi-k2-turbo-preview", "Kimi", "Moonshot", F, True),
    ("moonshotai/kimi-vl-a3b-thinking", "Kimi", "Moonshot", S, True),
    ("moonshot-v1-128k", "Kimi", "Moonshot", F, False),
    ("kimi-latest", "Kimi", "Moonshot", F, False),
    ("kimi-k1.5-preview", "Kimi", "Moonshot", F, False),
    # GLM: the GLM-4 API lines are API-only; 4.5+ and the sized releases are published
    ("glm-4-flash", "GLM", "Zhipu", S, False),
    ("glm-4-airx", "GLM", "Zhipu", S, False),
    ("glm-4.5-flash", "GLM", "Zhipu", S, False),
    ("z-ai/glm-4.5-air:free", "GLM", "Zhipu", S, True),
    ("zai-org/GLM-4.7-Flash", "GLM", "Zhipu", S, True),
    ("THUDM/glm-4-9b-chat", "GLM", "Zhipu", S, True),
    ("glm-4-plus", "GLM", "Zhipu", F, False),
    ("glm-4-0520", "GLM", "Zhipu", F, False),
    ("glm-3-turbo", "GLM", "Zhipu", F, False),
    ("z-ai/glm-4.6", "GLM", "Zhipu", F, True),
    ("cerebras/zai-glm-4.6", "GLM", "Zhipu", F, True),
    # Grok: Grok 1 and Grok 2 (2.5) weights released; Grok 3 / 4 and the fast / mini lines are API-only
    ("grok-2-1212", "Grok", "xAI", F, True),
    ("xai-org/grok-1", "Grok", "xAI", F, True),
    ("grok-2-vision-1212", "Grok", "xAI", F, False),
    ("x-ai/grok-3", "Grok", "xAI", F, False),
    ("grok-4-0709", "Grok", "xAI", F, False),
    ("x-ai/grok-3-mini", "Grok", "xAI", S, False),
]
# fmt: on

ALL_IDS = [case[0] for case in CASES] + [case[0] for case in OPEN_CASES]

HOSTILE = [
    "gpt-4o'; drop table model_families; --",
    'claude-3-haiku"',
    "<script>alert('x')</script>",
    "\\' or 1=1 --",
    "model\nwith\nnewlines",
    "ünïcode-模型",
    "%s {model} $1 \\1",
    "x" * 256,
    "",
    "   ",
    "/",
    ":",
    "@",
]


@pytest.fixture(scope="module")
def con():
    connection = duckdb.connect()
    families.install(connection)
    yield connection
    connection.close()


@pytest.fixture(scope="module")
def mapped(con):
    rows = families.lookup(con, ALL_IDS)
    return {row[0]: row[1:] for row in rows}


@pytest.fixture(scope="module")
def rules(con):
    return con.execute(
        "select match_order, pattern, model_family, model_vendor, model_tier, open_weights, note from model_families"
    ).fetchall()


def test_case_ids_are_unique_and_many():
    for ids in ([case[0] for case in CASES], [case[0] for case in OPEN_CASES]):
        assert len(ids) == len(set(ids))
    assert len(CASES) >= 80


@pytest.mark.parametrize(("model", "family", "vendor", "tier", "key"), CASES, ids=[case[0] for case in CASES])
def test_model_maps(mapped, model, family, vendor, tier, key):
    got_key, got_family, got_vendor, got_tier, _ = mapped[model]
    assert (got_family, got_vendor, got_tier) == (family, vendor, tier), got_key
    if key is not None:
        assert got_key == key


@pytest.mark.parametrize(
    ("model", "family", "vendor", "tier", "open_weights"), OPEN_CASES, ids=[case[0] for case in OPEN_CASES]
)
def test_model_open_weights(mapped, model, family, vendor, tier, open_weights):
    got_key, *got = mapped[model]
    assert tuple(got) == (family, vendor, tier, open_weights), got_key


def test_seed_is_well_formed(con, rules):
    assert rules, "no rules loaded"
    orders = [row[0] for row in rules]
    assert all(order is not None for order in orders)
    assert len(orders) == len(set(orders)), "match_order must be unique"
    for order, pattern, family, vendor, tier, open_weights, note in rules:
        assert pattern and family and vendor and tier and note, order
        assert family in families.FAMILIES, (order, family)
        assert tier in families.TIERS, (order, tier)
        # open or closed for every rule; unknown only where the note says why
        assert open_weights in (True, False) or "unknown" in note, (order, open_weights)
        # family Other <=> tier unknown: mapped families are frontier or small
        assert (family == "Other") == (tier == "unknown"), (order, family, tier)
        assert pattern == pattern.strip() and pattern.lower() == pattern, (order, pattern)
        con.execute("select regexp_full_match('probe', ?)", [pattern])  # invalid RE2 raises here


def test_seed_has_every_family_and_both_tiers(rules):
    assert {row[2] for row in rules} == set(families.FAMILIES)
    for family in set(families.FAMILIES) - {"Other"}:
        assert {row[4] for row in rules if row[2] == family} <= {"frontier", "small"}
        assert any(row[4] == "frontier" for row in rules if row[2] == family), family


def test_seed_columns_and_header():
    header = families.SEED.read_text().splitlines()[0]
    assert header == ",".join(families.SEED_COLUMNS)


def test_every_rule_is_reached_by_a_case(con, rules):
    """No rule is dead (shadowed by an earlier one): each wins for at least one test id."""
    winners = con.execute(
        """
        select distinct (
            select r.match_order from model_families as r
            where regexp_full_match(gl_model_key(m.model), r.pattern)
            order by r.match_order
            limit 1
        )
        from (select unnest(?::varchar[]) as model) as m
        """,
        [ALL_IDS],
    ).fetchall()
    reached = {row[0] for row in winners}
    assert {row[0] for row in rules} - reached == set()


def test_hostile_ids_map_to_other_without_error(con):
    rows = families.lookup(con, [*HOSTILE, None])
    assert len(rows) == len(HOSTILE) + 1
    by_model = {row[0]: row for row in rows}
    assert by_model[None][1:] == (None, "Other", "unknown", "unknown", None)
    assert by_model[""][1] is None and by_model["   "][1] is None
    for model in HOSTILE:
        assert by_model[model][2] in families.FAMILIES
    # still a family when the id is a known model with junk around it
    assert by_model['claude-3-haiku"'][2:] == ("Claude", "Anthropic", "small", False)
    assert con.execute("select count(*) from model_families").fetchone()[0] > 0


LATERAL_SQL = """
select m.model, f.model_family, f.model_vendor, f.model_tier, f.open_weights
from (select distinct unnest(?::varchar[]) as model) as m
left join lateral (
    select r.model_family, r.model_vendor, r.model_tier, r.open_weights
    from model_families as r
    where regexp_full_match(gl_model_key(m.model), r.pattern)
    order by r.match_order
    limit 1
) as f on true
"""


@pytest.mark.slow
def test_rule_macro_agrees_with_the_direct_lateral_join(con):
    """gl_model_rule (patterns compiled as constants) picks the same rule as the plain first-match join."""
    models = ALL_IDS + HOSTILE
    direct = {row[0]: row[1:] for row in con.execute(LATERAL_SQL, [models]).fetchall()}
    fast = {row[0]: row[2:] for row in families.lookup(con, models)}
    for model, (family, vendor, tier, open_weights) in direct.items():
        assert fast[model] == (family or "Other", vendor or "unknown", tier or "unknown", open_weights), model


def _seed(tmp_path, *rows: str):
    path = tmp_path / "rules.csv"
    header = ",".join(families.SEED_COLUMNS)
    path.write_text(header + "\n" + "\n".join(rows) + "\n")
    return path


def test_install_compiles_quotes_in_patterns_safely(tmp_path):
    """Patterns become SQL string literals in gl_model_rule; a quote in a pattern stays data."""
    seed = _seed(tmp_path, '10,"it\'s.*",GPT,OpenAI,small,true,quote', "20,.*'\\).*,Claude,Anthropic,frontier,,paren")
    connection = duckdb.connect()
    families.install(connection, seed=seed)
    got = connection.execute("select gl_model_rule(unnest(?::varchar[]))", [["it's-a-model", "x')", "other"]])
    assert [row[0] for row in got.fetchall()] == [10, 20, None]
    assert connection.execute("select open_weights from model_families order by match_order").fetchall() == [
        (True,),
        (None,),  # an empty cell is unknown
    ]


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        (("10,gpt-(,GPT,OpenAI,small,false,bad",), "invalid pattern"),
        (("10,a.*,GPT,OpenAI,small,false,x", "10,b.*,GPT,OpenAI,small,false,y"), "unique"),
        ((",a.*,GPT,OpenAI,small,false,x",), "match_order"),
        (("10,a.*,GPT,OpenAI,small,false,x", "20,b.*,GPT,OpenAI,small,yes,y"), "match_order 20: open_weights"),
    ],
)
def test_install_rejects_a_broken_seed(tmp_path, rows, message):
    with pytest.raises(ValueError, match=message):
        families.install(duckdb.connect(), seed=_seed(tmp_path, *rows))


def test_key_is_idempotent(con):
    """A key keys as itself, so keys can be stored and matched again."""
    rows = con.execute(
        "select m, gl_model_key(m), gl_model_key(gl_model_key(m)) from (select unnest(?::varchar[]) as m)",
        [ALL_IDS],
    ).fetchall()
    changed = [(model, key, again) for model, key, again in rows if key != again]
    assert changed == []


def test_docstring_lookup_runs(con):
    """The join shown in the module docstring runs as written over a `requests` table."""
    doc = families.__doc__ or ""
    sql = re.search(r"(with models as .*?select \* from final)", doc, re.S).group(1)
    con.execute("create or replace temp table requests as select unnest(?::varchar[]) as model", [["gpt-4o", "zz"]])
    rows = dict((row[0], row[1:]) for row in con.execute(sql).fetchall())
    assert rows == {"gpt-4o": ("GPT", "OpenAI", "frontier", False), "zz": ("Other", "unknown", "unknown", None)}


def test_install_is_repeatable_and_typed(con):
    families.install(con)
    types = dict(con.execute("select column_name, column_type from (describe model_families)").fetchall())
    assert types == families.SEED_COLUMNS


def test_the_rules_macro_binds_its_argument_once():
    """`gl_model_rule(gl_model_key(model))` copies the key's expression once, not into each rule's `when` (the
    plan before DuckDB's optimizer, which spent about 0.25 s per statement on 61 copies): it holds no more of the
    key's `regexp_replace` calls than twice the key alone."""
    con = duckdb.connect()
    families.install(con)
    con.execute("set explain_output = 'all'")

    def calls(expression: str) -> int:
        plans = dict(con.execute(f"explain select {expression} from (select 'x' as model)").fetchall())
        return plans["logical_plan"].count("regexp_replace")

    key = calls("gl_model_key(model)")
    assert key > 0 and calls("gl_model_rule(gl_model_key(model))") <= 2 * key
