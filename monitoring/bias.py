"""Bias drift: Clarify's bias metrics on captured traffic with ground truth, against a baseline.

The live counterpart of the pipeline's ModelBiasBaseline: captured requests give each row's
facet values, the captured answers its predicted outcome, ground truth (merged on the
``inferenceId``, else the ``eventId``, as for model quality) its actual outcome. The metrics
are the ones `training.clarify` computes for the baseline — the same code, so a drift is a
change in the traffic and never a difference between two implementations. A metric further
from its balanced value (1 for DI, else 0) than the constraint allows is a violation, written
as the bias drift monitor writes them (``constraint_violations.json``: ``facet``,
``facet_value``, ``metric_name``, ``constraint_check_type: bias_drift_check``,
``description``), and every metric is a CloudWatch metric ``bias_metric_<name>`` with the
monitor's dimensions (``BiasStage``, ``Label``, ``LabelValue``, ``Facet``, ``FacetValue``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from mlops.core.names import BIAS_METRICS_NAMESPACE, bias_metric
from mlops.core.problem_types import ProblemType
from monitoring.capture import CaptureRecord, GroundTruthRecord, ground_truth_labels, input_rows
from monitoring.errors import MonitoringInputError
from monitoring.jsonio import write_json
from monitoring.metrics import MetricDatum
from monitoring.model_quality import Answer, answers
from training import clarify

ANALYSIS_FILE = clarify.ANALYSIS_FILE
VIOLATIONS_FILE = "constraint_violations.json"
BIAS_DRIFT_CHECK = "bias_drift_check"
STAGES = {clarify.PRE_TRAINING: "Pre-training", clarify.POST_TRAINING: "Post-training"}
# CloudWatch cannot hold an infinity; the monitor publishes this number instead (Developer
# Guide, "CloudWatch Metrics for Bias Drift Analysis").
CLOUDWATCH_INFINITY = 2.348543e108


@dataclass(frozen=True)
class BiasViolation:
    facet: str
    facet_value: str
    metric_name: str
    description: str
    constraint_check_type: str = BIAS_DRIFT_CHECK

    def to_json(self) -> dict[str, str]:
        return {
            "facet": self.facet,
            "facet_value": self.facet_value,
            "metric_name": self.metric_name,
            "constraint_check_type": self.constraint_check_type,
            "description": self.description,
        }


@dataclass(frozen=True)
class LabelledRows:
    """Captured rows that have ground truth: features by name, outcome predicted and actual."""

    columns: dict[str, list[str]]
    predicted: list[Any]
    actual: list[str]


@dataclass
class BiasResult:
    analysis: dict[str, Any]
    violations: list[BiasViolation]
    analysis_file: Path
    violations_file: Path
    records: int
    metrics: list[MetricDatum] = field(default_factory=list)


def labelled_rows(
    captures: Sequence[CaptureRecord],
    ground_truth: Sequence[GroundTruthRecord],
    features: Sequence[str],
    *,
    problem_type: ProblemType,
    positive_label: str,
    negative_label: str,
    prediction_threshold: float,
) -> LabelledRows:
    """Join captured requests and answers with ground truth, row by row (Model Monitor's
    merge: the capture's ``inferenceId``, else its ``eventId``)."""
    truth = {record.event_id: record for record in ground_truth}
    columns: dict[str, list[str]] = {name: [] for name in features}
    predicted: list[Any] = []
    actual: list[str] = []
    for record in captures:
        label_record = truth.get(record.merge_id)
        if label_record is None or record.endpoint_input is None or not record.endpoint_output:
            continue
        try:
            rows = input_rows(record.endpoint_input)
            given = answers(record.endpoint_output, problem_type)
            labels = ground_truth_labels(label_record.data)
        except (ValueError, TypeError, KeyError, IndexError):
            continue
        if not (len(rows) == len(given) == len(labels)):
            continue
        for row, answer, label in zip(rows, given, labels, strict=True):
            cells = [row.get(name) for name in features] if isinstance(row, dict) else row
            for name, cell in zip(features, cells, strict=False):
                columns[name].append("" if cell is None else str(cell).strip())
            predicted.append(
                _outcome(answer, problem_type, positive_label, negative_label, prediction_threshold)
            )
            actual.append(label)
    return LabelledRows(columns, predicted, actual)


def _outcome(
    answer: Answer, problem_type: ProblemType, positive: str, negative: str, threshold: float
) -> Any:
    """A captured answer as the predicted outcome, in the label's space."""
    if problem_type == "regression":
        return answer.value if answer.value is not None else answer.probability
    if answer.label is not None:
        return answer.label
    if problem_type == "binary" and answer.probability is not None:
        return positive if answer.probability >= threshold else negative
    return ""


def evaluate_bias(
    captures: Sequence[CaptureRecord],
    ground_truth: Sequence[GroundTruthRecord],
    out_dir: Path,
    *,
    config: Mapping[str, Any],
    constraints: Mapping[str, Any] | None,
    problem_type: ProblemType,
    positive_label: str = "",
    negative_label: str = "",
    prediction_threshold: float = 0.5,
    model: clarify.EncodedModel | None = None,
) -> BiasResult:
    """Bias metrics of the labelled traffic, checked against ``constraints`` (a bias
    ``constraints.json`` / ``analysis.json``); writes analysis.json and
    constraint_violations.json into ``out_dir``. ``config`` is the bias monitor's analysis
    configuration (``headers``, ``label``, ``label_values_or_threshold``, ``facet``,
    ``group_variable``); with ``model`` the flip test runs on the model's encoding."""
    label = str(config.get("label") or "label")
    features = [str(name) for name in config.get("headers", []) if name != label]
    if not features:
        raise MonitoringInputError("the bias analysis configuration lists no headers")
    facets = [clarify.Facet.from_config(entry) for entry in config.get("facet", [])]
    if not facets:
        raise MonitoringInputError("the bias analysis configuration names no facet")
    missing = [facet.name for facet in facets if facet.name not in features]
    if missing:
        raise MonitoringInputError(f"facets {missing} are not among the headers {features}")
    rule = clarify.LabelRule.from_config(config.get("label_values_or_threshold", []))
    rows = labelled_rows(
        captures,
        ground_truth,
        features,
        problem_type=problem_type,
        positive_label=positive_label,
        negative_label=negative_label,
        prediction_threshold=prediction_threshold,
    )
    if not rows.actual:
        raise MonitoringInputError(
            f"no captured prediction has ground truth ({len(captures)} captures, "
            f"{len(ground_truth)} ground-truth records share no inferenceId or eventId)"
        )
    group_name = config.get("group_variable")
    flip_features = None
    if model is not None:
        matrix = clarify.encode_rows(model, rows.columns)
        exclude = [facet.name for facet in facets] + ([str(group_name)] if group_name else [])
        flip_features = clarify.flip_test_features(model, matrix, exclude)
    data = clarify.BiasData(
        facets={facet.name: np.asarray(rows.columns[facet.name], dtype=object) for facet in facets},
        labels=np.asarray(rows.actual, dtype=object),
        predicted=np.asarray(rows.predicted, dtype=object),
        group=np.asarray(rows.columns[str(group_name)], dtype=object) if group_name else None,
        features=flip_features,
    )
    try:
        analysis = clarify.bias_analysis(data, label=label, facets=facets, rule=rule)
    except clarify.ClarifyError as error:
        raise MonitoringInputError(str(error)) from None
    violations = check(analysis, constraints) if constraints else []
    out_dir = Path(out_dir)
    return BiasResult(
        analysis=analysis,
        violations=violations,
        analysis_file=write_json(out_dir / ANALYSIS_FILE, analysis),
        violations_file=write_json(
            out_dir / VIOLATIONS_FILE,
            {"version": clarify.VERSION, "violations": [v.to_json() for v in violations]},
        ),
        records=len(rows.actual),
        metrics=bias_metrics(analysis),
    )


def check(analysis: Mapping[str, Any], constraints: Mapping[str, Any]) -> list[BiasViolation]:
    """A violation for each metric further from its balanced value than its constraint."""
    live = clarify.flatten(analysis)
    violations = []
    for (section, facet, group, metric), bound in clarify.flatten(constraints).items():
        value = live.get((section, facet, group, metric))
        if value is None:
            value = _same_threshold(live, section, facet, group, metric)
        if bound is None or value is None or not math.isfinite(bound) or math.isnan(value):
            continue
        fair = clarify.FAIR_VALUE.get(metric, 0.0)
        if abs(value - fair) > abs(bound - fair):
            violations.append(
                BiasViolation(
                    facet, group, metric, f"Value {value} does not meet the constraint requirement"
                )
            )
    return violations


def _same_threshold(
    live: Mapping[tuple[str, str, str, str], float | None],
    section: str,
    facet: str,
    group: str,
    metric: str,
) -> float | None:
    """A numeric facet's group is ``(threshold, max]``, and the max moves with the data: the
    live group with the same threshold stands for the baseline's."""
    if not group.startswith("("):
        return None
    lower = group.split(",", 1)[0]
    for (s, f, g, m), value in live.items():
        if (s, f, m) == (section, facet, metric) and g.split(",", 1)[0] == lower:
            return value
    return None


def bias_metrics(analysis: Mapping[str, Any]) -> list[MetricDatum]:
    """``bias_metric_<name>`` per stage, facet group and label, as the monitor publishes them
    (a metric with an error is not published; ±infinity as ±2.348543e108)."""
    found = []
    for section, stage in STAGES.items():
        block = analysis.get(section) or {}
        label = str(block.get("label", ""))
        label_value = str(block.get("label_value_or_threshold", ""))
        for facet, groups in block.get("facets", {}).items():
            for group in groups:
                for metric in group.get("metrics", []):
                    value = clarify.metric_number(metric.get("value"))
                    if value is None or math.isnan(value):
                        continue
                    if math.isinf(value):
                        value = math.copysign(CLOUDWATCH_INFINITY, value)
                    found.append(
                        MetricDatum(
                            BIAS_METRICS_NAMESPACE,
                            bias_metric(metric["name"]),
                            value,
                            dimensions=(
                                ("BiasStage", stage),
                                ("Label", label),
                                ("LabelValue", label_value),
                                ("Facet", facet),
                                ("FacetValue", str(group.get("value_or_threshold"))),
                            ),
                        )
                    )
    return found
