"""The CloudFormation role the approval Lambda hands to ``UpdateStack`` for the serving stack.

Without a role of its own, an update runs as the stack's last role: after ``cdk deploy`` that is
the CDK bootstrap's execution role, AdministratorAccess by default. This role may do exactly
what an update of the serving stack's parameters needs, on this project's resources:

- SageMaker: the endpoint ``<project>-endpoint``, the monitoring schedules, the data-quality,
  model-quality, bias and explainability job definitions (``<project>-dq-v<version>``,
  ``-mq-v``, ``-bias-v``, ``-explain-v``), the served models
  (``<project>-m<revision>-v<version>``) and endpoint configs (whose names CloudFormation
  generates at each replacement, hence any in this account and region), created only with the
  serving roles it may pass; reading the registered versions it deploys;
- CloudWatch: the serving alarms by name, and the target-tracking alarms Application Auto
  Scaling creates for this endpoint's variant;
- Application Auto Scaling of SageMaker variants (the service has no per-target ARN to name
  before registration, so the namespace and dimension conditions scope it);
- the project key for the endpoint's and the monitor's encrypted volumes (grants for AWS
  resources only), the CDK bootstrap version parameter CloudFormation resolves;
- ``iam:PassRole`` of the serving stack's own roles only, and no IAM write at all: the serving
  stack's roles never depend on its parameters, so an approval never changes them.

Which actions each resource type needs comes from the CloudFormation resource schemas' handler
permissions (``tests/security`` checks the role against them). Each remaining wildcard is
acknowledged beside the statement, with why.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from aws_cdk import ArnFormat, Aws, DefaultStackSynthesizer, Stack
from aws_cdk import aws_iam as iam
from constructs import Construct

from infra.shared.acknowledgements import (
    ACCOUNT,
    acknowledge_inline_policy,
    acknowledge_sagemaker_wildcard,
    acknowledge_wildcard,
)
from infra.shared.arns import sagemaker_arn
from infra.shared.role_names import RoleNames
from infra.shared.roles import SAGEMAKER, trusted_service
from infra.storage.buckets import StorageRefs
from mlops.core.names import VARIANT_NAME, ProjectNames

CLOUDFORMATION = "cloudformation.amazonaws.com"
EVENTS = "events.amazonaws.com"
AUTOSCALING_SERVICE = "sagemaker.application-autoscaling.amazonaws.com"
AUTOSCALING_ROLE = "AWSServiceRoleForApplicationAutoScaling_SageMakerEndpoint"
_TAGS = ["sagemaker:AddTags", "sagemaker:DeleteTags", "sagemaker:ListTags"]
_GENERATED = "endpoint-config/*"


@dataclass(frozen=True)
class ServingResources:
    """What the serving stack holds, by name: the scope of the role's statements."""

    names: ProjectNames  # the stage's resource names (``StageNames.resources``)
    stack_name: str
    drift_features: Sequence[str]
    retrain_on_drift: bool
    model_package_group: str
    # The registry's account when it is not the stage's (a stage in another account).
    registry_account: str | None = None

    @property
    def alarm_names(self) -> list[str]:
        """Every alarm the serving stack names (rollback, per-feature drift, composite, model
        quality, bias and attribution drift)."""
        names = self.names
        drift = [names.feature_drift_alarm(feature) for feature in self.drift_features]
        composite = [names.drift_alarm] if drift else []
        monitors = [
            names.model_quality_alarm,
            names.bias_drift_alarm,
            names.attribution_drift_alarm,
        ]
        return [names.errors_alarm, names.latency_alarm, *drift, *composite, *monitors]

    @property
    def job_definitions(self) -> dict[str, str]:
        """Each monitor's job definition kind (the API's noun) → its ARN resource pattern."""
        names = self.names
        return {
            "DataQualityJobDefinition": (
                f"data-quality-job-definition/{names.data_quality_job_definition_prefix}*"
            ),
            "ModelQualityJobDefinition": (
                f"model-quality-job-definition/{names.model_quality_job_definition_prefix}*"
            ),
            "ModelBiasJobDefinition": (
                f"model-bias-job-definition/{names.bias_job_definition_prefix}*"
            ),
            "ModelExplainabilityJobDefinition": (
                f"model-explainability-job-definition/{names.explainability_job_definition_prefix}*"
            ),
        }

    @property
    def schedules(self) -> list[str]:
        names = self.names
        return [
            names.monitoring_schedule,
            names.model_quality_schedule,
            names.bias_schedule,
            names.explainability_schedule,
        ]


class ServingStackRole(Construct):
    """``role``: assumed by CloudFormation (this account only) to update the serving stack."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        serving: ServingResources,
        storage: StorageRefs,
        bootstrap_qualifier: str = DefaultStackSynthesizer.DEFAULT_QUALIFIER,
    ) -> None:
        super().__init__(scope, construct_id)
        stack = Stack.of(self)
        names = serving.names
        roles = RoleNames(names, stack.region)
        self.role = iam.Role(
            self,
            "Role",
            role_name=roles.serving_cloudformation,
            assumed_by=trusted_service(CLOUDFORMATION),
            description=f"CloudFormation updating {serving.stack_name} on a model approval",
        )
        self._sagemaker(names, serving)
        self._pass_serving_roles(roles, retrain=serving.retrain_on_drift)
        self._alarms(stack, serving)
        self._autoscaling(stack)
        storage.grant_volume_encryption(self.role)
        self.role.add_to_policy(
            iam.PolicyStatement(
                sid="ResolveBootstrapVersion",
                actions=["ssm:GetParameters"],
                resources=[bootstrap_version_parameter(stack, bootstrap_qualifier)],
            )
        )
        if serving.retrain_on_drift:
            self._retrain_rule(stack, serving.stack_name)
        acknowledge_inline_policy(self)

    def _sagemaker(self, names: ProjectNames, serving: ServingResources) -> None:
        self.role.add_to_policy(
            iam.PolicyStatement(
                sid="ReplaceModelAndEndpointConfig",
                actions=[
                    "sagemaker:CreateModel",
                    "sagemaker:DescribeModel",
                    "sagemaker:DeleteModel",
                    "sagemaker:CreateEndpointConfig",
                    "sagemaker:DescribeEndpointConfig",
                    "sagemaker:DeleteEndpointConfig",
                    *_TAGS,
                ],
                resources=[
                    sagemaker_arn(self, f"model/{names.served_model_prefix('*')}*"),
                    sagemaker_arn(self, _GENERATED),
                ],
            )
        )
        acknowledge_sagemaker_wildcard(
            self,
            f"model/{names.served_model_prefix('*')}*",
            "One model per deployed package version, named <prefix><version> (the "
            "explainability monitor's config names it): the version is known only on approval; "
            "models can only be created with the serving roles this role may pass.",
        )
        acknowledge_sagemaker_wildcard(
            self,
            _GENERATED,
            "CloudFormation generates these names at every replacement (a fixed name would "
            "block replacing them when the template changes); the endpoint, the only consumer, "
            "is named.",
        )
        self.role.add_to_policy(
            iam.PolicyStatement(
                sid="UpdateTheEndpoint",
                actions=[
                    "sagemaker:CreateEndpoint",
                    "sagemaker:UpdateEndpoint",
                    "sagemaker:DescribeEndpoint",
                    "sagemaker:DeleteEndpoint",
                    *_TAGS,
                ],
                resources=[sagemaker_arn(self, f"endpoint/{names.endpoint}")],
            )
        )
        job_definitions = serving.job_definitions
        self.role.add_to_policy(
            iam.PolicyStatement(
                sid="ReplaceTheMonitors",
                actions=[
                    *(
                        f"sagemaker:{verb}{kind}"
                        for kind in job_definitions
                        for verb in ("Create", "Describe", "Delete")
                    ),
                    "sagemaker:CreateMonitoringSchedule",
                    "sagemaker:DescribeMonitoringSchedule",
                    "sagemaker:UpdateMonitoringSchedule",
                    "sagemaker:DeleteMonitoringSchedule",
                    *_TAGS,
                ],
                resources=[
                    *(sagemaker_arn(self, pattern) for pattern in job_definitions.values()),
                    *(
                        sagemaker_arn(self, f"monitoring-schedule/{schedule}")
                        for schedule in serving.schedules
                    ),
                ],
            )
        )
        for pattern in job_definitions.values():
            acknowledge_sagemaker_wildcard(
                self,
                pattern,
                "One job definition per deployed model version, named <prefix><version>: the "
                "version is known only when a package is approved.",
            )
        versions = f"model-package/{serving.model_package_group}/*"
        reason = (
            "Read-only: the model is created from whichever version of the project's group is "
            "approved (versions are numbered at registration)."
        )
        if serving.registry_account is None:
            registry_versions = sagemaker_arn(self, versions)
            acknowledge_sagemaker_wildcard(self, versions, reason)
        else:
            region = Stack.of(self).region
            registry_versions = (
                f"arn:{Aws.PARTITION}:sagemaker:{region}:{serving.registry_account}:{versions}"
            )
            acknowledge_wildcard(
                self,
                f"arn:<AWS::Partition>:sagemaker:{region}:{serving.registry_account}:{versions}",
                reason + " The registry is in the tooling account, whose resource policy on "
                "the group names this role.",
            )
        self.role.add_to_policy(
            iam.PolicyStatement(
                sid="ReadTheDeployedVersion",
                actions=["sagemaker:DescribeModelPackage"],
                resources=[registry_versions],
            )
        )

    def _pass_serving_roles(self, roles: RoleNames, *, retrain: bool) -> None:
        self.role.add_to_policy(
            iam.PolicyStatement(
                sid="PassTheServingRolesToSageMaker",
                actions=["iam:PassRole"],
                resources=[RoleNames.arn(roles.model), RoleNames.arn(roles.monitor)],
                conditions={"StringEquals": {"iam:PassedToService": SAGEMAKER}},
            )
        )
        if retrain:
            self.role.add_to_policy(
                iam.PolicyStatement(
                    sid="PassTheRetrainRoleToEventBridge",
                    actions=["iam:PassRole"],
                    resources=[RoleNames.arn(roles.retrain)],
                    conditions={"StringEquals": {"iam:PassedToService": EVENTS}},
                )
            )

    def _alarms(self, stack: Stack, serving: ServingResources) -> None:
        def alarm(name: str) -> str:
            return stack.format_arn(
                service="cloudwatch",
                resource="alarm",
                resource_name=name,
                arn_format=ArnFormat.COLON_RESOURCE_NAME,
            )

        self.role.add_to_policy(
            iam.PolicyStatement(
                sid="ManageTheServingAlarms",
                actions=[
                    "cloudwatch:PutMetricAlarm",
                    "cloudwatch:PutCompositeAlarm",
                    "cloudwatch:DescribeAlarms",
                    "cloudwatch:DeleteAlarms",
                    "cloudwatch:TagResource",
                    "cloudwatch:UntagResource",
                    "cloudwatch:ListTagsForResource",
                ],
                resources=[alarm(name) for name in serving.alarm_names],
            )
        )
        # Target tracking creates TargetTracking-<resource id>-AlarmHigh/Low-<uuid> alarms.
        tracking = f"TargetTracking-endpoint/{serving.names.endpoint}/variant/{VARIANT_NAME}-*"
        self.role.add_to_policy(
            iam.PolicyStatement(
                sid="TargetTrackingAlarmsOfTheEndpoint",
                actions=[
                    "cloudwatch:PutMetricAlarm",
                    "cloudwatch:DescribeAlarms",
                    "cloudwatch:DeleteAlarms",
                ],
                resources=[alarm(tracking)],
            )
        )
        acknowledge_wildcard(
            self,
            f"arn:aws:cloudwatch:{stack.region}:{ACCOUNT}:alarm:{tracking}",
            "Application Auto Scaling names the target-tracking alarms of this endpoint variant "
            "with a generated suffix; the prefix names the endpoint and variant.",
        )

    def _autoscaling(self, stack: Stack) -> None:
        scoped = {
            "StringEquals": {
                "application-autoscaling:service-namespace": "sagemaker",
                "application-autoscaling:scalable-dimension": "sagemaker:variant:DesiredInstanceCount",
            }
        }
        self.role.add_to_policy(
            iam.PolicyStatement(
                sid="ScaleSageMakerVariants",
                actions=[
                    "application-autoscaling:RegisterScalableTarget",
                    "application-autoscaling:DeregisterScalableTarget",
                    "application-autoscaling:PutScalingPolicy",
                    "application-autoscaling:DeleteScalingPolicy",
                    "application-autoscaling:PutScheduledAction",
                    "application-autoscaling:DeleteScheduledAction",
                ],
                # A scalable target's ARN is generated at registration; the conditions limit
                # these actions to SageMaker endpoint variants' instance counts.
                resources=["*"],
                conditions=scoped,
            )
        )
        targets = stack.format_arn(
            service="application-autoscaling",
            resource="scalable-target",
            resource_name="*",
            arn_format=ArnFormat.SLASH_RESOURCE_NAME,
        )
        self.role.add_to_policy(
            iam.PolicyStatement(
                sid="TagScalableTargets",
                actions=[
                    "application-autoscaling:TagResource",
                    "application-autoscaling:UntagResource",
                    "application-autoscaling:ListTagsForResource",
                ],
                resources=[targets],
            )
        )
        self.role.add_to_policy(
            iam.PolicyStatement(
                sid="DescribeScaling",
                actions=[
                    "application-autoscaling:DescribeScalableTargets",
                    "application-autoscaling:DescribeScalingPolicies",
                    "application-autoscaling:DescribeScheduledActions",
                    "cloudwatch:GetMetricData",
                ],
                resources=["*"],  # none of these supports resource-level permissions
            )
        )
        self.role.add_to_policy(
            iam.PolicyStatement(
                sid="AutoScalingServiceLinkedRole",
                actions=["iam:CreateServiceLinkedRole"],
                resources=[
                    f"arn:{Aws.PARTITION}:iam::{Aws.ACCOUNT_ID}:role/aws-service-role/"
                    f"{AUTOSCALING_SERVICE}/{AUTOSCALING_ROLE}"
                ],
                conditions={"StringEquals": {"iam:AWSServiceName": AUTOSCALING_SERVICE}},
            )
        )
        acknowledge_wildcard(
            self,
            "*",
            "Application Auto Scaling Describe* and cloudwatch:GetMetricData support no "
            "resource-level permissions; the scaling writes are limited by conditions to "
            "SageMaker endpoint variants' instance counts (a target's ARN is generated at "
            "registration, so it cannot be named beforehand).",
        )
        acknowledge_wildcard(
            self,
            f"arn:aws:application-autoscaling:{stack.region}:{ACCOUNT}:scalable-target/*",
            "Tagging only, of the scalable targets of this account and region (CloudFormation "
            "tags the endpoint's target with the project tag; its ARN is generated).",
        )

    def _retrain_rule(self, stack: Stack, serving_stack_name: str) -> None:
        # CloudFormation names a rule without an explicit name <stack name>-<logical id>-<id>.
        rules = stack.format_arn(
            service="events",
            resource="rule",
            resource_name=f"{serving_stack_name}-*",
            arn_format=ArnFormat.SLASH_RESOURCE_NAME,
        )
        self.role.add_to_policy(
            iam.PolicyStatement(
                sid="ManageTheRetrainRule",
                actions=[
                    "events:PutRule",
                    "events:DescribeRule",
                    "events:DeleteRule",
                    "events:PutTargets",
                    "events:RemoveTargets",
                    "events:ListTargetsByRule",
                    "events:TagResource",
                    "events:UntagResource",
                    "events:ListTagsForResource",
                ],
                resources=[rules],
            )
        )
        acknowledge_wildcard(
            self,
            f"arn:aws:events:{stack.region}:{ACCOUNT}:rule/{serving_stack_name}-*",
            "The retraining rule's name is generated by CloudFormation after the serving "
            "stack's name; only rules of that stack match.",
        )


def bootstrap_version_parameter(stack: Stack, qualifier: str) -> str:
    """The SSM parameter CloudFormation resolves for CDK's ``BootstrapVersion`` parameter."""
    return stack.format_arn(
        service="ssm",
        resource="parameter",
        resource_name=f"cdk-bootstrap/{qualifier}/version",
        arn_format=ArnFormat.SLASH_RESOURCE_NAME,
    )
