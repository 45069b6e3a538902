"""Model quality: captured predictions joined with ground truth, against a quality baseline.

Files mirror the managed model-quality monitor for each problem type (names from
`mlops.core.problem_types`, sourced there from the SageMaker Developer Guide): statistics.json
holds ``binary_classification_metrics``, ``multiclass_classification_metrics`` or
``regression_metrics`` (each ``{"value", "standard_deviation"}``, classification with a
``confusion_matrix``); the baseline is a constraints.json with the matching
``<kind>_constraints`` (``{"threshold", "comparison_operator"}``: ``LessThanThreshold`` for a
metric where higher is better, ``GreaterThanThreshold`` for an error such as ``rmse``), and
violations name ``metric_name``. A baseline may also be given as metrics (our evaluation.json,
contracts §6, or a model-quality statistics.json): thresholds are then suggested a few standard
deviations on the worse side of each value, because a live sample measured against the exact
baseline value would flag half the time from noise alone.

Answers are read as the endpoint writes them (contracts §5): binary ``probability,label``,
multiclass ``label,p1,…,pk`` / ``{"label", "probabilities"}``, regression ``value`` /
``{"value"}`` — and bare numbers or score lists, as the built-in XGBoost answers.
"""

from __future__ import annotations

import csv
import functools
import io
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from mlops.core.problem_types import ProblemType, problem_type_spec, spec_for_section
from monitoring.capture import CaptureRecord, GroundTruthRecord, Payload, ground_truth_labels
from monitoring.errors import MonitoringInputError
from monitoring.jsonio import read_json, write_json
from monitoring.tables import read_table

CHECKED_METRICS = problem_type_spec("binary").metric_names
DEFAULT_SLACK = 0.02
# A suggested threshold sits this many baseline standard deviations on the worse side of the
# baseline value (at least DEFAULT_SLACK, relative to the value for an error metric): the live
# sample is as noisy as the baseline, and a monitor that fires on noise gets muted.
THRESHOLD_SIGMAS = 4.0
BOOTSTRAP_ROUNDS = 40
BOOTSTRAP_MAX_ROWS = 100_000


@dataclass(frozen=True)
class Answer:
    """One row's answer from the endpoint: label, positive-class probability, or value."""

    label: str | None = None
    probability: float | None = None
    value: float | None = None


@dataclass(frozen=True)
class JoinedPredictions:
    """The captured inferences that have ground truth, encoded for the problem type.

    binary: ``y_true``/``y_pred`` 0/1, ``y_score`` the positive-class probability;
    multiclass: class indexes into ``classes``, ``y_score`` unused (NaN);
    regression: ``y_true`` the actual value, ``y_pred`` = ``y_score`` the predicted value.
    """

    y_true: np.ndarray[Any, Any]
    y_score: np.ndarray[Any, Any]
    y_pred: np.ndarray[Any, Any]
    unmatched_captures: int
    unmatched_ground_truth: int
    problem_type: ProblemType = "binary"
    classes: tuple[str, ...] = ()


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
    problem_type: ProblemType = "binary"


# --- reading answers and labels --------------------------------------------------------------


def answers(payload: Payload, problem_type: ProblemType) -> list[Answer]:
    """The per-row answers in a captured response."""
    text = payload.text()
    content_type = payload.content_type.lower()
    if "json" in content_type:
        lines = text.splitlines() if "jsonlines" in content_type else [text]
        found: list[Answer] = []
        for line in lines:
            if line.strip():
                found.extend(_json_answers(json.loads(line), problem_type))
        return found
    rows = [fields for fields in csv.reader(io.StringIO(text)) if fields]
    return [_csv_answer([cell.strip() for cell in row], problem_type) for row in rows]


def _json_answers(document: Any, problem_type: ProblemType) -> list[Answer]:
    if isinstance(document, dict) and "predictions" in document:
        document = document["predictions"]
    items = document if isinstance(document, list) else [document]
    if problem_type == "multiclass" and items and all(_is_number(v) for v in items):
        items = [items]  # one row's class scores, as the built-in multi:softprob answers
    return [_json_answer(item, problem_type) for item in items]


def _json_answer(item: Any, problem_type: ProblemType) -> Answer:
    if isinstance(item, dict):
        label = item.get("label", item.get("predicted_label"))
        probability = item.get("probability", item.get("score"))
        value = item.get("value", item.get("prediction", item.get("score")))
        return Answer(
            label=None if label is None else canonical_label(label),
            probability=None if probability is None else float(probability),
            value=None if value is None else float(value),
        )
    if isinstance(item, list):  # class scores without names: the index is the label
        scores = [float(v) for v in item]
        return Answer(label=str(int(np.argmax(scores))))
    return _scalar_answer(item, problem_type)


def _csv_answer(row: list[str], problem_type: ProblemType) -> Answer:
    if problem_type == "regression":
        return Answer(value=float(row[0]))
    if problem_type == "multiclass":
        if _is_number(row[0]) and len(row) > 1 and all(_is_number(v) for v in row):
            scores = [float(v) for v in row]  # bare class scores
            return Answer(label=str(int(np.argmax(scores))))
        return Answer(label=canonical_label(row[0]))
    return Answer(
        probability=float(row[0]), label=canonical_label(row[1]) if len(row) > 1 else None
    )


def _scalar_answer(item: Any, problem_type: ProblemType) -> Answer:
    if problem_type == "regression":
        return Answer(value=float(item))
    if problem_type == "multiclass":
        return Answer(label=canonical_label(item))
    return Answer(probability=float(item))


def _is_number(value: Any) -> bool:
    if isinstance(value, bool):
        return False
    try:
        float(value)
    except (TypeError, ValueError):
        return False
    return True


def canonical_label(value: Any) -> str:
    """A label as text that compares equal however it travelled (``1``, ``"1"``, ``1.0``)."""
    text = str(value).strip()
    try:
        number = float(text)
    except ValueError:
        return text
    return f"{number:.15g}" if math.isfinite(number) else text


# Labels repeat (a few classes over 10^5-10^6 rows): each distinct text is parsed once.
_canonical_text = functools.lru_cache(maxsize=65_536)(canonical_label)


@functools.lru_cache(maxsize=65_536)
def _is_positive(label: str, positive_label: str) -> int:
    text = label.strip()
    if text == positive_label or _canonical_text(text) == _canonical_text(positive_label):
        return 1
    try:
        return int(float(text) >= 0.5) if text.lower() not in ("nan", "inf") else 0
    except ValueError:
        return 0


# --- joining ---------------------------------------------------------------------------------


def join(
    captures: Sequence[CaptureRecord],
    ground_truth: Sequence[GroundTruthRecord],
    *,
    positive_label: str = "Yes",
    threshold: float = 0.5,
    problem_type: ProblemType = "binary",
) -> JoinedPredictions:
    """Pair each captured prediction with its label, as Model Monitor merges them.

    A ground-truth record labels the capture whose ``inferenceId`` it names, or, for a capture
    without one, whose ``eventId`` it names (``CaptureRecord.merge_id``). A batch request
    pairs row by row with a ground-truth record holding as many labels. Binary: ground truth is
    positive when it equals ``positive_label`` or is a number ≥ 0.5; a prediction is positive
    when its label is ``positive_label`` or, without a label, when its probability reaches
    ``threshold``.
    """
    truth = {record.event_id: record for record in ground_truth}
    pairs: list[tuple[str, Answer]] = []
    matched_ids: set[str] = set()
    unmatched = 0
    for record in captures:
        label_record = truth.get(record.merge_id)
        if label_record is None or record.endpoint_output is None:
            unmatched += 1
            continue
        try:
            given = answers(record.endpoint_output, problem_type)
            labels = ground_truth_labels(label_record.data)
        except (ValueError, TypeError, KeyError, IndexError):
            unmatched += 1
            continue
        if len(given) != len(labels):
            unmatched += 1
            continue
        matched_ids.add(record.merge_id)
        pairs.extend(zip(labels, given, strict=True))
    unmatched_truth = len(set(truth) - matched_ids)
    if problem_type == "regression":
        return _regression_pairs(pairs, unmatched, unmatched_truth)
    if problem_type == "multiclass":
        return _multiclass_pairs(pairs, unmatched, unmatched_truth)
    y_true = [_is_positive(label, positive_label) for label, _ in pairs]
    y_score = [
        answer.probability if answer.probability is not None else math.nan for _, answer in pairs
    ]
    y_pred = [
        int(answer.label == _canonical_text(positive_label))
        if answer.label is not None
        else int((answer.probability or 0.0) >= threshold)
        for _, answer in pairs
    ]
    return JoinedPredictions(
        y_true=np.asarray(y_true, dtype=np.int64),
        y_score=np.asarray(y_score, dtype=np.float64),
        y_pred=np.asarray(y_pred, dtype=np.int64),
        unmatched_captures=unmatched,
        unmatched_ground_truth=unmatched_truth,
    )


def _multiclass_pairs(
    pairs: list[tuple[str, Answer]], unmatched: int, unmatched_truth: int
) -> JoinedPredictions:
    kept = [(_canonical_text(label), answer.label) for label, answer in pairs if answer.label]
    classes = tuple(sorted({label for pair in kept for label in pair if label is not None}))
    index = {label: code for code, label in enumerate(classes)}
    return JoinedPredictions(
        y_true=np.asarray([index[actual] for actual, _ in kept], dtype=np.int64),
        y_score=np.full(len(kept), np.nan),
        y_pred=np.asarray([index[str(guess)] for _, guess in kept], dtype=np.int64),
        unmatched_captures=unmatched + len(pairs) - len(kept),
        unmatched_ground_truth=unmatched_truth,
        problem_type="multiclass",
        classes=classes,
    )


def _regression_pairs(
    pairs: list[tuple[str, Answer]], unmatched: int, unmatched_truth: int
) -> JoinedPredictions:
    actual: list[float] = []
    predicted: list[float] = []
    for label, answer in pairs:
        value = answer.value if answer.value is not None else answer.probability
        try:
            truth = float(label)
        except ValueError:
            continue
        if value is not None and math.isfinite(truth):
            actual.append(truth)
            predicted.append(float(value))
    guesses = np.asarray(predicted, dtype=np.float64)
    return JoinedPredictions(
        y_true=np.asarray(actual, dtype=np.float64),
        y_score=guesses,
        y_pred=guesses,
        unmatched_captures=unmatched + len(pairs) - len(actual),
        unmatched_ground_truth=unmatched_truth,
        problem_type="regression",
    )


# --- metrics ---------------------------------------------------------------------------------


def _auc(y_true: np.ndarray[Any, Any], y_score: np.ndarray[Any, Any]) -> float:
    """Area under the ROC curve as the Mann-Whitney statistic, ties counted half."""
    positives = int(y_true.sum())
    negatives = y_true.size - positives
    if positives == 0 or negatives == 0 or not np.isfinite(y_score).all():
        return math.nan
    _, inverse, counts = np.unique(y_score, return_inverse=True, return_counts=True)
    ends = np.cumsum(counts)
    average_rank = ends - (counts - 1) / 2.0
    ranks = average_rank[inverse]
    rank_sum = float(ranks[y_true == 1].sum())
    return (rank_sum - positives * (positives + 1) / 2.0) / (positives * negatives)


def quality_metrics(
    joined: JoinedPredictions,
) -> tuple[dict[str, float], dict[str, dict[str, int]]]:
    """The problem type's metrics and (classification) confusion matrix."""
    if joined.problem_type == "regression":
        return _regression_metrics(joined.y_true, joined.y_pred), {}
    if joined.problem_type == "multiclass":
        matrix = _multiclass_matrix(joined.y_true, joined.y_pred, len(joined.classes))
        confusion = {
            actual: {guess: int(matrix[i, j]) for j, guess in enumerate(joined.classes)}
            for i, actual in enumerate(joined.classes)
        }
        return _multiclass_metrics(matrix), confusion
    return binary_metrics(joined)


def binary_metrics(joined: JoinedPredictions) -> tuple[dict[str, float], dict[str, dict[str, int]]]:
    """AUC, F1, precision, recall, accuracy and friends, and the confusion matrix."""
    return _metrics(joined.y_true, joined.y_score, joined.y_pred), _confusion(
        joined.y_true, joined.y_pred
    )


def _confusion(t: np.ndarray[Any, Any], p: np.ndarray[Any, Any]) -> dict[str, dict[str, int]]:
    tp, tn = int(np.sum((t == 1) & (p == 1))), int(np.sum((t == 0) & (p == 0)))
    fp, fn = int(np.sum((t == 0) & (p == 1))), int(np.sum((t == 1) & (p == 0)))
    return {"0": {"0": tn, "1": fp}, "1": {"0": fn, "1": tp}}


def _ratio(a: float, b: float) -> float:
    return a / b if b else 0.0


def _metrics(
    t: np.ndarray[Any, Any], score: np.ndarray[Any, Any], p: np.ndarray[Any, Any]
) -> dict[str, float]:
    matrix = _confusion(t, p)
    tn, fp, fn, tp = matrix["0"]["0"], matrix["0"]["1"], matrix["1"]["0"], matrix["1"]["1"]
    precision, recall = _ratio(tp, tp + fp), _ratio(tp, tp + fn)
    return {
        "auc": _auc(t, score),
        "f1": _ratio(2 * precision * recall, precision + recall),
        "precision": precision,
        "recall": recall,
        "accuracy": _ratio(tp + tn, t.size),
        "true_positive_rate": recall,
        "true_negative_rate": _ratio(tn, tn + fp),
        "false_positive_rate": _ratio(fp, fp + tn),
        "false_negative_rate": _ratio(fn, fn + tp),
    }


def _multiclass_matrix(
    t: np.ndarray[Any, Any], p: np.ndarray[Any, Any], size: int
) -> np.ndarray[Any, Any]:
    return np.bincount(t * size + p, minlength=size * size).reshape(size, size)


def _multiclass_metrics(matrix: np.ndarray[Any, Any]) -> dict[str, float]:
    """Accuracy and support-weighted precision, recall and F-scores (0 where undefined)."""
    support = matrix.sum(axis=1).astype(np.float64)
    total = float(support.sum())
    if not total:
        return {}
    hits = np.diag(matrix).astype(np.float64)
    answered = matrix.sum(axis=0).astype(np.float64)
    precision = np.divide(hits, answered, out=np.zeros_like(hits), where=answered > 0)
    recall = np.divide(hits, support, out=np.zeros_like(hits), where=support > 0)

    def weighted(values: np.ndarray[Any, Any]) -> float:
        return float(np.sum(values * support) / total)

    def f_beta(beta: float) -> float:
        weight = beta * beta
        denominator = weight * precision + recall
        scores = np.divide(
            (1 + weight) * precision * recall,
            denominator,
            out=np.zeros_like(denominator),
            where=denominator > 0,
        )
        return weighted(scores)

    return {
        "accuracy": float(hits.sum() / total),
        "weighted_f1": f_beta(1.0),
        "weighted_precision": weighted(precision),
        "weighted_recall": weighted(recall),
        "weighted_f0_5": f_beta(0.5),
        "weighted_f2": f_beta(2.0),
        "accuracy_best_constant_classifier": float(support.max() / total),
    }


def _regression_metrics(
    actual: np.ndarray[Any, Any], predicted: np.ndarray[Any, Any]
) -> dict[str, float]:
    if not actual.size:
        return {}
    errors = predicted - actual
    mse = float(np.mean(errors**2))
    variance = float(np.mean((actual - actual.mean()) ** 2))
    return {
        "mae": float(np.mean(np.abs(errors))),
        "mse": mse,
        "rmse": math.sqrt(mse),
        "r2": 1.0 - mse / variance if variance > 0 else math.nan,
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
        resampled = JoinedPredictions(
            y_true=joined.y_true[index],
            y_score=joined.y_score[index],
            y_pred=joined.y_pred[index],
            unmatched_captures=0,
            unmatched_ground_truth=0,
            problem_type=joined.problem_type,
            classes=joined.classes,
        )
        values, _ = quality_metrics(resampled)
        for name, value in values.items():
            samples.setdefault(name, []).append(value)
    scale = math.sqrt(size / n)
    return {
        name: float(np.nanstd(values)) * scale
        for name, values in samples.items()
        if np.isfinite(values).any()
    }


# --- files -----------------------------------------------------------------------------------


def statistics_document(
    metrics: Mapping[str, float],
    matrix: Mapping[str, Mapping[str, int]],
    item_count: int,
    std: Mapping[str, float] | None = None,
    problem_type: ProblemType = "binary",
) -> dict[str, Any]:
    """Model-quality statistics.json (NaN, e.g. AUC of a one-class sample, as the string "NaN")."""
    body: dict[str, Any] = {}
    if matrix:
        body["confusion_matrix"] = {k: dict(v) for k, v in matrix.items()}
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
        problem_type_spec(problem_type).metrics_section: body,
    }


def suggest_constraints(
    metrics_document: Mapping[str, Any], *, slack: float = DEFAULT_SLACK
) -> dict[str, Any]:
    """constraints.json from a metrics document of any problem type.

    Each checked metric may move ``THRESHOLD_SIGMAS`` of its standard deviation (when the
    document has one, as our statistics.json does), and at least ``slack``, to its worse side:
    below for a score, above for an error (relative to the value there: errors have units).
    """
    spec = spec_for_section(dict(metrics_document))
    body = (metrics_document.get(spec.metrics_section) or {}) if spec else {}
    constraints = {}
    for metric in spec.metrics if spec else ():
        entry = body.get(metric.name)
        value = entry.get("value") if isinstance(entry, dict) else None
        deviation = entry.get("standard_deviation") if isinstance(entry, dict) else None
        spread = (
            float(deviation)
            if isinstance(deviation, (int, float)) and math.isfinite(deviation)
            else 0.0
        )
        if not (isinstance(value, (int, float)) and math.isfinite(value)):
            continue
        margin = THRESHOLD_SIGMAS * spread
        if metric.higher_is_better:
            threshold = float(value) - max(slack, margin)
            if metric.minimum == 0.0:
                threshold = max(0.0, threshold)
        else:
            threshold = float(value) + max(slack * abs(float(value)), margin)
        constraints[metric.name] = {
            "threshold": threshold,
            "comparison_operator": metric.violation_operator,
        }
    if spec is None or not constraints:
        raise MonitoringInputError(
            "the model-quality baseline holds no binary_classification_metrics, "
            "multiclass_classification_metrics or regression_metrics values"
        )
    return {"version": 0.0, spec.constraints_section: constraints}


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
    spec = spec_for_section(document)
    if spec is None:
        raise MonitoringInputError(
            f"{path} has no model-quality constraints or metrics section (such as "
            "binary_classification_constraints or regression_metrics)"
        )
    if spec.constraints_section in document:
        return document
    return suggest_constraints(document, slack=slack)


def problem_type_of(document: Mapping[str, Any]) -> ProblemType | None:
    """The problem type a metrics or constraints document is about, if it says."""
    spec = spec_for_section(dict(document))
    return spec.name if spec else None


_OPERATORS = {
    "LessThanThreshold": lambda value, limit: value < limit,
    "GreaterThanThreshold": lambda value, limit: value > limit,
}


def check(
    metrics: Mapping[str, float], constraints: Mapping[str, Any]
) -> list[ModelQualityViolation]:
    """A violation for each constrained metric on the wrong side of its threshold."""
    spec = spec_for_section(dict(constraints))
    rules = (constraints.get(spec.constraints_section) if spec else None) or {}
    violations = []
    for name, rule in rules.items():
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
    problem_type: ProblemType = "binary",
) -> ModelQualityResult:
    """Join, measure, check, and write statistics.json + constraint_violations.json."""
    if constraints:
        baseline_type = problem_type_of(constraints)
        if baseline_type is not None and baseline_type != problem_type:
            raise MonitoringInputError(
                f"the model-quality baseline is for a {baseline_type} model, the monitor "
                f"measures a {problem_type} one: give the baseline of this model (or "
                f"--problem-type {baseline_type})"
            )
    joined = join(
        captures,
        ground_truth,
        positive_label=positive_label,
        threshold=threshold,
        problem_type=problem_type,
    )
    if joined.y_true.size == 0:
        raise MonitoringInputError(
            f"no captured prediction has ground truth ({len(captures)} captures, "
            f"{len(ground_truth)} ground-truth records share no inferenceId or eventId)"
        )
    metrics, matrix = quality_metrics(joined)
    violations = check(metrics, constraints) if constraints else []
    document = statistics_document(
        metrics, matrix, joined.y_true.size, bootstrap_std(joined), problem_type
    )
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
        problem_type=problem_type,
    )


# --- the model-quality baseline (the pipeline's MODEL_QUALITY QualityCheck, locally) ---------


@dataclass(frozen=True)
class ModelQualityBaseline:
    """What a MODEL_QUALITY baselining job wrote, and how many rows it measured."""

    statistics: Path
    constraints: Path
    item_count: int


def write_model_quality_baseline(
    data: Path,
    out_dir: Path,
    *,
    problem_type: ProblemType,
    inference_attribute: str,
    ground_truth_attribute: str,
    probability_attribute: str | None = None,
    probability_threshold: float = 0.5,
) -> ModelQualityBaseline:
    """statistics.json + constraints.json of a dataset of predictions and labels (CSV with a
    header), as Model Monitor's MODEL_QUALITY analysis baselines one: the attributes name the
    columns; binary outcomes are 1/0 (or the label's text for 1), the prediction taken from
    ``probability ≥ probability_threshold`` when the inference column is absent."""
    header, rows = read_table(data, kind="predictions file", expected="predictions")
    column = {name: index for index, name in enumerate(header)}
    for role, name in (
        ("ground truth", ground_truth_attribute),
        ("inference", inference_attribute),
    ):
        if name not in column:
            raise MonitoringInputError(
                f"{data}: no {role} column {name!r} (its columns are {', '.join(header)})"
            )
    probability_at = column.get(probability_attribute) if probability_attribute else None
    pairs = []
    for row in rows:
        probability = float(row[probability_at]) if probability_at is not None else None
        predicted = row[column[inference_attribute]].strip()
        answer = Answer(
            label=_canonical_text(predicted) if problem_type != "regression" else None,
            probability=probability,
            value=float(predicted) if problem_type == "regression" else None,
        )
        pairs.append((row[column[ground_truth_attribute]], answer))
    if problem_type == "regression":
        joined = _regression_pairs(pairs, 0, 0)
    elif problem_type == "multiclass":
        joined = _multiclass_pairs(pairs, 0, 0)
    else:
        positive = "1"
        joined = JoinedPredictions(
            y_true=np.asarray([_is_positive(label, positive) for label, _ in pairs], np.int64),
            y_score=np.asarray(
                [math.nan if a.probability is None else a.probability for _, a in pairs]
            ),
            y_pred=np.asarray(
                [
                    _is_positive(a.label, positive)
                    if a.label
                    else int((a.probability or 0.0) >= probability_threshold)
                    for _, a in pairs
                ],
                np.int64,
            ),
            unmatched_captures=0,
            unmatched_ground_truth=0,
        )
    if joined.y_true.size == 0:
        raise MonitoringInputError(f"no labelled predictions in {data}")
    metrics, matrix = quality_metrics(joined)
    statistics = statistics_document(
        metrics, matrix, int(joined.y_true.size), bootstrap_std(joined), problem_type
    )
    out_dir = Path(out_dir)
    return ModelQualityBaseline(
        statistics=write_json(out_dir / "statistics.json", statistics),
        constraints=write_json(out_dir / "constraints.json", suggest_constraints(statistics)),
        item_count=int(joined.y_true.size),
    )
