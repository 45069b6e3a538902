"""`mlops models`: list, describe, approve and reject against the registry API (moto)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws
from typer.testing import CliRunner

from mlops.cli.main import app
from mlops.core.errors import UserError

GROUP = "churn-mlops-models"


@pytest.fixture
def registry() -> Iterator[Any]:
    with mock_aws():
        sagemaker = boto3.client("sagemaker", region_name="us-east-1")
        sagemaker.create_model_package_group(ModelPackageGroupName=GROUP)
        yield sagemaker


def _register(sagemaker: Any, version_tag: str, metadata: dict[str, str] | None = None) -> str:
    return str(
        sagemaker.create_model_package(
            ModelPackageGroupName=GROUP,
            ModelApprovalStatus="PendingManualApproval",
            CustomerMetadataProperties=metadata or {"run": version_tag},
            InferenceSpecification={
                "Containers": [
                    {"Image": "img", "ModelDataUrl": f"s3://b/{version_tag}/model.tar.gz"}
                ],
                "SupportedContentTypes": ["text/csv"],
                "SupportedResponseMIMETypes": ["text/csv"],
            },
            ModelMetrics={
                "ModelQuality": {
                    "Statistics": {
                        "ContentType": "application/json",
                        "S3Uri": f"s3://b/{version_tag}/evaluation.json",
                    }
                }
            },
            DriftCheckBaselines={
                "ModelDataQuality": {
                    "Statistics": {
                        "ContentType": "application/json",
                        "S3Uri": f"s3://b/{version_tag}/statistics.json",
                    }
                }
            },
        )["ModelPackageArn"]
    )


def _cli(*arguments: str) -> Any:
    return CliRunner().invoke(app, ["models", *arguments])


def test_approve_keeps_metrics_baselines_and_metadata(registry: Any) -> None:
    arn = _register(registry, "r1")
    result = _cli("approve", arn, "--reason", "AUC 0.91 beats production")
    assert result.exit_code == 0, result.output
    package = registry.describe_model_package(ModelPackageName=arn)
    assert package["ModelApprovalStatus"] == "Approved"
    assert package["ApprovalDescription"] == "AUC 0.91 beats production"
    assert package["CustomerMetadataProperties"] == {"run": "r1"}
    assert (
        package["ModelMetrics"]["ModelQuality"]["Statistics"]["S3Uri"]
        == "s3://b/r1/evaluation.json"
    )
    assert package["DriftCheckBaselines"]["ModelDataQuality"]["Statistics"]["S3Uri"].endswith(
        "statistics.json"
    )


def test_approve_latest_picks_the_newest_version(registry: Any) -> None:
    first, second = _register(registry, "r1"), _register(registry, "r2")
    assert _cli("approve", "--latest").exit_code == 0
    statuses = {
        arn: registry.describe_model_package(ModelPackageName=arn)["ModelApprovalStatus"]
        for arn in (first, second)
    }
    assert statuses == {first: "PendingManualApproval", second: "Approved"}


def test_reject_records_the_reason(registry: Any) -> None:
    arn = _register(registry, "r1")
    assert _cli("reject", arn, "--reason", "leaks the label").exit_code == 0
    package = registry.describe_model_package(ModelPackageName=arn)
    assert (package["ModelApprovalStatus"], package["ApprovalDescription"]) == (
        "Rejected",
        "leaks the label",
    )


def test_list_shows_versions_newest_first_with_status(registry: Any) -> None:
    first, second = _register(registry, "r1"), _register(registry, "r2")
    lines = [line for line in _cli("list").stdout.splitlines() if "model-package/" in line]
    assert [second in lines[0], first in lines[1]] == [True, True]
    assert "PendingManualApproval" in lines[0]


def test_list_and_describe_show_each_versions_dataset_and_gate(registry: Any) -> None:
    recorded = {
        "problem-type": "regression",
        "target": "lifetime_value",
        "gate-metric": "rmse",
        "gate-value": "412.5",
        "gate-threshold": "500.0",
        "input-data": "s3://data/march/",
    }
    arn = _register(registry, "r1", recorded)
    (line,) = [line for line in _cli("list").stdout.splitlines() if "model-package/" in line]
    assert "regression on lifetime_value · rmse 412.5000 ≤ 500.0" in line
    assert "s3://data/march/" in line
    described = _cli("describe", arn)
    assert "version 1: regression on lifetime_value · rmse 412.5000 ≤ 500.0" in described.stderr
    assert json.loads(described.stdout)["CustomerMetadataProperties"] == recorded


def test_describe_prints_the_package_as_json(registry: Any) -> None:
    arn = _register(registry, "r1")
    described = json.loads(_cli("describe", arn).stdout)
    assert described["ModelPackageArn"] == arn
    assert "ResponseMetadata" not in described


def test_approve_needs_exactly_one_of_arn_and_latest(registry: Any) -> None:
    result = _cli("approve")
    assert isinstance(result.exception, UserError)
    assert "either a model package ARN or --latest" in str(result.exception)


def test_approve_latest_in_an_empty_group_is_a_user_error(registry: Any) -> None:
    result = _cli("approve", "--latest")
    assert isinstance(result.exception, UserError)
    assert "has no model packages yet" in str(result.exception)


def test_describe_of_an_unknown_package_is_a_user_error(registry: Any) -> None:
    result = _cli("describe", f"arn:aws:sagemaker:us-east-1:123456789012:model-package/{GROUP}/9")
    assert isinstance(result.exception, UserError)
    assert "no model package" in str(result.exception)
