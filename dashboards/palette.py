"""One palette for every figure: a model family, tier or provider has the same colour everywhere.

Family colours follow the seed's families (`schemas/reference/model_families.csv`); a family the seed adds later gets a
stable colour from the fallback list (by a hash of its name, so it never changes between reports).
"""

from __future__ import annotations

import hashlib

FAMILY_COLORS: dict[str, str] = {
    "Claude": "#D97757",
    "GPT": "#10A37F",
    "Gemini": "#4285F4",
    "Llama": "#7E57C2",
    "Qwen": "#F9A825",
    "DeepSeek": "#1A237E",
    "Mistral": "#C62828",
    "MiniMax": "#EC407A",
    "Kimi": "#00ACC1",
    "GLM": "#8D6E63",
    "Grok": "#212121",
    "Other": "#9E9E9E",
}
TIER_COLORS: dict[str, str] = {"frontier": "#3F51B5", "small": "#26A69A", "unknown": "#BDBDBD"}
FALLBACK = [
    "#1f77b4",
    "#ff7f0e",
    "#2ca02c",
    "#d62728",
    "#9467bd",
    "#8c564b",
    "#e377c2",
    "#7f7f7f",
    "#bcbd22",
    "#17becf",
    "#393b79",
    "#637939",
    "#8c6d31",
    "#843c39",
    "#7b4173",
    "#3182bd",
]
SLO_COLOR = "#B71C1C"
BURST_COLOR = "rgba(255, 152, 0, 0.25)"
BURST_MARKER = "#EF6C00"
NEUTRAL = "#607D8B"
PERCENT_SCALE = "RdYlGn"


def _hashed(name: str) -> str:
    digest = hashlib.sha256(name.encode()).digest()
    return FALLBACK[digest[0] % len(FALLBACK)]


def family_color(family: str | None) -> str:
    """The colour of a model family (raw name, as in the marts)."""
    return FAMILY_COLORS.get(family or "Other") or _hashed(family or "")


def tier_color(tier: str | None) -> str:
    return TIER_COLORS.get(tier or "unknown") or _hashed(tier or "")


def provider_colors(providers: list[str]) -> dict[str, str]:
    """A colour per provider id: by alphabetical order over the warehouse's providers, so each provider has
    the same colour in every figure of a report (distinct up to 16 providers, then cycling)."""
    return {name: FALLBACK[i % len(FALLBACK)] for i, name in enumerate(sorted(set(providers)))}
