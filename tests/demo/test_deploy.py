"""The local deployment records what the serving stack creates on AWS (`mlops.local_runtime.deploy`).

moto in-process: `record_deployment` only talks to the registry, so no server is needed.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from moto import mock_aws

from mlops.core.names import DATA_CAPTURE_PREFIX, VARIANT_NAME
from mlops.core.settings import ProjectSettings, load_settings
from mlops.local_runtime.deploy import record_deployment
from sagemaker_pipelines.registry import RegistryError

IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:3.2-0"


@pytest.fixture(scope="module")
def settings() -> ProjectSettings:
    return load_settings()


@pytest.fixture
def sagemaker(settings: ProjectSettings) -> Iterator[Any]:
    with mock_aws():
        import boto3

        client = boto3.client("sagemaker", region_name=settings.region)
        client.create_model_package_group(ModelPackageGroupName=settings.names.model_package_group)
        yield client


def _register(sagemaker: Any, settings: ProjectSettings, model_data: str | None) -> str:
    request: dict[str, Any] = {"ModelPackageGroupName": settings.names.model_package_group}
    if model_data is not None:
        request["InferenceSpecification"] = {
            "Containers": [
                {"Image": IMAGE, "ModelDataUrl": model_data, "Environment": {"MODE": "churn"}}
            ],
            "SupportedContentTypes": ["text/csv"],
            "SupportedResponseMIMETypes": ["application/json"],
        }
    return str(sagemaker.create_model_package(**request)["ModelPackageArn"])


def test_recorded_endpoint_answers_with_the_packages_model_capture_and_names(
    sagemaker: Any, settings: ProjectSettings
) -> None:
    names = settings.names
    arn = _register(sagemaker, settings, "s3://artifacts/train/v1/model.tar.gz")

    deployment = record_deployment(sagemaker, settings, arn)

    endpoint = sagemaker.describe_endpoint(EndpointName=names.endpoint)
    assert endpoint["EndpointConfigName"] == names.endpoint_config("1")
    config = sagemaker.describe_endpoint_config(EndpointConfigName=names.endpoint_config("1"))
    (variant,) = config["ProductionVariants"]
    assert (variant["VariantName"], variant["ModelName"]) == (
        VARIANT_NAME,
        names.endpoint_model("1"),
    )
    capture = config["DataCaptureConfig"]
    assert capture["EnableCapture"] is True
    assert capture["InitialSamplingPercentage"] == settings.monitoring.capture_sampling_percentage
    assert capture["DestinationS3Uri"] == f"s3://{names.local_data_bucket}/{DATA_CAPTURE_PREFIX}"
    assert {o["CaptureMode"] for o in capture["CaptureOptions"]} == {"Input", "Output"}
    model = sagemaker.describe_model(ModelName=names.endpoint_model("1"))
    assert model["PrimaryContainer"]["ModelDataUrl"] == "s3://artifacts/train/v1/model.tar.gz"
    assert model["PrimaryContainer"]["Image"] == IMAGE
    assert model["PrimaryContainer"]["Environment"] == {"MODE": "churn"}
    assert model["ExecutionRoleArn"] == names.local_endpoint_role_arn
    assert deployment.model_data_url == "s3://artifacts/train/v1/model.tar.gz"


def test_deploying_another_version_replaces_the_previous_records(
    sagemaker: Any, settings: ProjectSettings
) -> None:
    names = settings.names
    first = _register(sagemaker, settings, "s3://artifacts/train/v1/model.tar.gz")
    second = _register(sagemaker, settings, "s3://artifacts/train/v2/model.tar.gz")
    record_deployment(sagemaker, settings, first)

    record_deployment(sagemaker, settings, second)

    endpoint = sagemaker.describe_endpoint(EndpointName=names.endpoint)
    assert endpoint["EndpointConfigName"] == names.endpoint_config("2")
    model = sagemaker.describe_model(ModelName=names.endpoint_model("2"))
    assert model["PrimaryContainer"]["ModelDataUrl"] == "s3://artifacts/train/v2/model.tar.gz"
    assert [m["ModelName"] for m in sagemaker.list_models()["Models"]] == [
        names.endpoint_model("2")
    ]
    assert [
        c["EndpointConfigName"] for c in sagemaker.list_endpoint_configs()["EndpointConfigs"]
    ] == [names.endpoint_config("2")]


def test_a_package_without_a_model_is_refused_and_nothing_is_recorded(
    sagemaker: Any, settings: ProjectSettings
) -> None:
    arn = _register(sagemaker, settings, None)

    with pytest.raises(RegistryError, match="has no InferenceSpecification"):
        record_deployment(sagemaker, settings, arn)

    assert sagemaker.list_endpoints()["Endpoints"] == []
    assert sagemaker.list_models()["Models"] == []
