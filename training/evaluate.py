"""Evaluate step (processing job in the SageMaker XGBoost 3.2-0 image; numpy, pandas,
scikit-learn, matplotlib, xgboost — all shipped in that image).

Inputs: ``model.tar.gz`` (contracts §4) under the model directory and the encoded test split
(§2: no header, label first). Output directory: ``evaluation.json`` (§6), PNG plots and
``predictions.csv`` (the model-quality baseline's dataset, `write_predictions`).

``evaluation.json`` has SageMaker's ModelMetrics / model-quality layout for the model's problem
type (the spec's ``problem_type``), with metric names as Model Monitor's model-quality jobs name
them (Amazon SageMaker Developer Guide, "Model quality metrics"):

- binary: ``binary_classification_metrics`` — ``auc``, ``f1``, ``precision``, ``recall``,
  ``accuracy``, ``f0_5``, ``f2``, ``true_positive_rate``, ``true_negative_rate``,
  ``false_positive_rate``, ``false_negative_rate``, ``accuracy_best_constant_classifier``,
  ``confusion_matrix``, ``receiver_operating_characteristic_curve``, ``precision_recall_curve``;
- multiclass: ``multiclass_classification_metrics`` — ``accuracy``, ``weighted_recall``,
  ``weighted_precision``, ``weighted_f0_5``, ``weighted_f1``, ``weighted_f2``,
  ``accuracy_best_constant_classifier``, ``weighted_f1_best_constant_classifier``,
  ``confusion_matrix`` keyed by the class labels;
- regression: ``regression_metrics`` — ``mae``, ``mse``, ``rmse``, ``r2``.

Each value is ``{"value", "standard_deviation"}`` (bootstrap over the test split). Two keys
outside SageMaker's sections: ``per_class_metrics`` (multiclass: precision, recall, f1, support
per class) and ``prediction_check`` (``distinct_predictions``, ``rows``, ``message``), which the
pipeline's CheckPredictions step reads: a model that answers one class for every test row, or
one value (zero variance) for a regression, fails the execution with that message.

The decision threshold of a binary model is its own (``prediction_threshold`` in its feature
spec), so the reported precision/recall are those the endpoint will deliver. Paths default to
the container layout under ``$SM_PROCESSING_ROOT`` (``/opt/ml/processing``). A failure writes
the reason to ``/opt/ml/output/message`` (DescribeProcessingJob's ExitMessage; also the last
stderr line) and exits 1.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import sys
import tarfile
import tempfile
import traceback
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

DEFAULT_ROOT = "/opt/ml/processing"
MODEL_ARCHIVE = "model.tar.gz"
MODEL_FILE = "xgboost-model"
PREDICTIONS_FILE = "predictions.csv"
SPEC_FILE = "feature_spec.json"
# Bootstrap resamples for each metric's standard deviation (ModelMetrics carries one).
BOOTSTRAP_SAMPLES = 100
MAX_CURVE_POINTS = 200
TOP_FEATURES = 20
SMALL_DATA_ROWS = 50_000
SECTIONS = {
    "binary": "binary_classification_metrics",
    "multiclass": "multiclass_classification_metrics",
    "regression": "regression_metrics",
}
HEADLINE = {
    "binary": ("auc", "f1", "precision", "recall", "accuracy"),
    "multiclass": ("accuracy", "weighted_f1", "weighted_precision", "weighted_recall"),
    "regression": ("r2", "rmse", "mae", "mse"),
}
PLOTS = {
    "binary": (
        "roc_curve.png",
        "precision_recall_curve.png",
        "confusion_matrix.png",
        "feature_importance.png",
    ),
    "multiclass": ("confusion_matrix.png", "per_class_f1.png", "feature_importance.png"),
    "regression": ("predicted_vs_actual.png", "residuals.png", "feature_importance.png"),
}


class EvaluationError(Exception):
    """Bad inputs; the message is the job's failure reason."""


def main(argv: list[str] | None = None) -> int:
    """Run the step; returns the process exit code."""
    args = _parse_args(argv)
    try:
        report = evaluate(args.model_dir, args.test_dir, args.output_dir)
    except EvaluationError as error:
        return _fail(f"evaluate failed: {error}")
    except Exception as error:  # whatever broke, the job's ExitMessage says what
        traceback.print_exc()
        first_line = (str(error).strip().splitlines() or [""])[0]
        return _fail(f"evaluate failed: {type(error).__name__}: {first_line}")
    problem_type = next(kind for kind, section in SECTIONS.items() if section in report)
    metrics = report[SECTIONS[problem_type]]
    print(" ".join(f"test-{name}:{metrics[name]['value']:.5f}" for name in HEADLINE[problem_type]))
    check = report["prediction_check"]
    print(f"prediction check: {check['distinct_predictions']} distinct on {check['rows']} rows")
    return 0


def _fail(reason: str) -> int:
    """Report a failure where SageMaker looks for it: the ExitMessage of DescribeProcessingJob
    is the first 1 KB of ``/opt/ml/output/message`` (next to the processing root; the local
    runtime re-roots both). The reason is also the last stderr line, for the job log."""
    reason = " ".join(reason.split())
    print(reason, file=sys.stderr, flush=True)
    message = Path(os.environ.get("SM_PROCESSING_ROOT", DEFAULT_ROOT)).parent / "output" / "message"
    try:
        message.parent.mkdir(parents=True, exist_ok=True)
        message.write_bytes(reason.encode("utf-8")[:1024])
    except OSError as error:
        print(f"could not write {message}: {error}", file=sys.stderr)
    return 1


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    root = Path(os.environ.get("SM_PROCESSING_ROOT", DEFAULT_ROOT))
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model-dir", type=Path, default=root / "model")
    parser.add_argument("--test-dir", type=Path, default=root / "test")
    parser.add_argument("--output-dir", type=Path, default=root / "evaluation")
    return parser.parse_args(argv)


def load_model(model_dir: Path, scratch: Path) -> tuple[Path, dict[str, Any]]:
    """Unpack the model.tar.gz in ``model_dir`` into ``scratch``: (booster file, spec)."""
    archives = sorted(model_dir.rglob(MODEL_ARCHIVE))
    if not archives:
        raise EvaluationError(f"no {MODEL_ARCHIVE} under {model_dir}")
    try:
        with tarfile.open(archives[0], "r:gz") as tar:
            tar.extractall(scratch, filter="data")
    except (tarfile.TarError, OSError) as error:
        raise EvaluationError(f"{archives[0].name} is not a readable tar.gz: {error}") from None
    booster_path = scratch / MODEL_FILE
    spec_path = scratch / SPEC_FILE
    for path in (booster_path, spec_path):
        if not path.is_file():
            raise EvaluationError(f"{archives[0].name} has no {path.name}")
    # The .ubj name tells xgboost the format (the artifact's member has no extension).
    named = booster_path.rename(booster_path.with_name(f"{MODEL_FILE}.ubj"))
    spec = json.loads(spec_path.read_text())
    if spec.get("problem_type", "binary") not in SECTIONS:
        raise EvaluationError(f"{SPEC_FILE}: unknown problem_type {spec.get('problem_type')!r}")
    return named, spec


def load_test(test_dir: Path, width: int, problem_type: str) -> tuple[np.ndarray, np.ndarray]:
    """(features, labels) from every CSV under ``test_dir``."""
    files = sorted(p for p in test_dir.rglob("*.csv") if p.is_file())
    if not files:
        raise EvaluationError(f"no test CSV under {test_dir}")
    frames = [pd.read_csv(path, header=None, dtype=np.float64) for path in files]
    data = pd.concat(frames, ignore_index=True).to_numpy()
    if data.shape[1] != width + 1:
        raise EvaluationError(
            f"the test split has {data.shape[1]} columns, the model expects {width + 1} "
            "(label + encoded_columns): model and data come from different preprocess runs?"
        )
    labels = data[:, 0]
    if problem_type == "binary" and len(np.unique(labels)) < 2:
        raise EvaluationError("the test split needs both classes to compute AUC")
    if problem_type == "regression":
        return data[:, 1:], labels
    codes = labels.astype(np.int64)
    if problem_type == "binary" and (codes.min() < 0 or codes.max() > 1):
        raise EvaluationError("the test split's labels are not 0/1: it is not a binary split")
    return data[:, 1:], codes


def evaluate(model_dir: Path, test_dir: Path, output_dir: Path) -> dict[str, Any]:
    """Score the test split, write evaluation.json and the plots; returns the report."""
    with tempfile.TemporaryDirectory() as scratch:
        booster_file, spec = load_model(model_dir, Path(scratch))
        problem_type = str(spec.get("problem_type", "binary"))
        columns = list(spec["encoded_columns"])
        features, labels = load_test(test_dir, len(columns), problem_type)
        # Heavy imports only once the inputs are known to be good: a bad job fails fast.
        import xgboost as xgb

        booster = xgb.Booster()
        booster.load_model(str(booster_file))
    if booster.feature_names is not None and list(booster.feature_names) != columns:
        raise EvaluationError(
            f"the model's features are not the {SPEC_FILE} encoded_columns: the archive's "
            "members come from different training runs?"
        )
    # One thread for a small test split: an OpenMP team costs more than it saves there.
    booster.set_param({"nthread": 1 if len(labels) < SMALL_DATA_ROWS else 0})
    # In place: the same predictions as through a DMatrix, without copying the split into one.
    scores = booster.inplace_predict(features)
    if problem_type == "binary":
        report, figures = _binary(spec, labels, scores)
    elif problem_type == "multiclass":
        report, figures = _multiclass(spec, labels, scores)
    else:
        report, figures = _regression(labels, scores)
    output_dir.mkdir(parents=True, exist_ok=True)
    (output_dir / "evaluation.json").write_text(json.dumps(report, indent=2) + "\n")
    write_predictions(output_dir / PREDICTIONS_FILE, spec, labels, scores)
    importance = {
        name: float(value)  # type: ignore[arg-type]
        for name, value in booster.get_score(importance_type="gain").items()
    }
    _plot(output_dir, problem_type, figures, importance)
    return report


def write_predictions(path: Path, spec: dict[str, Any], labels: np.ndarray, scores: Any) -> Path:
    """The test split's predictions next to its labels, with a header: the dataset of the
    pipeline's model-quality baseline (Model Monitor's MODEL_QUALITY analysis, whose
    ``inference_attribute`` / ``probability_attribute`` / ``ground_truth_attribute`` name
    these columns). Binary: ``probability``, ``prediction`` and ``label`` as 0/1 (1 = the
    positive label, at the model's threshold); multiclass: the class names; regression: the
    values."""
    problem_type = str(spec.get("problem_type", "binary"))
    columns: dict[str, list[Any]]
    if problem_type == "binary":
        threshold = float(spec.get("prediction_threshold", 0.5))
        columns = {
            "probability": _decimals(np.asarray(scores, dtype=np.float64)),
            "prediction": (np.asarray(scores) >= threshold).astype(np.int64).tolist(),
            "label": labels.astype(np.int64).tolist(),
        }
    elif problem_type == "multiclass":
        classes = np.asarray([str(label) for label in spec["classes"]], dtype=object)
        guesses = np.asarray(scores).reshape(len(labels), len(classes)).argmax(axis=1)
        columns = {"prediction": classes[guesses].tolist(), "label": classes[labels].tolist()}
    else:
        columns = {
            "prediction": _decimals(np.asarray(scores, np.float64)),
            "label": _decimals(labels),
        }
    _write_csv(path, columns)
    return path


def _decimals(values: np.ndarray) -> list[str]:
    """Each value as ``%.9g``, NaN as an empty field: what pandas writes for
    ``to_csv(float_format="%.9g")`` (its default ``na_rep``), formatted a column at a time."""
    return [f"{value:.9g}" if value == value else "" for value in values.reshape(-1).tolist()]


def _write_csv(path: Path, columns: dict[str, list[Any]]) -> None:
    """A header and the rows, as pandas' ``to_csv(index=False)`` writes them: through the
    csv module with its defaults (minimal quoting, so a class name with a comma is quoted)
    and ``os.linesep``."""
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator=os.linesep)
        writer.writerow(columns)
        writer.writerows(zip(*columns.values(), strict=True))


# --------------------------------------------------------------------------- binary


def _binary(
    spec: dict[str, Any], labels: np.ndarray, scores: np.ndarray
) -> tuple[dict[str, Any], dict[str, Any]]:
    if not np.isfinite(scores).all():
        raise EvaluationError("the model scores some test rows NaN or infinite")
    threshold = float(spec.get("prediction_threshold", 0.5))
    predicted = (scores >= threshold).astype(np.int64)
    # scikit-learn's confusion_matrix: rows actual, columns predicted (labels are 0/1).
    matrix = np.bincount(labels * 2 + predicted, minlength=4).reshape(2, 2)
    ranked = RankedScores.of(labels, scores, predicted)
    curves = ranked.curves()
    fpr, tpr = curves["false_positive_rates"], curves["true_positive_rates"]
    precision_curve, recall_curve = curves["precisions"], curves["recalls"]
    values = {
        name: float(series[0]) for name, series in ranked.metrics(ranked.tally()[None]).items()
    }
    spread = ranked.bootstrap()
    section: dict[str, Any] = {name: _value(value, spread[name]) for name, value in values.items()}
    section["confusion_matrix"] = {
        str(actual): {str(guess): int(matrix[actual, guess]) for guess in (0, 1)}
        for actual in (0, 1)
    }
    section["receiver_operating_characteristic_curve"] = {
        "false_positive_rates": _thin(fpr),
        "true_positive_rates": _thin(tpr),
    }
    section["precision_recall_curve"] = {
        "precisions": _thin(precision_curve),
        "recalls": _thin(recall_curve),
    }
    names = [str(spec.get("negative_label") or "negative"), str(spec["positive_label"])]
    report = {
        SECTIONS["binary"]: section,
        "prediction_check": prediction_check(predicted, lambda code: repr(names[int(code)])),
    }
    figures = {
        "roc": (fpr, tpr, values["auc"]),
        "pr": (precision_curve, recall_curve),
        "matrix": (matrix, names),
    }
    return report, figures


class RankedScores:
    """The test split reduced once to cells — the groups of equal score, in ascending order,
    split by class — so that a resample, any multiset of rows, is summed up by how many rows
    it draws in each cell (one ``bincount`` of its row indices), and its binary metrics follow
    from five integers (`tally`): a hundred bootstrap resamples cost a few passes over the
    test split each, not a scikit-learn call per metric.

    AUC is the Mann-Whitney statistic with ties counted half (what ``roc_auc_score``
    computes); the other metrics count the confusion matrix at the model's threshold. The
    tallies are exact integers, so every metric is one correctly rounded division of them,
    whatever the order of summation.
    """

    def __init__(self, cells: np.ndarray, guessed: np.ndarray) -> None:
        self.cells = cells  # per row: its group (rank of its distinct score) + groups × class
        self.guessed = guessed  # per group: 1 where predicted positive (one score, one guess)

    @classmethod
    def of(cls, labels: np.ndarray, scores: np.ndarray, predicted: np.ndarray) -> RankedScores:
        order = np.argsort(scores, kind="stable")
        ordered = np.asarray(scores)[order]
        starts = np.r_[True, ordered[1:] != ordered[:-1]]
        group = np.empty(len(order), dtype=np.intp)
        group[order] = np.cumsum(starts) - 1
        groups = int(np.count_nonzero(starts))
        cells = group + groups * (np.asarray(labels) == 1)
        guessed = (np.asarray(predicted)[order][starts] == 1).astype(np.int64)
        return cls(cells, guessed)

    def tally(self, rows: np.ndarray | None = None) -> np.ndarray:
        """Positives, negatives, true positives, false positives and twice the AUC's
        numerator (pairs ranked right, ties counting one of two) of the resample drawing
        ``rows`` (indices into the test split; None is the test split itself)."""
        groups = len(self.guessed)
        counts = np.bincount(self.cells if rows is None else self.cells[rows], minlength=2 * groups)
        negatives, positives = counts[:groups], counts[groups:]
        # Per group: twice the negatives below it plus its own (each tie counts a half).
        below = 2 * np.cumsum(negatives) - negatives
        return np.array(
            [
                positives.sum(),
                negatives.sum(),
                positives @ self.guessed,
                negatives @ self.guessed,
                positives @ below,
            ]
        )

    def curves(self) -> dict[str, np.ndarray]:
        """The test split's ROC and precision-recall curves, the points scikit-learn's
        ``roc_curve`` (intermediate points dropped) and ``precision_recall_curve`` return,
        from the groups already sorted here instead of two more sorts of the scores."""
        groups = len(self.guessed)
        counts = np.bincount(self.cells, minlength=2 * groups).astype(np.float64)
        # At each distinct score from the highest down: negatives and positives scoring it or more.
        fps = np.cumsum(counts[:groups][::-1])
        tps = np.cumsum(counts[groups:][::-1])
        precision = tps / (tps + fps)  # never 0 / 0: each distinct score has a row
        recall = tps / tps[-1] if tps[-1] != 0 else np.ones_like(tps)
        kept = np.arange(groups)
        if groups > 2:  # the ROC curve keeps only the corners
            kept = np.flatnonzero(
                np.r_[True, np.logical_or(np.diff(fps, 2), np.diff(tps, 2)), True]
            )
        roc_fps, roc_tps = np.r_[0.0, fps[kept]], np.r_[0.0, tps[kept]]
        return {
            "false_positive_rates": _rates(roc_fps),
            "true_positive_rates": _rates(roc_tps),
            "precisions": np.r_[precision[::-1], 1.0],
            "recalls": np.r_[recall[::-1], 0.0],
        }

    def metrics(self, tallies: np.ndarray) -> dict[str, np.ndarray]:
        """Each metric per resample, from `tally` rows (resamples × 5)."""
        positives, negatives, true_pos, false_pos, twice_wins = tallies.astype(np.float64).T
        total = positives + negatives
        precision = _ratios(true_pos, true_pos + false_pos)
        recall = _ratios(true_pos, positives)
        pairs = positives * negatives
        return {
            "auc": np.divide(
                twice_wins / 2, pairs, out=np.full_like(pairs, np.nan), where=pairs > 0
            ),
            "f1": _f_betas(precision, recall, 1.0),
            "precision": precision,
            "recall": recall,
            "accuracy": _ratios(true_pos + negatives - false_pos, total),
            "f0_5": _f_betas(precision, recall, 0.5),
            "f2": _f_betas(precision, recall, 2.0),
            "true_positive_rate": recall,
            "true_negative_rate": _ratios(negatives - false_pos, negatives),
            "false_positive_rate": _ratios(false_pos, negatives),
            "false_negative_rate": _ratios(positives - true_pos, positives),
            "accuracy_best_constant_classifier": np.maximum(positives, negatives) / total,
        }

    def bootstrap(self, samples: int = BOOTSTRAP_SAMPLES) -> dict[str, float]:
        """Bootstrap standard deviation of each metric over the resamples `bootstrap` draws
        (same seed, same draws)."""
        count = len(self.cells)
        rng = np.random.default_rng(0)
        tallies = np.array([self.tally(rng.integers(0, count, count)) for _ in range(samples)])
        return {name: _spread(values) for name, values in self.metrics(tallies).items()}


def _rates(cumulative: np.ndarray) -> np.ndarray:
    """Each count over the last (the total); NaN throughout when the total is 0."""
    if cumulative[-1] <= 0:
        return np.full_like(cumulative, np.nan)
    return cumulative / cumulative[-1]


def _ratios(numerators: np.ndarray, denominators: np.ndarray) -> np.ndarray:
    """numerator / denominator, 0 where the denominator is 0 (e.g. no predicted positive)."""
    return np.divide(
        numerators, denominators, out=np.zeros_like(numerators), where=denominators > 0
    )


def _f_betas(precision: np.ndarray, recall: np.ndarray, beta: float) -> np.ndarray:
    weight = beta * beta
    return _ratios((1 + weight) * precision * recall, weight * precision + recall)


def _spread(values: np.ndarray) -> float:
    """Sample standard deviation of the finite values (NaN with fewer than two)."""
    finite = values[np.isfinite(values)]
    return float(np.std(finite, ddof=1)) if len(finite) > 1 else float("nan")


# --------------------------------------------------------------------------- multiclass


def _multiclass(
    spec: dict[str, Any], labels: np.ndarray, scores: np.ndarray
) -> tuple[dict[str, Any], dict[str, Any]]:
    classes = [str(label) for label in spec["classes"]]
    probabilities = np.asarray(scores).reshape(len(labels), len(classes))
    predicted = probabilities.argmax(axis=1)
    codes = list(range(len(classes)))
    values = multiclass_metrics(labels, predicted, codes)
    spread = bootstrap(
        labels, lambda index: multiclass_metrics(labels[index], predicted[index], codes)
    )
    section: dict[str, Any] = {name: _value(value, spread[name]) for name, value in values.items()}
    from sklearn import metrics

    matrix = metrics.confusion_matrix(labels, predicted, labels=codes)
    section["confusion_matrix"] = {
        classes[actual]: {classes[guess]: int(matrix[actual, guess]) for guess in codes}
        for actual in codes
    }
    precision, recall, f1, support = metrics.precision_recall_fscore_support(
        labels, predicted, labels=codes, zero_division=0
    )
    per_class = {
        classes[code]: {
            "precision": round(float(precision[code]), 6),
            "recall": round(float(recall[code]), 6),
            "f1": round(float(f1[code]), 6),
            "support": int(support[code]),
        }
        for code in codes
    }
    report = {
        SECTIONS["multiclass"]: section,
        "per_class_metrics": per_class,
        "prediction_check": prediction_check(predicted, lambda code: repr(classes[int(code)])),
    }
    return report, {"matrix": (matrix, classes), "per_class": per_class}


def multiclass_metrics(
    labels: np.ndarray, predicted: np.ndarray, codes: list[int]
) -> dict[str, float]:
    """Accuracy and support-weighted precision, recall and F-scores over all classes.

    From the confusion matrix with numpy (what scikit-learn's ``average="weighted"``,
    ``zero_division=0`` computes): the bootstrap calls this a hundred times, and scikit-learn's
    argument validation made that seconds.
    """
    size = len(codes)
    matrix = np.bincount(labels * size + predicted, minlength=size * size).reshape(size, size)
    support = matrix.sum(axis=1).astype(np.float64)
    majority = int(np.argmax(support))
    constant = np.zeros_like(matrix)
    constant[:, majority] = matrix.sum(axis=1)
    weighted = _weighted_scores(matrix, support)
    return {
        "accuracy": float(np.trace(matrix) / support.sum()),
        "weighted_recall": weighted["recall"],
        "weighted_precision": weighted["precision"],
        "weighted_f0_5": weighted["f0_5"],
        "weighted_f1": weighted["f1"],
        "weighted_f2": weighted["f2"],
        "accuracy_best_constant_classifier": float(support[majority] / support.sum()),
        "weighted_f1_best_constant_classifier": _weighted_scores(constant, support)["f1"],
    }


def _weighted_scores(matrix: np.ndarray, support: np.ndarray) -> dict[str, float]:
    """Per-class precision, recall and F-beta (0 where undefined), averaged by support."""
    true_positive = np.diag(matrix).astype(np.float64)
    predicted = matrix.sum(axis=0).astype(np.float64)
    precision = np.divide(
        true_positive, predicted, out=np.zeros_like(predicted), where=predicted > 0
    )
    recall = np.divide(true_positive, support, out=np.zeros_like(support), where=support > 0)
    total = support.sum()
    scores = {"precision": precision, "recall": recall}
    for name, beta in (("f0_5", 0.5), ("f1", 1.0), ("f2", 2.0)):
        weight = beta * beta
        denominator = weight * precision + recall
        scores[name] = np.divide(
            (1 + weight) * precision * recall,
            denominator,
            out=np.zeros_like(denominator),
            where=denominator > 0,
        )
    return {name: float(np.sum(values * support) / total) for name, values in scores.items()}


# --------------------------------------------------------------------------- regression


def _regression(labels: np.ndarray, scores: np.ndarray) -> tuple[dict[str, Any], dict[str, Any]]:
    predictions = np.asarray(scores, dtype=np.float64).reshape(-1)
    values = regression_metrics(labels, predictions)
    spread = bootstrap(labels, lambda index: regression_metrics(labels[index], predictions[index]))
    section = {name: _value(value, spread[name]) for name, value in values.items()}
    report = {
        SECTIONS["regression"]: section,
        "prediction_check": prediction_check(
            np.asarray(scores, dtype=np.float32), lambda value: f"{float(value):.6g}"
        ),
    }
    return report, {"regression": (labels, predictions)}


def regression_metrics(labels: np.ndarray, predictions: np.ndarray) -> dict[str, float]:
    errors = predictions - labels
    mse = float(np.mean(errors**2))
    variance = float(np.mean((labels - labels.mean()) ** 2))
    return {
        "mae": float(np.mean(np.abs(errors))),
        "mse": mse,
        "rmse": float(np.sqrt(mse)),
        "r2": 1.0 - mse / variance if variance > 0 else float("nan"),
    }


# --------------------------------------------------------------------------- shared


def prediction_check(predicted: np.ndarray, show: Any) -> dict[str, Any]:
    """How many distinct answers the model gave on the test split; one is a constant model."""
    distinct = np.unique(predicted)
    rows = len(predicted)
    if len(distinct) == 1:
        message = (
            f"the model predicts {show(distinct[0])} for all {rows} test rows: it has learned "
            "nothing that tells the rows apart (check the target, the features and "
            "hyperparameters such as MinChildWeight or NumRound)"
        )
    else:
        message = f"{len(distinct)} distinct predictions on {rows} test rows"
    return {"distinct_predictions": len(distinct), "rows": rows, "message": message}


def bootstrap(
    labels: np.ndarray, measure: Any, samples: int = BOOTSTRAP_SAMPLES
) -> dict[str, float]:
    """Bootstrap standard deviation of each metric ``measure(index)`` returns.

    ModelMetrics carries a ``standard_deviation`` per value; model-quality monitoring derives
    its thresholds from it, so a small test split yields looser, honest thresholds instead of
    alarms on sampling noise.
    """
    rng = np.random.default_rng(0)
    count = len(labels)
    series: dict[str, list[float]] = {}
    for _ in range(samples):
        index = rng.integers(0, count, count)
        for name, value in measure(index).items():
            if np.isfinite(value):
                series.setdefault(name, []).append(float(value))
    return {
        name: float(np.std(values, ddof=1)) if len(values) > 1 else float("nan")
        for name, values in series.items()
    }


def _value(number: float, standard_deviation: float = float("nan")) -> dict[str, Any]:
    value: float | str = round(float(number), 6) if np.isfinite(number) else "NaN"
    spread: float | str = round(standard_deviation, 6) if np.isfinite(standard_deviation) else "NaN"
    return {"value": value, "standard_deviation": spread}


def _thin(values: np.ndarray) -> list[float]:
    """At most MAX_CURVE_POINTS evenly spaced points (first and last kept): the report stays
    small at any test size."""
    if len(values) > MAX_CURVE_POINTS:
        index = np.unique(np.linspace(0, len(values) - 1, MAX_CURVE_POINTS).round().astype(int))
        values = values[index]
    return [round(float(v), 6) for v in values]


# --------------------------------------------------------------------------- plots


def _plot(
    output_dir: Path,
    problem_type: str,
    figures: dict[str, Any],
    importance: dict[str, float],
) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = iter(PLOTS[problem_type])
    if "roc" in figures:
        fpr, tpr, auc = figures["roc"]
        figure, axes = plt.subplots(figsize=(5, 5))
        axes.plot(fpr, tpr, label=f"AUC = {auc:.3f}")
        axes.plot([0, 1], [0, 1], linestyle="--", color="grey")
        axes.set(xlabel="False positive rate", ylabel="True positive rate", title="ROC curve")
        axes.legend(loc="lower right")
        _save(figure, output_dir / next(names))
        precision, recall = figures["pr"]
        figure, axes = plt.subplots(figsize=(5, 5))
        axes.plot(recall, precision)
        axes.set(xlabel="Recall", ylabel="Precision", title="Precision-recall curve")
        _save(figure, output_dir / next(names))
    if "matrix" in figures:
        matrix, classes = figures["matrix"]
        _confusion_plot(plt, matrix, classes, output_dir / next(names))
    if "per_class" in figures:
        per_class = figures["per_class"]
        figure, axes = plt.subplots(figsize=(max(4, 0.6 * len(per_class) + 2), 4))
        axes.bar(list(per_class), [entry["f1"] for entry in per_class.values()])
        axes.set(xlabel="Class", ylabel="F1", ylim=(0, 1), title="F1 per class (test)")
        axes.tick_params(axis="x", rotation=45)
        figure.tight_layout()
        _save(figure, output_dir / next(names))
    if "regression" in figures:
        actual, predicted = figures["regression"]
        figure, axes = plt.subplots(figsize=(5, 5))
        axes.scatter(actual, predicted, s=10, alpha=0.6)
        low, high = (
            float(min(actual.min(), predicted.min())),
            float(max(actual.max(), predicted.max())),
        )
        axes.plot([low, high], [low, high], linestyle="--", color="grey")
        axes.set(xlabel="Actual", ylabel="Predicted", title="Predicted vs actual (test)")
        _save(figure, output_dir / next(names))
        figure, axes = plt.subplots(figsize=(5, 4))
        axes.hist(predicted - actual, bins=30)
        axes.set(xlabel="Predicted − actual", ylabel="Rows", title="Residuals (test)")
        _save(figure, output_dir / next(names))
    top = sorted(importance.items(), key=lambda item: item[1], reverse=True)[:TOP_FEATURES]
    figure, axes = plt.subplots(figsize=(7, 6))
    axes.barh([name for name, _ in reversed(top)], [value for _, value in reversed(top)])
    axes.set(xlabel="Gain", title=f"Feature importance (top {len(top)})")
    figure.tight_layout()
    _save(figure, output_dir / next(names))


def _confusion_plot(plt: Any, matrix: np.ndarray, classes: list[str], path: Path) -> None:
    """Counts per (actual, predicted) class, labelled with the class names."""
    size = max(4.0, 0.7 * len(classes) + 2)
    figure, axes = plt.subplots(figsize=(size, size))
    axes.imshow(matrix, cmap="Blues")
    for (row, col), count in np.ndenumerate(matrix):
        # White on the dark cells, black on the light ones: every count stays readable.
        dark = count > matrix.max() / 2
        axes.text(
            col, row, str(count), ha="center", va="center", color="white" if dark else "black"
        )
    ticks = list(range(len(classes)))
    axes.set_xticks(ticks, classes, rotation=45 if len(classes) > 3 else 0)
    axes.set_yticks(ticks, classes)
    axes.set(xlabel="Predicted", ylabel="Actual", title="Confusion matrix")
    figure.tight_layout()
    _save(figure, path)


def _save(figure: Any, path: Path) -> None:
    import matplotlib.pyplot as plt

    figure.savefig(path, dpi=100)
    plt.close(figure)


if __name__ == "__main__":
    sys.exit(main())
