"""A moto registry (in-process) with the lifecycle support the local AWS installs."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import boto3
import pytest
from moto import mock_aws

from mlops.local_runtime.moto_registry import install

REGION = "us-east-1"
GROUP = "churn-mlops-models"
STAGES = ("staging", "prod")
IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:3.2-0"


@dataclass
class Registry:
    sagemaker: Any
    versions: list[str] = field(default_factory=list)

    def register(self, *, approved: bool = True, metadata: dict[str, str] | None = None) -> str:
        """A new version of the group, approved by an update (as a reviewer does)."""
        response = self.sagemaker.create_model_package(
            ModelPackageGroupName=GROUP,
            ModelApprovalStatus="PendingManualApproval",
            InferenceSpecification={
                "Containers": [{"Image": IMAGE, "ModelDataUrl": "s3://artifacts/model.tar.gz"}],
                "SupportedContentTypes": ["text/csv"],
                "SupportedResponseMIMETypes": ["text/csv"],
            },
            CustomerMetadataProperties=metadata or {"problem-type": "binary"},
        )
        arn = str(response["ModelPackageArn"])
        if approved:
            self.sagemaker.update_model_package(ModelPackageArn=arn, ModelApprovalStatus="Approved")
        self.versions.append(arn)
        return arn


@pytest.fixture
def registry() -> Iterator[Registry]:
    install()
    with mock_aws(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sagemaker = boto3.client("sagemaker", region_name=REGION)
        sagemaker.create_model_package_group(ModelPackageGroupName=GROUP)
        yield Registry(sagemaker)
