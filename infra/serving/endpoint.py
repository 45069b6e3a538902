"""The real-time endpoint: model from a registry package, data capture, safe deployments.

A new model package replaces the ``Model`` and ``EndpointConfig`` and updates the ``Endpoint``
in place. The ``EndpointConfig``'s name is CloudFormation-generated; the ``Model``'s is
``names.served_model_prefix(revision)`` + the package version (``churn-mlops-m1a2b3c-v7``), so
the explainability monitor's config, written by the deploy Lambda before the update, can name
the model Clarify stands up its shadow endpoint from. The revision is a digest of the model's
own synthesized properties (role, container, isolation, network): a new version is a new
name, and so is a template change that replaces the model of the version being served (a
fixed name would make CloudFormation refuse that replacement). The prefix is the stack's
``ServedModelPrefix`` output, which the Lambda reads; overrides added with
``add_property_override`` are not part of the digest. SageMaker then runs a
blue/green deployment: the new fleet takes traffic (canary first when the fleet has two or
more instances), the 5XX and latency alarms are watched during the baking period, and an
alarm rolls traffic back to the old fleet, which CloudFormation reports as a failed update.

Capacity survives updates. The endpoint keeps its variant's current instance count across an
update (``RetainAllVariantProperties``): autoscaling owns the count, so a new model never
resets a scaled-out endpoint to the template's initial count. Only the variant weight is taken
from the new config (``ExcludeRetainedVariantProperties``: the template is the truth for
weights; data capture always comes from the new config). Application Auto Scaling refuses an
endpoint update that changes the instance type of a registered variant, so the instance type
is the serving stack's ``InstanceType`` parameter and the scalable target and its policy exist
only while that parameter equals the template's type (``AutoScalingApplies``). A new type in
the settings therefore deploys in two updates, exactly the documented order: ``cdk deploy``
(the parameter keeps its previous value: the endpoint is unchanged, the target deregistered),
then an update of ``InstanceType`` alone (the endpoint moves to the new type, then the target
is registered again). docs/deploy.md has the commands.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

import jsii
from aws_cdk import Duration, Fn, IStableStringProducer, Lazy, Stack
from aws_cdk import aws_applicationautoscaling as autoscaling
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_iam as iam
from aws_cdk import aws_sagemaker as sagemaker
from constructs import Construct

from infra.network.placement import NetworkRefs
from infra.serving.monitor import model_package_version
from mlops.core.media import CAPTURED_AS_CSV, CAPTURED_AS_JSON
from mlops.core.names import VARIANT_NAME, ProjectNames

# The model's own properties whose change replaces it (everything but its name and tags).
REPLACING_PROPERTIES = (
    "execution_role_arn",
    "primary_container",
    "containers",
    "inference_execution_config",
    "vpc_config",
    "enable_network_isolation",
)
REVISION_LENGTH = 6


def model_revision(model: sagemaker.CfnModel) -> str:
    """A digest of the model's synthesized properties (CloudFormation expressions included)."""
    stack = Stack.of(model)
    properties = {name: stack.resolve(getattr(model, name)) for name in REPLACING_PROPERTIES}
    text = json.dumps(properties, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:REVISION_LENGTH]


@jsii.implements(IStableStringProducer)
class _ServedModelPrefix:
    """``names.served_model_prefix`` of the model's revision, computed once at synthesis."""

    def __init__(self, names: ProjectNames, model: sagemaker.CfnModel) -> None:
        self._names = names
        self._model = model

    def produce(self) -> str:
        return self._names.served_model_prefix(model_revision(self._model))


@dataclass(frozen=True)
class DeploymentPolicy:
    """How a model change reaches traffic, and what counts as a failed deployment.

    The defaults suit the template's small endpoint; they are plain constants rather than
    settings because changing them is a reviewable infrastructure change.
    """

    baking_seconds: int = 600  # traffic shift wait (canary) and old-fleet termination wait
    max_execution_seconds: int = 3600
    error_threshold: int = 1  # 5XX responses per minute, two minutes in a row
    latency_threshold_microseconds: int = 1_000_000  # average ModelLatency (µs), 1 s
    invocations_per_instance: int = 1000  # autoscaling target, invocations per minute


@dataclass(frozen=True)
class EndpointCapacity:
    instance_type: str  # a literal or the serving stack's InstanceType parameter
    initial_count: int
    max_count: int


# What an update takes from the new endpoint config although every other variant property is
# retained: the weight (the template's), never the instance count (autoscaling's).
NOT_RETAINED = ("DesiredWeight",)


class ServingEndpoint(Construct):
    """``Model`` + ``EndpointConfig`` + ``Endpoint`` + rollback alarms + autoscaling."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        names: ProjectNames,
        model_package_arn: str,
        role: iam.IRole,
        key_arn: str,
        capture_uri: str,
        capture_sampling_percentage: int,
        capacity: EndpointCapacity,
        policy: DeploymentPolicy | None = None,
        network: NetworkRefs | None = None,
    ) -> None:
        """``network``: the model runs in the VPC's subnets with the models' groups."""
        super().__init__(scope, construct_id)
        policy = policy or DeploymentPolicy()
        endpoint_name = names.endpoint
        self.endpoint_name = endpoint_name

        self.model = sagemaker.CfnModel(
            self,
            "Model",
            execution_role_arn=role.role_arn,
            primary_container=sagemaker.CfnModel.ContainerDefinitionProperty(
                model_package_name=model_package_arn
            ),
            # The serving code ships inside model.tar.gz (code/inference.py), so the container
            # needs no network at all.
            enable_network_isolation=True,
            vpc_config=sagemaker.CfnModel.VpcConfigProperty(
                security_group_ids=network.model_security_group_ids, subnets=network.subnet_ids
            )
            if network is not None
            else None,
        )
        # Resolved at synthesis, when every property of the model is set.
        self.model_name_prefix = Lazy.string(_ServedModelPrefix(names, self.model))
        self.model.model_name = Fn.join(
            "", [self.model_name_prefix, model_package_version(model_package_arn)]
        )

        self.config = sagemaker.CfnEndpointConfig(
            self,
            "Config",
            kms_key_id=key_arn,
            production_variants=[
                sagemaker.CfnEndpointConfig.ProductionVariantProperty(
                    variant_name=VARIANT_NAME,
                    model_name=self.model.attr_model_name,
                    instance_type=capacity.instance_type,
                    initial_instance_count=capacity.initial_count,
                    initial_variant_weight=1,
                )
            ],
            data_capture_config=sagemaker.CfnEndpointConfig.DataCaptureConfigProperty(
                enable_capture=capture_sampling_percentage > 0,
                initial_sampling_percentage=capture_sampling_percentage,
                destination_s3_uri=capture_uri,
                kms_key_id=key_arn,
                capture_options=[
                    sagemaker.CfnEndpointConfig.CaptureOptionProperty(capture_mode="Input"),
                    sagemaker.CfnEndpointConfig.CaptureOptionProperty(capture_mode="Output"),
                ],
                capture_content_type_header=(
                    sagemaker.CfnEndpointConfig.CaptureContentTypeHeaderProperty(
                        csv_content_types=list(CAPTURED_AS_CSV),
                        json_content_types=list(CAPTURED_AS_JSON),
                    )
                ),
            ),
        )

        dimensions = {"EndpointName": endpoint_name, "VariantName": VARIANT_NAME}
        self.errors_alarm = cloudwatch.Alarm(
            self,
            "ServerErrors",
            alarm_name=names.errors_alarm,
            alarm_description="Model returns 5XX errors; rolls back a deployment in progress",
            metric=cloudwatch.Metric(
                namespace="AWS/SageMaker",
                metric_name="Invocation5XXErrors",
                dimensions_map=dimensions,
                statistic="Sum",
                period=Duration.minutes(1),
            ),
            threshold=policy.error_threshold,
            evaluation_periods=2,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )
        self.latency_alarm = cloudwatch.Alarm(
            self,
            "ModelLatency",
            alarm_name=names.latency_alarm,
            alarm_description="Model latency above target; rolls back a deployment in progress",
            metric=cloudwatch.Metric(
                namespace="AWS/SageMaker",
                metric_name="ModelLatency",
                dimensions_map=dimensions,
                statistic="Average",
                period=Duration.minutes(1),
            ),
            threshold=policy.latency_threshold_microseconds,
            evaluation_periods=3,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )

        # Canary needs a fleet to split: with one instance, shift all at once (still blue/green,
        # the old fleet stays up for the baking period and takes traffic back on an alarm).
        if capacity.initial_count >= 2:
            routing = sagemaker.CfnEndpoint.TrafficRoutingConfigProperty(
                type="CANARY",
                canary_size=sagemaker.CfnEndpoint.CapacitySizeProperty(
                    type="INSTANCE_COUNT", value=1
                ),
                wait_interval_in_seconds=policy.baking_seconds,
            )
        else:
            routing = sagemaker.CfnEndpoint.TrafficRoutingConfigProperty(type="ALL_AT_ONCE")

        self.endpoint = sagemaker.CfnEndpoint(
            self,
            "Endpoint",
            endpoint_name=endpoint_name,
            endpoint_config_name=self.config.attr_endpoint_config_name,
            retain_all_variant_properties=True,
            exclude_retained_variant_properties=[
                sagemaker.CfnEndpoint.VariantPropertyProperty(variant_property_type=kind)
                for kind in NOT_RETAINED
            ],
            deployment_config=sagemaker.CfnEndpoint.DeploymentConfigProperty(
                blue_green_update_policy=sagemaker.CfnEndpoint.BlueGreenUpdatePolicyProperty(
                    traffic_routing_configuration=routing,
                    termination_wait_in_seconds=policy.baking_seconds,
                    maximum_execution_timeout_in_seconds=policy.max_execution_seconds,
                ),
                auto_rollback_configuration=sagemaker.CfnEndpoint.AutoRollbackConfigProperty(
                    alarms=[
                        sagemaker.CfnEndpoint.AlarmProperty(alarm_name=alarm.alarm_name)
                        for alarm in (self.errors_alarm, self.latency_alarm)
                    ]
                ),
            ),
        )

        # Target tracking on invocations per instance; Application Auto Scaling uses its
        # service-linked role for SageMaker (no role to manage here).
        self.scalable_target = autoscaling.CfnScalableTarget(
            self,
            "ScalableTarget",
            service_namespace="sagemaker",
            resource_id=f"endpoint/{endpoint_name}/variant/{VARIANT_NAME}",
            scalable_dimension="sagemaker:variant:DesiredInstanceCount",
            min_capacity=capacity.initial_count,
            max_capacity=capacity.max_count,
        )
        # The resource id names the endpoint as a string: create the endpoint first.
        self.scalable_target.add_resource_dependency(self.endpoint)
        self.scaling_policy = autoscaling.CfnScalingPolicy(
            self,
            "InvocationsScaling",
            policy_name=names.scaling_policy,
            policy_type="TargetTrackingScaling",
            scaling_target_id=self.scalable_target.ref,
            target_tracking_scaling_policy_configuration=(
                autoscaling.CfnScalingPolicy.TargetTrackingScalingPolicyConfigurationProperty(
                    target_value=policy.invocations_per_instance,
                    predefined_metric_specification=(
                        autoscaling.CfnScalingPolicy.PredefinedMetricSpecificationProperty(
                            predefined_metric_type="SageMakerVariantInvocationsPerInstance"
                        )
                    ),
                    scale_in_cooldown=300,
                    scale_out_cooldown=60,
                )
            ),
        )
