"""The CloudWatch metrics the managed monitor emits, computed always, published on request.

Data quality (namespace ``aws/sagemaker/Endpoints/data-metrics``), per feature:
``feature_baseline_drift_<f>`` (the drift distance), ``feature_non_null_<f>`` (completeness)
and, for numeric features, ``feature_data_<f>`` as a statistic set (SampleCount, Sum, Minimum,
Maximum; CloudWatch derives Average). Model quality (``aws/sagemaker/Endpoints/model-metrics``):
one metric per binary-classification metric name (``auc``, ``f1``, ...). Both carry the
dimensions ``Endpoint`` and ``MonitoringSchedule``, so alarms written for the managed monitor
(the serving stack's drift alarm) fire on locally published values too.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from mlops.core.names import DATA_METRICS_NAMESPACE, MODEL_METRICS_NAMESPACE, feature_drift_metric
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
    dimensions = [
        {"Name": "Endpoint", "Value": endpoint},
        {"Name": "MonitoringSchedule", "Value": schedule},
    ]
    sent = 0
    for namespace in sorted({m.namespace for m in metrics}):
        data = []
        for metric in (m for m in metrics if m.namespace == namespace):
            datum: dict[str, Any] = {
                "MetricName": metric.name,
                "Dimensions": dimensions,
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
