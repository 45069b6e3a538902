"""ARNs of this project's resources: SageMaker ones of the stack's account and region, and roles
of other accounts (the stages' and the tooling account's), named before they exist."""

from __future__ import annotations

from aws_cdk import Aws, Stack
from constructs import Construct


def sagemaker_arn(scope: Construct, resource: str) -> str:
    """ARN of a SageMaker resource in this stack's account and region, e.g. ``pipeline/x``."""
    kind, _, name = resource.partition("/")
    return Stack.of(scope).format_arn(service="sagemaker", resource=kind, resource_name=name)


def account_role_arn(account: str, name: str, path: str = "/") -> str:
    """The ARN of role ``name`` (under IAM ``path``) in ``account``, a literal account id."""
    return f"arn:{Aws.PARTITION}:iam::{account}:role{path}{name}"
