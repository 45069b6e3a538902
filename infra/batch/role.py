"""The batch role: the batch pipeline, the model and transform jobs it creates, and the
data-quality monitoring jobs over their capture.

SageMaker Pipelines names what a step creates at run time (``pipelines-<execution id>-…``), so
the SageMaker statements end in a wildcard after that prefix, acknowledged beside them. The
model a CreateModel step creates runs as this role too (it is the model's
``ExecutionRoleArn``), so the role pulls the registered model's image and reads model
artifacts, and the monitoring jobs' analyzer image. Bucket access is granted by the stack.
"""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import aws_iam as iam
from constructs import Construct

from infra.shared.acknowledgements import acknowledge_sagemaker_wildcard
from infra.shared.arns import sagemaker_arn
from infra.shared.roles import SageMakerRole
from mlops.core.names import ProjectNames

_CREATED = ("model/pipelines-*", "transform-job/pipelines-*")


def batch_role(
    scope: Construct,
    construct_id: str,
    *,
    names: ProjectNames,
    role_name: str,
    images: Sequence[str],
) -> SageMakerRole:
    """A ``SageMakerRole`` that creates the batch models and transform jobs."""
    versions = f"model-package/{names.model_package_group}/*"
    role = SageMakerRole(
        scope,
        construct_id,
        role_name=role_name,
        description=f"{names.project}: batch pipeline, its transform jobs and their monitoring",
        images=images,
        statements=[
            iam.PolicyStatement(
                sid="CreateBatchModelsAndJobs",
                actions=[
                    "sagemaker:CreateModel",
                    "sagemaker:DescribeModel",
                    "sagemaker:CreateTransformJob",
                    "sagemaker:DescribeTransformJob",
                    "sagemaker:StopTransformJob",
                    "sagemaker:AddTags",
                    "sagemaker:ListTags",
                ],
                resources=[sagemaker_arn(scope, created) for created in _CREATED],
            ),
            iam.PolicyStatement(
                sid="ModelFromAPackageVersion",
                actions=["sagemaker:DescribeModelPackage"],
                resources=[sagemaker_arn(scope, versions)],
            ),
        ],
    )
    role.allow_passing_to_sagemaker()
    for created in _CREATED:
        acknowledge_sagemaker_wildcard(
            role,
            created,
            "SageMaker Pipelines names the models and transform jobs of a batch execution "
            "pipelines-<execution id>-<step>-<hash> at run time; the prefix is the service's.",
        )
    acknowledge_sagemaker_wildcard(
        role,
        versions,
        "DescribeModelPackage only, on versions of this project's group (numbered at "
        "registration): CreateModel builds the model from the version an execution names.",
    )
    return role
