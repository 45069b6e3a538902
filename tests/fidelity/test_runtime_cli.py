"""`aws sagemaker-runtime invoke-endpoint --endpoint-url …` against the local endpoint.

The AWS CLI (v1 from PyPI, in its own environment: ``envs/awscli``) parses the answers with
botocore's ``sagemaker-runtime`` model, so these checks hold the runtime route to the service's
shapes from outside the project's code: the output members, ``ModelError`` and
``ValidationError`` as the CLI reports them, and ``InferenceId`` → data capture's
``eventMetadata.inferenceId`` → the model-quality merge on it.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from mlops.local_runtime.serving import CaptureConfig, EndpointOptions, LocalEndpoint
from monitoring.capture import read_capture, read_ground_truth
from monitoring.model_quality import join
from tests.fidelity.reference_env import ReferenceEnv
from tests.serving.modelkit import BuiltModel

NAME = "churn-cli"


@dataclass(frozen=True)
class Served:
    url: str
    capture: Path
    endpoint: LocalEndpoint


@pytest.fixture(scope="module")
def served(test_model: BuiltModel, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    capture = tmp_path_factory.mktemp("cli-capture")
    config = CaptureConfig(destination=str(capture), endpoint_name=NAME)
    endpoint = LocalEndpoint(
        test_model.archive, EndpointOptions(endpoint_name=NAME, capture=config)
    )
    with endpoint:
        yield Served(endpoint.url, capture, endpoint)


def _aws(
    env: ReferenceEnv, url: str, tmp_path: Path, *arguments: str
) -> subprocess.CompletedProcess[str]:
    environment = {
        key: value
        for key, value in os.environ.items()
        if key not in ("VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME")
    }
    environment.update(  # the fake credentials and region come from tests/conftest.py
        AWS_CONFIG_FILE=os.devnull, AWS_SHARED_CREDENTIALS_FILE=os.devnull, AWS_MAX_ATTEMPTS="1"
    )
    command = [
        str(env.bin("aws")), "sagemaker-runtime", "invoke-endpoint",
        "--endpoint-url", url, *arguments, str(tmp_path / "answer.out"),
    ]  # fmt: skip
    return subprocess.run(command, env=environment, capture_output=True, text=True, check=False)


def test_invoke_endpoint_returns_the_api_members_and_records_the_inference_id(
    awscli_env: ReferenceEnv, served: Served, test_model: BuiltModel, tmp_path: Path
) -> None:
    row = ",".join(map(str, test_model.raw.iloc[0]))

    done = _aws(
        awscli_env, served.url, tmp_path,
        "--endpoint-name", NAME, "--body", row, "--content-type", "text/csv",
        "--accept", "text/csv", "--inference-id", "inf-123", "--custom-attributes", "trace-id=7f3a",
    )  # fmt: skip

    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {
        "ContentType": "text/csv; charset=utf-8",
        "InvokedProductionVariant": "AllTraffic",
        "CustomAttributes": "trace-id=7f3a",
    }
    assert (tmp_path / "answer.out").read_text().count("\n") == 1
    served.endpoint.capture.flush()  # type: ignore[union-attr]
    (record,) = [r for r in read_capture(served.capture) if r.inference_id == "inf-123"]
    labels = tmp_path / "ground-truth.jsonl"
    labels.write_text(
        json.dumps(
            {
                "groundTruthData": {"data": "Yes", "encoding": "CSV"},
                "eventMetadata": {"eventId": "inf-123"},  # the id the application gave
                "eventVersion": "0",
            }
        )
        + "\n"
    )
    joined = join([record], read_ground_truth(labels), positive_label="Yes")
    assert (joined.y_true.tolist(), joined.unmatched_captures) == ([1], 0)


def test_bad_input_is_reported_as_a_model_error_with_the_containers_status(
    awscli_env: ReferenceEnv, served: Served, tmp_path: Path
) -> None:
    done = _aws(
        awscli_env, served.url, tmp_path,
        "--endpoint-name", NAME, "--body", "forty,1", "--content-type", "text/csv",
    )  # fmt: skip

    assert done.returncode != 0
    assert (
        "An error occurred (ModelError) when calling the InvokeEndpoint operation: "
        "Received client error (400) from primary with message"
    ) in done.stderr
    assert "expected 14 values" in done.stderr


def test_an_unknown_endpoint_is_a_validation_error(
    awscli_env: ReferenceEnv, served: Served, tmp_path: Path
) -> None:
    done = _aws(
        awscli_env, served.url, tmp_path,
        "--endpoint-name", "other", "--body", "1", "--content-type", "text/csv",
    )  # fmt: skip

    assert done.returncode != 0
    assert (
        "An error occurred (ValidationError) when calling the InvokeEndpoint operation"
        in done.stderr
    )
