"""Deployment stages: a serving stack per stage, in one account (the default) or across accounts,
with exactly the cross-account grants a stage in another account needs, and CI/CD roles."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.infra.conftest import Synthesized

TOOLING = "111111111111"
PROD = "222222222222"
REPOSITORY = "example-org/churn-mlops"
BOUNDARY = f"arn:aws:iam::{TOOLING}:policy/ml-boundary"
PROD_MODEL = f"arn:${{AWS::Partition}}:iam::{PROD}:role/churn-mlops-model-us-east-1"
PROD_MONITOR = f"arn:${{AWS::Partition}}:iam::{PROD}:role/churn-mlops-monitor-us-east-1"
PROD_CFN = f"arn:${{AWS::Partition}}:iam::{PROD}:role/churn-mlops-cfn-serving-us-east-1"


@pytest.fixture(scope="session")
def two_accounts(synthesize_with: Any) -> Synthesized:
    """Tooling and staging in one account, production in another; CI/CD with a boundary."""
    return synthesize_with(
        {
            "account": TOOLING,
            "stages": [
                {"name": "staging", "instance_type": "ml.m5.xlarge"},
                {"name": "prod", "account": PROD, "initial_count": 2, "max_count": 4},
            ],
            "cicd": {
                "github_repository": REPOSITORY,
                "permissions_boundary": BOUNDARY,
                "iam_path": "/ci/",
            },
        }
    )


def _text(value: Any) -> str:
    """A CloudFormation value as text: ``Fn::Join``s joined, pseudo parameters spelt ``${…}``."""
    if isinstance(value, dict):
        if "Fn::Join" in value:
            separator, parts = value["Fn::Join"]
            return separator.join(_text(part) for part in parts)
        if "Ref" in value:
            return "${" + value["Ref"] + "}"
        return json.dumps(value, sort_keys=True)
    if isinstance(value, list):
        return json.dumps([_text(item) for item in value])
    return str(value)


def _statements(document: dict[str, Any]) -> list[dict[str, Any]]:
    return list(document.get("Statement", []))


def _all_policy_documents(synthesized: Synthesized) -> list[tuple[str, dict[str, Any]]]:
    """Every policy document of every template: identity, trust, bucket, key, registry."""
    documents = []
    for stack, template in synthesized.templates.items():
        for logical, resource in template["Resources"].items():
            properties = resource.get("Properties", {})
            for key in (
                "PolicyDocument",
                "AssumeRolePolicyDocument",
                "KeyPolicy",
                "ModelPackageGroupPolicy",
            ):
                if isinstance(properties.get(key), dict):
                    documents.append((f"{stack}/{logical}/{key}", properties[key]))
    return documents


def _foreign_principals(synthesized: Synthesized) -> list[str]:
    """Principals naming an account other than the stack's own (``${AWS::AccountId}``)."""
    found = []
    for where, document in _all_policy_documents(synthesized):
        for statement in _statements(document):
            principal = _text(statement.get("Principal", {}))
            if PROD in principal or TOOLING in principal:
                found.append(f"{where}: {statement.get('Sid')}")
    return found


def test_every_stage_has_its_own_serving_stack_and_production_keeps_the_project_names(
    synthesized: Synthesized,
) -> None:
    assert {"StagingServing", "Serving"} <= set(synthesized.templates)
    staging = synthesized.one("StagingServing", "AWS::SageMaker::Endpoint")["Properties"]
    production = synthesized.one("Serving", "AWS::SageMaker::Endpoint")["Properties"]
    assert staging["EndpointName"] == "churn-mlops-staging-endpoint"
    assert production["EndpointName"] == "churn-mlops-endpoint"
    roles = {
        role["Properties"]["RoleName"]
        for role in synthesized.resources("StagingServing", "AWS::IAM::Role").values()
    }
    assert roles == {"churn-mlops-staging-model-us-east-1", "churn-mlops-staging-monitor-us-east-1"}


def test_in_one_account_nothing_is_granted_to_another_account(synthesized: Synthesized) -> None:
    assert _foreign_principals(synthesized) == []
    group = synthesized.one("Pipeline", "AWS::SageMaker::ModelPackageGroup")["Properties"]
    assert "ModelPackageGroupPolicy" not in group
    deployer = json.dumps(synthesized.resources("Deploy", "AWS::IAM::Policy"))
    assert "sts:AssumeRole" not in deployer


def test_no_policy_anywhere_allows_a_star_principal(
    synthesized: Synthesized, two_accounts: Synthesized
) -> None:
    # (Deny statements name "*": the buckets' and queue's SSL-only denials.)
    for synthesis in (synthesized, two_accounts):
        for where, document in _all_policy_documents(synthesis):
            for statement in _statements(document):
                if statement.get("Effect") != "Allow":
                    continue
                principal = statement.get("Principal")
                assert principal != "*", where
                assert '"*"' not in json.dumps(principal), where


def test_two_account_synth_passes_cdk_nag_with_nothing_unacknowledged(
    two_accounts: Synthesized,
) -> None:
    report = json.loads((two_accounts.outdir / "validation-report.json").read_text())
    conclusions = {p["pluginName"]: p["conclusion"] for p in report["pluginReports"]}
    assert conclusions == {"AwsSolutions": "success", "NIST.800.53.R5": "success"}


def test_two_account_templates_pass_cfn_lint(two_accounts: Synthesized) -> None:
    from cfnlint.api import lint

    problems = []
    for path in sorted(Path(two_accounts.outdir).glob("*.template.json")):
        problems += [f"{path.name}: {m}" for m in lint(path.read_text())]
    assert problems == []


def test_production_in_another_account_gets_a_stage_stack_there(two_accounts: Synthesized) -> None:
    assert {"ProdStage", "Serving", "StagingServing", "CiCd"} <= set(two_accounts.templates)
    assert "StagingStage" not in two_accounts.templates  # staging shares the tooling account
    stacks = two_accounts.stacks
    assert stacks.stage_stacks["prod"].account == PROD
    assert stacks.stage_serving["prod"].account == PROD
    assert stacks.stage_serving["staging"].account == TOOLING
    buckets = {
        b["Properties"]["BucketName"]
        for b in two_accounts.resources("ProdStage", "AWS::S3::Bucket").values()
    }
    assert f"churn-mlops-data-{PROD}-us-east-1" in buckets


def test_the_registry_lets_the_production_account_describe_versions_only(
    two_accounts: Synthesized,
) -> None:
    group = two_accounts.one("Pipeline", "AWS::SageMaker::ModelPackageGroup")["Properties"]
    (statement,) = group["ModelPackageGroupPolicy"]["Statement"]
    assert _text(statement["Principal"]["AWS"]).endswith(f":iam::{PROD}:root")
    assert statement["Action"] == "sagemaker:DescribeModelPackage"
    assert _text(statement["Resource"]).endswith(f":{TOOLING}:model-package/churn-mlops-models/*")
    named = {_text(arn) for arn in statement["Condition"]["ArnEquals"]["aws:PrincipalArn"]}
    assert named == {PROD_CFN, PROD_MODEL}


def test_the_artifact_bucket_lets_the_production_roles_read_executions_only(
    two_accounts: Synthesized,
) -> None:
    policies = two_accounts.resources("Storage", "AWS::S3::BucketPolicy").values()
    foreign = [
        s
        for p in policies
        for s in _statements(p["Properties"]["PolicyDocument"])
        if PROD in _text(s.get("Principal", {}))
    ]
    (statement,) = foreign
    assert statement["Action"] == "s3:GetObject"
    bucket, prefix = statement["Resource"]["Fn::Join"][1]
    assert bucket["Fn::GetAtt"][0].startswith("StorageArtifacts")
    assert prefix == "/churn-mlops-pipeline/*"
    named = {_text(arn) for arn in statement["Condition"]["ArnEquals"]["aws:PrincipalArn"]}
    assert named == {PROD_MODEL, PROD_MONITOR}


def test_the_key_lets_the_production_roles_decrypt_artifacts_through_s3_only(
    two_accounts: Synthesized,
) -> None:
    key = two_accounts.one("Storage", "AWS::KMS::Key")["Properties"]["KeyPolicy"]
    foreign = [s for s in _statements(key) if PROD in _text(s["Principal"])]
    (statement,) = foreign
    assert statement["Action"] == "kms:Decrypt"
    conditions = statement["Condition"]
    assert _text(conditions["StringEquals"]["kms:ViaService"]) == "s3.us-east-1.${AWS::URLSuffix}"
    assert _text(conditions["StringEquals"]["kms:EncryptionContext:aws:s3:arn"]).endswith(
        f":s3:::churn-mlops-artifacts-{TOOLING}-us-east-1"
    )
    named = {_text(arn) for arn in conditions["ArnEquals"]["aws:PrincipalArn"]}
    assert named == {PROD_MODEL, PROD_MONITOR}


def test_the_production_roles_read_tooling_artifacts_with_matching_conditions(
    two_accounts: Synthesized,
) -> None:
    policies = json.dumps(two_accounts.resources("Serving", "AWS::IAM::Policy"))
    assert f"churn-mlops-artifacts-{TOOLING}-us-east-1/churn-mlops-pipeline/*" in policies
    assert f":kms:us-east-1:{TOOLING}:key/*" in policies
    assert "kms:EncryptionContext:aws:s3:arn" in policies


def test_the_tooling_account_reaches_production_only_through_its_access_role(
    two_accounts: Synthesized,
) -> None:
    roles = two_accounts.resources("ProdStage", "AWS::IAM::Role")
    (access,) = [
        r["Properties"]
        for r in roles.values()
        if r["Properties"]["RoleName"] == "churn-mlops-access-us-east-1"
    ]
    (trust,) = access["AssumeRolePolicyDocument"]["Statement"]
    assert _text(trust["Principal"]["AWS"]).endswith(f":iam::{TOOLING}:root")
    trusted = {_text(arn) for arn in trust["Condition"]["ArnEquals"]["aws:PrincipalArn"]}
    assert trusted == {
        f"arn:${{AWS::Partition}}:iam::{TOOLING}:role/churn-mlops-deployer-us-east-1",
        f"arn:${{AWS::Partition}}:iam::{TOOLING}:role/ci/churn-mlops-github-prod-us-east-1",
    }
    deployer = json.dumps(two_accounts.resources("Deploy", "AWS::IAM::Policy"))
    assert deployer.count("sts:AssumeRole") == 1
    assert f"iam::{PROD}:role/churn-mlops-access-us-east-1" in deployer
    # Staging, in the tooling account, is updated directly as its own CloudFormation role.
    assert "churn-mlops-staging-serving/*" in deployer


def test_a_stage_takes_its_own_instances(two_accounts: Synthesized) -> None:
    staging = two_accounts.templates["StagingServing"]["Parameters"]["InstanceType"]
    assert staging["Default"] == "ml.m5.xlarge"
    target = two_accounts.one("Serving", "AWS::ApplicationAutoScaling::ScalableTarget")
    assert (target["Properties"]["MinCapacity"], target["Properties"]["MaxCapacity"]) == (2, 4)


def test_a_model_update_keeps_the_scaled_instance_count(synthesized: Synthesized) -> None:
    endpoint = synthesized.one("Serving", "AWS::SageMaker::Endpoint")["Properties"]
    assert endpoint["RetainAllVariantProperties"] is True
    assert endpoint["ExcludeRetainedVariantProperties"] == [
        {"VariantPropertyType": "DesiredWeight"}
    ]


def test_autoscaling_is_deregistered_while_the_instance_type_changes(
    synthesized: Synthesized,
) -> None:
    template = synthesized.templates["Serving"]
    assert template["Parameters"]["InstanceType"]["Default"] == "ml.m5.large"
    config = synthesized.one("Serving", "AWS::SageMaker::EndpointConfig")["Properties"]
    assert config["ProductionVariants"][0]["InstanceType"] == {"Ref": "InstanceType"}
    assert template["Conditions"]["AutoScalingApplies"] == {
        "Fn::And": [
            {"Condition": "HasModelPackage"},
            {"Fn::Equals": [{"Ref": "InstanceType"}, "ml.m5.large"]},
        ]
    }
    for type_ in ("ScalableTarget", "ScalingPolicy"):
        resource = synthesized.one("Serving", f"AWS::ApplicationAutoScaling::{type_}")
        assert resource["Condition"] == "AutoScalingApplies"


def test_ci_roles_trust_one_repository_environment_each(two_accounts: Synthesized) -> None:
    roles = two_accounts.resources("CiCd", "AWS::IAM::Role")
    subjects = {}
    for role in roles.values():
        properties = role["Properties"]
        assert properties["Path"] == "/ci/"
        (trust,) = properties["AssumeRolePolicyDocument"]["Statement"]
        assert trust["Action"] == "sts:AssumeRoleWithWebIdentity"
        equals = trust["Condition"]["StringEquals"]
        assert equals["token.actions.githubusercontent.com:aud"] == "sts.amazonaws.com"
        subjects[properties["RoleName"]] = equals["token.actions.githubusercontent.com:sub"]
    assert subjects == {
        "churn-mlops-github-staging-us-east-1": f"repo:{REPOSITORY}:environment:staging",
        "churn-mlops-github-prod-us-east-1": f"repo:{REPOSITORY}:environment:prod",
    }
    provider = two_accounts.one("CiCd", "AWS::IAM::OIDCProvider")["Properties"]
    assert provider["ClientIdList"] == ["sts.amazonaws.com"]


def test_ci_roles_record_only_their_own_stage_in_the_registry(two_accounts: Synthesized) -> None:
    policies = two_accounts.resources("CiCd", "AWS::IAM::Policy").values()
    updates = [
        s
        for p in policies
        for s in _statements(p["Properties"]["PolicyDocument"])
        if s["Action"] == "sagemaker:UpdateModelPackage"
    ]
    stages = sorted(
        s["Condition"]["StringEquals"]["sagemaker:ModelLifeCycle:stage"] for s in updates
    )
    assert stages == ["prod", "staging"]
    text = json.dumps(list(policies))
    # The production job deploys the production account's stacks only.
    assert f"cdk-hnb659fds-deploy-role-{PROD}-us-east-1" in text
    assert text.count("lambda:InvokeFunction") == 1


def test_the_permissions_boundary_applies_to_every_role(two_accounts: Synthesized) -> None:
    for stack, template in two_accounts.templates.items():
        for logical, resource in template["Resources"].items():
            if resource["Type"] == "AWS::IAM::Role":
                boundary = resource["Properties"].get("PermissionsBoundary")
                assert boundary == BOUNDARY, f"{stack}/{logical}"
