"""training/evaluate.py: ModelMetrics report and plots (docs/contracts.md §6)."""

from __future__ import annotations

import json
from pathlib import Path

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
    import xgboost as xgb

    data = _test_split(chain)
    booster = xgb.Booster()
    booster.load_model(bytearray((chain.training.model_dir / "xgboost-model").read_bytes()))
    scores = booster.predict(xgb.DMatrix(data[:, 1:], feature_names=booster.feature_names))
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
