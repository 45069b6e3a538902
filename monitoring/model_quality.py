"""Model quality: captured predictions joined with ground truth, against a quality baseline.

Files mirror the managed model-quality monitor: statistics.json holds
``binary_classification_metrics`` (each ``{"value", "standard_deviation"}`` plus a
``confusion_matrix``), the baseline is a constraints.json with
``binary_classification_constraints`` (``{"threshold", "comparison_operator":
"LessThanThreshold"}`` per metric), and violations name ``metric_name``. A baseline may also
be given as metrics (our evaluation.json, contracts §6, or a model-quality statistics.json):
thresholds are then suggested a few standard deviations below each value, because a live
sample measured against the exact baseline value would flag half the time from noise alone.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from monitoring.capture import (
    CaptureRecord,
    GroundTruthRecord,
    ground_truth_labels,
    output_predictions,
)
from monitoring.errors import MonitoringInputError
from monitoring.jsonio import read_json, write_json

CHECKED_METRICS = ("auc", "f1", "precision", "recall", "accuracy")
DEFAULT_SLACK = 0.02
# A suggested threshold sits this many baseline standard deviations below the baseline value
# (at least DEFAULT_SLACK): the live sample is as noisy as the baseline, and a monitor that
# fires on noise gets muted.
THRESHOLD_SIGMAS = 4.0
BOOTSTRAP_ROUNDS = 40
BOOTSTRAP_MAX_ROWS = 100_000


@dataclass(frozen=True)
class JoinedPredictions:
    """Scores and labels of the captured inferences that have ground truth."""

    y_true: np.ndarray[Any, np.dtype[np.int64]]
    y_score: np.ndarray[Any, np.dtype[np.float64]]
    y_pred: np.ndarray[Any, np.dtype[np.int64]]
    unmatched_captures: int
    unmatched_ground_truth: int


@dataclass(frozen=True)
class ModelQualityViolation:
    metric_name: str
    constraint_check_type: str
    description: str

    def to_json(self) -> dict[str, str]:
        return {
            "metric_name": self.metric_name,
            "constraint_check_type": self.constraint_check_type,
            "description": self.description,
        }


@dataclass(frozen=True)
class ModelQualityResult:
    metrics: dict[str, float]
    confusion_matrix: dict[str, dict[str, int]]
    matched: int
    violations: list[ModelQualityViolation] = field(default_factory=list)
    statistics: Path | None = None
    violations_file: Path | None = None


def _is_positive(label: str, positive_label: str) -> int:
    text = label.strip()
    if text == positive_label:
        return 1
    try:
        return int(float(text) >= 0.5) if text.lower() not in ("nan", "inf") else 0
    except ValueError:
        return 0


def join(
    captures: Sequence[CaptureRecord],
    ground_truth: Sequence[GroundTruthRecord],
    *,
    positive_label: str,
    threshold: float = 0.5,
) -> JoinedPredictions:
    """Pair each captured prediction with its label, as Model Monitor merges them.

    A ground-truth record labels the capture whose ``inferenceId`` it names, or, for a capture
    without one, whose ``eventId`` it names (``CaptureRecord.merge_id``). A batch request
    pairs row by row with a ground-truth record holding as many labels.
    Ground truth is positive when it equals ``positive_label`` or is a number ≥ 0.5; a
    prediction is positive when its label is ``positive_label`` or, without a label, when its
    probability reaches ``threshold``.
    """
    truth = {record.event_id: record for record in ground_truth}
    y_true: list[int] = []
    y_score: list[float] = []
    y_pred: list[int] = []
    matched_ids: set[str] = set()
    unmatched = 0
    for record in captures:
        label_record = truth.get(record.merge_id)
        if label_record is None or record.endpoint_output is None:
            unmatched += 1
            continue
        try:
            predictions = output_predictions(record.endpoint_output)
            labels = ground_truth_labels(label_record.data)
        except (ValueError, TypeError, KeyError):
            unmatched += 1
            continue
        if len(predictions) != len(labels):
            unmatched += 1
            continue
        matched_ids.add(record.merge_id)
        for prediction, label in zip(predictions, labels, strict=True):
            y_true.append(_is_positive(label, positive_label))
            y_score.append(prediction.probability)
            if prediction.label is None:
                y_pred.append(int(prediction.probability >= threshold))
            else:
                y_pred.append(int(prediction.label == positive_label))
    return JoinedPredictions(
        y_true=np.asarray(y_true, dtype=np.int64),
        y_score=np.asarray(y_score, dtype=np.float64),
        y_pred=np.asarray(y_pred, dtype=np.int64),
        unmatched_captures=unmatched,
        unmatched_ground_truth=len(set(truth) - matched_ids),
    )


def _auc(y_true: np.ndarray[Any, Any], y_score: np.ndarray[Any, Any]) -> float:
    """Area under the ROC curve as the Mann-Whitney statistic, ties counted half."""
    positives = int(y_true.sum())
    negatives = y_true.size - positives
    if positives == 0 or negatives == 0:
        return math.nan
    _, inverse, counts = np.unique(y_score, return_inverse=True, return_counts=True)
    ends = np.cumsum(counts)
    average_rank = ends - (counts - 1) / 2.0
    ranks = average_rank[inverse]
    rank_sum = float(ranks[y_true == 1].sum())
    return (rank_sum - positives * (positives + 1) / 2.0) / (positives * negatives)


def binary_metrics(joined: JoinedPredictions) -> tuple[dict[str, float], dict[str, dict[str, int]]]:
    """AUC, F1, precision, recall, accuracy and friends, and the confusion matrix."""
    return _metrics(joined.y_true, joined.y_score, joined.y_pred), _confusion(
        joined.y_true, joined.y_pred
    )


def _confusion(t: np.ndarray[Any, Any], p: np.ndarray[Any, Any]) -> dict[str, dict[str, int]]:
    tp, tn = int(np.sum((t == 1) & (p == 1))), int(np.sum((t == 0) & (p == 0)))
    fp, fn = int(np.sum((t == 0) & (p == 1))), int(np.sum((t == 1) & (p == 0)))
    return {"0": {"0": tn, "1": fp}, "1": {"0": fn, "1": tp}}


def _metrics(
    t: np.ndarray[Any, Any], score: np.ndarray[Any, Any], p: np.ndarray[Any, Any]
) -> dict[str, float]:
    matrix = _confusion(t, p)
    tn, fp, fn, tp = matrix["0"]["0"], matrix["0"]["1"], matrix["1"]["0"], matrix["1"]["1"]

    def ratio(a: float, b: float) -> float:
        return a / b if b else 0.0

    precision, recall = ratio(tp, tp + fp), ratio(tp, tp + fn)
    return {
        "auc": _auc(t, score),
        "f1": ratio(2 * precision * recall, precision + recall),
        "precision": precision,
        "recall": recall,
        "accuracy": ratio(tp + tn, t.size),
        "true_positive_rate": recall,
        "true_negative_rate": ratio(tn, tn + fp),
        "false_positive_rate": ratio(fp, fp + tn),
        "false_negative_rate": ratio(fn, fn + tp),
    }


def bootstrap_std(
    joined: JoinedPredictions, *, rounds: int = BOOTSTRAP_ROUNDS, seed: int = 0
) -> dict[str, float]:
    """Standard deviation of each metric over bootstrap resamples (the analyzer reports one too).

    Resamples are capped at BOOTSTRAP_MAX_ROWS rows and the spread rescaled by sqrt(cap / n),
    so a million labelled predictions cost no more than a hundred thousand.
    """
    n = joined.y_true.size
    if n < 2:
        return {}
    rng = np.random.default_rng(seed)
    size = min(n, BOOTSTRAP_MAX_ROWS)
    samples: dict[str, list[float]] = {}
    for _ in range(rounds):
        index = rng.integers(0, n, size)
        values = _metrics(joined.y_true[index], joined.y_score[index], joined.y_pred[index])
        for name, value in values.items():
            samples.setdefault(name, []).append(value)
    scale = math.sqrt(size / n)
    return {
        name: float(np.nanstd(values)) * scale
        for name, values in samples.items()
        if np.isfinite(values).any()
    }


def statistics_document(
    metrics: Mapping[str, float],
    matrix: Mapping[str, Mapping[str, int]],
    item_count: int,
    std: Mapping[str, float] | None = None,
) -> dict[str, Any]:
    """Model-quality statistics.json (NaN, e.g. AUC of a one-class sample, as the string "NaN")."""
    body: dict[str, Any] = {"confusion_matrix": {k: dict(v) for k, v in matrix.items()}}
    for name, value in metrics.items():
        deviation = (std or {}).get(name, math.nan)
        body[name] = {
            "value": value if math.isfinite(value) else "NaN",
            "standard_deviation": deviation if math.isfinite(deviation) else "NaN",
        }
    return {
        "version": 0.0,
        "dataset": {
            "item_count": item_count,
            "evaluation_time": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        },
        "binary_classification_metrics": body,
    }


def suggest_constraints(
    metrics_document: Mapping[str, Any], *, slack: float = DEFAULT_SLACK
) -> dict[str, Any]:
    """constraints.json from a metrics document.

    Each checked metric may fall ``THRESHOLD_SIGMAS`` of its standard deviation (when the
    document has one, as our statistics.json does) and at least ``slack`` below its value.
    """
    body = metrics_document.get("binary_classification_metrics") or {}
    constraints = {}
    for name in CHECKED_METRICS:
        entry = body.get(name)
        value = entry.get("value") if isinstance(entry, dict) else None
        deviation = entry.get("standard_deviation") if isinstance(entry, dict) else None
        spread = (
            float(deviation)
            if isinstance(deviation, (int, float)) and math.isfinite(deviation)
            else 0.0
        )
        if isinstance(value, (int, float)) and math.isfinite(value):
            constraints[name] = {
                "threshold": max(0.0, float(value) - max(slack, THRESHOLD_SIGMAS * spread)),
                "comparison_operator": "LessThanThreshold",
            }
    if not constraints:
        raise MonitoringInputError(
            "the model-quality baseline holds no binary_classification_metrics values"
        )
    return {"version": 0.0, "binary_classification_constraints": constraints}


def load_constraints(path: Path, *, slack: float = DEFAULT_SLACK) -> dict[str, Any]:
    """A model-quality baseline: a constraints.json, or metrics to suggest constraints from.

    ``path`` may be a directory holding constraints.json (preferred) or statistics.json /
    evaluation.json.
    """
    path = Path(path)
    if path.is_dir():
        for name in ("constraints.json", "statistics.json", "evaluation.json"):
            if (path / name).is_file():
                path = path / name
                break
        else:
            raise MonitoringInputError(
                f"no constraints.json, statistics.json or evaluation.json in {path}"
            )
    document = read_json(path, what="model-quality baseline")
    if "binary_classification_constraints" in document:
        return document
    if "binary_classification_metrics" in document:
        return suggest_constraints(document, slack=slack)
    raise MonitoringInputError(
        f"{path} has neither binary_classification_constraints nor binary_classification_metrics"
    )


_OPERATORS = {
    "LessThanThreshold": lambda value, limit: value < limit,
    "GreaterThanThreshold": lambda value, limit: value > limit,
}


def check(
    metrics: Mapping[str, float], constraints: Mapping[str, Any]
) -> list[ModelQualityViolation]:
    """A violation for each constrained metric on the wrong side of its threshold."""
    violations = []
    for name, rule in (constraints.get("binary_classification_constraints") or {}).items():
        value = metrics.get(name)
        operator = str(rule.get("comparison_operator", "LessThanThreshold"))
        compare = _OPERATORS.get(operator)
        if value is None or compare is None or not math.isfinite(value):
            continue
        limit = float(rule["threshold"])
        if compare(value, limit):
            violations.append(
                ModelQualityViolation(
                    name, operator, f"Metric {name} with {value} was {operator} '{limit}'"
                )
            )
    return violations


def evaluate_model_quality(
    captures: Sequence[CaptureRecord],
    ground_truth: Sequence[GroundTruthRecord],
    out_dir: Path,
    *,
    constraints: Mapping[str, Any] | None = None,
    positive_label: str = "Yes",
    threshold: float = 0.5,
) -> ModelQualityResult:
    """Join, measure, check, and write statistics.json + constraint_violations.json."""
    joined = join(captures, ground_truth, positive_label=positive_label, threshold=threshold)
    if joined.y_true.size == 0:
        raise MonitoringInputError(
            f"no captured prediction has ground truth ({len(captures)} captures, "
            f"{len(ground_truth)} ground-truth records share no inferenceId or eventId)"
        )
    metrics, matrix = binary_metrics(joined)
    violations = check(metrics, constraints) if constraints else []
    document = statistics_document(metrics, matrix, joined.y_true.size, bootstrap_std(joined))
    statistics = write_json(out_dir / "statistics.json", document)
    violations_file = write_json(
        out_dir / "constraint_violations.json", {"violations": [v.to_json() for v in violations]}
    )
    return ModelQualityResult(
        metrics=metrics,
        confusion_matrix=matrix,
        matched=int(joined.y_true.size),
        violations=violations,
        statistics=statistics,
        violations_file=violations_file,
    )
