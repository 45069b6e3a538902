"""`mlops models promote | rollback --local`: the registry's lifecycle, then the stage's local
Model → EndpointConfig → Endpoint records, on the embedded AWS."""

from __future__ import annotations

import uuid
from typing import Any

import boto3
import pytest
from typer.testing import CliRunner

from mlops.cli.main import app
from mlops.core.errors import UserError
from mlops.local_runtime.aws import FAKE_CREDENTIALS
from sagemaker_pipelines.lifecycle import lifecycle_of, record_check
from sagemaker_pipelines.registry import describe_package
from tests.promotion.conftest import IMAGE


@pytest.fixture
def project(moto_server_url: str, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """A project of its own on the session's local AWS: two approved versions."""
    monkeypatch.setenv("MLOPS_LOCAL_AWS_URL", moto_server_url)
    name = f"promo-{uuid.uuid4().hex[:8]}"
    sagemaker = boto3.client(
        "sagemaker", region_name="us-east-1", endpoint_url=moto_server_url, **FAKE_CREDENTIALS
    )
    group = f"{name}-models"
    sagemaker.create_model_package_group(ModelPackageGroupName=group)
    versions = []
    for number in (1, 2):
        arn = sagemaker.create_model_package(
            ModelPackageGroupName=group,
            ModelApprovalStatus="PendingManualApproval",
            InferenceSpecification={
                "Containers": [{"Image": IMAGE, "ModelDataUrl": f"s3://a/{number}/model.tar.gz"}],
                "SupportedContentTypes": ["text/csv"],
                "SupportedResponseMIMETypes": ["text/csv"],
            },
        )["ModelPackageArn"]
        sagemaker.update_model_package(ModelPackageArn=arn, ModelApprovalStatus="Approved")
        versions.append(str(arn))
    return {"name": name, "sagemaker": sagemaker, "versions": versions}


def _cli(project: dict[str, Any], *arguments: str) -> Any:
    return CliRunner().invoke(
        app, ["--set", f"project_name={project['name']}", "models", *arguments, "--local"]
    )


def _served_model_data(project: dict[str, Any], endpoint: str) -> str:
    sagemaker = project["sagemaker"]
    config = sagemaker.describe_endpoint(EndpointName=endpoint)["EndpointConfigName"]
    variant = sagemaker.describe_endpoint_config(EndpointConfigName=config)["ProductionVariants"][0]
    model = sagemaker.describe_model(ModelName=variant["ModelName"])
    return str(model["PrimaryContainer"]["ModelDataUrl"])


def _stage(project: dict[str, Any], arn: str) -> str:
    return str(lifecycle_of(describe_package(project["sagemaker"], arn)))


def test_promotion_and_rollback_move_production_between_versions(project: dict[str, Any]) -> None:
    sagemaker, (first, second) = project["sagemaker"], project["versions"]
    production = f"{project['name']}-endpoint"
    record_check(sagemaker, first, stage="staging", passed=True, description="ok")
    promoted = _cli(project, "promote", first, "--to", "prod", "--reason", "first release")
    assert promoted.exit_code == 0, promoted.output
    assert _stage(project, first) == "prod/InService"
    assert _served_model_data(project, production) == "s3://a/1/model.tar.gz"

    record_check(sagemaker, second, stage="staging", passed=True, description="ok")
    assert _cli(project, "promote", second, "--to", "prod", "--reason", "better").exit_code == 0
    assert _stage(project, first) == "prod/Superseded"
    assert _served_model_data(project, production) == "s3://a/2/model.tar.gz"

    rolled = _cli(project, "rollback", "--stage", "prod", "--reason", "latency up")
    assert rolled.exit_code == 0, rolled.output
    assert _stage(project, second) == "prod/RolledBack"
    assert _stage(project, first) == "prod/InService"
    assert _served_model_data(project, production) == "s3://a/1/model.tar.gz"


def test_a_version_that_did_not_pass_staging_is_not_promoted(project: dict[str, Any]) -> None:
    arn = project["versions"][0]
    result = _cli(project, "promote", arn, "--to", "prod", "--reason", "hurry")
    assert isinstance(result.exception, UserError)  # main() prints it and exits 2
    assert "has not passed the staging checks" in str(result.exception)
    assert lifecycle_of(describe_package(project["sagemaker"], arn)) is None
