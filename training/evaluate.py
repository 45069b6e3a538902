"""Evaluate step (processing job in the SageMaker XGBoost 3.2-0 image; numpy, pandas,
scikit-learn, matplotlib, xgboost — all shipped in that image).

Inputs: ``model.tar.gz`` (contracts §4) under the model directory and the encoded test split
(§2: no header, label first). Output directory: ``evaluation.json`` in SageMaker's
ModelMetrics shape (§6; the pipeline's condition reads
``binary_classification_metrics.auc.value``) and four PNG plots: ``roc_curve.png``,
``precision_recall_curve.png``, ``confusion_matrix.png``, ``feature_importance.png``.

The decision threshold is the model's own (``prediction_threshold`` in its feature spec), so
the reported precision/recall are those the endpoint will deliver. Paths default to the
container layout under ``$SM_PROCESSING_ROOT`` (``/opt/ml/processing``). A failure writes the
reason to ``/opt/ml/output/message`` (DescribeProcessingJob's ExitMessage; also the last stderr
line) and exits 1.
"""

from __future__ import annotations

import argparse
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
SPEC_FILE = "feature_spec.json"
# Bootstrap resamples for each metric's standard deviation (ModelMetrics carries one).
BOOTSTRAP_SAMPLES = 100
MAX_CURVE_POINTS = 200
TOP_FEATURES = 20
PLOTS = (
    "roc_curve.png",
    "precision_recall_curve.png",
    "confusion_matrix.png",
    "feature_importance.png",
)


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
    metrics = report["binary_classification_metrics"]
    print(
        " ".join(
            f"test-{name}:{metrics[name]['value']:.5f}"
            for name in ("auc", "f1", "precision", "recall", "accuracy")
        )
    )
    return 0


def _fail(reason: str) -> int:
    """Report a failure where SageMaker looks for it: the ExitMessage of DescribeProcessingJob
    is the first 1 KB of ``/opt/ml/output/message`` (next to the processing root; the local
    runtime re-roots both). The reason is also the last stderr line, for the job log."""
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
    return named, json.loads(spec_path.read_text())


def load_test(test_dir: Path, width: int) -> tuple[np.ndarray, np.ndarray]:
    """(features, 0/1 labels) from every CSV under ``test_dir``."""
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
    if len(np.unique(labels)) < 2:
        raise EvaluationError("the test split needs both classes to compute AUC")
    return data[:, 1:], labels.astype(np.int64)


def evaluate(model_dir: Path, test_dir: Path, output_dir: Path) -> dict[str, Any]:
    """Score the test split, write evaluation.json and the plots; returns the report."""
    with tempfile.TemporaryDirectory() as scratch:
        booster_file, spec = load_model(model_dir, Path(scratch))
        columns = list(spec["encoded_columns"])
        features, labels = load_test(test_dir, len(columns))
        # Heavy imports only once the inputs are known to be good: a bad job fails fast.
        import xgboost as xgb
        from sklearn import metrics

        booster = xgb.Booster()
        booster.load_model(str(booster_file))
    scores = booster.predict(xgb.DMatrix(features, feature_names=columns))
    threshold = float(spec.get("prediction_threshold", 0.5))
    predicted = (scores >= threshold).astype(np.int64)

    fpr, tpr, _ = metrics.roc_curve(labels, scores)
    precision_curve, recall_curve, _ = metrics.precision_recall_curve(labels, scores)
    matrix = metrics.confusion_matrix(labels, predicted, labels=[0, 1])
    spread = bootstrap_standard_deviations(labels, scores, predicted, metrics.roc_auc_score)
    report = {
        "binary_classification_metrics": {
            "auc": _value(metrics.roc_auc_score(labels, scores), spread["auc"]),
            "f1": _value(metrics.f1_score(labels, predicted, zero_division=0), spread["f1"]),
            "precision": _value(
                metrics.precision_score(labels, predicted, zero_division=0), spread["precision"]
            ),
            "recall": _value(
                metrics.recall_score(labels, predicted, zero_division=0), spread["recall"]
            ),
            "accuracy": _value(metrics.accuracy_score(labels, predicted), spread["accuracy"]),
            "confusion_matrix": {
                str(actual): {str(guess): int(matrix[actual, guess]) for guess in (0, 1)}
                for actual in (0, 1)
            },
            "receiver_operating_characteristic_curve": {
                "false_positive_rates": _thin(fpr),
                "true_positive_rates": _thin(tpr),
            },
            "precision_recall_curve": {
                "precisions": _thin(precision_curve),
                "recalls": _thin(recall_curve),
            },
        }
    }
    output_dir.mkdir(parents=True, exist_ok=True)
    (output_dir / "evaluation.json").write_text(json.dumps(report, indent=2) + "\n")
    importance = {
        name: float(value)  # type: ignore[arg-type]
        for name, value in booster.get_score(importance_type="gain").items()
    }
    _plot(output_dir, fpr, tpr, precision_curve, recall_curve, matrix, importance, report)
    return report


def bootstrap_standard_deviations(
    labels: np.ndarray,
    scores: np.ndarray,
    predicted: np.ndarray,
    auc: Any,
    samples: int = BOOTSTRAP_SAMPLES,
) -> dict[str, float]:
    """Bootstrap standard deviation of each metric over the test split.

    ModelMetrics carries a ``standard_deviation`` per value; model-quality monitoring derives
    its thresholds from it, so a small test split yields looser, honest thresholds instead of
    alarms on sampling noise.
    """
    rng = np.random.default_rng(0)
    count = len(labels)
    values: dict[str, list[float]] = {
        name: [] for name in ("auc", "f1", "precision", "recall", "accuracy")
    }
    for _ in range(samples):
        index = rng.integers(0, count, count)
        truth, guess = labels[index], predicted[index]
        if truth.min() == truth.max():
            continue
        true_pos = float(np.sum((truth == 1) & (guess == 1)))
        false_pos = float(np.sum((truth == 0) & (guess == 1)))
        false_neg = float(np.sum((truth == 1) & (guess == 0)))
        precision = true_pos / (true_pos + false_pos) if true_pos + false_pos else 0.0
        recall = true_pos / (true_pos + false_neg)
        values["auc"].append(float(auc(truth, scores[index])))
        values["precision"].append(precision)
        values["recall"].append(recall)
        values["f1"].append(
            2 * precision * recall / (precision + recall) if precision + recall else 0.0
        )
        values["accuracy"].append(float(np.mean(truth == guess)))
    return {
        name: float(np.std(series, ddof=1)) if len(series) > 1 else float("nan")
        for name, series in values.items()
    }


def _value(number: float, standard_deviation: float = float("nan")) -> dict[str, Any]:
    spread: float | str = round(standard_deviation, 6) if np.isfinite(standard_deviation) else "NaN"
    return {"value": round(float(number), 6), "standard_deviation": spread}


def _thin(values: np.ndarray) -> list[float]:
    """At most MAX_CURVE_POINTS evenly spaced points (first and last kept): the report stays
    small at any test size."""
    if len(values) > MAX_CURVE_POINTS:
        index = np.unique(np.linspace(0, len(values) - 1, MAX_CURVE_POINTS).round().astype(int))
        values = values[index]
    return [round(float(v), 6) for v in values]


def _plot(
    output_dir: Path,
    fpr: np.ndarray,
    tpr: np.ndarray,
    precision: np.ndarray,
    recall: np.ndarray,
    matrix: np.ndarray,
    importance: dict[str, float],
    report: dict[str, Any],
) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    auc = report["binary_classification_metrics"]["auc"]["value"]
    figure, axes = plt.subplots(figsize=(5, 5))
    axes.plot(fpr, tpr, label=f"AUC = {auc:.3f}")
    axes.plot([0, 1], [0, 1], linestyle="--", color="grey")
    axes.set(xlabel="False positive rate", ylabel="True positive rate", title="ROC curve")
    axes.legend(loc="lower right")
    figure.savefig(output_dir / PLOTS[0], dpi=100)
    plt.close(figure)

    figure, axes = plt.subplots(figsize=(5, 5))
    axes.plot(recall, precision)
    axes.set(xlabel="Recall", ylabel="Precision", title="Precision-recall curve")
    figure.savefig(output_dir / PLOTS[1], dpi=100)
    plt.close(figure)

    figure, axes = plt.subplots(figsize=(4, 4))
    axes.imshow(matrix, cmap="Blues")
    for (row, col), count in np.ndenumerate(matrix):
        # White on the dark cells, black on the light ones: every count stays readable.
        dark = count > matrix.max() / 2
        axes.text(
            col, row, str(count), ha="center", va="center", color="white" if dark else "black"
        )
    axes.set(
        xticks=[0, 1], yticks=[0, 1], xlabel="Predicted", ylabel="Actual", title="Confusion matrix"
    )
    figure.savefig(output_dir / PLOTS[2], dpi=100)
    plt.close(figure)

    top = sorted(importance.items(), key=lambda item: item[1], reverse=True)[:TOP_FEATURES]
    figure, axes = plt.subplots(figsize=(7, 6))
    axes.barh([name for name, _ in reversed(top)], [value for _, value in reversed(top)])
    axes.set(xlabel="Gain", title=f"Feature importance (top {len(top)})")
    figure.tight_layout()
    figure.savefig(output_dir / PLOTS[3], dpi=100)
    plt.close(figure)


if __name__ == "__main__":
    sys.exit(main())
