"""Reading roles, policies and key policies out of synthesized templates (test helpers).

Values that hold CloudFormation expressions (``Fn::Join``, ``Ref``) are compared as their JSON
text: a resource "names" something when that text contains it.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from fnmatch import fnmatchcase
from typing import Any

Template = dict[str, Any]
Statement = dict[str, Any]


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def text(value: Any) -> str:
    return json.dumps(value, sort_keys=True)


def role_named(template: Template, name: str) -> str:
    """The logical id of the role whose ``RoleName`` is ``name``."""
    (logical,) = [
        logical
        for logical, resource in template["Resources"].items()
        if resource["Type"] == "AWS::IAM::Role" and resource["Properties"].get("RoleName") == name
    ]
    return logical


def role_statements(template: Template, role: str) -> list[Statement]:
    """Every identity-policy statement attached to the role with logical id ``role``."""
    resources = template["Resources"]
    statements: list[Statement] = []
    for policy in resources[role]["Properties"].get("Policies", []):
        statements += as_list(policy["PolicyDocument"]["Statement"])
    for resource in resources.values():
        if resource["Type"] == "AWS::IAM::Policy" and {"Ref": role} in resource["Properties"].get(
            "Roles", []
        ):
            statements += as_list(resource["Properties"]["PolicyDocument"]["Statement"])
    return statements


def allowing(statements: list[Statement], action: str) -> list[Statement]:
    """The Allow statements whose actions (wildcards included) cover ``action``."""
    return [
        statement
        for statement in statements
        if statement["Effect"] == "Allow"
        and any(fnmatchcase(action, pattern) for pattern in as_list(statement["Action"]))
    ]


def allowed_actions(statements: list[Statement]) -> set[str]:
    return {
        action
        for statement in statements
        if statement["Effect"] == "Allow"
        for action in as_list(statement["Action"])
    }


def trust_statements(templates: dict[str, Template]) -> Iterator[tuple[str, str, Statement]]:
    """(stack, role logical id, statement) for every role trust statement."""
    for stack, template in templates.items():
        for logical, resource in template["Resources"].items():
            if resource["Type"] == "AWS::IAM::Role":
                document = resource["Properties"]["AssumeRolePolicyDocument"]
                for statement in as_list(document["Statement"]):
                    yield stack, logical, statement


def service_trust_problems(templates: dict[str, Template]) -> list[str]:
    """Service trust statements without ``aws:SourceAccount`` = this account (and, for the
    services that set it on every request here, SageMaker and EventBridge, ``aws:SourceArn``
    in this account)."""
    account = {"Ref": "AWS::AccountId"}
    problems = []
    for stack, logical, statement in trust_statements(templates):
        services = as_list(statement.get("Principal", {}).get("Service", []))
        if not services:
            continue
        condition = statement.get("Condition", {})
        if condition.get("StringEquals", {}).get("aws:SourceAccount") != account:
            problems.append(f"{stack}/{logical}: {services} without aws:SourceAccount")
        if {"sagemaker.amazonaws.com", "events.amazonaws.com"} & set(services):
            source_arn = condition.get("ArnLike", {}).get("aws:SourceArn")
            if source_arn is None or text(account) not in text(source_arn):
                problems.append(f"{stack}/{logical}: {services} without aws:SourceArn")
    return problems


# --------------------------------------------------------------------- CloudFormation schemas

# Resource types whose handlers an approval never runs, and why.
NOT_UPDATED_ON_APPROVAL = {
    "AWS::IAM::Role": "the serving stack's roles do not depend on its parameters",
    "AWS::IAM::Policy": "the serving stack's role policies do not depend on its parameters",
    "AWS::CDK::Metadata": "a no-op resource CloudFormation never calls a service for",
}
# Handler permissions that apply to other configurations of a resource type than ours.
NOT_FOR_THESE_RESOURCES = {
    "lambda:GetProvisionedConcurrencyConfig": "ScalableTarget of a Lambda function only",
    "lambda:PutProvisionedConcurrencyConfig": "ScalableTarget of a Lambda function only",
    "lambda:DeleteProvisionedConcurrencyConfig": "ScalableTarget of a Lambda function only",
}


def handler_permissions(resource_type: str, region: str = "us-east-1") -> set[str]:
    """What CloudFormation's create/read/update/delete handlers of a type call (its schema)."""
    from cfnlint.schema import PROVIDER_SCHEMA_MANAGER

    schema = PROVIDER_SCHEMA_MANAGER.get_resource_schema(region, resource_type).schema
    handlers = schema.get("handlers", {})
    return {
        permission
        for operation in ("create", "read", "update", "delete")
        for permission in handlers.get(operation, {}).get("permissions", [])
    }


def missing_handler_permissions(serving: Template, statements: list[Statement]) -> list[str]:
    """``type: action`` for each handler permission of the serving template's resource types
    that ``statements`` do not allow."""
    types = {resource["Type"] for resource in serving["Resources"].values()}
    missing = []
    for resource_type in sorted(types - set(NOT_UPDATED_ON_APPROVAL)):
        for permission in sorted(handler_permissions(resource_type)):
            if permission in NOT_FOR_THESE_RESOURCES:
                continue
            if not allowing(statements, permission):
                missing.append(f"{resource_type}: {permission}")
    return missing
