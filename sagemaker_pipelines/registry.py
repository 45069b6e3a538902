"""The model registry operations behind ``mlops models`` (AWS or the local moto server).

Approval is the hand-off from data scientists to deployment, so approve/reject send the whole
state that must survive: moto's ``update_model_package`` wipes every field the request omits,
and on AWS sending the status with its description is the documented way anyway.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from mlops.core.problem_types import SPECS

APPROVED = "Approved"
REJECTED = "Rejected"


class RegistryError(LookupError):
    """The group or package does not exist (or has no versions)."""


@dataclass(frozen=True)
class PackageSummary:
    arn: str
    version: int | None
    status: str
    created: str
    # What Register records to tell versions apart (CustomerMetadataProperties): problem-type,
    # target, gate-metric, gate-value, gate-threshold, input-data; empty when not fetched.
    metadata: Mapping[str, str] = field(default_factory=dict)

    def describe(self) -> str:
        """``binary on churn · auc 0.9123 ≥ 0.75`` (what is known of it)."""
        return describe_metadata(self.metadata)


def describe_metadata(metadata: Mapping[str, str]) -> str:
    """One line for a version's dataset and gate; ``-`` when it recorded none."""
    if not metadata:
        return "-"
    dataset = f"{metadata.get('problem-type', '?')} on {metadata.get('target', '?')}"
    metric = metadata.get("gate-metric")
    if metric is None:
        return dataset
    spec = SPECS.get(metadata.get("problem-type", ""))  # type: ignore[call-overload]
    lower = (
        spec is not None
        and metric in spec.metric_names
        and not spec.metric(metric).higher_is_better
    )
    comparison = "≤" if lower else "≥"
    value = metadata.get("gate-value", "?")
    with contextlib.suppress(ValueError):
        value = f"{float(value):.4f}"
    return f"{dataset} · {metric} {value} {comparison} {metadata.get('gate-threshold', '?')}"


def list_packages(
    sagemaker: Any, group: str, *, with_metadata: bool = False
) -> list[PackageSummary]:
    """Every version in ``group``, newest first (``with_metadata``: each one's recorded
    dataset and gate, one DescribeModelPackage call per version)."""
    packages: list[PackageSummary] = []
    request: dict[str, Any] = {
        "ModelPackageGroupName": group,
        "SortBy": "CreationTime",
        "SortOrder": "Descending",
    }
    try:
        while True:
            page = sagemaker.list_model_packages(**request)
            for item in page.get("ModelPackageSummaryList", []):
                packages.append(
                    PackageSummary(
                        arn=str(item["ModelPackageArn"]),
                        version=item.get("ModelPackageVersion"),
                        status=str(item.get("ModelApprovalStatus") or "Unknown"),
                        created=str(item.get("CreationTime", "")),
                    )
                )
            token = page.get("NextToken")
            if not token:
                break
            request["NextToken"] = token
    except sagemaker.exceptions.ClientError as error:
        raise RegistryError(f"cannot list model group {group}: {_message(error)}") from None
    packages.sort(key=lambda package: package.version or 0, reverse=True)
    if with_metadata:
        packages = [
            replace(
                package,
                metadata=dict(
                    describe_package(sagemaker, package.arn).get("CustomerMetadataProperties") or {}
                ),
            )
            for package in packages
        ]
    return packages


def describe_package(sagemaker: Any, arn: str) -> dict[str, Any]:
    """The full ``describe_model_package`` response, without the HTTP metadata."""
    try:
        response = dict(sagemaker.describe_model_package(ModelPackageName=arn))
    except sagemaker.exceptions.ClientError as error:
        raise RegistryError(f"no model package {arn}: {_message(error)}") from None
    response.pop("ResponseMetadata", None)
    return response


@dataclass(frozen=True)
class DeployablePackage:
    """A model package and the ``model.tar.gz`` its first container serves: what a deployment
    of that package runs (so a local endpoint stays on the registry's lineage)."""

    arn: str
    model_data_url: str
    approval_status: str


def deployable_package(sagemaker: Any, arn: str) -> DeployablePackage:
    """The artifact of model package ``arn``; RegistryError if it has none or does not exist."""
    package = describe_package(sagemaker, arn)
    containers = (package.get("InferenceSpecification") or {}).get("Containers") or []
    url = containers[0].get("ModelDataUrl") if containers else None
    if not url:
        raise RegistryError(
            f"model package {arn} has no InferenceSpecification.Containers[0].ModelDataUrl"
        )
    return DeployablePackage(
        arn=str(package.get("ModelPackageArn", arn)),
        model_data_url=str(url),
        approval_status=str(package.get("ModelApprovalStatus") or "Unknown"),
    )


def latest_approved(sagemaker: Any, group: str) -> DeployablePackage:
    """The newest ``Approved`` package of ``group``; RegistryError naming the group if none."""
    try:
        response = sagemaker.list_model_packages(
            ModelPackageGroupName=group,
            ModelApprovalStatus=APPROVED,
            SortBy="CreationTime",
            SortOrder="Descending",
            MaxResults=1,
        )
    except sagemaker.exceptions.ClientError as error:
        raise RegistryError(f"model package group {group}: {_message(error)}") from None
    summaries = response.get("ModelPackageSummaryList") or []
    if not summaries:
        raise RegistryError(
            f"no approved model package in group {group}: run the pipeline, then "
            "`mlops models approve`"
        )
    return deployable_package(sagemaker, str(summaries[0]["ModelPackageArn"]))


def latest_package(sagemaker: Any, group: str) -> str:
    """ARN of the newest version in ``group``."""
    packages = list_packages(sagemaker, group)
    if not packages:
        raise RegistryError(f"model group {group} has no model packages yet")
    return packages[0].arn


def set_approval(
    sagemaker: Any, arn: str, status: str, description: str | None = None
) -> dict[str, Any]:
    """Approve or reject ``arn``; returns the package as described afterwards.

    The request carries the status and its description, and the check afterwards makes sure
    the fields a deployment reads (model data, metrics, baselines) are still there.
    """
    before = describe_package(sagemaker, arn)
    request: dict[str, Any] = {"ModelPackageArn": arn, "ModelApprovalStatus": status}
    if description:
        request["ApprovalDescription"] = description
    # moto's update wipes omitted fields: send back the metadata the package had.
    if before.get("CustomerMetadataProperties"):
        request["CustomerMetadataProperties"] = before["CustomerMetadataProperties"]
    sagemaker.update_model_package(**request)
    after = describe_package(sagemaker, arn)
    lost = [key for key in _KEPT_FIELDS if key in before and key not in after]
    if lost:
        raise RegistryError(
            f"updating {arn} dropped {', '.join(lost)}; the registry is inconsistent"
        )
    return after


_KEPT_FIELDS = ("InferenceSpecification", "ModelMetrics", "DriftCheckBaselines")


def evaluation_uri(package: dict[str, Any]) -> str | None:
    """The evaluation report URI recorded as the package's model-quality statistics."""
    statistics = package.get("ModelMetrics", {}).get("ModelQuality", {}).get("Statistics", {})
    uri = statistics.get("S3Uri")
    return str(uri) if uri else None


def _message(error: Any) -> str:
    return str(error.response.get("Error", {}).get("Message") or error)
