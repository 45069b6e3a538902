"""Deploying to the stages: EventBridge rule on model package approval → a least-privilege
Lambda, which ``mlops models promote`` / ``rollback`` also invoke for the later stages.

The Lambda (``runtime/handler.py`` beside this module) updates a stage's serving stack's
parameters with the previous template, as that stack's own CloudFormation role
(``serving_role``). It may describe packages of this group only, describe each stage's serving
stack, update it only with that stage's role and no template URL, read the baselines under the
pipeline's prefix of the artifact bucket, write the stages' explainability monitor configs under
``<pipeline>/monitor-configs/`` there (encrypted with the project key), and pass exactly those
roles, to CloudFormation only.
A stage in another account is reached by assuming that account's access role (``access``),
the only cross-account permission it has.

An invocation that still fails after Lambda's two retries (a serving stack busy with a long
blue/green deployment, a throttled API) is not dropped: it lands in the on-failure queue with
its event and error, and an alarm says so. The cdk-nag findings this leaves are acknowledged
beside the resources, with why.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aws_cdk import (
    Aws,
    DefaultStackSynthesizer,
    Duration,
    RemovalPolicy,
    Stack,
)
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_destinations as destinations
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from infra.deploy.serving_role import CLOUDFORMATION, bootstrap_version_parameter
from infra.network.permissions import depend_on_policies, function_placement
from infra.network.placement import NetworkRefs
from infra.shared.acknowledgements import (
    ACCOUNT,
    acknowledge,
    acknowledge_bucket_objects,
    acknowledge_inline_policy,
    acknowledge_nist,
    acknowledge_sagemaker_wildcard,
    acknowledge_wildcard,
)
from infra.shared.arns import sagemaker_arn
from infra.shared.roles import trusted_service

HANDLER_DIR = Path(__file__).resolve().parent / "runtime"
MODEL_PACKAGE_STATE_CHANGE = "SageMaker Model Package State Change"
# Lambda's own limits for asynchronous invocations: at most 2 retries, at most 6 hours.
RETRY_ATTEMPTS = 2
MAX_EVENT_AGE = Duration.hours(6)


def approval_event_pattern(model_package_group: str) -> dict[str, Any]:
    """The EventBridge pattern: this group's packages whose status became Approved."""
    return {
        "source": ["aws.sagemaker"],
        "detail-type": [MODEL_PACKAGE_STATE_CHANGE],
        "detail": {
            "ModelPackageGroupName": [model_package_group],
            "ModelApprovalStatus": ["Approved"],
        },
    }


@dataclass(frozen=True)
class StageTarget:
    """One stage the Lambda deploys to (the handler's ``StageTarget``)."""

    name: str
    stack_name: str
    cloudformation_role_arn: str  # passed to UpdateStack (same account) or by the access role
    region: str
    access_role_arn: str | None = None  # a stage in another account: the role to assume
    # Clarify's shadow endpoint of the stage's served model runs on this instance type.
    explainer_instance_type: str | None = None

    def to_handler(self) -> dict[str, str | None]:
        return {
            "name": self.name,
            "stack_name": self.stack_name,
            "cloudformation_role_arn": self.cloudformation_role_arn,
            "access_role_arn": self.access_role_arn,
            "region": self.region,
            "explainer_instance_type": self.explainer_instance_type,
        }


@dataclass(frozen=True)
class DeployTarget:
    """What the Lambda deploys to and reads from."""

    model_package_group: str
    stages: tuple[StageTarget, ...]  # in order: approval deploys to the first
    baseline_bucket: str
    baseline_prefix: str  # baselines are outputs of the pipeline's executions, under it
    function_name: str
    # Where the Lambda writes the stages' explainability configs: a sub-prefix of
    # baseline_prefix (every stage's monitor role reads there), encrypted with key_arn.
    monitor_config_prefix: str
    key_arn: str


class DeployOnApproval(Construct):
    """The rule, the function, its role, log group, on-failure queue and alarms."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        target: DeployTarget,
        role_name: str,
        bootstrap_qualifier: str = DefaultStackSynthesizer.DEFAULT_QUALIFIER,
        network: NetworkRefs | None = None,
    ) -> None:
        """``network``: the function runs in the VPC's subnets with the functions' groups and
        reaches SageMaker, CloudFormation and S3 through the VPC's endpoints."""
        super().__init__(scope, construct_id)
        stack = Stack.of(self)

        self.log_group = logs.LogGroup(
            self,
            "Logs",
            retention=logs.RetentionDays.THREE_MONTHS,
            removal_policy=RemovalPolicy.DESTROY,
        )
        acknowledge_nist(
            self.log_group,
            "CloudWatchLogGroupEncrypted",
            "The log holds one line per deployment decision (ARNs and stack names, no data); "
            "CloudWatch Logs encrypts it at rest with service-managed keys.",
        )
        role = iam.Role(
            self,
            "Role",
            role_name=role_name,
            assumed_by=trusted_service("lambda.amazonaws.com"),
            description="Updates the serving stack when a model version is approved",
        )
        self._grant(role, stack, target, bootstrap_qualifier)

        self.failures = sqs.Queue(
            self,
            "Failures",
            # Failure records hold the event and the error (ARNs, no data): SQS-managed
            # encryption keeps them readable to operators without a grant on the project key.
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
            retention_period=Duration.days(14),
        )
        acknowledge(
            self.failures,
            "AwsSolutions::AwsSolutions-SQS3",
            "This queue is the function's on-failure destination, the end of the line for an "
            "approval that could not be deployed; it is alarmed on and redriven by hand "
            "(docs/deploy.md), so a queue behind it would hold nothing actionable.",
        )

        self.function = lambda_.Function(
            self,
            "Function",
            description="Approved (or promoted) model package → update a stage's serving stack",
            runtime=lambda_.Runtime.PYTHON_3_12,
            architecture=lambda_.Architecture.ARM_64,
            handler="handler.handler",
            code=lambda_.Code.from_asset(
                str(HANDLER_DIR), exclude=["__pycache__", "*.pyc", "__init__.py"]
            ),
            role=role,
            timeout=Duration.seconds(60),
            memory_size=256,
            # One deployment decision at a time: two approvals never race on the stack.
            reserved_concurrent_executions=1,
            log_group=self.log_group,
            function_name=target.function_name,
            **function_placement(network),
            environment={
                "MODEL_PACKAGE_GROUP": target.model_package_group,
                "STAGES": stack.to_json_string([stage.to_handler() for stage in target.stages]),
                "MONITOR_CONFIGS": (
                    f"s3://{target.baseline_bucket}/{target.monitor_config_prefix.rstrip('/')}"
                ),
            },
        )
        # Asynchronous invocations (EventBridge): both limits explicit, failures kept.
        self.function.configure_async_invoke(
            retry_attempts=RETRY_ATTEMPTS,
            max_event_age=MAX_EVENT_AGE,
            on_failure=destinations.SqsDestination(self.failures),
        )
        self._acknowledge_function(in_vpc=network is not None)

        depend_on_policies(self, self.function, role, network)

        self.errors_alarm = cloudwatch.Alarm(
            self,
            "Errors",
            alarm_description=(
                "The approval Lambda failed (it retries a busy serving stack twice; what still "
                "fails is in the on-failure queue)"
            ),
            metric=self.function.metric_errors(period=Duration.minutes(5), statistic="Sum"),
            threshold=1,
            evaluation_periods=1,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )
        self.failed_alarm = cloudwatch.Alarm(
            self,
            "FailedDeployments",
            alarm_description=(
                "An approved model version was not deployed: its event is in the on-failure "
                "queue (see docs/deploy.md to redrive it)"
            ),
            metric=self.failures.metric_approximate_number_of_messages_visible(
                period=Duration.minutes(5), statistic="Maximum"
            ),
            threshold=1,
            evaluation_periods=1,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )
        for alarm in (self.errors_alarm, self.failed_alarm):
            acknowledge_nist(
                alarm,
                "CloudWatchAlarmAction",
                "Paging targets (SNS, chat, on-call) are organisation-specific and added by the "
                "adopting team; the alarm state is what they subscribe to.",
            )

        self.rule = events.Rule(
            self,
            "ApprovedRule",
            description=f"Deploy approved versions of {target.model_package_group}",
            event_pattern=events.EventPattern(
                source=["aws.sagemaker"],
                detail_type=[MODEL_PACKAGE_STATE_CHANGE],
                detail=approval_event_pattern(target.model_package_group)["detail"],
            ),
            targets=[
                targets.LambdaFunction(
                    self.function, retry_attempts=2, max_event_age=Duration.hours(1)
                )
            ],
        )

    def _grant(
        self, role: iam.Role, stack: Stack, target: DeployTarget, bootstrap_qualifier: str
    ) -> None:
        role.add_to_policy(
            iam.PolicyStatement(
                sid="WriteOwnLogs",
                actions=["logs:CreateLogStream", "logs:PutLogEvents"],
                resources=[self.log_group.log_group_arn],
            )
        )
        versions = f"model-package/{target.model_package_group}/*"
        role.add_to_policy(
            iam.PolicyStatement(
                sid="ReadApprovedPackage",
                actions=["sagemaker:DescribeModelPackage"],
                resources=[sagemaker_arn(self, versions)],
            )
        )
        for stage in target.stages:
            if stage.access_role_arn is None:
                self._grant_stage_update(role, stack, stage)
            else:
                role.add_to_policy(
                    iam.PolicyStatement(
                        sid=f"Reach{_sid(stage.name)}ThroughItsAccessRole",
                        actions=["sts:AssumeRole"],
                        resources=[stage.access_role_arn],
                    )
                )
        role.add_to_policy(
            iam.PolicyStatement(
                sid="ResolveBootstrapVersion",
                actions=["ssm:GetParameters"],
                resources=[bootstrap_version_parameter(stack, bootstrap_qualifier)],
            )
        )
        role.add_to_policy(
            iam.PolicyStatement(
                sid="CheckBaselinesExist",
                actions=["s3:GetObject"],
                resources=[
                    f"arn:{Aws.PARTITION}:s3:::{target.baseline_bucket}/{target.baseline_prefix}*"
                ],
            )
        )
        role.add_to_policy(
            iam.PolicyStatement(
                sid="WriteExplainabilityMonitorConfigs",
                actions=["s3:PutObject"],
                resources=[
                    f"arn:{Aws.PARTITION}:s3:::{target.baseline_bucket}/"
                    f"{target.monitor_config_prefix}*"
                ],
            )
        )
        # Baselines and configs are SSE-KMS objects of the project key: reading the baseline
        # config and analysis decrypts, writing the stage's config generates a data key.
        role.add_to_policy(
            iam.PolicyStatement(
                sid="UseTheProjectKeyThroughS3",
                actions=["kms:Decrypt", "kms:GenerateDataKey"],
                resources=[target.key_arn],
            )
        )
        acknowledge_sagemaker_wildcard(
            self,
            versions,
            "DescribeModelPackage only, on versions of this project's group (numbered at "
            "registration).",
        )
        acknowledge_bucket_objects(
            self,
            target.baseline_bucket,
            target.monitor_config_prefix,
            "PutObject only: the explainability monitor config of each stage and deployed "
            "version (<stage>/<model>/analysis_config.json), which names the served model.",
        )
        acknowledge_bucket_objects(
            self,
            target.baseline_bucket,
            target.baseline_prefix,
            "GetObject (HEAD) to check that an approved version's baselines exist before "
            "deploying; their keys are per pipeline execution, under the pipeline's prefix.",
        )
        acknowledge_inline_policy(self)

    def _grant_stage_update(self, role: iam.Role, stack: Stack, stage: StageTarget) -> None:
        """Describe and update one same-account stage's serving stack, only as its role."""
        serving_stack = stack.format_arn(
            service="cloudformation",
            resource="stack",
            resource_name=f"{stage.stack_name}/*",
        )
        name = _sid(stage.name)
        role.add_to_policy(
            iam.PolicyStatement(
                sid=f"Read{name}ServingStack",
                actions=["cloudformation:DescribeStacks"],
                resources=[serving_stack],
            )
        )
        role.add_to_policy(
            iam.PolicyStatement(
                sid=f"Update{name}ServingStackAsItsRole",
                actions=["cloudformation:UpdateStack"],
                resources=[serving_stack],
                conditions={
                    # Only as the serving stack's own role (never the stack's last role, which
                    # after `cdk deploy` is the bootstrap's administrator role)…
                    "StringEquals": {"cloudformation:RoleArn": stage.cloudformation_role_arn},
                    # …and never with a template from S3 (the handler uses the previous one).
                    "Null": {"cloudformation:TemplateUrl": "true"},
                },
            )
        )
        role.add_to_policy(
            iam.PolicyStatement(
                sid=f"Pass{name}ServingStackRole",
                actions=["iam:PassRole"],
                resources=[stage.cloudformation_role_arn],
                conditions={"StringEquals": {"iam:PassedToService": CLOUDFORMATION}},
            )
        )
        acknowledge_wildcard(
            self,
            f"arn:aws:cloudformation:{stack.region}:{ACCOUNT}:stack/{stage.stack_name}/*",
            "A stack ARN ends in an id generated at creation; the name pins the stage's serving "
            "stack.",
        )

    def _acknowledge_function(self, *, in_vpc: bool) -> None:
        acknowledge(
            self.function,
            "AwsSolutions::AwsSolutions-L1",
            "Pinned to python3.12, the runtime the handler is tested against (boto3 + stdlib); "
            "moving it is a deliberate, tested change rather than an automatic one.",
        )
        acknowledge_nist(
            self.function,
            "LambdaDLQ",
            "The function is invoked asynchronously by EventBridge and has an on-failure "
            "destination (EventInvokeConfig → SQS queue) instead of a DLQ: the destination "
            "records the event together with the error, a DLQ only the event.",
        )
        if not in_vpc:
            acknowledge_nist(
                self.function,
                "LambdaInsideVPC",
                "The function calls only AWS control-plane APIs (SageMaker, CloudFormation, S3 "
                "HEAD); the template creates no VPC and a VPC would add NAT cost without "
                "reducing exposure.",
            )


def _sid(stage: str) -> str:
    """A stage name as a policy statement id fragment (alphanumeric)."""
    return stage.capitalize()
