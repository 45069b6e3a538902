"""The project key's policy: the account administers it, named roles use it.

Before: CDK's default policy, the account root with ``kms:*``, so any IAM policy in the account
could use the key directly.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.infra.conftest import Synthesized
from tests.security.policies import (
    Statement,
    allowing,
    as_list,
    handler_permissions,
    text,
)

CRYPTOGRAPHIC = (
    "kms:Decrypt",
    "kms:Encrypt",
    "kms:GenerateDataKey",
    "kms:GenerateDataKeyWithoutPlaintext",
    "kms:ReEncryptFrom",
    "kms:ReEncryptTo",
    "kms:CreateGrant",
)
ROOT = {"Fn::Join": ["", ["arn:aws:iam::", {"Ref": "AWS::AccountId"}, ":root"]]}


@pytest.fixture(scope="module")
def key_policy(synthesized: Synthesized) -> dict[str, Statement]:
    key = synthesized.one("Storage", "AWS::KMS::Key")["Properties"]
    statements = as_list(key["KeyPolicy"]["Statement"])
    return {statement["Sid"]: statement for statement in statements}


def _named_roles(statement: Statement) -> list[str]:
    return [text(arn) for arn in statement["Condition"]["ArnEquals"]["aws:PrincipalArn"]]


def test_no_policy_anywhere_allows_kms_star(synthesized: Synthesized) -> None:
    def actions(node: Any) -> list[str]:
        if isinstance(node, dict):
            found = as_list(node["Action"]) if "Action" in node and "Effect" in node else []
            return found + [a for value in node.values() for a in actions(value)]
        if isinstance(node, list):
            return [a for item in node for a in actions(item)]
        return []

    every_action = actions(synthesized.templates)
    assert "kms:Decrypt" in every_action
    assert [a for a in every_action if a in ("*", "kms:*")] == []


def test_the_account_administers_the_key_but_cannot_use_it(
    key_policy: dict[str, Statement],
) -> None:
    admin = key_policy["AdministerTheKey"]
    assert admin["Principal"] == {"AWS": ROOT}
    assert "Condition" not in admin
    assert all(not allowing([admin], action) for action in CRYPTOGRAPHIC)


def test_the_administration_statement_keeps_the_key_manageable_by_cloudformation(
    key_policy: dict[str, Statement],
) -> None:
    """Everything CloudFormation's key and alias handlers call on the key (their schemas)."""
    needed = handler_permissions("AWS::KMS::Key") | handler_permissions("AWS::KMS::Alias")
    # CreateKey and ListAliases are not actions on a key: IAM alone decides them.
    needed -= {"kms:CreateKey", "kms:ListAliases"}
    assert sorted(a for a in needed if not allowing([key_policy["AdministerTheKey"]], a)) == []


def test_only_named_project_roles_use_the_key_directly(key_policy: dict[str, Statement]) -> None:
    use = key_policy["ProjectRolesUseTheKey"]
    assert use["Principal"] == {"AWS": ROOT}
    assert sorted(as_list(use["Action"])) == [
        "kms:Decrypt",
        "kms:DescribeKey",
        "kms:GenerateDataKey",
    ]
    named = _named_roles(use)
    assert len(named) == 6
    for purpose in ("pipeline", "model", "monitor", "batch", "staging-model", "staging-monitor"):
        assert any(f":role/churn-mlops-{purpose}-us-east-1" in arn for arn in named), purpose


def test_only_roles_that_start_encrypted_sagemaker_resources_create_grants(
    key_policy: dict[str, Statement],
) -> None:
    grants = key_policy["SageMakerVolumeGrants"]
    assert as_list(grants["Action"]) == ["kms:CreateGrant"]
    assert grants["Condition"]["Bool"] == {"kms:GrantIsForAWSResource": "true"}
    named = _named_roles(grants)
    assert len(named) == 7
    for role in (
        ":role/churn-mlops-pipeline-us-east-1",
        ":role/churn-mlops-monitor-us-east-1",
        ":role/churn-mlops-staging-monitor-us-east-1",
        ":role/churn-mlops-staging-cfn-serving-us-east-1",
        ":role/churn-mlops-batch-us-east-1",
        ":role/churn-mlops-cfn-serving-us-east-1",
        ":role/cdk-hnb659fds-cfn-exec-role-",
    ):
        assert any(role in arn for arn in named), role


def test_other_account_principals_use_the_key_only_through_s3(
    key_policy: dict[str, Statement],
) -> None:
    s3 = key_policy["AccountPrincipalsThroughS3"]
    assert sorted(as_list(s3["Action"])) == ["kms:Decrypt", "kms:GenerateDataKey"]
    assert s3["Condition"] == {
        "StringEquals": {
            "kms:ViaService": {"Fn::Join": ["", ["s3.us-east-1.", {"Ref": "AWS::URLSuffix"}]]},
            "kms:CallerAccount": {"Ref": "AWS::AccountId"},
        }
    }


def test_every_cryptographic_permission_is_conditioned(key_policy: dict[str, Statement]) -> None:
    for sid, statement in key_policy.items():
        if any(allowing([statement], action) for action in CRYPTOGRAPHIC):
            condition = statement.get("Condition", {})
            assert "aws:PrincipalArn" in text(condition) or "kms:ViaService" in text(condition), sid
