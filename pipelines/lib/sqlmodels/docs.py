"""docs/metrics.md, generated: the hand-written definitions (`metrics_preface.md` beside this module), the
parameter table from `Parameters`, then every model's description, grain and columns from its header."""

from __future__ import annotations

from pathlib import Path

from pipelines.lib.sqlmodels.parameters import Parameters
from pipelines.lib.sqlmodels.project import SQL_DIR, Project, SqlModel, load_project

METRICS_DOC = SQL_DIR.parent / "docs" / "metrics.md"
PREFACE = Path(__file__).with_name("metrics_preface.md")
_TITLES = {"marts": "Marts", "intermediate": "Intermediate models", "staging": "Staging models"}


def render_docs(project: Project | None = None) -> str:
    """docs/metrics.md: the definitions and parameters, then every model, marts first."""
    project = project or load_project()
    parts = [PREFACE.read_text().replace("{parameters}", parameter_table(project))]
    for layer in ("marts", "intermediate", "staging"):
        parts.append(f"\n## {_TITLES[layer]}\n")
        for model in sorted((m for m in project.models.values() if m.layer == layer), key=lambda m: m.name):
            parts.append(_model_doc(model))
    return "\n".join(parts)


def parameter_table(project: Project) -> str:
    """One row per parameter: its default, its meaning and the models whose SQL reads it."""
    lines = ["| parameter | default | meaning | read by |", "|---|---|---|---|"]
    for knob in Parameters.documented():
        readers = sorted(m for m in project.models if f"gl_{knob.name}" in project.variables_of(m))
        default = f"{knob.default:g}" if isinstance(knob.default, float) else knob.default  # 3, not 3.0
        lines.append(f"| `{knob.name}` | {default} | {knob.doc} | {', '.join(readers) or '(no model)'} |")
    return "\n".join(lines)


def _model_doc(model: SqlModel) -> str:
    lines = [
        f"### `{model.name}`\n",
        model.description + "\n",
        f"- grain: {model.grain}",
        f"- materialized: {model.materialized}"
        + (f" (by `{model.partition_day}`)" if model.partition_day else "")
        + (f", whole {model.partition_period}s" if model.partition_period else ""),
        f"- inputs: {', '.join(f'`{i}`' for i in model.inputs)}",
        f"- source: `{model.path.relative_to(SQL_DIR.parent)}`\n",
    ]
    if model.columns:
        lines += ["| column | meaning |", "|---|---|"]
        lines += [f"| `{name}` | {doc} |" for name, doc in model.columns.items()]
        lines.append("")
    return "\n".join(lines)
