"""The CloudWatch metrics the managed monitor emits, computed always, published on request.

Data quality (namespace ``aws/sagemaker/Endpoints/data-metrics``), per feature:
``feature_baseline_drift_<f>`` (the drift distance), ``feature_non_null_<f>`` (completeness)
and, for numeric features, ``feature_data_<f>`` as a statistic set (SampleCount, Sum, Minimum,
Maximum; CloudWatch derives Average). Model quality (``aws/sagemaker/Endpoints/model-metrics``):
one metric per model-quality metric name (``auc``, ``f1``, ...). Bias drift
(``…/bias-metrics``: ``bias_metric_<name>``, with ``BiasStage``, ``Label``, ``LabelValue``,
``Facet``, ``FacetValue``) and feature attribution (``…/explainability-metrics``:
``feature_<f>``, with ``ExplainabilityMethod``, ``Label``, ``ValueType``) are built by
`monitoring.bias` and `monitoring.explainability`. All carry the dimensions ``Endpoint`` and
``MonitoringSchedule`` (each monitor type its own schedule), so alarms written for the managed
monitors (the serving stack's alarms) fire on locally published values too.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from mlops.core.names import (
    DATA_METRICS_NAMESPACE,
    MODEL_METRICS_NAMESPACE,
    MONITOR_NAMESPACES,
    feature_drift_metric,
)
from monitoring.checks import FeatureComparison
from monitoring.profile import ColumnProfile

_BATCH = 20  # the smallest PutMetricData batch any CloudWatch API version accepts


@dataclass(frozen=True)
class MetricDatum:
    """One metric value (``value``) or statistic set (``statistics``) in one namespace."""

    namespace: str
    name: str
    value: float | None = None
    statistics: Mapping[str, float] | None = None
    # Dimensions besides Endpoint and MonitoringSchedule (bias: BiasStage, Facet, …).
    dimensions: tuple[tuple[str, str], ...] = ()


def data_quality_metrics(
    comparisons: Iterable[FeatureComparison], profiles: Mapping[str, ColumnProfile]
) -> list[MetricDatum]:
    """The managed monitor's per-feature data-quality metrics for what was measured."""
    metrics: list[MetricDatum] = []
    for comparison in comparisons:
        name = comparison.name
        if comparison.drift is not None:
            metrics.append(
                MetricDatum(DATA_METRICS_NAMESPACE, feature_drift_metric(name), comparison.drift)
            )
        if comparison.completeness is not None:
            metrics.append(
                MetricDatum(
                    DATA_METRICS_NAMESPACE, f"feature_non_null_{name}", comparison.completeness
                )
            )
        profile = profiles.get(name)
        if profile is not None and profile.count > 0:
            metrics.append(
                MetricDatum(
                    DATA_METRICS_NAMESPACE,
                    f"feature_data_{name}",
                    statistics={
                        "SampleCount": float(profile.count),
                        "Sum": profile.total,
                        "Minimum": profile.minimum,
                        "Maximum": profile.maximum,
                    },
                )
            )
    return metrics


def model_quality_metrics(values: Mapping[str, float]) -> list[MetricDatum]:
    return [MetricDatum(MODEL_METRICS_NAMESPACE, name, value) for name, value in values.items()]


def publish(
    cloudwatch: Any,
    metrics: Sequence[MetricDatum],
    *,
    endpoint: str,
    schedule: str,
    timestamp: datetime | None = None,
) -> int:
    """PutMetricData for every metric, batched per namespace; returns how many were sent."""
    when = timestamp or datetime.now(UTC)
    common = [
        {"Name": "Endpoint", "Value": endpoint},
        {"Name": "MonitoringSchedule", "Value": schedule},
    ]
    sent = 0
    for namespace in sorted({m.namespace for m in metrics}):
        data = []
        for metric in (m for m in metrics if m.namespace == namespace):
            datum: dict[str, Any] = {
                "MetricName": metric.name,
                "Dimensions": common + [{"Name": n, "Value": v} for n, v in metric.dimensions],
                "Timestamp": when,
                "Unit": "None",
            }
            if metric.statistics is not None:
                datum["StatisticValues"] = dict(metric.statistics)
            else:
                datum["Value"] = float(metric.value or 0.0)
            data.append(datum)
        for start in range(0, len(data), _BATCH):
            cloudwatch.put_metric_data(Namespace=namespace, MetricData=data[start : start + _BATCH])
            sent += len(data[start : start + _BATCH])
    return sent


def publish_by_monitor(
    cloudwatch: Any,
    metrics: Sequence[MetricDatum],
    *,
    endpoint: str,
    schedules: Mapping[str, str],
    timestamp: datetime | None = None,
) -> int:
    """Publish each monitor's metrics under its own schedule: ``schedules`` maps a monitor type
    (`mlops.core.names.MONITOR_TYPES`) to its ``MonitoringSchedule`` name."""
    sent = 0
    for monitor, namespace in MONITOR_NAMESPACES.items():
        chosen = [metric for metric in metrics if metric.namespace == namespace]
        if chosen and monitor in schedules:
            sent += publish(
                cloudwatch,
                chosen,
                endpoint=endpoint,
                schedule=schedules[monitor],
                timestamp=timestamp,
            )
    return sent
