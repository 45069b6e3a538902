"""The batch starter Lambda (``infra/batch/runtime/handler.py``) against moto's SageMaker:
each S3 object event or scheduled run starts one execution of the batch pipeline, with the
newest approved version named in its parameters."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from infra.batch.runtime.handler import NoApprovedVersion, handler

PIPELINE = "churn-mlops-batch"
GROUP = "churn-mlops-models"
DEFAULT_INPUT = "s3://churn-mlops-data-123456789012-us-east-1/batch/input/"
ROLE = "arn:aws:iam::123456789012:role/churn-mlops-batch-us-east-1"
EVENT_ID = "0d6bd8f7-3a5e-4c2f-9f3e-2f1f1d3b6a10"


@pytest.fixture
def sagemaker(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    monkeypatch.setenv("BATCH_PIPELINE_NAME", PIPELINE)
    monkeypatch.setenv("MODEL_PACKAGE_GROUP", GROUP)
    monkeypatch.setenv("DEFAULT_INPUT_URI", DEFAULT_INPUT)
    with mock_aws():
        client = boto3.client("sagemaker", region_name="us-east-1")
        client.create_pipeline(
            PipelineName=PIPELINE,
            PipelineDefinition=json.dumps({"Version": "2020-12-01", "Steps": []}),
            RoleArn=ROLE,
            ClientRequestToken="create-the-batch-pipeline-for-the-test",
        )
        client.create_model_package_group(ModelPackageGroupName=GROUP)
        yield client


def _register(sagemaker: Any, status: str) -> str:
    arn = sagemaker.create_model_package(
        ModelPackageGroupName=GROUP,
        ModelApprovalStatus="PendingManualApproval",
        InferenceSpecification={
            "Containers": [{"Image": "xgboost:3.2-0", "ModelDataUrl": "s3://m/model.tar.gz"}],
            "SupportedContentTypes": ["text/csv"],
            "SupportedResponseMIMETypes": ["text/csv"],
        },
    )["ModelPackageArn"]
    if status != "PendingManualApproval":
        sagemaker.update_model_package(ModelPackageArn=arn, ModelApprovalStatus=status)
    return str(arn)


def _parameters(sagemaker: Any, execution: str) -> dict[str, str]:
    listed = sagemaker.list_pipeline_parameters_for_execution(PipelineExecutionArn=execution)
    return {item["Name"]: item["Value"] for item in listed["PipelineParameters"]}


def _object_created(key: str) -> dict[str, Any]:
    return {
        "id": EVENT_ID,
        "source": "aws.s3",
        "detail-type": "Object Created",
        "detail": {
            "bucket": {"name": "churn-mlops-data-123456789012-us-east-1"},
            "object": {"key": key, "size": 1024},
        },
    }


def test_a_new_object_is_scored_with_the_newest_approved_version(sagemaker: Any) -> None:
    _register(sagemaker, "Approved")
    newest = _register(sagemaker, "Approved")
    _register(sagemaker, "PendingManualApproval")

    started = handler(_object_created("batch/input/2026-03-01/part-1.csv"), None, sagemaker)

    assert _parameters(sagemaker, started["execution"]) == {
        "ModelPackageArn": newest,
        "InputDataUrl": "s3://churn-mlops-data-123456789012-us-east-1/batch/input/2026-03-01/"
        "part-1.csv",
    }


def test_a_scheduled_run_scores_the_input_prefix(sagemaker: Any) -> None:
    approved = _register(sagemaker, "Approved")
    event = {"source": "schedule", "execution_id": "5a2e4f1c-8b7d-4e3a-9c6b-1d2f3e4a5b6c"}

    started = handler(event, None, sagemaker)

    assert started == {
        "execution": started["execution"],
        "input": DEFAULT_INPUT,
        "model_package": approved,
    }


def test_without_an_approved_version_nothing_starts_and_the_invocation_fails(
    sagemaker: Any,
) -> None:
    _register(sagemaker, "PendingManualApproval")

    with pytest.raises(NoApprovedVersion, match=f"no approved model package in {GROUP}"):
        handler(_object_created("batch/input/a.csv"), None, sagemaker)

    assert (
        sagemaker.list_pipeline_executions(PipelineName=PIPELINE)["PipelineExecutionSummaries"]
        == []
    )


def test_an_event_without_an_id_is_refused_rather_than_started_twice(sagemaker: Any) -> None:
    _register(sagemaker, "Approved")

    with pytest.raises(ValueError, match="event without an id"):
        handler({"source": "schedule"}, None, sagemaker)
