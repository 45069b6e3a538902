"""`build/demo/report.html`: one page a person reads after the demo — the model's metrics and
plots, the deployment, and what Model Monitor found in each traffic window."""

from __future__ import annotations

import base64
import os
from pathlib import Path

from jinja2 import Environment, select_autoescape

from mlops.demo.results import DemoSummary

_TEMPLATE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>SageMaker MLOps template: local lifecycle report</title>
<style>
 body { font-family: system-ui, sans-serif; margin: 2rem auto; max-width: 1100px; color: #1b1b1b; }
 h1 { font-size: 1.6rem; } h2 { margin-top: 2rem; border-bottom: 1px solid #ddd; }
 table { border-collapse: collapse; margin: .5rem 0 1rem; }
 th, td { border: 1px solid #ddd; padding: .3rem .6rem; text-align: left; vertical-align: top; }
 th { background: #f4f4f4; } .ok { color: #17823b; } .bad { color: #b3261e; font-weight: 600; }
 .plots { display: grid; grid-template-columns: repeat(2, 1fr); gap: 1rem; }
 .plots figure { margin: 0; } .plots img { width: 100%; border: 1px solid #eee; }
 code { background: #f4f4f4; padding: 0 .25rem; }
</style></head><body>
<h1>Local lifecycle report</h1>
<p>{{ s.rows | int }} generated customers → pipeline executed locally → model package approved →
endpoint <code>{{ s.endpoint }}</code> served locally → {{ s.invocations }} boto3
<code>invoke_endpoint</code> calls → Model Monitor on the captured data.
Finished in {{ s.wall_seconds }} s.</p>

<h2>Model</h2>
<table>
 <tr><th>problem type</th><td>{{ s.problem_type }}</td></tr>
 <tr><th>model package</th><td><code>{{ s.model_package_arn }}</code></td></tr>
 <tr><th>approval status</th><td>{{ s.approval_status }}</td></tr>
 <tr><th>pipeline run report</th><td><a href="{{ run_report }}">{{ run_report }}</a></td></tr>
 {% for name, value in s.metrics.items() %}
 <tr><th>test {{ name }}</th><td>{{ "%.4f" | format(value) }}</td></tr>
 {% endfor %}
</table>
<div class="plots">
{% for plot in plots %}
 <figure><img alt="{{ plot.name }}" src="data:image/png;base64,{{ plot.data }}"><figcaption>{{ plot.name }}</figcaption></figure>
{% endfor %}
</div>

<h2>Pipeline steps</h2>
<table><tr><th>step</th><th>type</th><th>status</th><th>seconds</th></tr>
{% for step in s.pipeline.steps %}
 <tr><td>{{ step.name }}</td><td>{{ step.type }}</td><td>{{ step.status }}</td><td>{{ "%.1f" | format(step.seconds) }}</td></tr>
{% endfor %}
</table>

<h2>Endpoint traffic and Model Monitor</h2>
<table><tr><th>window</th><th>invocations</th><th>captured records</th><th>violations</th><th>model quality ({{ quality_metric }})</th><th>details</th></tr>
{% for name, w in s.windows.items() %}
 <tr><td>{{ name }}</td><td>{{ w.invocations }}</td><td>{{ w.captured_records }}</td>
 <td class="{{ 'bad' if w.violations else 'ok' }}">{{ w.violations }}</td>
 <td>{{ "%.4f" | format(w.model_quality[quality_metric]) if w.model_quality and quality_metric in w.model_quality else "–" }}</td>
 <td><a href="{{ links[name] }}">monitoring report</a></td></tr>
{% endfor %}
</table>

<h3>Findings in the drifted window</h3>
{% if s.drifted_findings %}
<table><tr><th>feature</th><th>check</th><th>description</th></tr>
{% for f in s.drifted_findings %}
 <tr><td>{{ f.feature }}</td><td>{{ f.check }}</td><td>{{ f.description }}</td></tr>
{% endfor %}
</table>
{% else %}<p>No violations.</p>{% endif %}

<h3>Baseline drift distance per feature</h3>
<table><tr><th>feature</th>{% for name in s.windows %}<th>{{ name }}</th>{% endfor %}</tr>
{% for feature in drift_features %}
 <tr><td>{{ feature }}</td>{% for name, w in s.windows.items() %}<td>{{ "%.3f" | format(w.drift.get(feature, 0)) }}</td>{% endfor %}</tr>
{% endfor %}
</table>
<p>Files: <code>summary.json</code> next to this page; pipeline artifacts under
<code>pipeline/</code>; monitoring outputs under <code>monitoring/&lt;window&gt;/</code>.</p>
</body></html>
"""


def write_demo_report(path: Path, summary: DemoSummary) -> Path:
    """Render the report; plots are embedded so the page can be mailed as one file."""
    environment = Environment(autoescape=select_autoescape(default=True))
    plots = [
        {"name": plot.stem.replace("_", " "), "data": _base64(plot)}
        for plot in summary.run.artifacts.plots
        if plot.suffix == ".png"
    ]
    windows = summary.windows
    links = {
        name: os.path.relpath(window.monitoring.report, path.parent)
        for name, window in windows.items()
    }
    drift_features = sorted({f for window in windows.values() for f in window.monitoring.drift})
    run_report = summary.run.report
    html = environment.from_string(_TEMPLATE).render(
        s=summary.to_json(),
        plots=plots,
        links=links,
        drift_features=drift_features,
        quality_metric=summary.run.gate.metric,
        run_report=os.path.relpath(run_report, path.parent) if run_report else "-",
    )
    path.write_text(html)
    return path


def _base64(path: Path) -> str:
    return base64.b64encode(path.read_bytes()).decode("ascii")
