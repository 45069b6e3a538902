"""Nobody can deploy a model by starting an execution: versions are registered pending review.

Before: ``ModelApprovalStatus`` was a free pipeline parameter and the execution role's
``CreateModelPackage`` had no condition, so anyone allowed to start an execution could register
an ``Approved`` version and the approval Lambda would deploy it. Now the definition allows only
``PendingManualApproval``, IAM refuses any other registration, and the Lambda refuses a version
that was created Approved (tests/reliability/test_deploy_faults.py).
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from mlops.core.settings import load_settings
from sagemaker_pipelines.parameters import ParameterError, parameter_specs, resolve_parameters
from tests.infra.conftest import Synthesized
from tests.security.policies import allowing, role_named, role_statements

PENDING = "PendingManualApproval"


@pytest.fixture(scope="module")
def deployed_definition(synthesized: Synthesized) -> dict[str, Any]:
    pipeline = synthesized.one("Pipeline", "AWS::SageMaker::Pipeline")["Properties"]
    body = pipeline["PipelineDefinition"]["PipelineDefinitionBody"]["Fn::Sub"][0]
    document: dict[str, Any] = json.loads(body)
    return document


def test_the_deployed_definition_registers_versions_pending_approval_only(
    deployed_definition: dict[str, Any],
) -> None:
    (status,) = [p for p in deployed_definition["Parameters"] if p["Name"] == "ModelApprovalStatus"]
    assert (status["DefaultValue"], status["EnumValues"]) == (PENDING, [PENDING])
    (check,) = [s for s in deployed_definition["Steps"] if s["Name"] == "CheckMetric"]
    (register,) = [s for s in check["Arguments"]["IfSteps"] if s["Name"] == "Register"]
    assert register["Arguments"]["ModelApprovalStatus"] == {"Get": "Parameters.ModelApprovalStatus"}


def test_an_execution_cannot_ask_for_an_approved_registration(
    deployed_definition: dict[str, Any],
) -> None:
    declared = deployed_definition["Parameters"]
    assert resolve_parameters(declared)["ModelApprovalStatus"] == PENDING
    with pytest.raises(ParameterError, match=r"ModelApprovalStatus must be one of"):
        resolve_parameters(declared, {"ModelApprovalStatus": "Approved"})


def test_a_setting_that_approves_at_registration_stops_the_build() -> None:
    settings = load_settings({"approval_status": "Approved"})
    with pytest.raises(ParameterError, match="approval_status"):
        parameter_specs(settings, default_input_uri="s3://bucket/datasets/input/")


def test_the_pipeline_role_may_register_versions_only_pending_approval(
    synthesized: Synthesized,
) -> None:
    template = synthesized.templates["Pipeline"]
    statements = role_statements(template, role_named(template, "churn-mlops-pipeline-us-east-1"))
    creating = allowing(statements, "sagemaker:CreateModelPackage")
    assert creating
    for statement in creating:
        assert statement["Condition"] == {
            "StringEquals": {"sagemaker:ModelApprovalStatus": PENDING}
        }


def test_nothing_in_the_pipeline_stack_may_change_an_approval(synthesized: Synthesized) -> None:
    statements = [
        statement
        for resource in synthesized.resources("Pipeline", "AWS::IAM::Policy").values()
        for statement in resource["Properties"]["PolicyDocument"]["Statement"]
    ]
    assert allowing(statements, "sagemaker:UpdateModelPackage") == []
