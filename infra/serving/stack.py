"""One per deployment stage: the endpoint of the version a stage serves, its monitoring, alarms.

Parameters, not context, choose the model: the deploy Lambda updates them with the previous
template (on approval for the first stage, on promotion or rollback for the others), so the
endpoint is always CloudFormation-managed and a deployment never causes drift. With
``ModelPackageArn`` empty (first deploy) only the IAM roles exist. Each stage's stack lives in
the stage's account and region and names its resources after the stage
(``mlops.core.names.StageNames``); the production stage keeps the project's names.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, cast

from aws_cdk import (
    Annotations,
    CfnCondition,
    CfnOutput,
    CfnParameter,
    CfnRule,
    CfnRuleAssertion,
    Fn,
    ICfnConditionExpression,
    Stack,
)
from aws_cdk import aws_iam as iam
from constructs import Construct

from infra.serving.artifacts import ArtifactSource
from infra.serving.endpoint import EndpointCapacity, ServingEndpoint
from infra.serving.monitor import Baseline, DriftAlarmSpec, EndpointMonitor
from infra.serving.retrain import RetrainOnDrift
from infra.shared.acknowledgements import acknowledge_bucket_objects, acknowledge_nist
from infra.shared.arns import sagemaker_arn
from infra.shared.conditions import apply_condition
from infra.shared.role_names import RoleNames
from infra.shared.roles import SageMakerRole
from infra.storage.buckets import StorageRefs
from mlops.core.names import DATA_CAPTURE_PREFIX, MONITORING_REPORTS_PREFIX
from mlops.core.settings import ProjectSettings
from mlops.core.stages import DeploymentStage, retrains_on_drift

# Parameter names: a contract with the approval Lambda (infra/deploy/runtime/handler.py).
MODEL_PACKAGE_ARN = "ModelPackageArn"
BASELINE_STATISTICS_URI = "BaselineStatisticsUri"
BASELINE_CONSTRAINTS_URI = "BaselineConstraintsUri"
INSTANCE_TYPE = "InstanceType"
UNSET_STATISTICS_URI = "s3://baseline-not-set/statistics.json"
UNSET_CONSTRAINTS_URI = "s3://baseline-not-set/constraints.json"


class ServingStack(Stack):
    """The endpoint stack; deployable before any model exists."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        settings: ProjectSettings,
        stage: DeploymentStage,
        storage: StorageRefs,
        artifacts: ArtifactSource,
        model_image_uri: str,
        monitor_image_uri: str,
        drift_features: Sequence[str],
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        project = settings.names
        group = project.model_package_group
        names = stage.names.resources  # this stage's endpoint, alarms, monitor and roles
        role_names = RoleNames(names, self.region)
        self.stage = stage

        package_arn = CfnParameter(
            self,
            MODEL_PACKAGE_ARN,
            type="String",
            default="",
            description=f"Approved model package of {group} to serve; empty = no endpoint",
            allowed_pattern=r"^$|^arn:aws[a-z-]*:sagemaker:[a-z0-9-]+:[0-9]{12}:model-package/"
            + group
            + r"/[0-9]+$",
            constraint_description=f"an ARN of a model package version in {group}, or empty",
        ).value_as_string
        # Baselines default to a well-formed "unset" URI (not ""), so the template validates as
        # written; the rule below refuses a model whose baselines are still unset.
        statistics_uri = CfnParameter(
            self,
            BASELINE_STATISTICS_URI,
            type="String",
            default=UNSET_STATISTICS_URI,
            description="statistics.json of the deployed version's data-quality baseline",
            allowed_pattern=r"^s3://[^/]+/.+$",
        ).value_as_string
        constraints_uri = CfnParameter(
            self,
            BASELINE_CONSTRAINTS_URI,
            type="String",
            default=UNSET_CONSTRAINTS_URI,
            description="constraints.json of the deployed version's data-quality baseline",
            allowed_pattern=r"^s3://[^/]+/.+$",
        ).value_as_string
        instance_type = CfnParameter(
            self,
            INSTANCE_TYPE,
            type="String",
            default=stage.instance_type,
            description=(
                f"The endpoint's instance type; autoscaling applies while it is "
                f"{stage.instance_type} (see docs/deploy.md before changing the type)"
            ),
            allowed_pattern=r"^ml\.[a-z0-9-]+\.(medium|large|[0-9]*xlarge)$",
        ).value_as_string
        has_model = CfnCondition(
            self,
            "HasModelPackage",
            expression=Fn.condition_not(Fn.condition_equals(package_arn, "")),
        )
        # Application Auto Scaling refuses an endpoint update that changes the instance type of
        # a registered variant: the target exists only while the running type is the template's.
        autoscaling_applies = CfnCondition(
            self,
            "AutoScalingApplies",
            expression=Fn.condition_and(
                # A condition is a condition expression (jsii's Python types do not say so).
                cast(ICfnConditionExpression, has_model),
                Fn.condition_equals(instance_type, stage.instance_type),
            ),
        )
        # A model without baselines would fail half-way through the update (the monitor's job
        # definition); refuse it before CloudFormation changes anything.
        CfnRule(
            self,
            "ModelNeedsBaselines",
            rule_condition=Fn.condition_not(Fn.condition_equals(package_arn, "")),
            assertions=[
                CfnRuleAssertion(
                    assert_=Fn.condition_not(Fn.condition_equals(uri, unset)),
                    assert_description=f"{name} is required when {MODEL_PACKAGE_ARN} is set",
                )
                for name, uri, unset in (
                    (BASELINE_STATISTICS_URI, statistics_uri, UNSET_STATISTICS_URI),
                    (BASELINE_CONSTRAINTS_URI, constraints_uri, UNSET_CONSTRAINTS_URI),
                )
            ],
        )

        # Roles exist unconditionally: cheap, the stack always has a resource, and an approval
        # (run by a CloudFormation role that cannot write IAM) never has to create one.
        model_role = SageMakerRole(
            self,
            "ModelRole",
            role_name=role_names.model,
            description=f"{names.project}: the hosted model (reads its model artifact)",
            images=[model_image_uri],
        )
        monitor_role = SageMakerRole(
            self,
            "MonitorRole",
            role_name=role_names.monitor,
            description=f"{names.project}: data-quality monitoring jobs",
            images=[monitor_image_uri],
            statements=[
                iam.PolicyStatement(
                    sid="ReadMonitoredEndpoint",
                    actions=["sagemaker:DescribeEndpoint"],
                    resources=[sagemaker_arn(self, f"endpoint/{names.endpoint}")],
                )
            ],
        )
        # Grants: the model reads its artifact; the monitor reads captures and baselines and
        # writes reports. Nothing here can write models or baselines. Artifacts and baselines
        # are outputs of the pipeline's executions, under <pipeline>/ in the artifact bucket.
        # Each wildcard a grant creates is acknowledged right after it.
        capture = f"{DATA_CAPTURE_PREFIX}/"
        reports = f"{MONITORING_REPORTS_PREFIX}/"
        read_artifacts = (
            "Read-only: the model artifact and baselines of whichever version is approved "
            "live under its execution's prefix <pipeline>/<execution id>/."
        )
        for role in (model_role, monitor_role):
            artifacts.grant_read(role, role.role, read_artifacts)
        # Data capture is written with the model's execution role.
        storage.grant_write(model_role.role, storage.data_bucket, capture)
        acknowledge_bucket_objects(
            model_role,
            storage.data_bucket,
            capture,
            "Write-only (put/abort multipart): SageMaker writes data capture with the model's "
            "role, one object per endpoint/variant/yyyy/mm/dd/hh batch.",
        )
        storage.grant_read(monitor_role.role, storage.data_bucket, capture)
        acknowledge_bucket_objects(
            monitor_role,
            storage.data_bucket,
            capture,
            "Read-only: captured traffic is partitioned by endpoint/variant/yyyy/mm/dd/hh.",
        )
        storage.grant_write(monitor_role.role, storage.data_bucket, reports)
        acknowledge_bucket_objects(
            monitor_role,
            storage.data_bucket,
            reports,
            "Write-only (put/abort multipart): each monitoring run writes under its own prefix.",
        )
        # Scheduled monitoring jobs encrypt their volume with the project key.
        storage.grant_volume_encryption(monitor_role.role)

        data_bucket = storage.data_bucket
        self.serving = ServingEndpoint(
            self,
            "Serving",
            names=names,
            model_package_arn=package_arn,
            role=model_role.role,
            key_arn=storage.key_arn,
            capture_uri=f"s3://{data_bucket}/{DATA_CAPTURE_PREFIX}",
            capture_sampling_percentage=settings.monitoring.capture_sampling_percentage,
            capacity=EndpointCapacity(
                instance_type=instance_type,
                initial_count=stage.initial_count,
                max_count=stage.max_count,
            ),
        )
        # Roles and their policies must exist before SageMaker validates them.
        self.serving.model.node.add_dependency(model_role.policy)

        self.monitor = EndpointMonitor(
            self,
            "Monitor",
            names=names,
            endpoint=self.serving.endpoint,
            model_package_arn=package_arn,
            schedule_expression=settings.monitoring.schedule,
            baseline=Baseline(statistics_uri=statistics_uri, constraints_uri=constraints_uri),
            reports_uri=f"s3://{data_bucket}/{MONITORING_REPORTS_PREFIX}",
            role=monitor_role.role,
            key_arn=storage.key_arn,
            image_uri=monitor_image_uri,
            instance_type=settings.instances.monitoring_type,
            drift=DriftAlarmSpec(
                features=tuple(drift_features),
                threshold=settings.monitoring.drift_threshold,
            ),
        )
        self.monitor.job_definition.node.add_dependency(monitor_role.policy)
        if not drift_features:
            Annotations.of(self).add_warning_v2(
                "mlops:drift-features",
                "no drift alarms: declare dataset.numeric and dataset.categorical in cdk.json "
                "so each feature's feature_baseline_drift_<name> metric gets an alarm",
            )
        acknowledge_nist(
            self,
            "CloudWatchAlarmAction",
            "The 5XX and latency alarms act through the endpoint's auto-rollback configuration; "
            "per-feature drift alarms feed the composite drift alarm (which optionally starts "
            "retraining). Paging targets are organisation-specific and added by the adopting team.",
        )

        for construct in (self.serving, self.monitor):
            apply_condition(construct, has_model)
        for scaling in (self.serving.scalable_target, self.serving.scaling_policy):
            scaling.cfn_options.condition = autoscaling_applies
        if (
            retrains_on_drift(settings.monitoring.retrain_on_drift, stage)
            and self.monitor.drift_alarm is not None
        ):
            retrain = RetrainOnDrift(
                self,
                "RetrainOnDrift",
                alarm_arn=self.monitor.drift_alarm.alarm_arn,
                pipeline_name=project.pipeline,
                role_name=role_names.retrain,
            )
            # Only the rule follows the model; its role exists from the first deploy like the
            # others, so an approval never creates IAM resources.
            apply_condition(retrain.rule, has_model)

        output = CfnOutput(
            self,
            "EndpointName",
            value=names.endpoint,
            description="The endpoint (exists once a model package is approved)",
        )
        output.condition = has_model
