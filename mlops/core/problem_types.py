"""The three problem types and the model-quality metrics of each, named as SageMaker names them.

Evaluation reports (``evaluation.json``, registered as a model package's ModelQuality
statistics), the pipeline's gate and Model Monitor's model-quality files all use these names and
sections, so a version's registered metrics, the gate that let it through and the monitor that
watches it in production speak of the same numbers.

Source: Amazon SageMaker Developer Guide, "Model quality metrics"
(https://docs.aws.amazon.com/sagemaker/latest/dg/model-monitor-model-quality-metrics.html):
statistics sections ``binary_classification_metrics`` (``auc``, ``f1``, ``precision``,
``recall``, ``accuracy``, ``true_positive_rate``, …, ``confusion_matrix``),
``multiclass_classification_metrics`` (``accuracy``, ``weighted_recall``,
``weighted_precision``, ``weighted_f0_5``, ``weighted_f1``, ``weighted_f2``, their
``*_best_constant_classifier`` twins, ``confusion_matrix``) and ``regression_metrics`` (``mae``,
``mse``, ``rmse``, ``r2``), each value ``{"value", "standard_deviation"}``; the constraints file
uses ``<kind>_constraints`` with ``{"threshold", "comparison_operator"}``. The monitor's
problem types are botocore's ``MonitoringProblemType`` enum: ``BinaryClassification``,
``MulticlassClassification``, ``Regression``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal, get_args

ProblemType = Literal["binary", "multiclass", "regression"]
PROBLEM_TYPES: tuple[ProblemType, ...] = get_args(ProblemType)

# Model Monitor's comparison operators: the direction in which a metric crosses into violation.
LESS_THAN = "LessThanThreshold"
GREATER_THAN = "GreaterThanThreshold"


@dataclass(frozen=True)
class MetricSpec:
    """One scalar model-quality metric: which way is better and what values it can take."""

    name: str
    higher_is_better: bool = True
    minimum: float = 0.0
    maximum: float = 1.0

    @property
    def violation_operator(self) -> str:
        """The constraint's ``comparison_operator``: a value on this side of it is a violation."""
        return LESS_THAN if self.higher_is_better else GREATER_THAN

    @property
    def value_range(self) -> str:
        low = "-inf" if math.isinf(self.minimum) else f"{self.minimum:g}"
        high = "inf" if math.isinf(self.maximum) else f"{self.maximum:g}"
        return f"[{low}, {high}]"

    def check_threshold(self, threshold: float) -> str | None:
        """Why ``threshold`` cannot be a gate for this metric, or None when it can."""
        if not math.isfinite(threshold):
            return "must be a finite number"
        if not self.minimum <= threshold <= self.maximum:
            return f"{self.name} lies in {self.value_range}"
        return None


@dataclass(frozen=True)
class ProblemTypeSpec:
    """Everything that differs between problem types, outside the container scripts."""

    name: ProblemType
    monitor_problem_type: str  # MonitoringProblemType
    metrics_section: str  # evaluation.json / model-quality statistics.json section
    constraints_section: str  # model-quality constraints.json section
    metrics: tuple[MetricSpec, ...]  # the scalar metrics reported, headline first
    default_gate_metric: str
    default_gate_threshold: float
    # xgboost's evaluation metrics during training, the last one drives early stopping.
    training_metrics: tuple[str, ...]

    @property
    def metric_names(self) -> tuple[str, ...]:
        return tuple(metric.name for metric in self.metrics)

    def metric(self, name: str) -> MetricSpec:
        for metric in self.metrics:
            if metric.name == name:
                return metric
        raise KeyError(
            f"{name!r} is not a {self.name} metric; choose one of {', '.join(self.metric_names)}"
        )

    def metric_path(self, name: str) -> str:
        """``<section>.<metric>.value``: where evaluation.json holds the value (JsonGet path)."""
        return f"{self.metrics_section}.{self.metric(name).name}.value"


def _error(name: str) -> MetricSpec:
    """A regression error: lower is better, from 0 up."""
    return MetricSpec(name, higher_is_better=False, minimum=0.0, maximum=math.inf)


SPECS: dict[ProblemType, ProblemTypeSpec] = {
    "binary": ProblemTypeSpec(
        name="binary",
        monitor_problem_type="BinaryClassification",
        metrics_section="binary_classification_metrics",
        constraints_section="binary_classification_constraints",
        metrics=(
            MetricSpec("auc"),
            MetricSpec("f1"),
            MetricSpec("precision"),
            MetricSpec("recall"),
            MetricSpec("accuracy"),
        ),
        default_gate_metric="auc",
        default_gate_threshold=0.75,
        # logloss, not AUC, stops training: AUC ranks rows and is blind to calibration, so it can
        # stop at round 2 with every probability under the decision threshold (a model that
        # answers one class for every row). Logloss keeps improving until the probabilities fit.
        training_metrics=("auc", "logloss"),
    ),
    "multiclass": ProblemTypeSpec(
        name="multiclass",
        monitor_problem_type="MulticlassClassification",
        metrics_section="multiclass_classification_metrics",
        constraints_section="multiclass_classification_constraints",
        metrics=(
            MetricSpec("accuracy"),
            MetricSpec("weighted_f1"),
            MetricSpec("weighted_precision"),
            MetricSpec("weighted_recall"),
        ),
        default_gate_metric="weighted_f1",
        default_gate_threshold=0.7,
        training_metrics=("merror", "mlogloss"),
    ),
    "regression": ProblemTypeSpec(
        name="regression",
        monitor_problem_type="Regression",
        metrics_section="regression_metrics",
        constraints_section="regression_constraints",
        metrics=(
            MetricSpec("r2", minimum=-math.inf),
            _error("rmse"),
            _error("mae"),
            _error("mse"),
        ),
        default_gate_metric="r2",
        default_gate_threshold=0.2,
        training_metrics=("mae", "rmse"),
    ),
}


def problem_type_spec(problem_type: ProblemType) -> ProblemTypeSpec:
    return SPECS[problem_type]


def spec_for_section(document: dict[str, object]) -> ProblemTypeSpec | None:
    """The problem type whose metrics or constraints section ``document`` holds, if any."""
    for spec in SPECS.values():
        if spec.metrics_section in document or spec.constraints_section in document:
            return spec
    return None
