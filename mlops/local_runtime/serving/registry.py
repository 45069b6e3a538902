"""Find the model a registry entry points at, so the local endpoint serves what AWS would.

A model package's ``InferenceSpecification.Containers[0].ModelDataUrl`` is the artifact a
deployment of that package runs; resolving it here (instead of taking a path from the user)
keeps the local endpoint on the same lineage as the registry. Works with any boto3
``sagemaker`` client: AWS, or the shared moto server in the local workflow.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from mlops.errors import UserError
from sagemaker_pipelines.registry import RegistryError
from sagemaker_pipelines.registry import describe_package as describe_registered


@dataclass(frozen=True)
class ResolvedPackage:
    """A model package and the ``model.tar.gz`` its first container serves."""

    arn: str
    model_data_url: str
    approval_status: str


def describe_package(sagemaker: Any, arn: str) -> ResolvedPackage:
    """The artifact of model package ``arn`` (``UserError`` if it has none or does not exist)."""
    try:
        package = describe_registered(sagemaker, arn)
    except RegistryError as error:
        raise UserError(str(error)) from None
    containers = (package.get("InferenceSpecification") or {}).get("Containers") or []
    url = containers[0].get("ModelDataUrl") if containers else None
    if not url:
        raise UserError(
            f"model package {arn} has no InferenceSpecification.Containers[0].ModelDataUrl"
        )
    return ResolvedPackage(
        arn=str(package.get("ModelPackageArn", arn)),
        model_data_url=str(url),
        approval_status=str(package.get("ModelApprovalStatus") or "Unknown"),
    )


def latest_approved(sagemaker: Any, group: str) -> ResolvedPackage:
    """The newest ``Approved`` package of ``group`` (``UserError`` naming the group if none)."""
    try:
        response = sagemaker.list_model_packages(
            ModelPackageGroupName=group,
            ModelApprovalStatus="Approved",
            SortBy="CreationTime",
            SortOrder="Descending",
            MaxResults=1,
        )
    except sagemaker.exceptions.ClientError as error:
        raise UserError(
            f"model package group {group}: {error.response['Error'].get('Message') or error}"
        ) from error
    summaries = response.get("ModelPackageSummaryList") or []
    if not summaries:
        raise UserError(
            f"no approved model package in group {group}: run the pipeline, then "
            "`mlops models approve`"
        )
    return describe_package(sagemaker, str(summaries[0]["ModelPackageArn"]))
