"""Integration: a model.tar.gz produced by training/train.py serves through the local endpoint.

Runs preprocess and train through the local runtime (local paths, no S3), then checks the
contract across the parts: the endpoint's encoding of the raw baseline rows reproduces
preprocess's encoding of the same rows (train.csv), so predictions match the booster on them.
"""

from __future__ import annotations

import csv
import json
import tarfile
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from mlops.dataset.generator import write_csv
from mlops.local_runtime import (
    ProcessingJobSpec,
    TrainingJobResult,
    TrainingJobSpec,
    run_processing_job,
    run_training_job,
)
from mlops.local_runtime.serving import EndpointOptions, LocalEndpoint
from sagemaker_pipelines import code as code_bundle
from tests.serving.conftest import runtime_client

pytestmark = pytest.mark.slow
OUTPUTS = ("train", "validation", "test", "baseline", "spec")


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> tuple[TrainingJobResult, Path]:
    work = tmp_path_factory.mktemp("trained")
    write_csv(work / "raw" / "churn.csv", rows=2000, seed=3)
    preprocess = run_processing_job(
        ProcessingJobSpec(
            name="preprocess",
            code=code_bundle.PREPROCESS_SCRIPT,
            work_dir=work / "jobs",
            arguments=[
                "--target",
                "churn",
                "--positive-label",
                "Yes",
                "--drop-columns",
                "customer_id",
            ],
            inputs={"input": (work / "raw", "/opt/ml/processing/input")},
            outputs={
                name: (f"/opt/ml/processing/{name}", work / "data" / name) for name in OUTPUTS
            },
        )
    )
    assert preprocess.local_outputs
    training = run_training_job(
        TrainingJobSpec(
            name="train",
            source_dir=code_bundle.write_training_source_dir(work / "source"),
            entry_point="train.py",
            hyperparameters={"max_depth": "3", "num_round": "30", "eta": "0.3"},
            channels={name: work / "data" / name for name in ("train", "validation", "spec")},
            output_path=work / "models",
            work_dir=work / "jobs",
        )
    )
    return training, work / "data"


def test_trained_artifact_serves_predictions_equal_to_the_booster_on_preprocessed_rows(
    trained: tuple[TrainingJobResult, Path],
) -> None:
    import xgboost as xgb

    training, data = trained
    with (data / "baseline" / "baseline.csv").open() as handle:
        raw_rows = list(csv.reader(handle))[1:201]
    encoded = pd.read_csv(data / "train" / "train.csv", header=None).to_numpy()[:200, 1:]
    with tarfile.open(training.local_model) as tar:
        model_file = tar.extractfile("xgboost-model")
        assert model_file is not None
        booster = xgb.Booster()
        booster.load_model(bytearray(model_file.read()))

    with LocalEndpoint(training.local_model, EndpointOptions(endpoint_name="trained")) as served:
        body = "\n".join(",".join(row) for row in raw_rows)
        response: Any = runtime_client(served.url).invoke_endpoint(
            EndpointName="trained", Body=body, ContentType="text/csv"
        )
        predictions = json.loads(response["Body"].read())["predictions"]

    assert served.served.handler_path.parts[-2:] == ("code", "inference.py")
    np.testing.assert_allclose(
        [p["probability"] for p in predictions],
        booster.inplace_predict(encoded.astype(np.float32)),
        rtol=0,
        atol=1e-6,
    )
