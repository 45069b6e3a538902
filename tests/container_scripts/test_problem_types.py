"""The scripts on real tables of each problem type, in the images' own environments.

scikit-learn's bundled wine table (178 rows, 3 cultivars) as class 0 against the rest — the
case where an AUC-only early stop once kept a model that answered "not 0" for every row — and
the metric computations evaluate.py does with numpy, checked against scikit-learn.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from mlops.local_runtime import (
    ProcessingJobSpec,
    TrainingJobSpec,
    run_processing_job,
    run_training_job,
)
from sagemaker_pipelines import code as code_bundle
from tests.container_scripts.conftest import (
    DEFAULT_HYPERPARAMETERS,
    PREPROCESS_OUTPUTS,
    sklearn_image,
    xgboost_image,
)

pytestmark = pytest.mark.slow


@dataclass(frozen=True)
class Scored:
    report: dict[str, Any]
    log: str


def _wine_csv(folder: Path) -> Path:
    from sklearn.datasets import load_wine

    path = folder / "input" / "wine.csv"
    path.parent.mkdir(parents=True)
    load_wine(as_frame=True).frame.to_csv(path, index=False)
    return path


def _preprocess(folder: Path, arguments: list[str]) -> dict[str, str]:
    spec = ProcessingJobSpec(
        name="preprocess",
        code=code_bundle.PREPROCESS_SCRIPT,
        work_dir=folder / "work",
        arguments=arguments,
        inputs={"input": (_wine_csv(folder).parent, "/opt/ml/processing/input")},
        outputs={
            out: (f"/opt/ml/processing/{out}", folder / "out" / out) for out in PREPROCESS_OUTPUTS
        },
        image=sklearn_image(),
    )
    return run_processing_job(spec).outputs


def _train_and_evaluate(
    folder: Path, outputs: dict[str, str], extra: dict[str, str] | None = None
) -> Scored:
    training = run_training_job(
        TrainingJobSpec(
            name=f"train-{len(extra or {})}",
            channels={name: Path(outputs[name]) for name in ("train", "validation", "spec")},
            output_path=folder / "models",
            work_dir=folder / "work",
            hyperparameters={**DEFAULT_HYPERPARAMETERS, **(extra or {})},
            source_dir=code_bundle.write_training_source_dir(folder / "code"),
            entry_point=code_bundle.TRAINING_ENTRY_POINT,
            image=xgboost_image(),
        )
    )
    report_dir = folder / f"report-{len(extra or {})}"
    run_processing_job(
        ProcessingJobSpec(
            name=f"evaluate-{len(extra or {})}",
            code=code_bundle.EVALUATE_SCRIPT,
            work_dir=folder / "work",
            inputs={
                "model": (training.local_model, "/opt/ml/processing/model"),
                "test": (Path(outputs["test"]), "/opt/ml/processing/test"),
            },
            outputs={"evaluation": ("/opt/ml/processing/evaluation", report_dir)},
            image=xgboost_image(),
        )
    )
    report = json.loads((report_dir / "evaluation.json").read_text())
    return Scored(report, training.log_file.read_text())


@pytest.fixture(scope="module")
def class_zero_against_the_rest(
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[Path, dict[str, str]]:
    folder = tmp_path_factory.mktemp("wine-ovr")
    arguments = ["--target", "target", "--problem-type", "binary", "--positive-label", "0"]
    return folder, _preprocess(folder, arguments)


def test_one_class_against_the_rest_reaches_an_f1_above_0_9(
    class_zero_against_the_rest: tuple[Path, dict[str, str]],
) -> None:
    folder, outputs = class_zero_against_the_rest
    spec = json.loads((Path(outputs["spec"]) / "feature_spec.json").read_text())
    assert (spec["positive_label"], spec["negative_label"]) == ("0", "not 0")
    scored = _train_and_evaluate(folder, outputs)
    metrics = scored.report["binary_classification_metrics"]
    assert metrics["f1"]["value"] > 0.9
    assert scored.report["prediction_check"]["distinct_predictions"] == 2


def test_stopping_on_auc_keeps_a_constant_model_that_the_check_names(
    class_zero_against_the_rest: tuple[Path, dict[str, str]],
) -> None:
    # The old behaviour, on purpose: early stopping on validation AUC (at the old default
    # threshold 0.5) peaks at round 2, while every probability is still under 0.5.
    folder, outputs = class_zero_against_the_rest
    scored = _train_and_evaluate(
        folder, outputs, {"eval_metric": "auc", "prediction_threshold": "0.5"}
    )
    metrics = scored.report["binary_classification_metrics"]
    assert metrics["auc"]["value"] > 0.95
    assert metrics["f1"]["value"] == 0.0
    check = scored.report["prediction_check"]
    assert check["distinct_predictions"] == 1
    assert check["message"].startswith("the model predicts 'not 0' for all 27 test rows")


def test_weighted_multiclass_metrics_match_scikit_learn() -> None:
    from sklearn import metrics

    from training.evaluate import multiclass_metrics

    rng = np.random.default_rng(3)
    labels = rng.integers(0, 4, 300)
    predicted = np.where(rng.random(300) < 0.7, labels, rng.integers(0, 4, 300))
    predicted[predicted == 3] = 2  # class 3 never predicted: precision 0 by convention
    ours = multiclass_metrics(labels, predicted, [0, 1, 2, 3])
    options: dict[str, Any] = {"labels": [0, 1, 2, 3], "average": "weighted", "zero_division": 0}
    expected = {
        "accuracy": metrics.accuracy_score(labels, predicted),
        "weighted_precision": metrics.precision_score(labels, predicted, **options),
        "weighted_recall": metrics.recall_score(labels, predicted, **options),
        "weighted_f1": metrics.f1_score(labels, predicted, **options),
        "weighted_f0_5": metrics.fbeta_score(labels, predicted, beta=0.5, **options),
        "weighted_f2": metrics.fbeta_score(labels, predicted, beta=2.0, **options),
    }
    for name, value in expected.items():
        assert ours[name] == pytest.approx(value), name
