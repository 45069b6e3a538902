"""The model registry: one model package group that the pipeline registers versions into."""

from __future__ import annotations

from aws_cdk import aws_sagemaker as sagemaker
from constructs import Construct


class ModelRegistry(Construct):
    """``AWS::SageMaker::ModelPackageGroup``; approvals on its packages drive deployment."""

    def __init__(self, scope: Construct, construct_id: str, *, group_name: str) -> None:
        super().__init__(scope, construct_id)
        self.group = sagemaker.CfnModelPackageGroup(
            self,
            "Group",
            model_package_group_name=group_name,
            model_package_group_description=(
                "Versions registered by the training pipeline; approve one to deploy it."
            ),
        )
        self.group_name = group_name
