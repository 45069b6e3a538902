"""The requests the local runtime and the CLI send to the embedded AWS, held to botocore's model.

Every client of the embedded AWS (``mlops.local_runtime.aws.client`` with an endpoint) refuses,
before sending, a request that AWS would reject — moto would accept it. These checks send the
project's own requests through such clients against a moto server: the RegisterModel step's
``CreateModelPackage``, the approval's ``UpdateModelPackage``, the local deployment's
``CreateModel`` / ``CreateEndpointConfig`` / ``CreateEndpoint`` and Model Monitor's
``PutMetricData``; each must go through.
"""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ParamValidationError

from mlops.core.settings import load_settings
from mlops.local_runtime.aws import client
from mlops.local_runtime.deploy import record_deployment
from mlops.local_runtime.executor.contract import plausible_requests
from mlops.local_runtime.executor.engine import StepInvocation
from mlops.local_runtime.executor.handlers import LocalServices, register_model
from monitoring.metrics import MetricDatum, publish
from sagemaker_pipelines.registry import set_approval
from tests.fidelity.definitions import local_definition

REGION = "us-east-1"


@pytest.fixture(scope="module")
def sagemaker(moto_server_url: str) -> Any:
    return client("sagemaker", endpoint_url=moto_server_url, region=REGION)


@pytest.fixture(scope="module")
def registered(sagemaker: Any, tmp_path_factory: pytest.TempPathFactory) -> str:
    """The Register step of the local definition, run by the executor's handler."""
    register = next(
        planned
        for planned in plausible_requests(local_definition(), "churn-mlops-pipeline")
        if planned.step_type == "RegisterModel"
    )
    step = StepInvocation(
        name=register.step,
        type=register.step_type,
        arguments=register.request,
        definition={},
        execution_id="a1b2c3d4e5f6",
    )
    services = LocalServices(s3=None, sagemaker=sagemaker, work_dir=tmp_path_factory.mktemp("w"))
    return str(register_model(step, services).properties["ModelPackageArn"])


def test_a_client_of_the_local_aws_refuses_what_aws_would_refuse(sagemaker: Any) -> None:
    with pytest.raises(ParamValidationError) as refused:
        sagemaker.create_model_package_group(ModelPackageGroupName="churn_models")
    assert "Invalid value for parameter ModelPackageGroupName, value: 'churn_models'" in str(
        refused.value
    )
    groups = sagemaker.list_model_package_groups()["ModelPackageGroupSummaryList"]
    assert "churn_models" not in {group["ModelPackageGroupName"] for group in groups}


def test_the_register_step_sends_a_valid_create_model_package(registered: str) -> None:
    assert registered.startswith(f"arn:aws:sagemaker:{REGION}:")


def test_approval_sends_a_valid_update_model_package(sagemaker: Any, registered: str) -> None:
    after = set_approval(sagemaker, registered, "Approved", "AUC 0.91 on the held-out split")
    assert after["ModelApprovalStatus"] == "Approved"


def test_the_local_deployment_sends_valid_model_and_endpoint_requests(
    sagemaker: Any, registered: str
) -> None:
    deployment = record_deployment(sagemaker, load_settings(), registered)
    endpoint = sagemaker.describe_endpoint(EndpointName=deployment.endpoint_name)
    assert endpoint["EndpointConfigName"] == deployment.endpoint_config_name


def test_model_monitor_sends_valid_put_metric_data(moto_server_url: str) -> None:
    cloudwatch = client("cloudwatch", endpoint_url=moto_server_url, region=REGION)
    metrics = [
        MetricDatum("aws/sagemaker/Endpoints/data-metrics", "feature_baseline_drift_age", 0.2),
        MetricDatum(
            "aws/sagemaker/Endpoints/data-metrics",
            "feature_data_age",
            statistics={"SampleCount": 10.0, "Sum": 400.0, "Minimum": 20.0, "Maximum": 60.0},
        ),
    ]
    sent = publish(
        cloudwatch, metrics, endpoint="churn-mlops-endpoint", schedule="churn-mlops-data-quality"
    )
    assert sent == 2
