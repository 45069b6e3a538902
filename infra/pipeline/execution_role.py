"""The pipeline's execution role: the pipeline and every processing/training job it starts.

SageMaker Pipelines names step jobs ``pipelines-<execution id>-<step>-<hash>`` at run time and
numbers model package versions at registration, so the SageMaker statements end in a wildcard
after a prefix the service or this project fixes; they are acknowledged here, beside them.
Bucket, code and key access is granted by the stack.
"""

from __future__ import annotations

from aws_cdk import aws_iam as iam
from constructs import Construct

from infra.shared.acknowledgements import acknowledge_sagemaker_wildcard
from infra.shared.arns import sagemaker_arn
from infra.shared.roles import SageMakerRole
from mlops.core.names import ProjectNames

_STEP_JOBS = ("processing-job/pipelines-*", "training-job/pipelines-*")


def pipeline_execution_role(
    scope: Construct, construct_id: str, *, names: ProjectNames
) -> SageMakerRole:
    """A ``SageMakerRole`` that runs the pipeline's jobs and registers model versions."""
    versions = f"model-package/{names.model_package_group}/*"
    role = SageMakerRole(
        scope,
        construct_id,
        description=f"{names.project}: pipeline and the processing/training jobs it starts",
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
                sid="RegisterModelVersions",
                actions=[
                    "sagemaker:CreateModelPackage",
                    "sagemaker:DescribeModelPackage",
                    "sagemaker:DescribeModelPackageGroup",
                    "sagemaker:ListModelPackages",
                    "sagemaker:AddTags",
                ],
                resources=[
                    sagemaker_arn(scope, f"model-package-group/{names.model_package_group}"),
                    sagemaker_arn(scope, versions),
                ],
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
