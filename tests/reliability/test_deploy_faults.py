"""Faults around the deploy-on-approval Lambda: it logs one clear line and either retries
(raises, so Lambda's async retry runs it again) or refuses cleanly; the serving stack's
parameters are never left half-updated (model package and baselines change together or not
at all).

The session's moto server (its own process, on 127.0.0.1) plays SageMaker, S3 and
CloudFormation: a small stack with the serving stack's three deployment parameters and one
kept parameter, no synth needed. A server rather than ``mock_aws``: with the in-process mock a
``before-send`` hook that answers a request does not stop moto from executing it as well.
What moto cannot show is stubbed: a stack caught mid-update (botocore ``Stubber``), and
throttling, injected with a ``before-send`` hook so botocore's own retry layer sees a real
400 response.
"""

from __future__ import annotations

import itertools
import json
import logging
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import pytest
from botocore.awsrequest import AWSResponse
from botocore.exceptions import ClientError
from botocore.stub import Stubber

from infra.deploy.runtime import handler as deployer

REGION = "us-east-1"
CFN_ROLE = "arn:aws:iam::123456789012:role/churn-cfn-serving-us-east-1"
# The moto server is shared by the test session, so each test gets its own names.
_NAMES = itertools.count(1)
DEPLOY_KEYS = ("ModelPackageArn", "BaselineStatisticsUri", "BaselineConstraintsUri")
TEMPLATE: dict[str, Any] = {
    "Parameters": {
        "ModelPackageArn": {"Type": "String", "Default": ""},
        "BaselineStatisticsUri": {"Type": "String", "Default": ""},
        "BaselineConstraintsUri": {"Type": "String", "Default": ""},
        "InstanceType": {"Type": "String", "Default": "ml.m5.large"},
    },
    "Resources": {"Placeholder": {"Type": "AWS::S3::Bucket"}},
    "Outputs": {
        "Served": {
            "Value": {
                "Fn::Join": [
                    "|",
                    [
                        {"Ref": "ModelPackageArn"},
                        {"Ref": "BaselineStatisticsUri"},
                        {"Ref": "BaselineConstraintsUri"},
                    ],
                ]
            }
        }
    },
}


@dataclass
class World:
    sagemaker: Any
    s3: Any
    cloudformation: Any
    stack: str
    group: str
    bucket: str
    versions: int = 0

    def approved_package(
        self, *, baselines: bool = True, upload: bool = True, registered_as: str = "Pending"
    ) -> str:
        """A version registered as the pipeline does (pending), then approved by a reviewer;
        ``registered_as="Approved"`` registers it approved instead (what IAM now forbids)."""
        self.versions += 1
        prefix = f"exec-{self.versions}/data-quality"
        extra: dict[str, Any] = {}
        if baselines:
            uris = {}
            for name in ("statistics", "constraints"):
                key = f"{prefix}/{name}.json"
                if upload:
                    self.s3.put_object(Bucket=self.bucket, Key=key, Body=b"{}")
                uris[name] = {
                    "ContentType": "application/json",
                    "S3Uri": f"s3://{self.bucket}/{key}",
                }
            extra["DriftCheckBaselines"] = {
                "ModelDataQuality": {
                    "Statistics": uris["statistics"],
                    "Constraints": uris["constraints"],
                }
            }
        arn = self.sagemaker.create_model_package(
            ModelPackageGroupName=self.group,
            ModelApprovalStatus=(
                "Approved" if registered_as == "Approved" else "PendingManualApproval"
            ),
            InferenceSpecification={
                "Containers": [
                    {
                        "Image": "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:3.2-0",
                        "ModelDataUrl": f"s3://{self.bucket}/exec-{self.versions}/model.tar.gz",
                    }
                ],
                "SupportedContentTypes": ["text/csv"],
                "SupportedResponseMIMETypes": ["application/json"],
            },
            **extra,
        )["ModelPackageArn"]
        if registered_as != "Approved":
            self.sagemaker.update_model_package(ModelPackageArn=arn, ModelApprovalStatus="Approved")
        return str(arn)

    def parameters(self) -> dict[str, str]:
        stack = self.cloudformation.describe_stacks(StackName=self.stack)["Stacks"][0]
        return {p["ParameterKey"]: p["ParameterValue"] for p in stack["Parameters"]}

    def event(self, arn: str) -> dict[str, Any]:
        return approval_event(arn, self.group)


def approval_event(arn: str, group: str) -> dict[str, Any]:
    """The EventBridge "SageMaker Model Package State Change" event, as much as the handler reads."""
    return {
        "detail-type": "SageMaker Model Package State Change",
        "source": "aws.sagemaker",
        "detail": {
            "ModelPackageArn": arn,
            "ModelPackageGroupName": group,
            "ModelApprovalStatus": "Approved",
        },
    }


@pytest.fixture
def world(moto_server_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    number = next(_NAMES)
    stack, group, bucket = (f"churn-{kind}-{number}" for kind in ("serving", "models", "artifacts"))
    monkeypatch.setenv("MODEL_PACKAGE_GROUP", group)
    monkeypatch.setenv(  # what the stack passes: the stages in order, approval deploys to the first
        "STAGES",
        json.dumps([{"name": "staging", "stack_name": stack, "cloudformation_role_arn": CFN_ROLE}]),
    )
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_server_url)  # what handler()'s own clients use
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cloudformation = boto3.client("cloudformation", region_name=REGION)
        cloudformation.create_stack(  # every value explicit, as `cdk deploy` passes them
            StackName=stack,
            TemplateBody=json.dumps(TEMPLATE),
            Parameters=[
                {
                    "ParameterKey": key,
                    "ParameterValue": "ml.c5.large" if key == "InstanceType" else "",
                }
                for key in TEMPLATE["Parameters"]
            ],
        )
        s3 = boto3.client("s3", region_name=REGION)
        s3.create_bucket(Bucket=bucket)
        sagemaker = boto3.client("sagemaker", region_name=REGION)
        sagemaker.create_model_package_group(ModelPackageGroupName=group)
        yield World(sagemaker, s3, cloudformation, stack, group, bucket)


def deploy(world: World, event: dict[str, Any], **clients: Any) -> deployer.Decision:
    cloudformation = clients.get("cloudformation", world.cloudformation)
    return deployer.deploy(
        event,
        config=deployer.Config(
            model_package_group=world.group,
            stages=(deployer.StageTarget("staging", world.stack, CFN_ROLE),),
        ),
        sagemaker=clients.get("sagemaker", world.sagemaker),
        s3=clients.get("s3", world.s3),
        cloudformation_for=lambda target: cloudformation,
    )


def handler_lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [record.getMessage() for record in caplog.records if record.name == "deploy_on_approval"]


def assert_consistent(parameters: dict[str, str]) -> None:
    """The deployment parameters all name the same execution's artifacts (or none)."""
    arn, statistics, constraints = (parameters[key] for key in DEPLOY_KEYS)
    if not arn:
        assert statistics == constraints == ""
        return
    assert statistics.rsplit("/", 2)[0] == constraints.rsplit("/", 2)[0]


def test_a_package_without_drift_baselines_is_refused_with_one_line_and_no_update(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    before = world.parameters()
    arn = world.approved_package(baselines=False)
    with caplog.at_level(logging.INFO, logger="deploy_on_approval"):
        decision = deploy(world, world.event(arn))
    assert decision.action == "refused"
    assert handler_lines(caplog) == [
        f"decision=refused model_package={arn} reason=no DriftCheckBaselines.ModelDataQuality "
        "statistics/constraints"
    ]
    assert caplog.records[-1].levelno == logging.ERROR
    assert world.parameters() == before


def test_a_package_registered_as_approved_is_refused_with_one_line_and_no_update(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    """Approval must come from the registry: a version created Approved (bypassing review) is
    not deployed, even with an Approved event and baselines in place."""
    before = world.parameters()
    arn = world.approved_package(registered_as="Approved")
    assert world.sagemaker.describe_model_package(ModelPackageName=arn)["ModelApprovalStatus"] == (
        "Approved"
    )
    with caplog.at_level(logging.INFO, logger="deploy_on_approval"):
        decision = deploy(world, world.event(arn))
    assert decision.action == "refused"
    [line] = handler_lines(caplog)
    assert line.startswith(f"decision=refused model_package={arn} reason=registered as Approved")
    assert caplog.records[-1].levelno == logging.ERROR
    assert world.parameters() == before


def test_baselines_missing_from_s3_are_refused_before_the_stack_is_touched(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    before = world.parameters()
    arn = world.approved_package(upload=False)
    with caplog.at_level(logging.INFO, logger="deploy_on_approval"):
        decision = deploy(world, world.event(arn))
    assert decision.action == "refused"
    [line] = handler_lines(caplog)
    assert "baseline objects not found" in line
    assert "statistics.json" in line
    assert world.parameters() == before


def test_a_stack_mid_update_is_left_alone_and_the_event_retried(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    arn = world.approved_package()
    stack = world.cloudformation.describe_stacks(StackName=world.stack)["Stacks"][0]
    busy = {**stack, "StackStatus": "UPDATE_IN_PROGRESS"}
    stubbed = boto3.client("cloudformation", region_name=REGION)
    with Stubber(stubbed) as stubber, caplog.at_level(logging.INFO, logger="deploy_on_approval"):
        stubber.add_response("describe_stacks", {"Stacks": [busy]}, {"StackName": world.stack})
        with pytest.raises(deployer.StackBusyError, match="UPDATE_IN_PROGRESS"):
            deploy(world, world.event(arn), cloudformation=stubbed)
        stubber.assert_no_pending_responses()  # and no UpdateStack was sent
    [line] = handler_lines(caplog)
    assert "UPDATE_IN_PROGRESS" in line
    assert "retrying" in line


def test_an_update_refused_as_already_in_progress_is_retried_with_a_clear_line(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    """The race: the stack was idle when described, busy by the time UpdateStack arrived."""
    arn = world.approved_package()
    stack = world.cloudformation.describe_stacks(StackName=world.stack)["Stacks"][0]
    stubbed = boto3.client("cloudformation", region_name=REGION)
    message = (
        f"Stack:arn:aws:cloudformation:{REGION}:123456789012:stack/{world.stack}/1 is in "
        "UPDATE_IN_PROGRESS state and can not be updated."
    )
    with Stubber(stubbed) as stubber, caplog.at_level(logging.INFO, logger="deploy_on_approval"):
        stubber.add_response("describe_stacks", {"Stacks": [stack]}, {"StackName": world.stack})
        stubber.add_client_error(
            "update_stack", service_error_code="ValidationError", service_message=message
        )
        with pytest.raises(deployer.StackBusyError):
            deploy(world, world.event(arn), cloudformation=stubbed)
    lines = handler_lines(caplog)
    assert len(lines) == 1, lines
    assert "UPDATE_IN_PROGRESS" in lines[0]


class Throttle:
    """Answer the first ``times`` calls of ``operation`` with HTTP 400 ThrottlingException,
    before the request leaves botocore, so its retry handler sees a real throttled reply."""

    def __init__(self, service: str, operation: str, times: int) -> None:
        self.event = f"before-send.{service}.{operation}"
        self.times = times
        self.sent = 0

    def __call__(self, request: Any, **kwargs: Any) -> AWSResponse | None:
        self.sent += 1
        if self.sent > self.times:
            return None  # let moto answer
        body = (
            b'{"__type": "ThrottlingException", "message": "Rate exceeded"}'
            if "sagemaker" in self.event
            else b"<ErrorResponse><Error><Type>Sender</Type><Code>Throttling</Code>"
            b"<Message>Rate exceeded</Message></Error></ErrorResponse>"
        )
        return AWSResponse(
            request.url, 400, {"Content-Type": "application/x-amz-json-1.1"}, _Raw(body)
        )


class _Raw:
    def __init__(self, body: bytes) -> None:
        self._body = body

    def stream(self, **kwargs: Any) -> Iterator[bytes]:
        yield self._body

    def read(self, *args: Any, **kwargs: Any) -> bytes:
        return self._body


@pytest.fixture
def default_session() -> Iterator[Any]:
    """A fresh boto3 default session (what ``handler`` builds its clients from)."""
    boto3.setup_default_session(region_name=REGION)
    try:
        yield boto3.DEFAULT_SESSION
    finally:
        boto3.DEFAULT_SESSION = None


def test_throttled_calls_are_retried_and_the_deployment_completes(
    world: World, default_session: Any, caplog: pytest.LogCaptureFixture
) -> None:
    arn = world.approved_package()
    throttles = [
        Throttle("sagemaker", "DescribeModelPackage", times=2),
        Throttle("cloudformation", "UpdateStack", times=2),
    ]
    for throttle in throttles:
        default_session.events.register(throttle.event, throttle)
    with caplog.at_level(logging.INFO, logger="deploy_on_approval"):
        result = deployer.handler(world.event(arn), None)  # the Lambda entry point
    assert result["action"] == "deployed"
    assert [t.sent for t in throttles] == [3, 3]  # two throttled, the third went through
    parameters = world.parameters()
    assert parameters["ModelPackageArn"] == arn
    assert parameters["InstanceType"] == "ml.c5.large"
    assert_consistent(parameters)
    assert len(handler_lines(caplog)) == 1


def test_persistent_throttling_fails_cleanly_without_touching_the_stack(
    world: World, default_session: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "3")  # keep the backoff short in the test
    first = world.approved_package()
    assert deploy(world, world.event(first)).action == "deployed"
    before = world.parameters()
    second = world.approved_package()
    throttle = Throttle("cloudformation", "UpdateStack", times=100)
    default_session.events.register(throttle.event, throttle)
    with pytest.raises(ClientError, match="Throttling"):
        deployer.handler(world.event(second), None)
    assert throttle.sent == 3
    after = world.parameters()
    assert after == before
    assert_consistent(after)
