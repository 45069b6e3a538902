"""Deploying a model package locally: what the serving stack's CloudFormation creates on AWS.

On AWS an approval updates the serving stack, whose ``Model`` → ``EndpointConfig`` (data
capture) → ``Endpoint`` (``infra/serving/endpoint.py``) replace those of the previous version. Locally
`record_deployment` writes the same three records into the local registry, so
``describe_endpoint`` and the CLI answer for the local endpoint as they would for a real one,
and `serve_deployment` serves the package's ``model.tar.gz`` as that endpoint, capturing data
as its recorded ``DataCaptureConfig`` says.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError

from mlops.core.media import CAPTURED_AS_CSV, CAPTURED_AS_JSON
from mlops.core.names import DATA_CAPTURE_PREFIX, VARIANT_NAME
from mlops.core.settings import ProjectSettings
from mlops.core.stages import DeploymentStage
from mlops.local_runtime.serving import CaptureConfig, EndpointOptions, LocalEndpoint
from sagemaker_pipelines.registry import RegistryError, describe_package


@dataclass(frozen=True)
class DataCapture:
    """The recorded ``DataCaptureConfig`` (capturing both the request and the response)."""

    enabled: bool
    sampling_percentage: int
    destination: str
    csv_content_types: tuple[str, ...] = CAPTURED_AS_CSV
    json_content_types: tuple[str, ...] = CAPTURED_AS_JSON

    def to_request(self) -> dict[str, Any]:
        """``DataCaptureConfig`` of ``create_endpoint_config``, as the serving stack sets it."""
        return {
            "EnableCapture": self.enabled,
            "InitialSamplingPercentage": self.sampling_percentage,
            "DestinationS3Uri": self.destination,
            "CaptureOptions": [{"CaptureMode": "Input"}, {"CaptureMode": "Output"}],
            "CaptureContentTypeHeader": {
                "CsvContentTypes": list(self.csv_content_types),
                "JsonContentTypes": list(self.json_content_types),
            },
        }


@dataclass(frozen=True)
class LocalDeployment:
    """The registry records of one deployed package version, and what they serve."""

    package_arn: str
    endpoint_name: str
    endpoint_config_name: str
    model_name: str
    variant_name: str
    model_data_url: str
    capture: DataCapture


def record_deployment(
    sagemaker: Any,
    settings: ProjectSettings,
    package_arn: str,
    *,
    stage: DeploymentStage | None = None,
) -> LocalDeployment:
    """Record Model → EndpointConfig → Endpoint for ``package_arn``, replacing the endpoint's
    previous records (as a stack update replaces the previous version's resources).

    ``stage``: the deployment stage whose serving stack this stands for (its endpoint name,
    instance type and count); default: the project's own endpoint (the production stage's).

    Raises ``RegistryError`` when the package does not exist or has no container to serve.
    """
    package = describe_package(sagemaker, package_arn)
    containers = (package.get("InferenceSpecification") or {}).get("Containers") or []
    if not containers or not containers[0].get("ModelDataUrl"):
        raise RegistryError(
            f"model package {package_arn} has no InferenceSpecification.Containers[0].ModelDataUrl"
        )
    container = containers[0]
    names = stage.names.resources if stage is not None else settings.names
    instance_type = stage.instance_type if stage else settings.instances.endpoint_type
    count = stage.initial_count if stage else settings.instances.endpoint_initial_count
    version = package_arn.rsplit("/", 1)[-1]
    deployment = LocalDeployment(
        package_arn=package_arn,
        endpoint_name=names.endpoint,
        endpoint_config_name=names.endpoint_config(version),
        model_name=names.endpoint_model(version),
        variant_name=VARIANT_NAME,
        model_data_url=str(container["ModelDataUrl"]),
        capture=DataCapture(
            enabled=settings.monitoring.capture_sampling_percentage > 0,
            sampling_percentage=settings.monitoring.capture_sampling_percentage,
            destination=f"s3://{settings.names.local_data_bucket}/{DATA_CAPTURE_PREFIX}",
        ),
    )
    _remove_records(sagemaker, deployment)
    sagemaker.create_model(
        ModelName=deployment.model_name,
        PrimaryContainer={
            "Image": container["Image"],
            "ModelDataUrl": deployment.model_data_url,
            "Environment": container.get("Environment", {}),
        },
        ExecutionRoleArn=names.local_endpoint_role_arn,
        # The serving code ships inside model.tar.gz, as on AWS: no network needed.
        EnableNetworkIsolation=True,
    )
    sagemaker.create_endpoint_config(
        EndpointConfigName=deployment.endpoint_config_name,
        ProductionVariants=[
            {
                "VariantName": deployment.variant_name,
                "ModelName": deployment.model_name,
                "InstanceType": instance_type,
                "InitialInstanceCount": count,
                "InitialVariantWeight": 1.0,
            }
        ],
        DataCaptureConfig=deployment.capture.to_request(),
    )
    sagemaker.create_endpoint(
        EndpointName=deployment.endpoint_name,
        EndpointConfigName=deployment.endpoint_config_name,
    )
    return deployment


def serve_deployment(
    deployment: LocalDeployment,
    *,
    s3_client: Any,
    work_dir: Path,
    capture_destination: str | None = None,
) -> LocalEndpoint:
    """The deployed ``model.tar.gz`` served as the recorded endpoint (not started yet).

    Captures as recorded; ``capture_destination`` moves the captured files elsewhere (the demo
    gives each traffic window its own prefix, so each window is monitored on its own).
    """
    capture = None
    if deployment.capture.enabled:
        capture = CaptureConfig(
            destination=capture_destination or deployment.capture.destination,
            sampling_percentage=deployment.capture.sampling_percentage,
            endpoint_name=deployment.endpoint_name,
            variant_name=deployment.variant_name,
            csv_content_types=deployment.capture.csv_content_types,
            json_content_types=deployment.capture.json_content_types,
            s3_client=s3_client,
        )
    options = EndpointOptions(
        endpoint_name=deployment.endpoint_name,
        variant_name=deployment.variant_name,
        capture=capture,
    )
    return LocalEndpoint(deployment.model_data_url, options, s3_client=s3_client, work_dir=work_dir)


def _remove_records(sagemaker: Any, deployment: LocalDeployment) -> None:
    """Delete the endpoint, its current config and models, and any same-named leftovers."""
    configs = {deployment.endpoint_config_name}
    models = {deployment.model_name}
    current = _if_present(sagemaker.describe_endpoint, EndpointName=deployment.endpoint_name)
    if current is not None:
        configs.add(str(current["EndpointConfigName"]))
    for config in sorted(configs):
        described = _if_present(sagemaker.describe_endpoint_config, EndpointConfigName=config)
        if described is not None:
            models.update(str(v["ModelName"]) for v in described.get("ProductionVariants", []))
    _if_present(sagemaker.delete_endpoint, EndpointName=deployment.endpoint_name)
    for config in sorted(configs):
        _if_present(sagemaker.delete_endpoint_config, EndpointConfigName=config)
    for model in sorted(models):
        _if_present(sagemaker.delete_model, ModelName=model)


def _if_present(call: Callable[..., Any], **request: str) -> Any:
    """The call's answer, or None when the record it names is not there."""
    with contextlib.suppress(ClientError):
        return call(**request)
    return None
