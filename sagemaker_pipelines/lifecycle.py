"""Where each model version is: the registry's own ``ModelLifeCycle`` (Stage / StageStatus).

The stages are the project's ordered deployment stages (``settings.stages``, e.g. ``staging``
then ``prod``). Approval in the registry deploys a version to the first stage; every later
stage is reached only by promotion, which this module records before anything is deployed:

- ``record_check``: the checks of a stage (smoke test, bake time with quiet alarms) passed or
  failed → ``<stage>/ChecksPassed`` | ``<stage>/ChecksFailed``;
- ``promote``: an Approved version whose lifecycle says the stage before the target passed its
  checks → ``<target>/Deploying`` (the reason in ``StageDescription``), and the version the
  target served until now → ``<target>/Superseded``;
- ``rollback``: the version a stage serves → ``<stage>/RolledBack``, the newest version it
  served before (``Superseded``, still Approved) → ``<stage>/Deploying``;
- ``record_in_service``: a deployment finished → ``<stage>/InService``.

The same package is deployed at every stage (its ARN), never a rebuilt one. Each record is one
``UpdateModelPackage`` carrying only ``ModelLifeCycle``: on AWS that is an audited call (the
caller in CloudTrail, ``LastModifiedBy`` on the package), and IAM can scope who may record
which stage with the ``sagemaker:ModelLifeCycle:stage`` / ``…:stageStatus`` condition keys.
It never resends the approval status, so a lifecycle record never looks like a new approval.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sagemaker_pipelines.registry import APPROVED, RegistryError, describe_package

# StageStatus values (botocore: 1-63 characters, [a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}).
CHECKS_PASSED = "ChecksPassed"
CHECKS_FAILED = "ChecksFailed"
DEPLOYING = "Deploying"
IN_SERVICE = "InService"
SUPERSEDED = "Superseded"
ROLLED_BACK = "RolledBack"
# A version with one of these in a stage is what that stage serves (or is about to).
SERVING = (DEPLOYING, IN_SERVICE, CHECKS_PASSED, CHECKS_FAILED)
MAX_DESCRIPTION = 1024


class PromotionRefusedError(ValueError):
    """A promotion or rollback the registry's state does not allow; the message says why."""


@dataclass(frozen=True)
class StageRecord:
    """One ``ModelLifeCycle``."""

    stage: str
    status: str
    description: str = ""

    def to_request(self) -> dict[str, str]:
        request = {"Stage": self.stage, "StageStatus": self.status}
        if self.description:
            request["StageDescription"] = self.description[:MAX_DESCRIPTION]
        return request

    def __str__(self) -> str:
        return f"{self.stage}/{self.status}"


def lifecycle_of(package: Mapping[str, Any]) -> StageRecord | None:
    """The ``ModelLifeCycle`` of a described (or listed) package; None when it has none."""
    lifecycle = package.get("ModelLifeCycle") or {}
    if not lifecycle.get("Stage") or not lifecycle.get("StageStatus"):
        return None
    return StageRecord(
        stage=str(lifecycle["Stage"]),
        status=str(lifecycle["StageStatus"]),
        description=str(lifecycle.get("StageDescription") or ""),
    )


def record_stage(sagemaker: Any, arn: str, record: StageRecord) -> dict[str, Any]:
    """Record ``record`` on ``arn`` (nothing else in the request); the package afterwards."""
    sagemaker.update_model_package(ModelPackageArn=arn, ModelLifeCycle=record.to_request())
    after = describe_package(sagemaker, arn)
    if lifecycle_of(after) != StageRecord(
        record.stage, record.status, record.description[:MAX_DESCRIPTION]
    ):
        raise RegistryError(f"the registry did not record {record} on {arn}")
    return after


@dataclass(frozen=True)
class StagedVersion:
    """A version of the group and its lifecycle."""

    arn: str
    version: int
    approval_status: str
    lifecycle: StageRecord | None


def staged_versions(sagemaker: Any, group: str) -> list[StagedVersion]:
    """Every version of ``group`` with its lifecycle, newest first."""
    versions: list[StagedVersion] = []
    request: dict[str, Any] = {"ModelPackageGroupName": group}
    try:
        while True:
            page = sagemaker.list_model_packages(**request)
            for item in page.get("ModelPackageSummaryList", []):
                versions.append(
                    StagedVersion(
                        arn=str(item["ModelPackageArn"]),
                        version=int(item.get("ModelPackageVersion") or 0),
                        approval_status=str(item.get("ModelApprovalStatus") or "Unknown"),
                        lifecycle=lifecycle_of(item),
                    )
                )
            token = page.get("NextToken")
            if not token:
                break
            request["NextToken"] = token
    except sagemaker.exceptions.ClientError as error:
        raise RegistryError(f"cannot list model group {group}: {error}") from None
    return sorted(versions, key=lambda item: item.version, reverse=True)


def serving_version(versions: Sequence[StagedVersion], stage: str) -> StagedVersion | None:
    """The newest version whose lifecycle says ``stage`` serves it (or is deploying it)."""
    for version in versions:
        lifecycle = version.lifecycle
        if lifecycle and lifecycle.stage == stage and lifecycle.status in SERVING:
            return version
    return None


@dataclass(frozen=True)
class Promotion:
    """What ``promote`` recorded: ``arn`` is deploying to ``stage``; ``superseded`` (if any)
    is the version that stage served before."""

    arn: str
    stage: str
    superseded: str | None


def promote(
    sagemaker: Any,
    group: str,
    arn: str,
    *,
    stages: Sequence[str],
    to: str,
    reason: str,
) -> Promotion:
    """Record the promotion of ``arn`` to stage ``to``; PromotionRefusedError when it may not go."""
    if not reason.strip():
        raise PromotionRefusedError("a promotion needs a reason (--reason): it is the audit record")
    if to not in stages:
        raise PromotionRefusedError(f"no stage {to!r}; the stages are {', '.join(stages)}")
    position = list(stages).index(to)
    if position == 0:
        raise PromotionRefusedError(
            f"{to} is the first stage: a version gets there by approval in the registry "
            "(`mlops models approve`), not by promotion"
        )
    before = stages[position - 1]
    package = describe_package(sagemaker, arn)
    if package.get("ModelPackageGroupName") not in (None, group):
        raise PromotionRefusedError(f"{arn} is not a version of {group}")
    status = package.get("ModelApprovalStatus")
    if status != APPROVED:
        raise PromotionRefusedError(
            f"{arn} is {status}, not Approved: only approved versions move on"
        )
    current = lifecycle_of(package)
    if current is None or (current.stage, current.status) != (before, CHECKS_PASSED):
        where = str(current) if current else "no lifecycle recorded"
        raise PromotionRefusedError(
            f"{arn} has not passed the {before} checks ({where}); run "
            f"`mlops models check {arn} --stage {before}` once {before} serves it"
        )
    serving = serving_version(staged_versions(sagemaker, group), to)
    superseded = serving.arn if serving is not None and serving.arn != arn else None
    version = arn.rsplit("/", 1)[-1]
    if superseded is not None:
        record_stage(
            sagemaker,
            superseded,
            StageRecord(to, SUPERSEDED, f"superseded by version {version}: {reason}"),
        )
    record_stage(sagemaker, arn, StageRecord(to, DEPLOYING, reason))
    return Promotion(arn=arn, stage=to, superseded=superseded)


@dataclass(frozen=True)
class Rollback:
    """What ``rollback`` recorded: ``stage`` goes back from ``from_arn`` to ``to_arn``."""

    stage: str
    from_arn: str
    to_arn: str


def rollback(sagemaker: Any, group: str, *, stage: str, reason: str) -> Rollback:
    """Record the return of ``stage`` to the version it served before; PromotionRefusedError when
    there is nothing to return to."""
    if not reason.strip():
        raise PromotionRefusedError("a rollback needs a reason (--reason): it is the audit record")
    versions = staged_versions(sagemaker, group)
    current = serving_version(versions, stage)
    if current is None:
        raise PromotionRefusedError(f"no version of {group} is recorded as serving {stage}")
    earlier = [
        version
        for version in versions
        if version.arn != current.arn
        and version.lifecycle is not None
        and version.lifecycle.stage == stage
        and version.lifecycle.status == SUPERSEDED
    ]
    if not earlier:
        raise PromotionRefusedError(
            f"{stage} has served no version before {current.arn} (none is {stage}/{SUPERSEDED})"
        )
    # The version served just before is the one superseded last (when the current one came).
    previous = max(
        earlier, key=lambda version: (_last_modified(sagemaker, version.arn), version.version)
    )
    if previous.approval_status != APPROVED:
        raise PromotionRefusedError(
            f"the version {stage} served before, {previous.arn}, is "
            f"{previous.approval_status} now; approve it again or promote another version"
        )
    record_stage(
        sagemaker,
        current.arn,
        StageRecord(stage, ROLLED_BACK, f"rolled back to version {previous.version}: {reason}"),
    )
    record_stage(
        sagemaker,
        previous.arn,
        StageRecord(stage, DEPLOYING, f"rollback from version {current.version}: {reason}"),
    )
    return Rollback(stage=stage, from_arn=current.arn, to_arn=previous.arn)


def _last_modified(sagemaker: Any, arn: str) -> str:
    modified = describe_package(sagemaker, arn).get("LastModifiedTime")
    return modified.isoformat() if isinstance(modified, datetime) else str(modified or "")


def record_check(
    sagemaker: Any, arn: str, *, stage: str, passed: bool, description: str
) -> StageRecord:
    """Record the outcome of ``stage``'s checks of ``arn``."""
    record = StageRecord(stage, CHECKS_PASSED if passed else CHECKS_FAILED, description)
    record_stage(sagemaker, arn, record)
    return record


def record_in_service(sagemaker: Any, arn: str, *, stage: str, description: str) -> StageRecord:
    """Record that ``stage`` serves ``arn`` (its deployment finished)."""
    record = StageRecord(stage, IN_SERVICE, description)
    record_stage(sagemaker, arn, record)
    return record
