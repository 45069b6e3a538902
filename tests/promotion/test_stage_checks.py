"""A stage's checks: the deployment finished, the smoke request fits the model, quiet alarms."""

from __future__ import annotations

import json
import warnings
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from sagemaker_pipelines.stage_checks import (
    Clock,
    StageCheckFailedError,
    bake,
    smoke_instance,
    wait_for_deployment,
)

REGION = "us-east-1"
ARN = "arn:aws:sagemaker:us-east-1:123456789012:model-package/churn-mlops-models/3"
TEMPLATE = {
    "Parameters": {"ModelPackageArn": {"Type": "String", "Default": ""}},
    "Resources": {"Queue": {"Type": "AWS::SQS::Queue"}},
}


class FakeClock(Clock):
    """Time that advances only when the code under test sleeps."""

    def __init__(self) -> None:
        self.time = 0.0
        super().__init__(now=lambda: self.time, sleep=self._sleep)

    def _sleep(self, seconds: float) -> None:
        self.time += seconds


@pytest.fixture
def aws() -> Iterator[dict[str, Any]]:
    with mock_aws(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield {
            "cloudformation": boto3.client("cloudformation", region_name=REGION),
            "cloudwatch": boto3.client("cloudwatch", region_name=REGION),
        }


def _alarm(cloudwatch: Any, name: str, state: str) -> None:
    cloudwatch.put_metric_alarm(
        AlarmName=name,
        Namespace="AWS/SageMaker",
        MetricName="Invocation5XXErrors",
        Statistic="Sum",
        Period=60,
        EvaluationPeriods=1,
        Threshold=1,
        ComparisonOperator="GreaterThanOrEqualToThreshold",
    )
    cloudwatch.set_alarm_state(AlarmName=name, StateValue=state, StateReason="test")


def test_the_smoke_request_is_a_typical_row_of_the_versions_baseline() -> None:
    statistics = {
        "features": [
            {"name": "age", "inferred_type": "Integral", "numerical_statistics": {"mean": 41.6}},
            {"name": "fee", "inferred_type": "Fractional", "numerical_statistics": {"mean": 9.5}},
            {
                "name": "contract",
                "inferred_type": "String",
                "string_statistics": {
                    "distribution": {
                        "categorical": {
                            "buckets": [
                                {"value": "Monthly", "count": 70},
                                {"value": "One year", "count": 30},
                            ]
                        }
                    }
                },
            },
        ]
    }
    assert smoke_instance(statistics) == {"age": 42, "fee": 9.5, "contract": "Monthly"}
    with pytest.raises(StageCheckFailedError, match="no feature"):
        smoke_instance({"features": []})


def test_the_bake_fails_as_soon_as_an_alarm_fires(aws: dict[str, Any]) -> None:
    _alarm(aws["cloudwatch"], "e-5xx-errors", "OK")
    _alarm(aws["cloudwatch"], "e-model-latency", "ALARM")
    clock = FakeClock()
    with pytest.raises(StageCheckFailedError, match="e-model-latency"):
        bake(aws["cloudwatch"], ["e-5xx-errors", "e-model-latency"], seconds=600, clock=clock)
    assert clock.time == 0  # no waiting once one fires


def test_quiet_alarms_pass_the_bake_after_the_whole_bake_time(aws: dict[str, Any]) -> None:
    _alarm(aws["cloudwatch"], "e-5xx-errors", "OK")
    clock = FakeClock()
    reads = bake(aws["cloudwatch"], ["e-5xx-errors"], seconds=600, poll_seconds=30, clock=clock)
    assert clock.time == 600
    assert reads == 21


def test_the_checks_wait_for_the_stack_to_serve_the_version(aws: dict[str, Any]) -> None:
    cloudformation = aws["cloudformation"]
    cloudformation.create_stack(
        StackName="s",
        TemplateBody=json.dumps(TEMPLATE),
        Parameters=[{"ParameterKey": "ModelPackageArn", "ParameterValue": ARN}],
    )
    status = wait_for_deployment(cloudformation, "s", ARN, timeout_seconds=60, clock=FakeClock())
    assert status == "CREATE_COMPLETE"
    other = ARN.replace("/3", "/4")
    with pytest.raises(StageCheckFailedError, match=f"serves {ARN}, not {other}"):
        wait_for_deployment(cloudformation, "s", other, timeout_seconds=60, clock=FakeClock())
