"""training/evaluate.py: ModelMetrics report and plots (docs/contracts.md §6)."""

from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from mlops.local_runtime import JobFailed, ProcessingJobSpec, run_processing_job
from sagemaker_pipelines import code as code_bundle
from tests.container_scripts.conftest import Chain, xgboost_image

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _report(chain: Chain) -> dict:
    path = Path(chain.evaluation.outputs["evaluation"]) / "evaluation.json"
    return dict(json.loads(path.read_text())["binary_classification_metrics"])


def _test_split(chain: Chain) -> np.ndarray:
    bucket, _, key = chain.preprocess.outputs["test"][len("s3://") :].partition("/")
    body = chain.s3.get_object(Bucket=bucket, Key=f"{key}/test.csv")["Body"].read()
    return np.genfromtxt(body.decode().splitlines(), delimiter=",")


def _scores(chain: Chain, data: np.ndarray) -> np.ndarray:
    """The trained model's probabilities for the test split, computed here."""
    import xgboost as xgb

    booster = xgb.Booster()
    booster.load_model(bytearray((chain.training.model_dir / "xgboost-model").read_bytes()))
    return np.asarray(
        booster.predict(xgb.DMatrix(data[:, 1:], feature_names=booster.feature_names))
    )


def test_report_has_model_metrics_shape_with_a_sane_auc(chain: Chain) -> None:
    metrics = _report(chain)
    assert 0.8 <= metrics["auc"]["value"] <= 0.95
    for name in ("auc", "f1", "precision", "recall", "accuracy"):
        assert 0 <= metrics[name]["value"] <= 1
    roc = metrics["receiver_operating_characteristic_curve"]
    assert len(roc["false_positive_rates"]) == len(roc["true_positive_rates"]) <= 200
    pr = metrics["precision_recall_curve"]
    assert len(pr["precisions"]) == len(pr["recalls"]) <= 200


def test_each_metric_carries_a_bootstrap_standard_deviation(chain: Chain) -> None:
    metrics = _report(chain)
    test_rows = len(_test_split(chain))
    for name in ("auc", "f1", "precision", "recall", "accuracy"):
        spread = metrics[name]["standard_deviation"]
        # Sampling noise of a few hundred rows: clearly above zero, far below the value.
        assert 0.002 < spread < 0.1, (name, spread, test_rows)


def test_confusion_matrix_counts_the_test_rows_at_the_model_threshold(chain: Chain) -> None:
    data = _test_split(chain)
    scores = _scores(chain, data)
    predicted_positive = int((scores >= 0.4).sum())
    matrix = _report(chain)["confusion_matrix"]
    assert sum(matrix[a][p] for a in "01" for p in "01") == len(data)
    assert matrix["1"]["1"] + matrix["1"]["0"] == int(data[:, 0].sum())
    assert matrix["0"]["1"] + matrix["1"]["1"] == predicted_positive


def test_writes_the_four_plots_as_png(chain: Chain) -> None:
    output = Path(chain.evaluation.outputs["evaluation"])
    for name in (
        "roc_curve.png",
        "precision_recall_curve.png",
        "confusion_matrix.png",
        "feature_importance.png",
    ):
        assert (output / name).read_bytes().startswith(PNG_MAGIC), name


def test_test_split_of_another_width_fails_naming_the_mismatch(
    chain: Chain, tmp_path: Path
) -> None:
    narrow = tmp_path / "test" / "test.csv"
    narrow.parent.mkdir()
    narrow.write_text("1,0.5,3\n0,0.1,2\n")
    spec = ProcessingJobSpec(
        name="evaluate-narrow",
        code=code_bundle.EVALUATE_SCRIPT,
        work_dir=tmp_path,
        inputs={
            "model": (chain.training.local_model, "/opt/ml/processing/model"),
            "test": (narrow.parent, "/opt/ml/processing/test"),
        },
        outputs={"evaluation": ("/opt/ml/processing/evaluation", tmp_path / "report")},
        image=xgboost_image(),
    )
    with pytest.raises(JobFailed, match="ExitMessage: evaluate failed: the test split has 3 col"):
        run_processing_job(spec)
    assert not (tmp_path / "report").exists()


def test_predictions_csv_lists_every_test_row_at_the_model_threshold(chain: Chain) -> None:
    import pandas as pd

    data = _test_split(chain)
    path = Path(chain.evaluation.outputs["evaluation"]) / "predictions.csv"
    frame = pd.read_csv(path)
    assert list(frame.columns) == ["probability", "prediction", "label"]
    # Nine significant digits give back the model's float32 probabilities exactly.
    assert np.array_equal(frame["probability"].to_numpy().astype(np.float32), _scores(chain, data))
    assert np.array_equal(frame["prediction"], (frame["probability"] >= 0.4).astype(int))
    assert np.array_equal(frame["label"], data[:, 0].astype(int))


def test_bootstrap_resample_metrics_are_scikit_learns_on_that_resample() -> None:
    from sklearn import metrics

    from training.evaluate import RankedScores

    rng = np.random.default_rng(7)
    labels = rng.integers(0, 2, 400)
    scores = np.round(rng.random(400) * 0.6 + labels * 0.3, 2)  # many tied scores
    predicted = (scores >= 0.5).astype(np.int64)
    rows = rng.integers(0, 400, 400)  # a resample: some rows twice, some not at all
    ranked = RankedScores.of(labels, scores, predicted)
    ours = {
        name: float(values[0]) for name, values in ranked.metrics(ranked.tally(rows)[None]).items()
    }
    truth, guess = labels[rows], predicted[rows]
    matrix = metrics.confusion_matrix(truth, guess, labels=[0, 1])
    (tn, fp), (fn, tp) = matrix
    expected = {
        "auc": metrics.roc_auc_score(truth, scores[rows]),
        "f1": metrics.f1_score(truth, guess),
        "precision": metrics.precision_score(truth, guess),
        "recall": metrics.recall_score(truth, guess),
        "accuracy": metrics.accuracy_score(truth, guess),
        "f0_5": metrics.fbeta_score(truth, guess, beta=0.5),
        "f2": metrics.fbeta_score(truth, guess, beta=2.0),
        "true_negative_rate": tn / (tn + fp),
        "false_positive_rate": fp / (tn + fp),
        "false_negative_rate": fn / (fn + tp),
    }
    for name, value in expected.items():
        assert ours[name] == pytest.approx(value, rel=1e-12), name


def test_report_curves_are_scikit_learns_roc_and_precision_recall_curves() -> None:
    from sklearn import metrics

    from training.evaluate import RankedScores

    rng = np.random.default_rng(8)
    labels = rng.integers(0, 2, 500)
    scores = np.round(rng.random(500) * 0.6 + labels * 0.3, 2).astype(np.float32)
    curves = RankedScores.of(labels, scores, (scores >= 0.5).astype(np.int64)).curves()
    fpr, tpr, _ = metrics.roc_curve(labels, scores)
    precision, recall, _ = metrics.precision_recall_curve(labels, scores)
    assert np.array_equal(curves["false_positive_rates"], fpr)
    assert np.array_equal(curves["true_positive_rates"], tpr)
    assert np.array_equal(curves["precisions"], precision)
    assert np.array_equal(curves["recalls"], recall)


def test_class_names_with_commas_and_quotes_read_back_from_predictions_csv(
    tmp_path: Path,
) -> None:
    import pandas as pd

    from training.evaluate import write_predictions

    classes = ['mid, "early"', "late"]
    spec: dict[str, Any] = {"problem_type": "multiclass", "classes": classes}
    scores = np.array([[0.9, 0.1], [0.2, 0.8], [0.6, 0.4]])
    path = write_predictions(tmp_path / "p.csv", spec, np.array([0, 1, 1]), scores)
    frame = pd.read_csv(path)
    assert frame["prediction"].tolist() == [classes[0], classes[1], classes[0]]
    assert frame["label"].tolist() == [classes[0], classes[1], classes[1]]


def test_binary_test_split_with_labels_other_than_0_and_1_fails_naming_it(
    tmp_path: Path,
) -> None:
    from training.evaluate import EvaluationError, load_test

    (tmp_path / "test.csv").write_text("0,0.5\n2,0.1\n1,0.3\n")
    with pytest.raises(EvaluationError, match="labels are not 0/1"):
        load_test(tmp_path, 1, "binary")


def test_model_whose_features_are_not_the_spec_columns_fails_naming_it(
    chain: Chain, tmp_path: Path
) -> None:
    from training.evaluate import EvaluationError, evaluate

    model_dir = chain.training.model_dir
    spec = json.loads((model_dir / "feature_spec.json").read_text())
    spec["encoded_columns"] = list(reversed(spec["encoded_columns"]))
    (tmp_path / "model").mkdir()
    with tarfile.open(tmp_path / "model" / "model.tar.gz", "w:gz") as tar:
        tar.add(model_dir / "xgboost-model", arcname="xgboost-model")
        member = json.dumps(spec).encode()
        info = tarfile.TarInfo("feature_spec.json")
        info.size = len(member)
        tar.addfile(info, io.BytesIO(member))
    (tmp_path / "test").mkdir()
    np.savetxt(tmp_path / "test" / "test.csv", _test_split(chain), delimiter=",")
    with pytest.raises(EvaluationError, match="features are not the "):
        evaluate(tmp_path / "model", tmp_path / "test", tmp_path / "report")
