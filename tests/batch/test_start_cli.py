"""`mlops batch start` against moto: the deployed batch pipeline started with the newest approved
version, or the one named, and the prefix to score."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws
from typer.testing import CliRunner

from mlops.cli.main import app

PIPELINE = "churn-mlops-batch"
GROUP = "churn-mlops-models"
DEFINITION = {
    "Version": "2020-12-01",
    "Steps": [],
    "Parameters": [
        {"Name": "ModelPackageArn", "Type": "String", "DefaultValue": ""},
        {"Name": "InputDataUrl", "Type": "String", "DefaultValue": "s3://data/batch/input/"},
        {"Name": "MaxPayloadInMB", "Type": "Integer", "DefaultValue": 6},
    ],
}


@pytest.fixture
def deployed() -> Iterator[Any]:
    with mock_aws():
        sagemaker = boto3.client("sagemaker", region_name="us-east-1")
        sagemaker.create_pipeline(
            PipelineName=PIPELINE,
            PipelineDefinition=json.dumps(DEFINITION),
            RoleArn="arn:aws:iam::123456789012:role/batch",
        )
        sagemaker.create_model_package_group(ModelPackageGroupName=GROUP)
        yield sagemaker


def _version(sagemaker: Any, status: str) -> str:
    arn = sagemaker.create_model_package(
        ModelPackageGroupName=GROUP,
        InferenceSpecification={
            "Containers": [{"Image": "xgboost:3.2-0", "ModelDataUrl": "s3://m/model.tar.gz"}],
            "SupportedContentTypes": ["text/csv"],
            "SupportedResponseMIMETypes": ["text/csv"],
        },
    )["ModelPackageArn"]
    sagemaker.update_model_package(ModelPackageArn=arn, ModelApprovalStatus=status)
    return str(arn)


def _started(sagemaker: Any, output: str) -> dict[str, str]:
    listed = sagemaker.list_pipeline_parameters_for_execution(PipelineExecutionArn=output.strip())
    return {item["Name"]: item["Value"] for item in listed["PipelineParameters"]}


def test_start_scores_the_prefix_with_the_newest_approved_version(deployed: Any) -> None:
    _version(deployed, "Approved")
    newest = _version(deployed, "Approved")
    _version(deployed, "Rejected")

    result = CliRunner().invoke(
        app,
        [
            "batch",
            "start",
            "--input-uri",
            "s3://data/batch/input/day1/",
            "--param",
            "MaxPayloadInMB=2",
        ],
    )

    assert result.exit_code == 0, result.output
    assert _started(deployed, result.stdout) == {
        "ModelPackageArn": newest,
        "InputDataUrl": "s3://data/batch/input/day1/",
        "MaxPayloadInMB": "2",
    }


def test_start_without_an_approved_version_is_a_user_error(deployed: Any) -> None:
    _version(deployed, "PendingManualApproval")

    result = CliRunner().invoke(app, ["batch", "start"])

    assert result.exit_code != 0
    assert f"no approved model package in group {GROUP}" in str(result.exception)
