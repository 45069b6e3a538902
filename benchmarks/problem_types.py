"""The template's model of each problem type against bare XGBoost on the same split.

`python -m benchmarks.problem_types`

For scikit-learn's bundled breast cancer (binary), wine (multiclass) and diabetes (regression)
tables: the template's Preprocess → Train → Evaluate scripts run under the container contracts
in the images' environments (`mlops.local_runtime`, as a local pipeline runs them), and bare
XGBoost — ``xgboost.XGBClassifier()`` / ``XGBRegressor()`` with the library's defaults, fitted
in this process on the same encoded train split, no early stopping — is scored on the same test
split. The table shows each test metric (the template's from its ``evaluation.json``, bare
XGBoost's computed here with scikit-learn) and their ratio.
"""

from __future__ import annotations

import json
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from mlops.core.problem_types import ProblemType, problem_type_spec

DATASETS: tuple[tuple[str, str, ProblemType, tuple[str, ...]], ...] = (
    ("breast cancer", "load_breast_cancer", "binary", ("auc", "f1", "accuracy")),
    ("wine", "load_wine", "multiclass", ("accuracy", "weighted_f1")),
    ("diabetes", "load_diabetes", "regression", ("r2", "rmse", "mae")),
)
OUTPUTS = ("train", "validation", "test", "baseline", "spec")


def main(argv: list[str]) -> int:
    print(f"{'dataset':<14} {'type':<11} {'metric':<12} {'template':>9} {'bare':>9} {'ratio':>7}")
    for name, loader, problem_type, metrics in DATASETS:
        with tempfile.TemporaryDirectory() as scratch:
            ours, bare, seconds = compare(Path(scratch), loader, problem_type)
        for metric in metrics:
            ratio = ours[metric] / bare[metric] if bare[metric] else float("nan")
            print(
                f"{name:<14} {problem_type:<11} {metric:<12} {ours[metric]:>9.4f} "
                f"{bare[metric]:>9.4f} {ratio:>7.3f}"
            )
        print(
            f"{'':<14} (template scripts {seconds['template']:.1f} s, bare {seconds['bare']:.2f} s)"
        )
    return 0


def compare(
    folder: Path, loader: str, problem_type: ProblemType
) -> tuple[dict[str, float], dict[str, float], dict[str, float]]:
    """(template metrics, bare XGBoost metrics, seconds of each) on one dataset."""
    from sklearn import datasets

    table = getattr(datasets, loader)(as_frame=True).frame
    source = folder / "input" / "data.csv"
    source.parent.mkdir(parents=True)
    table.to_csv(source, index=False)
    started = time.perf_counter()
    outputs, evaluation = _template(folder, source, problem_type)
    template_seconds = time.perf_counter() - started
    started = time.perf_counter()
    bare = _bare(outputs, problem_type)
    bare_seconds = time.perf_counter() - started
    section = evaluation[problem_type_spec(problem_type).metrics_section]
    ours = {name: float(entry["value"]) for name, entry in section.items() if "value" in entry}
    return ours, bare, {"template": template_seconds, "bare": bare_seconds}


def _template(folder: Path, source: Path, problem_type: str) -> tuple[dict[str, Path], Any]:
    from mlops.local_runtime import (
        ProcessingJobSpec,
        TrainingJobSpec,
        run_processing_job,
        run_training_job,
    )
    from mlops.local_runtime.images import image_environment, image_for_uri
    from sagemaker_pipelines import code
    from sagemaker_pipelines.steps.context import SKLEARN_VERSION, XGBOOST_VERSION

    registry = "683313688378.dkr.ecr.us-east-1.amazonaws.com"
    sklearn = image_environment(
        image_for_uri(f"{registry}/sagemaker-scikit-learn:{SKLEARN_VERSION}-cpu-py3")
    )
    xgboost = image_environment(image_for_uri(f"{registry}/sagemaker-xgboost:{XGBOOST_VERSION}"))
    run_processing_job(
        ProcessingJobSpec(
            name="preprocess",
            code=code.PREPROCESS_SCRIPT,
            work_dir=folder / "work",
            arguments=["--target", "target", "--problem-type", problem_type],
            inputs={"input": (source.parent, "/opt/ml/processing/input")},
            outputs={o: (f"/opt/ml/processing/{o}", folder / o) for o in OUTPUTS},
            image=sklearn,
        )
    )
    outputs = {name: folder / name for name in OUTPUTS}
    training = run_training_job(
        TrainingJobSpec(
            name="train",
            channels={name: outputs[name] for name in ("train", "validation", "spec")},
            output_path=folder / "model",
            work_dir=folder / "work",
            hyperparameters={},  # the template's defaults, as the pipeline parameters give them
            source_dir=code.write_training_source_dir(folder / "code"),
            entry_point=code.TRAINING_ENTRY_POINT,
            image=xgboost,
        )
    )
    run_processing_job(
        ProcessingJobSpec(
            name="evaluate",
            code=code.EVALUATE_SCRIPT,
            work_dir=folder / "work",
            inputs={
                "model": (training.local_model, "/opt/ml/processing/model"),
                "test": (outputs["test"], "/opt/ml/processing/test"),
            },
            outputs={"evaluation": ("/opt/ml/processing/evaluation", folder / "report")},
            image=xgboost,
        )
    )
    return outputs, json.loads((folder / "report" / "evaluation.json").read_text())


def _split(directory: Path) -> tuple[np.ndarray, np.ndarray]:
    data = np.loadtxt(next(directory.glob("*.csv")), delimiter=",", ndmin=2)
    return data[:, 1:], data[:, 0]


def _bare(outputs: dict[str, Path], problem_type: str) -> dict[str, float]:
    import xgboost as xgb
    from sklearn import metrics

    x_train, y_train = _split(outputs["train"])
    x_test, y_test = _split(outputs["test"])
    if problem_type == "regression":
        predicted = xgb.XGBRegressor().fit(x_train, y_train).predict(x_test)
        mse = metrics.mean_squared_error(y_test, predicted)
        return {
            "r2": metrics.r2_score(y_test, predicted),
            "rmse": float(np.sqrt(mse)),
            "mae": metrics.mean_absolute_error(y_test, predicted),
            "mse": mse,
        }
    model = xgb.XGBClassifier().fit(x_train, y_train.astype(int))
    guess = model.predict(x_test)
    truth = y_test.astype(int)
    if problem_type == "binary":
        return {
            "auc": metrics.roc_auc_score(truth, model.predict_proba(x_test)[:, 1]),
            "f1": metrics.f1_score(truth, guess),
            "accuracy": metrics.accuracy_score(truth, guess),
        }
    return {
        "accuracy": metrics.accuracy_score(truth, guess),
        "weighted_f1": metrics.f1_score(truth, guess, average="weighted"),
    }


if __name__ == "__main__":
    raise SystemExit(main([]))
