"""An HTML drift report a person reads instead of the JSON: verdict, violations, one plot per feature.

Self-contained (plots are PNGs embedded as base64), so it can be attached to a ticket or
served from S3 as one file. Numeric features compare the share of values per baseline KLL
bucket (current values counted into the same edges, plus "below min" / "above max");
String features compare category shares.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from monitoring.bias import BiasResult
from monitoring.checks import FeatureComparison, Violation
from monitoring.explainability import ExplainabilityResult
from monitoring.kll import sample_from_json
from monitoring.model_quality import ModelQualityResult

_TOP_CATEGORIES = 15

_TEMPLATE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{{ title }}</title>
<style>
body{font-family:system-ui,sans-serif;margin:2rem;max-width:1100px;color:#222}
h1{margin-bottom:.2rem} .verdict{padding:.6rem 1rem;border-radius:6px;font-weight:600}
.ok{background:#e6f4ea;color:#1e6b34} .bad{background:#fde8e8;color:#9b1c1c}
table{border-collapse:collapse;margin:1rem 0;width:100%} th,td{border:1px solid #ddd;padding:.35rem .6rem;text-align:left;font-size:.9rem}
th{background:#f5f5f5} tr.flag td{background:#fff5f5}
.features{display:grid;grid-template-columns:repeat(auto-fill,minmax(480px,1fr));gap:1rem}
figure{margin:0;border:1px solid #eee;padding:.5rem} figcaption{font-size:.85rem;color:#555}
</style></head><body>
<h1>{{ title }}</h1>
<p>{{ current_count }} current records against a baseline of {{ baseline_count }}.</p>
{% set total = violations|length + mq_violations|length + (bias.violations|length if bias else 0) + (explainability.violations|length if explainability else 0) %}
<p class="verdict {{ 'bad' if total else 'ok' }}">
{% if total %}{{ total }} violation(s) found{% else %}No violations{% endif %}</p>
<h2>Violations</h2>
{% if violations %}
<table id="violations"><tr><th>Feature</th><th>Check</th><th>Description</th></tr>
{% for v in violations %}<tr><td>{{ v.feature_name }}</td><td>{{ v.constraint_check_type }}</td><td>{{ v.description }}</td></tr>
{% endfor %}</table>
{% else %}<p>None of the data-quality constraints is violated.</p>{% endif %}
{% if model_quality %}
<h2>Model quality</h2>
<p>{{ model_quality.matched }} predictions joined with ground truth.</p>
<table id="model-quality"><tr><th>Metric</th><th>Value</th></tr>
{% for name, value in model_quality.metrics.items() %}<tr><td>{{ name }}</td><td>{{ '%.4f'|format(value) }}</td></tr>{% endfor %}
</table>
{% if mq_violations %}<table id="model-quality-violations"><tr><th>Metric</th><th>Check</th><th>Description</th></tr>
{% for v in mq_violations %}<tr><td>{{ v.metric_name }}</td><td>{{ v.constraint_check_type }}</td><td>{{ v.description }}</td></tr>{% endfor %}
</table>{% endif %}
{% endif %}
{% if bias %}
<h2>Bias drift</h2>
<p>{{ bias.records }} labelled predictions; {{ bias.violations|length }} metric(s) beyond the baseline's constraints.</p>
{% if bias.violations %}<table id="bias-violations"><tr><th>Facet</th><th>Value</th><th>Metric</th><th>Check</th><th>Description</th></tr>
{% for v in bias.violations %}<tr class="flag"><td>{{ v.facet }}</td><td>{{ v.facet_value }}</td><td>{{ v.metric_name }}</td><td>{{ v.constraint_check_type }}</td><td>{{ v.description }}</td></tr>{% endfor %}
</table>{% endif %}
<div class="features">{% for plot in bias_plots %}<figure id="bias-{{ loop.index }}"><img alt="{{ plot.caption }}" src="data:image/png;base64,{{ plot.data }}" width="100%"><figcaption>{{ plot.caption }}</figcaption></figure>{% endfor %}</div>
{% endif %}
{% if explainability %}
<h2>Feature attribution drift</h2>
<p>{{ explainability.records }} captured rows explained (exact TreeSHAP per feature).
{% for label, score in explainability.ndcg.items() %}{{ label }}: NDCG {{ '%.4f'|format(score) }}{% if score < 0.9 %} (below 0.9: drift){% endif %}. {% endfor %}</p>
<div class="features">{% for plot in shap_plots %}<figure id="shap-{{ loop.index }}"><img alt="{{ plot.caption }}" src="data:image/png;base64,{{ plot.data }}" width="100%"><figcaption>{{ plot.caption }}</figcaption></figure>{% endfor %}</div>
{% endif %}
{% if features %}
<h2>Features</h2>
<table id="features"><tr><th>Feature</th><th>Baseline type</th><th>Current type</th><th>Completeness</th><th>Drift distance</th></tr>
{% for f in features %}<tr class="{{ 'flag' if f.flagged else '' }}"><td>{{ f.name }}</td><td>{{ f.baseline_type or '-' }}</td><td>{{ f.current_type or '-' }}</td>
<td>{{ f.completeness }}</td><td>{{ f.drift }}</td></tr>{% endfor %}
</table>
<div class="features">
{% for f in features %}{% if f.plot %}<figure id="plot-{{ f.name }}"><img alt="distribution of {{ f.name }}" src="data:image/png;base64,{{ f.plot }}" width="100%">
<figcaption>{{ f.name }}: baseline vs current</figcaption></figure>{% endif %}
{% endfor %}</div>
{% endif %}
</body></html>
"""


def write_report(
    out_path: Path,
    *,
    baseline_statistics: Mapping[str, Any],
    current_statistics: Mapping[str, Any],
    violations: Sequence[Violation],
    comparisons: Sequence[FeatureComparison] = (),
    model_quality: ModelQualityResult | None = None,
    bias: BiasResult | None = None,
    explainability: ExplainabilityResult | None = None,
    title: str = "Model Monitor report",
) -> Path:
    """Render the report to ``out_path`` (an .html file); returns the path."""
    import jinja2

    baseline_features = {f["name"]: f for f in baseline_statistics.get("features", [])}
    current_features = {f["name"]: f for f in current_statistics.get("features", [])}
    by_name = {c.name: c for c in comparisons}
    flagged = {v.feature_name for v in violations}
    features = []
    for name in [*baseline_features, *(n for n in current_features if n not in baseline_features)]:
        comparison = by_name.get(name)
        features.append(
            {
                "name": name,
                "baseline_type": baseline_features.get(name, {}).get("inferred_type"),
                "current_type": current_features.get(name, {}).get("inferred_type"),
                "completeness": _fmt(comparison.completeness if comparison else None),
                "drift": _fmt(comparison.drift if comparison else None),
                "flagged": name in flagged,
                "plot": _plot(name, baseline_features.get(name), current_features.get(name)),
            }
        )
    environment = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined)
    html = environment.from_string(_TEMPLATE).render(
        title=title,
        current_count=current_statistics.get("dataset", {}).get("item_count", 0),
        baseline_count=baseline_statistics.get("dataset", {}).get("item_count", 0),
        violations=list(violations),
        model_quality=model_quality,
        mq_violations=model_quality.violations if model_quality else [],
        features=features,
        bias=bias,
        bias_plots=_bias_plots(bias) if bias else [],
        explainability=explainability,
        shap_plots=_shap_plots(explainability) if explainability else [],
    )
    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    out_path.write_text(html, encoding="utf-8")
    return out_path


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.4f}"


def _plot(
    name: str, baseline: Mapping[str, Any] | None, current: Mapping[str, Any] | None
) -> str | None:
    """A base64 PNG comparing the two distributions, or None when neither side has one."""
    if baseline is None and current is None:
        return None
    reference = baseline or current
    assert reference is not None
    if "numerical_statistics" in reference:
        labels, base_share, current_share = _numeric_shares(reference, current)
    else:
        labels, base_share, current_share = _categorical_shares(baseline, current)
    if not labels:
        return None
    from matplotlib.figure import Figure  # no pyplot: no global state, no GUI backend

    figure = Figure(figsize=(6.0, 3.0), dpi=72)
    figure.subplots_adjust(left=0.1, right=0.98, top=0.9, bottom=0.3)
    axes = figure.add_subplot()
    positions = np.arange(len(labels))
    axes.bar(positions - 0.2, base_share, width=0.4, label="baseline", color="#4c78a8")
    axes.bar(positions + 0.2, current_share, width=0.4, label="current", color="#f58518")
    axes.set_xticks(positions, labels, rotation=45, ha="right", fontsize=7)
    axes.set_ylabel("share of values")
    axes.set_title(name, fontsize=10)
    axes.legend(fontsize=8)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def _numeric_shares(
    reference: Mapping[str, Any], current: Mapping[str, Any] | None
) -> tuple[list[str], list[float], list[float]]:
    kll = reference["numerical_statistics"]["distribution"]["kll"]
    buckets = kll["buckets"]
    if not buckets:
        return [], [], []
    counts = np.asarray([b["count"] for b in buckets], dtype=float)
    base = [0.0, *(counts / counts.sum()).tolist(), 0.0]
    labels = ["< min"] + [f"{b['lower_bound']:.4g}" for b in buckets] + ["> max"]
    shares = [0.0] * len(base)
    if current is not None and "numerical_statistics" in current:
        sample = sample_from_json(current["numerical_statistics"]["distribution"]["kll"]["sketch"])
        if sample.items.size:
            edges = np.asarray([buckets[0]["lower_bound"]] + [b["upper_bound"] for b in buckets])
            below_min = float(np.sum(sample.weights[sample.items < edges[0]]))
            above_max = float(np.sum(sample.weights[sample.items > edges[-1]]))
            inside = np.histogram(sample.items, bins=edges, weights=sample.weights)[0]
            total = sample.total
            shares = [below_min / total, *(inside / total).tolist(), above_max / total]
    return labels, base, shares


def _categorical_shares(
    baseline: Mapping[str, Any] | None, current: Mapping[str, Any] | None
) -> tuple[list[str], list[float], list[float]]:
    def counts(feature: Mapping[str, Any] | None) -> dict[str, float]:
        if feature is None or "string_statistics" not in feature:
            return {}
        buckets = feature["string_statistics"]["distribution"]["categorical"]["buckets"]
        return {str(b["value"]): float(b["count"]) for b in buckets}

    base, now = counts(baseline), counts(current)
    base_total, now_total = sum(base.values()) or 1.0, sum(now.values()) or 1.0
    keys = sorted(
        set(base) | set(now),
        key=lambda k: -(base.get(k, 0) / base_total + now.get(k, 0) / now_total),
    )
    keys = keys[:_TOP_CATEGORIES]
    return (
        keys,
        [base.get(k, 0) / base_total for k in keys],
        [now.get(k, 0) / now_total for k in keys],
    )


def write_analysis_report(
    result: Any,
    out_path: Path,
    *,
    title: str = "Model Monitor report",
    bias: BiasResult | None = None,
    explainability: ExplainabilityResult | None = None,
) -> Path:
    """The report for an ``analysis.AnalysisResult`` (and the bias and explainability runs of
    the same window, when given)."""
    return write_report(
        out_path,
        baseline_statistics=result.baseline.statistics,
        current_statistics=result.current_statistics,
        violations=result.violations,
        comparisons=result.comparisons,
        model_quality=result.model_quality,
        bias=bias,
        explainability=explainability,
        title=title,
    )


def _figure(height: float) -> Any:
    from matplotlib.figure import Figure  # no pyplot: no global state, no GUI backend

    return Figure(figsize=(6.0, height), dpi=72)


def _png(figure: Any) -> str:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def _bias_plots(result: BiasResult) -> list[dict[str, str]]:
    """One bar chart per stage and facet group: each metric's value, violations in red."""
    from training.clarify import PRE_TRAINING, metric_number

    flagged = {(v.facet, v.facet_value, v.metric_name) for v in result.violations}
    plots = []
    for section, block in (
        (s, result.analysis.get(s)) for s in (PRE_TRAINING, "post_training_bias_metrics")
    ):
        if not block:
            continue
        stage = "pre-training" if section == PRE_TRAINING else "post-training"
        for facet, groups in block.get("facets", {}).items():
            for group in groups:
                named = [
                    (m["name"], metric_number(m.get("value"))) for m in group.get("metrics", [])
                ]
                shown = [(n, v) for n, v in named if v is not None and np.isfinite(v)]
                if not shown:
                    continue
                figure = _figure(0.3 * len(shown) + 1.0)
                figure.subplots_adjust(left=0.18, right=0.97, top=0.88, bottom=0.12)
                axes = figure.add_subplot()
                value = str(group.get("value_or_threshold"))
                colors = [
                    "#c0392b" if (facet, value, n) in flagged else "#4c78a8" for n, _ in shown
                ]
                axes.barh([n for n, _ in shown], [v for _, v in shown], color=colors)
                axes.axvline(0.0, color="#888", linewidth=0.8)
                axes.set_title(f"{stage}: {facet} = {value}", fontsize=10)
                plots.append(
                    {"caption": f"{stage} bias metrics, {facet} = {value}", "data": _png(figure)}
                )
    return plots


def _shap_plots(result: ExplainabilityResult) -> list[dict[str, str]]:
    """Global SHAP importance per output, baseline against current (the attribution drift)."""
    from monitoring.explainability import global_shap

    plots = []
    for label, current in global_shap(result.analysis).items():
        before = result.baseline.get(label, {})
        names = sorted(current, key=lambda name: before.get(name, current[name]))
        figure = _figure(0.28 * len(names) + 1.0)
        figure.subplots_adjust(left=0.3, right=0.97, top=0.9, bottom=0.1)
        axes = figure.add_subplot()
        positions = np.arange(len(names))
        if before:
            axes.barh(
                positions + 0.2,
                [before.get(n, 0.0) for n in names],
                height=0.4,
                label="baseline",
                color="#4c78a8",
            )
        axes.barh(
            positions - 0.2,
            [current[n] for n in names],
            height=0.4,
            label="current",
            color="#f58518",
        )
        axes.set_yticks(positions, names, fontsize=7)
        score = result.ndcg.get(label)
        suffix = f" (NDCG {score:.3f})" if score is not None else ""
        axes.set_title(f"global SHAP, {label}{suffix}", fontsize=10)
        axes.legend(fontsize=8)
        plots.append({"caption": f"global SHAP importance, {label}{suffix}", "data": _png(figure)})
    return plots
