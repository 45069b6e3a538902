"""Deploy a model version to a stage by updating that stage's serving stack's parameters.

Two ways in:

- EventBridge, on "SageMaker Model Package State Change" for the project's group: an
  **approved** version goes to the **first stage** (approval is that stage's gate);
- a direct invocation ``{"deploy": {"stage": "<name>", "model_package_arn": "<arn>"}}`` (``mlops
  models promote`` / ``rollback``): the version goes to that stage only if the registry's
  ``ModelLifeCycle`` already says ``<stage>/Deploying``. Recording that is the promotion (an
  audited ``UpdateModelPackage`` that IAM can restrict per stage); this function only carries
  out what the registry says, so it can never be asked to put an unpromoted version anywhere.

For a deployable version it reads the data-quality drift-check baselines from the registry and
calls CloudFormation ``UpdateStack`` on the stage's serving stack with the previous template
(never another one), the stage's own CloudFormation role, and the new ``ModelPackageArn`` /
baseline parameters (every other parameter keeps its value), so the endpoint stays
CloudFormation-managed and CloudFormation runs the blue/green rollout. A stage in another
account is reached by assuming that account's access role, which may do exactly that.

Anything else is a no-op with one log line saying why: a pending or rejected package, a
package no longer approved by the time the event arrives, the version already deployed (a
repeated event), a package without baselines, or a package that was *created* Approved.
Approval is a reviewer's ``UpdateModelPackage``; the pipeline registers every version as
``PendingManualApproval``. A package approved by an update was modified after it was
created (``LastModifiedTime`` later than ``CreationTime``); one registered as Approved and
never updated has no such modification, and is refused. Plain boto3 + stdlib: runs on the
Lambda Python runtime as is.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlparse

import boto3
from botocore.exceptions import ClientError

LOG = logging.getLogger("deploy_on_approval")
LOG.setLevel(logging.INFO)

MODEL_PACKAGE_ARN = "ModelPackageArn"
BASELINE_STATISTICS_URI = "BaselineStatisticsUri"
BASELINE_CONSTRAINTS_URI = "BaselineConstraintsUri"
APPROVED = "Approved"
DEPLOYING = "Deploying"  # sagemaker_pipelines.lifecycle.DEPLOYING
_NO_UPDATES = "No updates are to be performed"
_IN_PROGRESS = "_IN_PROGRESS state"  # ValidationError: "… is in UPDATE_IN_PROGRESS state and …"


@dataclass(frozen=True)
class StageTarget:
    """One stage's serving stack and how to update it."""

    name: str
    stack_name: str
    cloudformation_role_arn: str  # the role CloudFormation runs the update as
    access_role_arn: str | None = None  # assumed first when the stage is in another account
    region: str | None = None


@dataclass(frozen=True)
class Config:
    model_package_group: str
    stages: tuple[StageTarget, ...]  # in order: approval deploys to the first

    @classmethod
    def from_env(cls) -> Config:
        return cls(
            model_package_group=os.environ["MODEL_PACKAGE_GROUP"],
            stages=tuple(StageTarget(**stage) for stage in json.loads(os.environ["STAGES"])),
        )

    def stage(self, name: str) -> StageTarget | None:
        return next((stage for stage in self.stages if stage.name == name), None)


@dataclass(frozen=True)
class Decision:
    """What the handler did: ``deployed`` | ``ignored`` | ``already-deployed`` | ``refused``."""

    action: str
    model_package_arn: str
    reason: str

    def log(self) -> Decision:
        level = logging.ERROR if self.action == "refused" else logging.INFO
        LOG.log(
            level,
            "decision=%s model_package=%s reason=%s",
            self.action,
            self.model_package_arn or "-",
            self.reason,
        )
        return self


class StackBusyError(RuntimeError):
    """The serving stack is mid-operation; raising lets Lambda's async retry try again later."""


def handler(event: dict[str, Any], context: Any) -> dict[str, str]:
    decision = deploy(
        event,
        config=Config.from_env(),
        sagemaker=boto3.client("sagemaker"),
        s3=boto3.client("s3"),
        cloudformation_for=cloudformation_client,
    )
    return {"action": decision.action, "reason": decision.reason}


def cloudformation_client(target: StageTarget) -> Any:
    """CloudFormation of the stage's account: this function's own, or the access role's."""
    if target.access_role_arn is None:
        return boto3.client("cloudformation", region_name=target.region)
    credentials = boto3.client("sts").assume_role(
        RoleArn=target.access_role_arn, RoleSessionName=f"deploy-{target.name}"
    )["Credentials"]
    return boto3.client(
        "cloudformation",
        region_name=target.region,
        aws_access_key_id=credentials["AccessKeyId"],
        aws_secret_access_key=credentials["SecretAccessKey"],
        aws_session_token=credentials["SessionToken"],
    )


def deploy(
    event: dict[str, Any],
    *,
    config: Config,
    sagemaker: Any,
    s3: Any,
    cloudformation_for: Callable[[StageTarget], Any],
) -> Decision:
    """Decide, act, and log exactly one line about it."""
    request = event.get("deploy")
    if isinstance(request, dict):
        return _deploy_promoted(request, config, sagemaker, s3, cloudformation_for)
    detail = event.get("detail") or {}
    arn = str(detail.get("ModelPackageArn", ""))
    group = detail.get("ModelPackageGroupName")
    if group != config.model_package_group:
        return Decision("ignored", arn, f"group {group!r} is not this project's").log()
    if detail.get("ModelApprovalStatus") != APPROVED:
        return Decision(
            "ignored", arn, f"status is {detail.get('ModelApprovalStatus')!r}, not Approved"
        ).log()
    target = config.stages[0]
    return _deploy(arn, target, sagemaker, s3, cloudformation_for(target))


def _deploy_promoted(
    request: dict[str, Any],
    config: Config,
    sagemaker: Any,
    s3: Any,
    cloudformation_for: Callable[[StageTarget], Any],
) -> Decision:
    arn = str(request.get("model_package_arn", ""))
    name = str(request.get("stage", ""))
    target = config.stage(name)
    if target is None:
        return Decision("refused", arn, f"no stage {name!r}").log()
    package = sagemaker.describe_model_package(ModelPackageName=arn)
    if package.get("ModelPackageGroupName") != config.model_package_group:
        return Decision("refused", arn, "not a version of this project's group").log()
    lifecycle = package.get("ModelLifeCycle") or {}
    recorded = f"{lifecycle.get('Stage')}/{lifecycle.get('StageStatus')}"
    if recorded != f"{name}/{DEPLOYING}":
        return Decision(
            "refused",
            arn,
            f"the registry records {recorded}, not {name}/{DEPLOYING}: promote it first "
            "(`mlops models promote`)",
        ).log()
    return _deploy(arn, target, sagemaker, s3, cloudformation_for(target), package=package)


def _deploy(
    arn: str,
    target: StageTarget,
    sagemaker: Any,
    s3: Any,
    cloudformation: Any,
    *,
    package: dict[str, Any] | None = None,
) -> Decision:
    # The registry, not the event, is the truth: the package may have been rejected since.
    if package is None:
        package = sagemaker.describe_model_package(ModelPackageName=arn)
    if package.get("ModelApprovalStatus") != APPROVED:
        return Decision(
            "ignored", arn, f"now {package.get('ModelApprovalStatus')!r} in the registry"
        ).log()
    if not _approved_after_registration(package):
        return Decision(
            "refused",
            arn,
            "registered as Approved, never approved in the registry (the pipeline registers "
            "PendingManualApproval; set it to PendingManualApproval, then approve it)",
        ).log()
    baselines = _data_quality_baselines(package)
    if baselines is None:
        return Decision(
            "refused", arn, "no DriftCheckBaselines.ModelDataQuality statistics/constraints"
        ).log()
    missing = [uri for uri in baselines if not _exists(s3, uri)]
    if missing:
        return Decision("refused", arn, f"baseline objects not found: {missing}").log()

    stack_name = target.stack_name
    stack = cloudformation.describe_stacks(StackName=stack_name)["Stacks"][0]
    current = {p["ParameterKey"]: p.get("ParameterValue", "") for p in stack["Parameters"]}
    if current.get(MODEL_PACKAGE_ARN) == arn:
        return Decision("already-deployed", arn, f"{stack_name} already serves it").log()
    if stack["StackStatus"].endswith("_IN_PROGRESS"):
        Decision("ignored", arn, f"{stack_name} is {stack['StackStatus']}; retrying").log()
        raise StackBusyError(f"{stack_name} is {stack['StackStatus']}")

    statistics, constraints = baselines
    new_values = {
        MODEL_PACKAGE_ARN: arn,
        BASELINE_STATISTICS_URI: statistics,
        BASELINE_CONSTRAINTS_URI: constraints,
    }
    parameters = [
        {"ParameterKey": key, "ParameterValue": new_values[key]}
        if key in new_values
        else {"ParameterKey": key, "UsePreviousValue": True}
        for key in current
    ]
    try:
        cloudformation.update_stack(
            StackName=stack_name,
            UsePreviousTemplate=True,
            Parameters=parameters,
            Capabilities=["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM"],
            RoleARN=target.cloudformation_role_arn,
        )
    except ClientError as error:
        if _NO_UPDATES in str(error):
            return Decision("already-deployed", arn, "CloudFormation: no updates").log()
        if _IN_PROGRESS in str(error):  # it became busy after describe_stacks: retry later
            Decision("ignored", arn, f"{stack_name} is busy ({error}); retrying").log()
            raise StackBusyError(f"{stack_name}: {error}") from error
        raise
    previous = current.get(MODEL_PACKAGE_ARN) or "none"
    return Decision(
        "deployed",
        arn,
        f"updating {stack_name} (stage {target.name}; previous package: {previous})",
    ).log()


def _approved_after_registration(package: dict[str, Any]) -> bool:
    """True when the package was modified after it was created (its approval came later).

    ``CreateModelPackage`` sets ``CreationTime`` only; ``UpdateModelPackage`` (an approval)
    sets ``LastModifiedTime``. A package created Approved and never updated has no later
    modification.
    """
    created = package.get("CreationTime")
    modified = package.get("LastModifiedTime")
    return created is not None and modified is not None and modified > created


def _data_quality_baselines(package: dict[str, Any]) -> tuple[str, str] | None:
    quality = (package.get("DriftCheckBaselines") or {}).get("ModelDataQuality") or {}
    statistics = (quality.get("Statistics") or {}).get("S3Uri")
    constraints = (quality.get("Constraints") or {}).get("S3Uri")
    if not statistics or not constraints:
        return None
    return str(statistics), str(constraints)


def _exists(s3: Any, uri: str) -> bool:
    parsed = urlparse(uri)
    if parsed.scheme != "s3" or not parsed.netloc:
        return False
    try:
        s3.head_object(Bucket=parsed.netloc, Key=parsed.path.lstrip("/"))
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") in {"404", "NoSuchKey", "NotFound"}:
            return False
        raise
    return True
