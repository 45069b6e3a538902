"""Pipeline stack: the deployed definition is the built one, the role is least privilege."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from infra.shared.pipeline_definition import PLACEHOLDERS, PlaceholderError, substitute_placeholders
from tests.infra.conftest import Synthesized


def _policy_statements(synthesized: Synthesized, stack: str) -> list[dict[str, Any]]:
    return [
        statement
        for policy in synthesized.resources(stack, "AWS::IAM::Policy").values()
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
    ]


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def test_pipeline_body_is_the_built_definition_with_cloudformation_values(
    synthesized: Synthesized, synth_inputs_default: Any
) -> None:
    pipeline = synthesized.one("Pipeline", "AWS::SageMaker::Pipeline")
    body, variables = pipeline["Properties"]["PipelineDefinition"]["PipelineDefinitionBody"][
        "Fn::Sub"
    ]
    assert PLACEHOLDERS.MARKER not in body
    assert set(re.findall(r"\$\{(\w+)\}", body)) == set(variables)
    role_id = next(iter(synthesized.resources("Pipeline", "AWS::IAM::Role")))
    assert variables["RoleArn"] == {"Fn::GetAtt": [role_id, "Arn"]}
    assert "churn-mlops-artifacts-" in json.dumps(variables["ArtifactBucket"])
    assert "cdk-hnb659fds-assets-" in json.dumps(variables["CodeBucket"])
    for key in ("PreprocessKey", "EvaluateKey", "ClarifyKey", "TrainingSourceKey"):
        assert re.fullmatch(r"[0-9a-f]{64}\.(py|gz)", variables[key]), variables[key]
    # Substituting the placeholders back gives exactly the JSON build_definition returned.
    restored = body
    for name, placeholder in {
        "RoleArn": PLACEHOLDERS.role_arn,
        "ArtifactBucket": PLACEHOLDERS.artifact_bucket,
        "DataBucket": PLACEHOLDERS.data_bucket,
        "KmsKeyArn": PLACEHOLDERS.kms_key_arn,
        "CodeBucket": PLACEHOLDERS.code_bucket,
        "PreprocessKey": PLACEHOLDERS.preprocess_key,
        "EvaluateKey": PLACEHOLDERS.evaluate_key,
        "ClarifyKey": PLACEHOLDERS.clarify_key,
        "TrainingSourceKey": PLACEHOLDERS.training_source_key,
    }.items():
        restored = restored.replace("${" + name + "}", placeholder)
    assert restored.replace("${!", "${") == synth_inputs_default.definition
    assert pipeline["Properties"]["RoleArn"] == {"Fn::GetAtt": [role_id, "Arn"]}
    assert pipeline["Properties"]["PipelineName"] == "churn-mlops-pipeline"


def test_processing_entry_points_name_the_staged_asset_objects(synthesized: Synthesized) -> None:
    """SageMaker stages a processing job's code as input/code/<object key basename>: the
    entry point must name the deployed asset key, not the local file name."""
    pipeline = synthesized.one("Pipeline", "AWS::SageMaker::Pipeline")
    body, _variables = pipeline["Properties"]["PipelineDefinition"]["PipelineDefinitionBody"][
        "Fn::Sub"
    ]
    steps = {step["Name"]: step for step in json.loads(body.replace("${!", "${"))["Steps"]}
    for step_name, key in (
        ("Preprocess", "PreprocessKey"),
        ("Evaluate", "EvaluateKey"),
        ("ModelBiasBaseline", "ClarifyKey"),
        ("ModelExplainabilityBaseline", "ClarifyKey"),
    ):
        arguments = steps[step_name]["Arguments"]
        entry = arguments["AppSpecification"]["ContainerEntrypoint"]
        assert entry[-1] == "/opt/ml/processing/input/code/${" + key + "}"
        code_input = next(i for i in arguments["ProcessingInputs"] if i["InputName"] == "code")
        assert code_input["S3Input"]["S3Uri"] == "s3://${CodeBucket}/${" + key + "}"
        assert code_input["S3Input"]["LocalPath"] == "/opt/ml/processing/input/code"
    # Network-isolated training: the source tarball is the `code` channel, unpacked from there.
    train = steps["Train"]["Arguments"]
    assert (
        train["HyperParameters"]["sagemaker_submit_directory"]
        == "/opt/ml/input/data/code/${TrainingSourceKey}"
    )
    assert train["EnableNetworkIsolation"] is True


def test_code_assets_are_content_addressed_files(synthesized: Synthesized) -> None:
    manifest = json.loads((synthesized.outdir / "Pipeline.assets.json").read_text())
    packaging = {
        asset["source"]["path"].rsplit(".", 1)[-1]: asset["source"].get("packaging", "file")
        for asset in manifest["files"].values()
        if asset["source"]["path"].startswith("asset.")
    }
    assert packaging == {"py": "file", "gz": "file"}


def test_literal_dollar_braces_survive_fn_sub() -> None:
    body, variables = substitute_placeholders(
        '{"a": "${literal}", "r": "' + PLACEHOLDERS.role_arn + '"}',
        {"RoleArn": (PLACEHOLDERS.role_arn, "arn:aws:iam::1:role/x")},
    )
    assert body == '{"a": "${!literal}", "r": "${RoleArn}"}'
    assert variables == {"RoleArn": "arn:aws:iam::1:role/x"}


def test_an_altered_placeholder_fails_the_synth() -> None:
    with pytest.raises(PlaceholderError, match="altered placeholder"):
        substitute_placeholders(
            '{"code": "s3://mlops-placeholder-code-bucket/other.py"}',
            {"PreprocessKey": (PLACEHOLDERS.preprocess_key, "k.py")},
        )


def test_no_role_has_managed_policies_or_wildcard_actions(synthesized: Synthesized) -> None:
    for stack in ("Pipeline", "Serving", "Deploy"):
        for role in synthesized.resources(stack, "AWS::IAM::Role").values():
            assert "ManagedPolicyArns" not in role["Properties"], stack
        for statement in _policy_statements(synthesized, stack):
            for action in _as_list(statement["Action"]):
                assert "*" not in action, f"{stack}: wildcard action {action}"


def test_sagemaker_actions_are_scoped_to_the_project(synthesized: Synthesized) -> None:
    statements = _policy_statements(synthesized, "Pipeline")
    sagemaker = [
        s for s in statements if any(a.startswith("sagemaker:") for a in _as_list(s["Action"]))
    ]
    assert sagemaker
    for statement in sagemaker:
        for resource in _as_list(statement["Resource"]):
            text = json.dumps(resource)
            assert (
                ":processing-job/pipelines-*" in text
                or ":training-job/pipelines-*" in text
                or ":model-package/churn-mlops-models/*" in text
                or ":model-package-group/churn-mlops-models" in text
            ), text


# Actions without resource-level permissions, allowed on "*".
_UNSCOPABLE = {
    "ecr:GetAuthorizationToken",
    "cloudwatch:PutMetricData",
    "cloudwatch:GetMetricData",
    "application-autoscaling:DescribeScalableTargets",
    "application-autoscaling:DescribeScalingPolicies",
    "application-autoscaling:DescribeScheduledActions",
}


def test_only_actions_without_resource_level_permissions_use_star_unconditioned(
    synthesized: Synthesized,
) -> None:
    for stack in ("Pipeline", "Serving", "Deploy"):
        for statement in _policy_statements(synthesized, stack):
            if "*" not in _as_list(statement["Resource"]):
                continue
            if set(_as_list(statement["Action"])) <= _UNSCOPABLE:
                if statement["Action"] == "cloudwatch:PutMetricData":
                    assert "cloudwatch:namespace" in json.dumps(statement["Condition"])
                continue
            # Scaling writes: a target's ARN is generated, so conditions scope them instead.
            assert statement["Condition"] == {
                "StringEquals": {
                    "application-autoscaling:service-namespace": "sagemaker",
                    "application-autoscaling:scalable-dimension": (
                        "sagemaker:variant:DesiredInstanceCount"
                    ),
                }
            }, statement


def test_role_passes_itself_only_to_sagemaker(synthesized: Synthesized) -> None:
    passes = [
        s for s in _policy_statements(synthesized, "Pipeline") if s["Action"] == "iam:PassRole"
    ]
    assert len(passes) == 1
    assert passes[0]["Condition"] == {
        "StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}
    }


def test_cli_finds_pipeline_and_group_in_ssm(synthesized: Synthesized) -> None:
    parameters = {
        p["Properties"]["Name"]: p["Properties"]["Value"]
        for stack in ("Storage", "Pipeline")
        for p in synthesized.resources(stack, "AWS::SSM::Parameter").values()
    }
    assert parameters["/churn-mlops/pipeline-name"] == "churn-mlops-pipeline"
    assert parameters["/churn-mlops/model-package-group"] == "churn-mlops-models"
    assert "churn-mlops-data-" in json.dumps(parameters["/churn-mlops/data-bucket"])
    assert "churn-mlops-artifacts-" in json.dumps(parameters["/churn-mlops/artifact-bucket"])
    assert "/datasets/input/" in json.dumps(parameters["/churn-mlops/default-input-uri"])


def test_model_package_group_is_named_from_settings(synthesized: Synthesized) -> None:
    group = synthesized.one("Pipeline", "AWS::SageMaker::ModelPackageGroup")
    assert group["Properties"]["ModelPackageGroupName"] == "churn-mlops-models"
