"""The model registry: one model package group that the pipeline registers versions into.

With deployment stages in other accounts, the group's resource policy
(``ModelPackageGroupPolicy``) lets exactly those accounts' serving roles read its versions:
``sagemaker:DescribeModelPackage`` on ``model-package/<group>/*``, which CloudFormation's
``CreateModel`` from a package (run as the stage's CloudFormation role) and the hosted model
need. Each account is named as a principal with its roles in ``aws:PrincipalArn`` (they may
not exist when this stack is deployed); no ``*`` principal, no write. Without such stages the
group has no policy at all.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from aws_cdk import Aws, Stack
from aws_cdk import aws_sagemaker as sagemaker
from constructs import Construct


class ModelRegistry(Construct):
    """``AWS::SageMaker::ModelPackageGroup``; approvals on its packages drive deployment."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        group_name: str,
        readers: Mapping[str, Sequence[str]] | None = None,
    ) -> None:
        """``readers``: another account → the ARNs of its roles that deploy versions."""
        super().__init__(scope, construct_id)
        self.group = sagemaker.CfnModelPackageGroup(
            self,
            "Group",
            model_package_group_name=group_name,
            model_package_group_description=(
                "Versions registered by the training pipeline; approve one to deploy it."
            ),
            model_package_group_policy=(
                registry_policy(Stack.of(self), group_name, readers) if readers else None
            ),
        )
        self.group_name = group_name


def registry_policy(
    stack: Stack, group_name: str, readers: Mapping[str, Sequence[str]]
) -> dict[str, object]:
    """The group's resource policy: each account's named roles may describe its versions."""
    versions = stack.format_arn(
        service="sagemaker", resource="model-package", resource_name=f"{group_name}/*"
    )
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": f"Stage{account}DescribesVersions",
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:{Aws.PARTITION}:iam::{account}:root"},
                "Action": "sagemaker:DescribeModelPackage",
                "Resource": versions,
                "Condition": {"ArnEquals": {"aws:PrincipalArn": list(role_arns)}},
            }
            for account, role_arns in sorted(readers.items())
        ],
    }
