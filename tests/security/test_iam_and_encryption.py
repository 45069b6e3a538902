"""IAM wildcards, KMS and network isolation in the synthesized templates.

Every Allow statement with a wildcard action (``*``, ``service:*``) or ``Resource: "*"`` must be
acknowledged below with the reason; an entry that no longer matches anything fails too, so
the list stays the exact set of exceptions. Encryption and isolation are read from the
templates (endpoint, monitor) and from the pipeline definition the Pipeline stack embeds.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from tests.infra.conftest import Synthesized

# (stack, action, resource) → why a wildcard is unavoidable.
ACKNOWLEDGED: dict[tuple[str, str, str], str] = (
    {
        (stack, "ecr:GetAuthorizationToken", "*"): (
            "GetAuthorizationToken has no resource-level permissions (AWS service authorization "
            "reference); it only returns a registry login token, image pulls stay repository-scoped"
        )
        for stack in ("Pipeline", "Serving", "StagingServing", "Batch")
    }
    | {
        (stack, "cloudwatch:PutMetricData", "*"): (
            "PutMetricData has no resource-level permissions; SageMaker containers publish job "
            "and endpoint metrics with it (a cloudwatch:namespace condition may narrow it)"
        )
        for stack in ("Pipeline", "Serving", "StagingServing", "Batch")
    }
    | {
        ("Batch", "sagemaker:ListModelPackages", "*"): (
            "ListModelPackages has no resource-level permissions; the batch starter asks for one "
            "group's approved versions with it"
        )
    }
    | {
        ("Deploy", action, "*"): (
            "Application Auto Scaling Describe* and cloudwatch:GetMetricData have no resource-level "
            "permissions; the serving stack's CloudFormation role calls them for the endpoint's "
            "scalable target and target-tracking policy"
        )
        for action in (
            "application-autoscaling:DescribeScalableTargets",
            "application-autoscaling:DescribeScalingPolicies",
            "application-autoscaling:DescribeScheduledActions",
            "cloudwatch:GetMetricData",
        )
    }
    | {
        ("Deploy", action, "*"): (
            "A scalable target's ARN is generated at registration, so it cannot be named; the "
            "statement's conditions limit these writes to SageMaker endpoint variants' instance "
            "counts (application-autoscaling:service-namespace / scalable-dimension)"
        )
        for action in (
            "application-autoscaling:RegisterScalableTarget",
            "application-autoscaling:DeregisterScalableTarget",
            "application-autoscaling:PutScalingPolicy",
            "application-autoscaling:DeleteScalingPolicy",
            "application-autoscaling:PutScheduledAction",
            "application-autoscaling:DeleteScheduledAction",
        )
    }
)


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _statements(templates: dict[str, dict[str, Any]]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    """(stack, resource logical id, statement) for every inline or managed policy statement."""
    for stack, template in templates.items():
        for logical, resource in template["Resources"].items():
            properties = resource.get("Properties", {})
            documents = []
            if resource["Type"] in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy"):
                documents.append(properties["PolicyDocument"])
            elif resource["Type"] == "AWS::IAM::Role":
                documents += [policy["PolicyDocument"] for policy in properties.get("Policies", [])]
            for document in documents:
                for statement in _as_list(document["Statement"]):
                    yield stack, logical, statement


def _wildcards(templates: dict[str, dict[str, Any]]) -> set[tuple[str, str, str]]:
    found = set()
    for stack, _, statement in _statements(templates):
        if statement.get("Effect") != "Allow":
            continue
        actions = [a for a in _as_list(statement.get("Action", [])) if isinstance(a, str)]
        resources = _as_list(statement.get("Resource", []))
        for action in actions:
            wild_action = action == "*" or action.endswith(":*")
            if wild_action:
                found.add((stack, action, "any"))
            if "*" in resources:
                found.add((stack, action, "*"))
        if "NotAction" in statement or "NotResource" in statement:
            found.add((stack, "NotAction/NotResource", json.dumps(statement, sort_keys=True)))
    return found


def test_no_wildcard_iam_permission_is_unacknowledged(synthesized: Synthesized) -> None:
    found = _wildcards(synthesized.templates)
    assert sorted(found - set(ACKNOWLEDGED)) == []


def test_every_acknowledged_wildcard_still_exists(synthesized: Synthesized) -> None:
    found = _wildcards(synthesized.templates)
    assert sorted(set(ACKNOWLEDGED) - found) == []


def test_no_role_carries_an_aws_managed_policy(synthesized: Synthesized) -> None:
    attached = [
        (stack, logical, arn)
        for stack, template in synthesized.templates.items()
        for logical, resource in template["Resources"].items()
        if resource["Type"] == "AWS::IAM::Role"
        for arn in resource.get("Properties", {}).get("ManagedPolicyArns", [])
        if "AmazonSageMakerFullAccess" in json.dumps(arn)
        or "AdministratorAccess" in json.dumps(arn)
    ]
    assert attached == []


# ----------------------------------------------------------------- endpoint and monitor


def test_endpoint_storage_and_data_capture_use_the_project_key(
    synthesized: Synthesized,
) -> None:
    config = synthesized.one("Serving", "AWS::SageMaker::EndpointConfig")["Properties"]
    assert config["KmsKeyId"]
    assert config["DataCaptureConfig"]["KmsKeyId"]
    assert config["DataCaptureConfig"]["KmsKeyId"] == config["KmsKeyId"]


def test_the_served_model_runs_network_isolated(synthesized: Synthesized) -> None:
    model = synthesized.one("Serving", "AWS::SageMaker::Model")["Properties"]
    assert model["EnableNetworkIsolation"] is True


def test_the_data_quality_monitor_runs_network_isolated(synthesized: Synthesized) -> None:
    job = synthesized.one("Serving", "AWS::SageMaker::DataQualityJobDefinition")["Properties"]
    assert job["NetworkConfig"] == {"EnableNetworkIsolation": True}


def test_the_data_quality_monitor_encrypts_its_volume_and_reports(
    synthesized: Synthesized,
) -> None:
    job = synthesized.one("Serving", "AWS::SageMaker::DataQualityJobDefinition")["Properties"]
    assert job["JobResources"]["ClusterConfig"]["VolumeKmsKeyId"]
    assert job["DataQualityJobOutputConfig"]["KmsKeyId"]


# ----------------------------------------------------------------- pipeline jobs


@pytest.fixture(scope="module")
def pipeline_steps(synthesized: Synthesized) -> dict[str, dict[str, Any]]:
    """The deployed definition's steps by name (branch steps included)."""
    pipeline = synthesized.one("Pipeline", "AWS::SageMaker::Pipeline")["Properties"]
    body = pipeline["PipelineDefinition"]["PipelineDefinitionBody"]
    text = body["Fn::Sub"][0] if isinstance(body, dict) else body
    document = json.loads(text)
    steps: dict[str, dict[str, Any]] = {}

    def collect(items: list[dict[str, Any]]) -> None:
        for step in items:
            steps[step["Name"]] = step
            arguments = step.get("Arguments", {})
            collect(arguments.get("IfSteps", []))
            collect(arguments.get("ElseSteps", []))

    collect(document["Steps"])
    return steps


@pytest.mark.parametrize("step", ["Preprocess", "DataQualityBaseline", "Evaluate"])
def test_pipeline_processing_jobs_encrypt_volume_and_outputs(
    pipeline_steps: dict[str, dict[str, Any]], step: str
) -> None:
    arguments = pipeline_steps[step]["Arguments"]
    assert arguments["ProcessingResources"]["ClusterConfig"].get("VolumeKmsKeyId")
    assert arguments["ProcessingOutputConfig"].get("KmsKeyId")


def test_pipeline_training_job_encrypts_volume_and_model_output(
    pipeline_steps: dict[str, dict[str, Any]],
) -> None:
    arguments = pipeline_steps["Train"]["Arguments"]
    assert arguments["ResourceConfig"].get("VolumeKmsKeyId")
    assert arguments["OutputDataConfig"].get("KmsKeyId")


def test_pipeline_training_job_runs_network_isolated(
    pipeline_steps: dict[str, dict[str, Any]],
) -> None:
    assert pipeline_steps["Train"]["Arguments"].get("EnableNetworkIsolation") is True


@pytest.mark.parametrize("step", ["Preprocess", "DataQualityBaseline", "Evaluate"])
def test_pipeline_processing_jobs_run_network_isolated(
    pipeline_steps: dict[str, dict[str, Any]], step: str
) -> None:
    network = pipeline_steps[step]["Arguments"].get("NetworkConfig") or {}
    assert network.get("EnableNetworkIsolation") is True
