"""One preprocess → train → evaluate chain through the local runtime, shared by the modules.

The chain runs the way the pipeline runs it: preprocess outputs and the model go to S3 (a moto
server on 127.0.0.1), the training code comes from the deterministic sourcedir tarball through
the ``sagemaker_program`` / ``sagemaker_submit_directory`` hyperparameters, and evaluate reads
the model.tar.gz from the S3 URI training returned. Each job runs in the environment of the
image the pipeline names for it (scikit-learn 1.9-0 for preprocess, XGBoost 3.2-0 for train and
evaluate: the images' own library versions), created once and cached. Each step pays the ML
imports once.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from mlops.dataset.generator import write_csv
from mlops.local_runtime import (
    ProcessingJobResult,
    ProcessingJobSpec,
    TrainingJobResult,
    TrainingJobSpec,
    run_processing_job,
    run_training_job,
)
from mlops.local_runtime.aws import client, ensure_bucket
from mlops.local_runtime.images import ImageEnvironment, image_environment, image_for_uri
from sagemaker_pipelines import code as code_bundle

BUCKET = "scripts-test"
ROWS = 5000
SCHEMA_ARGS = [
    "--target",
    "churn",
    "--problem-type",
    "binary",
    "--positive-label",
    "Yes",
    "--drop-columns",
    "customer_id",
]
PREPROCESS_OUTPUTS = ("train", "validation", "test", "baseline", "spec")
DEFAULT_HYPERPARAMETERS = {
    "max_depth": "5",
    "eta": "0.1",
    "num_round": "300",
    "subsample": "0.8",
    "colsample_bytree": "0.8",
    "early_stopping_rounds": "20",
    "prediction_threshold": "0.4",
}


SKLEARN_IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.9-0-cpu-py3"
XGBOOST_IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:3.2-0"


def sklearn_image() -> ImageEnvironment:
    """The scikit-learn 1.9-0 image's environment (created on first use, then cached)."""
    return image_environment(image_for_uri(SKLEARN_IMAGE))


def xgboost_image() -> ImageEnvironment:
    """The XGBoost 3.2-0 image's environment (created on first use, then cached)."""
    return image_environment(image_for_uri(XGBOOST_IMAGE))


@dataclass(frozen=True)
class Chain:
    """Results of the three jobs and where their inputs live."""

    s3: Any
    raw_csv: Path
    work_dir: Path
    preprocess: ProcessingJobResult
    sourcedir_uri: str
    training: TrainingJobResult
    evaluation: ProcessingJobResult


@pytest.fixture(scope="session")
def s3_client(moto_server_url: str) -> Any:
    s3 = client("s3", endpoint_url=moto_server_url, region="us-east-1")
    ensure_bucket(s3, BUCKET)
    return s3


@pytest.fixture(scope="session")
def raw_csv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("raw") / "churn.csv"
    write_csv(path, rows=ROWS, seed=1)
    return path


def preprocess_spec(name: str, input_dir: Path, work_dir: Path, outputs: Any) -> ProcessingJobSpec:
    """The preprocess job as the pipeline declares it (container paths, schema arguments)."""
    return ProcessingJobSpec(
        name=name,
        code=code_bundle.PREPROCESS_SCRIPT,
        work_dir=work_dir,
        arguments=SCHEMA_ARGS,
        inputs={"input": (input_dir, "/opt/ml/processing/input")},
        outputs={out: (f"/opt/ml/processing/{out}", outputs(out)) for out in PREPROCESS_OUTPUTS},
        image=sklearn_image(),
    )


def training_spec(
    name: str,
    work_dir: Path,
    channels: dict[str, Any],
    sourcedir_uri: str,
    hyperparameters: dict[str, str],
    output_path: Any,
) -> TrainingJobSpec:
    """The training job as the pipeline definition carries it: code via hyperparameters."""
    return TrainingJobSpec(
        name=name,
        channels=channels,
        output_path=output_path,
        work_dir=work_dir,
        hyperparameters={
            **hyperparameters,
            "sagemaker_program": json.dumps("train.py"),
            "sagemaker_submit_directory": json.dumps(sourcedir_uri),
        },
        metric_definitions=code_bundle.training_metric_definitions("binary"),
        image=xgboost_image(),
    )


@pytest.fixture(scope="session")
def chain(s3_client: Any, raw_csv: Path, tmp_path_factory: pytest.TempPathFactory) -> Chain:
    work_dir = tmp_path_factory.mktemp("work")
    prefix = f"s3://{BUCKET}/run-1"
    preprocess = run_processing_job(
        preprocess_spec("preprocess", raw_csv.parent, work_dir, lambda out: f"{prefix}/{out}"),
        s3_client=s3_client,
    )
    tarball = code_bundle.write_sourcedir_tarball(work_dir / "bundle" / "sourcedir.tar.gz")
    s3_client.upload_file(str(tarball), BUCKET, "code/sourcedir.tar.gz")
    sourcedir_uri = f"s3://{BUCKET}/code/sourcedir.tar.gz"
    training = run_training_job(
        training_spec(
            "train",
            work_dir,
            {name: preprocess.outputs[name] for name in ("train", "validation", "spec")},
            sourcedir_uri,
            DEFAULT_HYPERPARAMETERS,
            f"{prefix}/models",
        ),
        s3_client=s3_client,
    )
    evaluation = run_processing_job(
        ProcessingJobSpec(
            name="evaluate",
            code=code_bundle.EVALUATE_SCRIPT,
            work_dir=work_dir,
            inputs={
                "model": (training.model_artifact, "/opt/ml/processing/model"),
                "test": (preprocess.outputs["test"], "/opt/ml/processing/test"),
            },
            outputs={"evaluation": ("/opt/ml/processing/evaluation", work_dir / "report")},
            image=xgboost_image(),
        ),
        s3_client=s3_client,
    )
    return Chain(
        s3=s3_client,
        raw_csv=raw_csv,
        work_dir=work_dir,
        preprocess=preprocess,
        sourcedir_uri=sourcedir_uri,
        training=training,
        evaluation=evaluation,
    )
