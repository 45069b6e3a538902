"""One per deployment stage: the endpoint of the version a stage serves, its monitoring, alarms.

Parameters, not context, choose the model: the deploy Lambda updates them with the previous
template (on approval for the first stage, on promotion or rollback for the others), so the
endpoint is always CloudFormation-managed and a deployment never causes drift. With
``ModelPackageArn`` empty (first deploy) only the IAM roles exist; the model-quality, bias
drift and feature-attribution drift monitors exist only while the version's baselines for them
are set (a version without them gets none, rather than keep an earlier version's). Each stage's stack lives in
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

from infra.network.permissions import grant_sagemaker_network_interfaces
from infra.serving.artifacts import ArtifactSource
from infra.serving.endpoint import EndpointCapacity, ServingEndpoint
from infra.serving.model_monitors import (
    SHADOW_ENDPOINT_PREFIX,
    AttributionAlarm,
    BiasDriftMonitor,
    ExplainabilityMonitor,
    ModelQualityMonitor,
    MonitorJob,
    bias_alarm_spec,
    clarify_image,
)
from infra.serving.monitor import Baseline, DriftAlarmSpec, EndpointMonitor
from infra.serving.retrain import RetrainOnDrift
from infra.shared.acknowledgements import (
    acknowledge_bucket_objects,
    acknowledge_nist,
    acknowledge_sagemaker_wildcard,
)
from infra.shared.arns import sagemaker_arn
from infra.shared.conditions import apply_condition
from infra.shared.role_names import RoleNames
from infra.shared.roles import SageMakerRole
from infra.storage.buckets import StorageRefs
from mlops.core.names import (
    DATA_CAPTURE_PREFIX,
    GROUND_TRUTH_PREFIX,
    MONITORING_REPORTS_PREFIX,
    ProjectNames,
)
from mlops.core.settings import ProjectSettings
from mlops.core.stages import DeploymentStage, retrains_on_drift

# Parameter names: a contract with the approval Lambda (infra/deploy/runtime/handler.py).
MODEL_PACKAGE_ARN = "ModelPackageArn"
BASELINE_STATISTICS_URI = "BaselineStatisticsUri"
BASELINE_CONSTRAINTS_URI = "BaselineConstraintsUri"
INSTANCE_TYPE = "InstanceType"
# The deployed version's other drift-check baselines; empty = that monitor is not created.
MODEL_QUALITY_CONSTRAINTS_URI = "ModelQualityConstraintsUri"
BIAS_CONFIG_URI = "BiasConfigUri"
BIAS_CONSTRAINTS_URI = "BiasConstraintsUri"
# The explainability monitor's config (the baseline's plus the predictor naming this stage's
# model: written by the deploy Lambda) and the baseline's analysis (its constraints).
EXPLAINABILITY_CONFIG_URI = "ExplainabilityConfigUri"
EXPLAINABILITY_CONSTRAINTS_URI = "ExplainabilityConstraintsUri"
# The served-model prefix the config's predictor was written for: the monitor exists only
# while it is this template's (a template change that renames the model drops the monitor
# until the Lambda writes the config again, rather than leave it naming a deleted model).
EXPLAINABILITY_MODEL_PREFIX = "ExplainabilityModelPrefix"
# Output: the prefix of this template's served models (the Lambda appends the version).
SERVED_MODEL_PREFIX_OUTPUT = "ServedModelPrefix"
# The attribution drift alarm: the baseline's most important feature, its output, and the
# floor of its live global SHAP value (set by the deploy Lambda from the baseline analysis).
ATTRIBUTION_ALARM_FEATURE = "AttributionAlarmFeature"
ATTRIBUTION_ALARM_LABEL = "AttributionAlarmLabel"
ATTRIBUTION_ALARM_THRESHOLD = "AttributionAlarmThreshold"
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
        optional = {
            MODEL_QUALITY_CONSTRAINTS_URI: "constraints.json of the model-quality baseline",
            BIAS_CONFIG_URI: "analysis_config.json of the bias baseline (Clarify)",
            BIAS_CONSTRAINTS_URI: "post-training constraints of the bias baseline (Clarify)",
            EXPLAINABILITY_CONFIG_URI: "explainability monitor config (baseline + predictor)",
            EXPLAINABILITY_CONSTRAINTS_URI: "analysis of the explainability baseline (Clarify)",
        }
        baselines = {
            name: CfnParameter(
                self,
                name,
                type="String",
                default="",
                description=f"{what} of the deployed version; empty = no such monitor",
                allowed_pattern=r"^$|^s3://[^/]+/.+$",
            ).value_as_string
            for name, what in optional.items()
        }
        explainability_prefix = CfnParameter(
            self,
            EXPLAINABILITY_MODEL_PREFIX,
            type="String",
            default="",
            description="The served-model prefix the explainability config names a model with",
        ).value_as_string
        attribution_feature = CfnParameter(
            self,
            ATTRIBUTION_ALARM_FEATURE,
            type="String",
            default="",
            description="The explainability baseline's most important feature; empty = no alarm",
        ).value_as_string
        attribution_label = CfnParameter(
            self,
            ATTRIBUTION_ALARM_LABEL,
            type="String",
            default="",
            description="The output whose attribution the alarm watches (label0, or a class)",
        ).value_as_string
        attribution_threshold = CfnParameter(
            self,
            ATTRIBUTION_ALARM_THRESHOLD,
            type="Number",
            default=0,
            description="The alarm fires when that feature's live global SHAP value is below it",
        ).value_as_number
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
        # A condition is a condition expression (jsii's Python types do not say so).
        model_given = cast(ICfnConditionExpression, has_model)
        # Application Auto Scaling refuses an endpoint update that changes the instance type of
        # a registered variant: the target exists only while the running type is the template's.
        autoscaling_applies = CfnCondition(
            self,
            "AutoScalingApplies",
            expression=Fn.condition_and(
                model_given,
                Fn.condition_equals(instance_type, stage.instance_type),
            ),
        )
        # Model quality and bias drift follow the model and its baselines.
        has_model_quality = CfnCondition(
            self,
            "HasModelQualityBaseline",
            expression=Fn.condition_and(
                model_given,
                Fn.condition_not(Fn.condition_equals(baselines[MODEL_QUALITY_CONSTRAINTS_URI], "")),
            ),
        )
        has_bias = CfnCondition(
            self,
            "HasBiasBaseline",
            expression=Fn.condition_and(
                model_given,
                Fn.condition_not(Fn.condition_equals(baselines[BIAS_CONFIG_URI], "")),
                Fn.condition_not(Fn.condition_equals(baselines[BIAS_CONSTRAINTS_URI], "")),
            ),
        )
        # Its expression also compares the config's model prefix with this template's, known
        # once the model exists (below).
        has_explainability = CfnCondition(self, "HasExplainabilityBaseline")
        has_attribution_alarm = CfnCondition(
            self,
            "HasAttributionAlarm",
            expression=Fn.condition_and(
                cast(ICfnConditionExpression, has_explainability),
                Fn.condition_not(Fn.condition_equals(attribution_feature, "")),
                Fn.condition_not(Fn.condition_equals(attribution_label, "")),
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
        bias_image_uri = clarify_image(stage.region)
        monitor_role = SageMakerRole(
            self,
            "MonitorRole",
            role_name=role_names.monitor,
            description=f"{names.project}: data-quality, model-quality, bias and explainability "
            "monitoring jobs",
            images=[monitor_image_uri, bias_image_uri],
            statements=[
                iam.PolicyStatement(
                    sid="ReadMonitoredEndpoint",
                    actions=["sagemaker:DescribeEndpoint"],
                    resources=[sagemaker_arn(self, f"endpoint/{names.endpoint}")],
                ),
                *self._shadow_endpoint_statements(names),
            ],
        )
        self._acknowledge_shadow_endpoints(monitor_role, names)
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
        # Model quality and bias drift read the ground truth uploaded for this endpoint.
        ground_truth = f"{GROUND_TRUTH_PREFIX}/{names.endpoint}/"
        storage.grant_read(monitor_role.role, storage.data_bucket, ground_truth)
        acknowledge_bucket_objects(
            monitor_role,
            storage.data_bucket,
            ground_truth,
            "Read-only: ground truth is uploaded per labelling hour under the endpoint's "
            "prefix (yyyy/mm/dd/hh/).",
        )
        # Scheduled monitoring jobs encrypt their volume with the project key.
        storage.grant_volume_encryption(monitor_role.role)
        # With the `network` setting the model and the monitoring jobs run in the VPC:
        # SageMaker creates their network interfaces as their roles.
        network = storage.network
        network_policies = (
            (
                grant_sagemaker_network_interfaces(
                    model_role, model_role.role, network, network.model_security_group_ids
                ),
                grant_sagemaker_network_interfaces(
                    monitor_role, monitor_role.role, network, network.job_security_group_ids
                ),
            )
            if network is not None
            else ()
        )

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
            network=network,
        )
        # Roles and their policies must exist before SageMaker validates them.
        self.serving.model.node.add_dependency(model_role.policy, *network_policies[:1])
        has_explainability.expression = Fn.condition_and(
            model_given,
            Fn.condition_not(Fn.condition_equals(baselines[EXPLAINABILITY_CONFIG_URI], "")),
            Fn.condition_not(Fn.condition_equals(baselines[EXPLAINABILITY_CONSTRAINTS_URI], "")),
            Fn.condition_equals(explainability_prefix, self.serving.model_name_prefix),
        )
        CfnOutput(
            self,
            SERVED_MODEL_PREFIX_OUTPUT,
            value=self.serving.model_name_prefix,
            description="The served model is this prefix + the package version",
        )

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
            network=network,
        )
        self.monitor.job_definition.node.add_dependency(monitor_role.policy, *network_policies[1:])
        job = MonitorJob(
            names=names,
            model_package_arn=package_arn,
            role_arn=monitor_role.role.role_arn,
            key_arn=storage.key_arn,
            instance_type=settings.instances.monitoring_type,
            schedule_expression=settings.monitoring.schedule,
            reports_uri=f"s3://{data_bucket}/{MONITORING_REPORTS_PREFIX}",
            ground_truth_uri=f"s3://{data_bucket}/{GROUND_TRUTH_PREFIX}/{names.endpoint}",
            ground_truth_offset_hours=settings.monitoring.ground_truth_offset_hours,
            network=network,
        )
        problem_type = settings.dataset.require_problem_type()
        self.model_quality = ModelQualityMonitor(
            self,
            "ModelQualityMonitor",
            job=job,
            image_uri=monitor_image_uri,
            constraints_uri=baselines[MODEL_QUALITY_CONSTRAINTS_URI],
            problem_type=problem_type,
            prediction_threshold=settings.prediction_threshold,
            gate=settings.resolved_gate(),
        )
        self.explainability = ExplainabilityMonitor(
            self,
            "ExplainabilityMonitor",
            job=job,
            image_uri=bias_image_uri,
            config_uri=baselines[EXPLAINABILITY_CONFIG_URI],
            constraints_uri=baselines[EXPLAINABILITY_CONSTRAINTS_URI],
            problem_type=problem_type,
            alarm=AttributionAlarm(
                feature=attribution_feature,
                label=attribution_label,
                threshold=attribution_threshold,
            ),
        )
        self.bias = BiasDriftMonitor(
            self,
            "BiasDriftMonitor",
            job=job,
            image_uri=bias_image_uri,
            config_uri=baselines[BIAS_CONFIG_URI],
            constraints_uri=baselines[BIAS_CONSTRAINTS_URI],
            problem_type=problem_type,
            alarm=bias_alarm_spec(settings),
        )
        for monitor, condition in (
            (self.model_quality, has_model_quality),
            (self.bias, has_bias),
            (self.explainability, has_explainability),
        ):
            monitor.job_definition.add_resource_dependency(self.serving.endpoint)
            monitor.job_definition.node.add_dependency(monitor_role.policy, *network_policies[1:])
            apply_condition(monitor, condition)
        # Clarify's shadow endpoint is stood up from the served Model, by name.
        self.explainability.job_definition.add_resource_dependency(self.serving.model)
        apply_condition(self.explainability.alarm, has_attribution_alarm)
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
            "retraining); the model-quality, bias and attribution drift alarms are watched like it. Paging targets are organisation-specific and added by the adopting team.",
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

    def _shadow_endpoint_statements(self, names: ProjectNames) -> list[iam.PolicyStatement]:
        """What Clarify's explainability job does with the monitor role: describe the served
        model its config names, then create, tag, invoke and delete a shadow endpoint (and its
        config) from it, named ``sm-clarify-…``."""
        return [
            iam.PolicyStatement(
                sid="DescribeTheServedModels",
                actions=["sagemaker:DescribeModel"],
                resources=[sagemaker_arn(self, f"model/{names.served_model_prefix('*')}*")],
            ),
            iam.PolicyStatement(
                sid="ClarifyShadowEndpointConfigs",
                actions=[
                    "sagemaker:CreateEndpointConfig",
                    "sagemaker:DescribeEndpointConfig",
                    "sagemaker:DeleteEndpointConfig",
                    "sagemaker:AddTags",
                ],
                resources=[sagemaker_arn(self, f"endpoint-config/{SHADOW_ENDPOINT_PREFIX}*")],
            ),
            iam.PolicyStatement(
                sid="ClarifyShadowEndpoints",
                actions=[
                    "sagemaker:CreateEndpoint",
                    "sagemaker:DescribeEndpoint",
                    "sagemaker:DeleteEndpoint",
                    "sagemaker:InvokeEndpoint",
                    "sagemaker:AddTags",
                ],
                resources=[sagemaker_arn(self, f"endpoint/{SHADOW_ENDPOINT_PREFIX}*")],
            ),
        ]

    def _acknowledge_shadow_endpoints(self, role: SageMakerRole, names: ProjectNames) -> None:
        acknowledge_sagemaker_wildcard(
            role,
            f"model/{names.served_model_prefix('*')}*",
            "DescribeModel only, of this stage's served models (<prefix><package version>): "
            "the explainability job's config names the deployed version's model.",
        )
        for resource in (
            f"endpoint-config/{SHADOW_ENDPOINT_PREFIX}*",
            f"endpoint/{SHADOW_ENDPOINT_PREFIX}*",
        ):
            acknowledge_sagemaker_wildcard(
                role,
                resource,
                "Clarify names the shadow endpoint and config it stands up for each "
                "explainability run sm-clarify-<model>-<timestamp>; it creates, invokes and "
                "deletes them within the run.",
            )
