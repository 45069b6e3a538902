"""The roles AWS services assume: who may assume them, which images they pull, what they write.

Before: any account's ``sagemaker-*`` repositories could be pulled, trust policies had no
confused-deputy condition, and the pipeline role could write anywhere in the artifact bucket.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.infra.conftest import Synthesized
from tests.security.policies import (
    Statement,
    allowing,
    as_list,
    role_named,
    role_statements,
    service_trust_problems,
    text,
)

REGION = "us-east-1"


def _ecr_repository(image_uri: str) -> str:
    """What the SDK's image URI names, as an ECR repository ARN (independently of infra)."""
    registry, _, path = image_uri.partition("/")
    account, _, _, region, *_ = registry.split(".")
    return f"arn:aws:ecr:{region}:{account}:repository/{path.split(':')[0]}"


@pytest.fixture(scope="module")
def images() -> dict[str, str]:
    """The images the project runs in the region, as the SageMaker SDK resolves them."""
    from sagemaker.core import image_uris

    from sagemaker_pipelines.steps.context import SKLEARN_VERSION, XGBOOST_VERSION

    return {
        "sklearn": _ecr_repository(image_uris.retrieve("sklearn", REGION, SKLEARN_VERSION)),
        "xgboost": _ecr_repository(image_uris.retrieve("xgboost", REGION, XGBOOST_VERSION)),
        "monitor": _ecr_repository(image_uris.retrieve("model-monitor", REGION)),
        "clarify": _ecr_repository(image_uris.retrieve("clarify", REGION)),
    }


def _statements(synthesized: Synthesized, stack: str, role_name: str) -> list[Statement]:
    template = synthesized.templates[stack]
    return role_statements(template, role_named(template, role_name))


@pytest.mark.parametrize(
    ("stack", "role", "runs"),
    [
        ("Pipeline", "churn-mlops-pipeline-us-east-1", ("sklearn", "xgboost", "monitor")),
        ("Serving", "churn-mlops-model-us-east-1", ("xgboost",)),
        ("Serving", "churn-mlops-monitor-us-east-1", ("monitor", "clarify")),
    ],
)
def test_ecr_pulls_name_exactly_the_repositories_of_the_images_each_role_runs(
    synthesized: Synthesized,
    images: dict[str, str],
    stack: str,
    role: str,
    runs: tuple[str, ...],
) -> None:
    (pull,) = allowing(_statements(synthesized, stack, role), "ecr:BatchGetImage")
    assert sorted(as_list(pull["Resource"])) == sorted(images[name] for name in runs)


def test_every_service_trust_policy_requires_this_account(synthesized: Synthesized) -> None:
    assert service_trust_problems(synthesized.templates) == []


def test_sagemaker_roles_trust_sagemaker_only_for_this_accounts_resources(
    synthesized: Synthesized,
) -> None:
    trusted = [
        statement["Condition"]["ArnLike"]["aws:SourceArn"]
        for template in synthesized.templates.values()
        for resource in template["Resources"].values()
        if resource["Type"] == "AWS::IAM::Role"
        for statement in resource["Properties"]["AssumeRolePolicyDocument"]["Statement"]
        if statement["Principal"].get("Service") == "sagemaker.amazonaws.com"
    ]
    assert len(trusted) == 6  # pipeline, batch, and each stage's model and monitor
    expected = {
        "Fn::Join": [
            "",
            [
                "arn:",
                {"Ref": "AWS::Partition"},
                f":sagemaker:{REGION}:",
                {"Ref": "AWS::AccountId"},
                ":*",
            ],
        ]
    }
    assert all(source == expected for source in trusted)


# ----------------------------------------------------------------- pipeline role's S3 writes


@pytest.fixture(scope="module")
def pipeline_role(synthesized: Synthesized) -> list[Statement]:
    return _statements(synthesized, "Pipeline", "churn-mlops-pipeline-us-east-1")


def test_the_pipeline_role_writes_only_under_the_pipelines_execution_prefix(
    pipeline_role: list[Statement],
) -> None:
    (put,) = allowing(pipeline_role, "s3:PutObject")
    rendered = text(put["Resource"])
    assert rendered.endswith('-us-east-1/churn-mlops-pipeline/*"]]}')
    assert ":s3:::churn-mlops-artifacts-" in rendered


def test_the_pipeline_role_reads_artifacts_only_under_that_prefix(
    pipeline_role: list[Statement],
) -> None:
    reads = [
        text(resource)
        for statement in allowing(pipeline_role, "s3:GetObject")
        for resource in as_list(statement["Resource"])
    ]
    artifacts = [r for r in reads if "churn-mlops-artifacts-" in r]
    assert artifacts == [r for r in artifacts if r.endswith('/churn-mlops-pipeline/*"]]}')]
    assert len(artifacts) == 1


def test_every_step_of_the_deployed_definition_writes_under_that_prefix(
    synthesized: Synthesized,
) -> None:
    """The prefix the role may write is where the definition CloudFormation deploys writes."""
    pipeline = synthesized.one("Pipeline", "AWS::SageMaker::Pipeline")["Properties"]
    body = pipeline["PipelineDefinition"]["PipelineDefinitionBody"]["Fn::Sub"][0]
    outputs: list[Any] = []

    def collect(node: Any) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if key in ("S3Output", "OutputDataConfig"):
                    outputs.append(value.get("S3Uri", value.get("S3OutputPath")))
                collect(value)
        elif isinstance(node, list):
            for item in node:
                collect(item)

    collect(json.loads(body))
    assert len(outputs) == 11  # Preprocess writes five, six more steps one each
    for uri in outputs:
        assert uri["Std:Join"]["Values"][:3] == [
            "s3:/",
            "${ArtifactBucket}",
            "churn-mlops-pipeline",
        ]
