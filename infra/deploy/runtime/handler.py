"""Deploy a model version to a stage by updating that stage's serving stack's parameters.

Two ways in:

- EventBridge, on "SageMaker Model Package State Change" for the project's group: an
  **approved** version goes to the **first stage** (approval is that stage's gate);
- a direct invocation ``{"deploy": {"stage": "<name>", "model_package_arn": "<arn>"}}`` (``mlops
  models promote`` / ``rollback``): the version goes to that stage only if the registry's
  ``ModelLifeCycle`` already says ``<stage>/Deploying``. Recording that is the promotion (an
  audited ``UpdateModelPackage`` that IAM can restrict per stage); this function only carries
  out what the registry says, so it can never be asked to put an unpromoted version anywhere.

For a deployable version it reads the drift-check baselines from the registry (data quality
required; model quality, bias and explainability optional, each an empty parameter when the
version has none, so the stack drops that monitor rather than keep an earlier version's) and
calls
CloudFormation ``UpdateStack`` on the stage's serving stack with the previous template (never
another one), the stage's own CloudFormation role, and the new ``ModelPackageArn`` / baseline
parameters (every other parameter keeps its value; a parameter the stack does not declare is
not sent), so the endpoint stays
CloudFormation-managed and CloudFormation runs the blue/green rollout. The explainability
monitor's Clarify job stands up a shadow endpoint from the served model, so its config must
name that model: before the update the function writes the stage's config (the baseline's
``analysis_config.json`` plus ``predictor``: the model the stack will name
its ``ServedModelPrefix`` output + the version, the stage's monitoring instance type) under
``MONITOR_CONFIGS`` and passes its URI, with the alarm's feature, output and threshold read
from the baseline's analysis. A stage in another
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
MODEL_QUALITY_CONSTRAINTS_URI = "ModelQualityConstraintsUri"
BIAS_CONFIG_URI = "BiasConfigUri"
BIAS_CONSTRAINTS_URI = "BiasConstraintsUri"
EXPLAINABILITY_CONFIG_URI = "ExplainabilityConfigUri"
EXPLAINABILITY_CONSTRAINTS_URI = "ExplainabilityConstraintsUri"
EXPLAINABILITY_MODEL_PREFIX = "ExplainabilityModelPrefix"
SERVED_MODEL_PREFIX_OUTPUT = "ServedModelPrefix"  # the serving stack's output
ATTRIBUTION_ALARM_FEATURE = "AttributionAlarmFeature"
ATTRIBUTION_ALARM_LABEL = "AttributionAlarmLabel"
ATTRIBUTION_ALARM_THRESHOLD = "AttributionAlarmThreshold"
# The attribution alarm fires when the baseline's most important feature keeps less than this
# share of its baseline global SHAP value.
ATTRIBUTION_ALARM_FRACTION = 0.5
# Clarify's shadow endpoint: one instance for the duration of a monitoring run.
SHADOW_INSTANCE_COUNT = 1
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
    # Clarify's shadow endpoint of the served model runs on this instance type. Unset: no
    # explainability monitor.
    explainer_instance_type: str | None = None


@dataclass(frozen=True)
class Config:
    model_package_group: str
    stages: tuple[StageTarget, ...]  # in order: approval deploys to the first
    # s3://<artifact bucket>/<pipeline>/monitor-configs: where the stages' explainability
    # configs are written (readable by every stage's monitor role). None: not written.
    monitor_configs: str | None = None

    @classmethod
    def from_env(cls) -> Config:
        return cls(
            model_package_group=os.environ["MODEL_PACKAGE_GROUP"],
            stages=tuple(StageTarget(**stage) for stage in json.loads(os.environ["STAGES"])),
            monitor_configs=os.environ.get("MONITOR_CONFIGS") or None,
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
    return _deploy(arn, target, config, sagemaker, s3, cloudformation_for(target))


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
    return _deploy(arn, target, config, sagemaker, s3, cloudformation_for(target), package=package)


def _deploy(
    arn: str,
    target: StageTarget,
    config: Config,
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
    statistics, constraints = baselines
    new_values = {
        MODEL_PACKAGE_ARN: arn,
        BASELINE_STATISTICS_URI: statistics,
        BASELINE_CONSTRAINTS_URI: constraints,
        **_optional_baselines(package),
    }
    missing = [
        uri
        for key, uri in new_values.items()
        if key != MODEL_PACKAGE_ARN and uri and not _exists(s3, uri)
    ]
    if missing:
        return Decision("refused", arn, f"baseline objects not found: {missing}").log()

    stack_name = target.stack_name
    stack = cloudformation.describe_stacks(StackName=stack_name)["Stacks"][0]
    current = {p["ParameterKey"]: p.get("ParameterValue", "") for p in stack["Parameters"]}
    outputs = {o["OutputKey"]: o.get("OutputValue", "") for o in stack.get("Outputs") or []}
    model_prefix = outputs.get(SERVED_MODEL_PREFIX_OUTPUT, "")
    writes_config = bool(target.explainer_instance_type and config.monitor_configs)
    if current.get(MODEL_PACKAGE_ARN) == arn and not (
        writes_config and _explainability_stale(current, new_values, model_prefix)
    ):
        return Decision("already-deployed", arn, f"{stack_name} already serves it").log()
    if stack["StackStatus"].endswith("_IN_PROGRESS"):
        Decision("ignored", arn, f"{stack_name} is {stack['StackStatus']}; retrying").log()
        raise StackBusyError(f"{stack_name} is {stack['StackStatus']}")
    if EXPLAINABILITY_CONFIG_URI in current:
        try:
            new_values |= _explainability_monitor(arn, target, config, s3, new_values, model_prefix)
        except ValueError as error:
            return Decision("refused", arn, str(error)).log()

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


def _optional_baselines(package: dict[str, Any]) -> dict[str, str]:
    """The model-quality and bias baselines' parameters; "" for each the version lacks (bias
    needs both its configuration and its post-training constraints)."""
    drift = package.get("DriftCheckBaselines") or {}

    def uri(section: str, member: str) -> str:
        return str(((drift.get(section) or {}).get(member) or {}).get("S3Uri") or "")

    bias_config = uri("Bias", "ConfigFile")
    bias_constraints = uri("Bias", "PostTrainingConstraints")
    if not (bias_config and bias_constraints):
        bias_config = bias_constraints = ""
    explainability_config = uri("Explainability", "ConfigFile")
    explainability_constraints = uri("Explainability", "Constraints")
    if not (explainability_config and explainability_constraints):
        explainability_config = explainability_constraints = ""
    return {
        MODEL_QUALITY_CONSTRAINTS_URI: uri("ModelQuality", "Constraints"),
        BIAS_CONFIG_URI: bias_config,
        BIAS_CONSTRAINTS_URI: bias_constraints,
        # The baseline's config here; replaced by the stage's (with its predictor) on update.
        EXPLAINABILITY_CONFIG_URI: explainability_config,
        EXPLAINABILITY_CONSTRAINTS_URI: explainability_constraints,
    }


def served_model_name(prefix: str, model_package_arn: str) -> str:
    """The name the serving stack gives the version's Model: its ``ServedModelPrefix`` + the
    ARN's version (``Fn::Select [2, Fn::Split ["/", arn]]`` in the template)."""
    return prefix + model_package_arn.split("/")[2]


def _explainability_stale(current: dict[str, str], values: dict[str, str], prefix: str) -> bool:
    """True when the served version has an explainability baseline but the stack's config
    names another template's models (``cdk deploy`` renamed the model since): deploying the
    version again writes the config for the current model and restores the monitor."""
    return bool(
        EXPLAINABILITY_MODEL_PREFIX in current
        and prefix
        and values.get(EXPLAINABILITY_CONFIG_URI)
        and current.get(EXPLAINABILITY_MODEL_PREFIX) != prefix
    )


def _explainability_monitor(
    arn: str,
    target: StageTarget,
    config: Config,
    s3: Any,
    values: dict[str, str],
    prefix: str,
) -> dict[str, str]:
    """The explainability parameters: the stage's config written next to the baselines (its
    predictor naming the model ``prefix`` + version), the constraints, and the alarm's; all
    empty when the version or the stage has no such monitor. Raises ``ValueError`` when a
    baseline file is not the JSON object Clarify writes."""
    baseline_config = values.get(EXPLAINABILITY_CONFIG_URI, "")
    cleared = {
        EXPLAINABILITY_CONFIG_URI: "",
        EXPLAINABILITY_CONSTRAINTS_URI: "",
        EXPLAINABILITY_MODEL_PREFIX: "",
        ATTRIBUTION_ALARM_FEATURE: "",
        ATTRIBUTION_ALARM_LABEL: "",
        ATTRIBUTION_ALARM_THRESHOLD: "0",
    }
    instance_type = target.explainer_instance_type
    if not baseline_config or not prefix or not instance_type or not config.monitor_configs:
        return cleared
    analysis_config = _read_json(s3, baseline_config)
    constraints = values[EXPLAINABILITY_CONSTRAINTS_URI]
    alarm = top_attribution(_read_json(s3, constraints))
    model_name = served_model_name(prefix, arn)
    analysis_config["predictor"] = {
        **(analysis_config.get("predictor") or {}),
        "model_name": model_name,
        "instance_type": instance_type,
        "initial_instance_count": SHADOW_INSTANCE_COUNT,
    }
    written = f"{config.monitor_configs}/{target.name}/{model_name}/analysis_config.json"
    parsed = urlparse(written)
    s3.put_object(
        Bucket=parsed.netloc,
        Key=parsed.path.lstrip("/"),
        Body=json.dumps(analysis_config, indent=2).encode(),
        ContentType="application/json",
    )
    return {
        EXPLAINABILITY_CONFIG_URI: written,
        EXPLAINABILITY_CONSTRAINTS_URI: constraints,
        EXPLAINABILITY_MODEL_PREFIX: prefix,
        ATTRIBUTION_ALARM_FEATURE: alarm[0] if alarm else "",
        ATTRIBUTION_ALARM_LABEL: alarm[1] if alarm else "",
        ATTRIBUTION_ALARM_THRESHOLD: f"{alarm[2] * ATTRIBUTION_ALARM_FRACTION:.8f}"
        if alarm
        else "0",
    }


def top_attribution(analysis: dict[str, Any]) -> tuple[str, str, float] | None:
    """``(feature, label, global SHAP)`` of the baseline analysis's most important feature
    (over every explained output), or None when it has no global SHAP values."""
    explanations = (analysis.get("explanations") or {}).get("kernel_shap") or {}
    found = [
        (str(feature), str(label), float(value))
        for label, body in explanations.items()
        if isinstance(body, dict)
        for feature, value in (body.get("global_shap_values") or {}).items()
        if isinstance(value, int | float)
    ]
    return max(found, key=lambda item: item[2]) if found else None


def _read_json(s3: Any, uri: str) -> dict[str, Any]:
    parsed = urlparse(uri)
    body = s3.get_object(Bucket=parsed.netloc, Key=parsed.path.lstrip("/"))["Body"].read()
    try:
        document = json.loads(body)
    except ValueError as error:
        raise ValueError(f"{uri} is not JSON: {error}") from error
    if not isinstance(document, dict):
        raise ValueError(f"{uri} is not a JSON object")
    return document


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
