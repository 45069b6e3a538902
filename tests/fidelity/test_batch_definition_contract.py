"""The batch pipeline's steps against botocore's SageMaker model, in the definition the local
executor runs and in the one the batch stack deploys, and what the executor does with a
transform request AWS would reject or the local Batch Transform cannot run.

As for the training pipeline (test_definition_contract.py): run-time values are substituted
first (parameters with their defaults, ``ModelPackageArn`` with a package version ARN since its
default is empty on purpose, the CreateModel step's ``ModelName`` with a Pipelines-style name).
"""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from mlops.local_runtime.executor.contract import (
    IMPLEMENTED,
    STEP_APIS,
    definition_findings,
    plausible_requests,
    unsupported_fields,
)
from mlops.local_runtime.executor.engine import StepFailed, StepInvocation
from mlops.local_runtime.executor.handlers import checked_request
from tests.fidelity.definitions import ACCOUNT, REGION, deployed_definition

PIPELINE = "churn-mlops-batch"
PACKAGE = f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:model-package/churn-mlops-models/3"


def with_package(definition: dict[str, Any]) -> dict[str, Any]:
    """The definition as an execution started with a package version sees it."""
    document = copy.deepcopy(definition)
    for parameter in document["Parameters"]:
        if parameter["Name"] == "ModelPackageArn":
            parameter["DefaultValue"] = PACKAGE
    return document


@pytest.fixture(scope="module")
def local() -> dict[str, Any]:
    """The batch definition ``mlops batch run --local`` executes."""
    from mlops.core.settings import load_settings
    from sagemaker_pipelines.batch.definition import build_batch_definition

    settings = load_settings()
    text = build_batch_definition(
        settings,
        role_arn=settings.names.local_pipeline_role_arn,
        data_bucket=settings.names.local_data_bucket,
    )
    return dict(json.loads(text))


@pytest.fixture(scope="module")
def deployed(synthesized: Any) -> dict[str, Any]:
    """The batch definition CloudFormation deploys (the session's synthesis)."""
    return deployed_definition(synthesized.templates, pipeline_name=PIPELINE)


def _transform(definition: dict[str, Any]) -> dict[str, Any]:
    planned = {item.step: item for item in plausible_requests(with_package(definition), PIPELINE)}
    return planned["Transform"].request


def test_the_local_batch_definition_has_no_botocore_findings(local: dict[str, Any]) -> None:
    assert definition_findings(with_package(local), PIPELINE) == []


def test_the_deployed_batch_definition_has_no_botocore_findings(deployed: dict[str, Any]) -> None:
    assert definition_findings(with_package(deployed), PIPELINE) == []


def test_the_batch_steps_are_create_model_and_create_transform_job(local: dict[str, Any]) -> None:
    assert [(step["Name"], step["Type"]) for step in local["Steps"]] == [
        ("CreateModel", "Model"),
        ("Transform", "Transform"),
    ]
    assert STEP_APIS["Model"].operation == "CreateModel"
    assert STEP_APIS["Transform"].operation == "CreateTransformJob"


def test_an_execution_without_a_package_fails_at_create_model_with_the_api_error(
    local: dict[str, Any],
) -> None:
    findings = definition_findings(local, PIPELINE)

    assert findings[0] == (
        "CreateModel (CreateModel): Invalid length for parameter "
        "Containers[0].ModelPackageName, value: 0, valid min length: 1"
    )
    assert all(finding.startswith("CreateModel (CreateModel): ") for finding in findings)


def test_every_field_of_the_deployed_transform_runs_locally(deployed: dict[str, Any]) -> None:
    """KMS keys, capture and filters included: nothing the stack sets is refused locally."""
    request = _transform(deployed)

    assert unsupported_fields("CreateTransformJob", request) == []
    assert request["DataCaptureConfig"]["KmsKeyId"].startswith("arn:aws:kms:")


def _invocation(arguments: dict[str, Any]) -> StepInvocation:
    return StepInvocation(
        name="Transform",
        type="Transform",
        arguments=arguments,
        definition={},
        execution_id="abc123",
    )


@pytest.mark.parametrize(
    ("edit", "refused"),
    [
        pytest.param(
            lambda r: r.update(Environment={"OMP_NUM_THREADS": "4"}),
            "Environment",
            id="environment",
        ),
        pytest.param(
            lambda r: r.update(ModelClientConfig={"InvocationsMaxRetries": 1}),
            "ModelClientConfig",
            id="model-client-config",
        ),
        pytest.param(
            lambda r: r["TransformInput"]["DataSource"]["S3DataSource"].update(
                S3DataType="ManifestFile"
            ),
            "TransformInput.DataSource.S3DataSource.S3DataType=ManifestFile",
            id="manifest-input",
        ),
        pytest.param(
            lambda r: r["TransformInput"].update(CompressionType="Gzip"),
            "TransformInput.CompressionType=Gzip",
            id="gzip",
        ),
        pytest.param(
            lambda r: r["TransformInput"].update(SplitType="RecordIO"),
            "TransformInput.SplitType=RecordIO",
            id="recordio",
        ),
    ],
)
def test_a_transform_field_the_local_runtime_does_not_implement_fails_the_step(
    local: dict[str, Any], edit: Any, refused: str
) -> None:
    arguments = _transform(local)
    arguments.pop("TransformJobName")
    edit(arguments)

    with pytest.raises(StepFailed) as failure:
        checked_request(_invocation(arguments), "transform-abc123")

    assert failure.value.reason == f"not supported locally: {refused}"


def test_a_transform_request_aws_would_reject_fails_with_the_api_error(
    local: dict[str, Any],
) -> None:
    arguments = _transform(local)
    arguments.pop("TransformJobName")
    arguments["TransformResources"]["InstanceType"] = "ml.t3.medium"

    with pytest.raises(StepFailed) as failure:
        checked_request(_invocation(arguments), "transform-abc123")

    assert failure.value.reason.startswith(
        "ClientError: Failed to invoke sagemaker:CreateTransformJob. Error Details: "
        "Parameter validation failed:\nInvalid value for parameter "
        "TransformResources.InstanceType, value: 'ml.t3.medium', valid values: ml.m4.xlarge"
    )


def test_the_implemented_transform_fields_cover_what_the_pipeline_sends(
    local: dict[str, Any],
) -> None:
    sent = _paths(_transform(local))

    assert sent <= {path.replace("[]", "") for path in IMPLEMENTED["CreateTransformJob"]}


def _paths(value: Any, prefix: str = "") -> set[str]:
    if isinstance(value, dict) and value and not prefix.endswith(("Tags", "ExperimentConfig")):
        found: set[str] = set()
        for key, item in value.items():
            found |= _paths(item, f"{prefix}.{key}" if prefix else key)
        return found
    return {prefix}
