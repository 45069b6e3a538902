"""ARNs of this project's SageMaker resources, in the stack's own account and region."""

from __future__ import annotations

from aws_cdk import Stack
from constructs import Construct


def sagemaker_arn(scope: Construct, resource: str) -> str:
    """ARN of a SageMaker resource in this stack's account and region, e.g. ``pipeline/x``."""
    kind, _, name = resource.partition("/")
    return Stack.of(scope).format_arn(service="sagemaker", resource=kind, resource_name=name)
