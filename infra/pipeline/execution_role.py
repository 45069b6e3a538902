"""The pipeline's execution role: the pipeline and every processing/training job it starts.

SageMaker Pipelines names step jobs ``pipelines-<execution id>-<step>-<hash>`` at run time and
numbers model package versions at registration, so the SageMaker statements end in a wildcard
after a prefix the service or this project fixes; they are acknowledged here, beside them.
Bucket, code and key access is granted by the stack.

The role may register versions only as ``PendingManualApproval`` (IAM condition
``sagemaker:ModelApprovalStatus`` on ``CreateModelPackage``) and cannot update a package: a
version becomes ``Approved`` only through someone else's ``UpdateModelPackage``, so starting an
execution never deploys anything by itself.
"""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import aws_iam as iam
from constructs import Construct

from infra.shared.acknowledgements import acknowledge_sagemaker_wildcard
from infra.shared.arns import sagemaker_arn
from infra.shared.roles import SageMakerRole
from mlops.core.names import ProjectNames
from sagemaker_pipelines.parameters import REGISTERED_APPROVAL_STATUS

_STEP_JOBS = ("processing-job/pipelines-*", "training-job/pipelines-*")


def pipeline_execution_role(
    scope: Construct,
    construct_id: str,
    *,
    names: ProjectNames,
    role_name: str,
    images: Sequence[str],
) -> SageMakerRole:
    """A ``SageMakerRole`` that runs the pipeline's jobs and registers model versions."""
    versions = f"model-package/{names.model_package_group}/*"
    group_and_versions = [
        sagemaker_arn(scope, f"model-package-group/{names.model_package_group}"),
        sagemaker_arn(scope, versions),
    ]
    role = SageMakerRole(
        scope,
        construct_id,
        role_name=role_name,
        description=f"{names.project}: pipeline and the processing/training jobs it starts",
        images=images,
        statements=[
            iam.PolicyStatement(
                sid="RunPipelineJobs",
                actions=[
                    "sagemaker:CreateProcessingJob",
                    "sagemaker:DescribeProcessingJob",
                    "sagemaker:StopProcessingJob",
                    "sagemaker:CreateTrainingJob",
                    "sagemaker:DescribeTrainingJob",
                    "sagemaker:StopTrainingJob",
                    "sagemaker:AddTags",
                    "sagemaker:ListTags",
                ],
                resources=[sagemaker_arn(scope, jobs) for jobs in _STEP_JOBS],
            ),
            iam.PolicyStatement(
                sid="RegisterVersionsPendingApproval",
                actions=["sagemaker:CreateModelPackage"],
                resources=group_and_versions,
                # A request without ModelApprovalStatus or with any other value is refused.
                conditions={
                    "StringEquals": {"sagemaker:ModelApprovalStatus": REGISTERED_APPROVAL_STATUS}
                },
            ),
            iam.PolicyStatement(
                sid="ReadAndTagTheRegistry",
                actions=[
                    "sagemaker:DescribeModelPackage",
                    "sagemaker:DescribeModelPackageGroup",
                    "sagemaker:ListModelPackages",
                    "sagemaker:AddTags",
                ],
                resources=group_and_versions,
            ),
        ],
    )
    role.allow_passing_to_sagemaker()
    for jobs in _STEP_JOBS:
        acknowledge_sagemaker_wildcard(
            role,
            jobs,
            "SageMaker Pipelines names step jobs pipelines-<execution id>-<step>-<hash> at run "
            "time; the prefix is fixed by the service and the actions are create/describe/stop.",
        )
    acknowledge_sagemaker_wildcard(
        role,
        versions,
        "Model package versions are numbered at registration; scoped to this project's group.",
    )
    return role
