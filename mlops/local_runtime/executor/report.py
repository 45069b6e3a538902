"""``report.html`` of one local pipeline run: the page a person opens after ``pipeline run``.

What the run trained on, whether and why the gates let it through, every metric of
``evaluation.json`` with its bootstrap standard deviation, the confusion matrix with the class
names, the plots, the steps, the parameters, and links to the files (the training log first).
Plots are embedded so the page can be attached to a ticket as one file; links are relative, so
the run folder can be moved or zipped whole.
"""

from __future__ import annotations

import base64
import json
import math
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from jinja2 import Environment, select_autoescape

from mlops.core.problem_types import SPECS

if TYPE_CHECKING:
    from mlops.local_runtime.executor.run import RunSummary

_TEMPLATE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>Pipeline run {{ s.execution_id }}: {{ s.status }}</title>
<style>
 body { font-family: system-ui, sans-serif; margin: 2rem auto; max-width: 1100px; color: #1b1b1b; }
 h1 { font-size: 1.5rem; } h2 { margin-top: 2rem; border-bottom: 1px solid #ddd; }
 table { border-collapse: collapse; margin: .5rem 0 1rem; }
 th, td { border: 1px solid #ddd; padding: .3rem .6rem; text-align: left; vertical-align: top; }
 th { background: #f4f4f4; } td.num { text-align: right; font-variant-numeric: tabular-nums; }
 .status { padding: .5rem 1rem; border-radius: 6px; font-weight: 600; display: inline-block; }
 .Succeeded { background: #e6f4ea; color: #1e6b34; } .Failed, .Stopped { background: #fde8e8; color: #9b1c1c; }
 .warn { background: #fff7e0; padding: .4rem .8rem; border-left: 4px solid #e0a800; }
 .plots { display: grid; grid-template-columns: repeat(2, 1fr); gap: 1rem; }
 .plots figure { margin: 0; } .plots img { width: 100%; border: 1px solid #eee; }
 code { background: #f4f4f4; padding: 0 .25rem; } tr.changed td { background: #fffbe6; }
</style></head><body>
<h1>Pipeline run <code>{{ s.execution_id }}</code></h1>
<p class="status {{ s.status }}">{{ s.status }}{% if s.failed_step %} at {{ s.failed_step }}{% endif %}</p>
{% if s.failure_reason %}<p id="failure">{{ s.failure_reason }}</p>{% endif %}
<p>Started {{ s.started }}.
{% if s.model_package_arn %}Registered <code>{{ s.model_package_arn }}</code>.{% else %}Nothing registered.{% endif %}</p>

<h2>Dataset</h2>
<table>
 <tr><th>input</th><td><code>{{ s.input }}</code></td></tr>
 <tr><th>target</th><td>{{ s.dataset.target }}</td></tr>
 <tr><th>problem type</th><td>{{ s.dataset.problem_type }}</td></tr>
 {% if s.dataset.positive_label %}<tr><th>positive label</th><td>{{ s.dataset.positive_label }}</td></tr>{% endif %}
 {% if classes %}<tr><th>classes</th><td>{{ classes | join(", ") }}</td></tr>{% endif %}
</table>
{% for warning in s.warnings %}<p class="warn">warning: {{ warning }}</p>{% endfor %}

<h2>Gate</h2>
<table id="gate">
 <tr><th>constant predictions</th><td>{{ prediction_check }}</td></tr>
 <tr><th>test {{ s.gate.metric }} {{ s.gate.comparison }} {{ s.gate.threshold }}</th>
 <td>{% if s.gate.value is not none %}{{ "%.4f" | format(s.gate.value) }}{% else %}–{% endif %}
 {% if s.gate.passed is true %}passed{% elif s.gate.passed is false %}<strong>failed</strong>{% else %}not reached{% endif %}</td></tr>
</table>

<h2>Metrics (test split)</h2>
{% if metrics %}
<table id="metrics"><tr><th>metric</th><th>value</th><th>standard deviation</th></tr>
{% for m in metrics %}<tr><td>{{ m.name }}</td><td class="num">{{ m.value }}</td><td class="num">{{ m.std }}</td></tr>
{% endfor %}</table>
{% else %}<p>No evaluation: the run ended before Evaluate.</p>{% endif %}
{% if matrix %}
<h3>Confusion matrix (rows: actual, columns: predicted)</h3>
<table id="confusion-matrix"><tr><th></th>{% for c in matrix.classes %}<th>{{ c }}</th>{% endfor %}</tr>
{% for row in matrix.rows %}<tr><th>{{ row.label }}</th>{% for n in row.counts %}<td class="num">{{ n }}</td>{% endfor %}</tr>
{% endfor %}</table>
{% endif %}
{% if per_class %}
<h3>Per class</h3>
<table id="per-class"><tr><th>class</th><th>precision</th><th>recall</th><th>f1</th><th>support</th></tr>
{% for name, m in per_class.items() %}<tr><td>{{ name }}</td><td class="num">{{ "%.4f" | format(m.precision) }}</td><td class="num">{{ "%.4f" | format(m.recall) }}</td><td class="num">{{ "%.4f" | format(m.f1) }}</td><td class="num">{{ m.support }}</td></tr>
{% endfor %}</table>
{% endif %}
<div class="plots">
{% for plot in plots %}<figure><img alt="{{ plot.name }}" src="data:image/png;base64,{{ plot.data }}"><figcaption>{{ plot.name }}</figcaption></figure>
{% endfor %}</div>

<h2>Steps</h2>
<table id="steps"><tr><th>step</th><th>type</th><th>status</th><th>seconds</th></tr>
{% for step in s.steps %}<tr><td>{{ step.name }}</td><td>{{ step.type }}</td><td>{{ step.status }}</td><td class="num">{{ "%.1f" | format(step.seconds) }}</td></tr>
{% endfor %}</table>

<h2>Parameters</h2>
<table id="parameters"><tr><th>parameter</th><th>value</th></tr>
{% for name, value in s.parameters.items() %}<tr class="{{ 'changed' if name in s.overrides else '' }}"><td>{{ name }}</td><td>{{ value }}{% if name in s.overrides %} (--param){% endif %}</td></tr>
{% endfor %}</table>

<h2>Files</h2>
<ul id="files">
{% for name, href in links %}<li><a href="{{ href }}">{{ name }}</a></li>
{% endfor %}</ul>
</body></html>
"""


def write_run_report(summary: RunSummary, path: Path) -> Path:
    """Render ``report.html`` for ``summary`` at ``path``; returns the path."""
    document = summary.to_json()
    artifacts = summary.artifacts
    evaluation = _read_json(artifacts.evaluation)
    spec = _read_json(artifacts.feature_spec)
    section = _section(evaluation, summary.dataset.problem_type)
    classes = [str(label) for label in spec.get("classes", [])]
    environment = Environment(autoescape=select_autoescape(default=True))
    html = environment.from_string(_TEMPLATE).render(
        s=document,
        classes=classes,
        prediction_check=(evaluation.get("prediction_check") or {}).get("message", "–"),
        metrics=_metric_rows(section),
        matrix=_matrix(section.get("confusion_matrix"), classes),
        per_class=evaluation.get("per_class_metrics") or {},
        plots=[
            {"name": plot.stem.replace("_", " "), "data": _base64(plot)}
            for plot in artifacts.plots
            if plot.suffix == ".png"
        ],
        links=_links(summary, path.parent),
    )
    path.write_text(html, encoding="utf-8")
    return path


def _section(evaluation: dict[str, Any], problem_type: str) -> dict[str, Any]:
    for spec in SPECS.values():
        if spec.name == problem_type:
            section = evaluation.get(spec.metrics_section)
            return section if isinstance(section, dict) else {}
    return {}


def _metric_rows(section: dict[str, Any]) -> list[dict[str, str]]:
    """Every scalar metric of the section, in the file's order."""
    rows = []
    for name, entry in section.items():
        if isinstance(entry, dict) and "value" in entry:
            rows.append(
                {
                    "name": name,
                    "value": _number(entry.get("value")),
                    "std": _number(entry.get("standard_deviation")),
                }
            )
    return rows


def _matrix(matrix: Any, classes: list[str]) -> dict[str, Any] | None:
    """The confusion matrix with class names (binary keys 0/1 are the spec's classes)."""
    if not isinstance(matrix, dict) or not matrix:
        return None
    keys = list(matrix)
    names = classes if len(classes) == len(keys) and keys == ["0", "1"] else keys
    return {
        "classes": names,
        "rows": [
            {"label": names[i], "counts": [matrix[actual].get(key, 0) for key in keys]}
            for i, actual in enumerate(keys)
        ],
    }


def _links(summary: RunSummary, folder: Path) -> list[tuple[str, str]]:
    artifacts = summary.artifacts
    candidates = [
        ("training log", artifacts.training_log),
        ("summary.json", folder / "summary.json"),
        ("definition.json", folder / "definition.json"),
        ("evaluation.json", artifacts.evaluation),
        ("model.tar.gz", artifacts.model_data),
        ("feature_spec.json", artifacts.feature_spec),
        ("baseline statistics.json", artifacts.baseline_statistics),
        ("baseline constraints.json", artifacts.baseline_constraints),
    ]
    return [
        (name, os.path.relpath(target, folder))
        for name, target in candidates
        if target is not None and (target.exists() or target.name == "summary.json")
    ]


def _number(value: Any) -> str:
    if isinstance(value, int | float) and math.isfinite(value):
        return f"{value:.4f}"
    return "–"


def _read_json(path: Path | None) -> dict[str, Any]:
    if path is None or not path.is_file():
        return {}
    document = json.loads(path.read_text())
    return document if isinstance(document, dict) else {}


def _base64(path: Path) -> str:
    return base64.b64encode(path.read_bytes()).decode("ascii")
