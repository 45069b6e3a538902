"""What starts batch executions: a Lambda that picks the newest approved version, invoked by an
EventBridge Scheduler schedule and by an EventBridge rule on new objects under the batch input
prefix (each optional, by a stack parameter).

The function (``runtime/handler.py``) may list and describe this group's versions and start
this one pipeline, nothing else. An invocation that still fails after Lambda's two retries (no
approved version yet, a throttled API) lands in an on-failure queue with its event and error,
and alarms say so, as for the approval Lambda.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from aws_cdk import Aws, CfnCondition, Duration, RemovalPolicy, Stack
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_events as events
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_destinations as destinations
from aws_cdk import aws_logs as logs
from aws_cdk import aws_scheduler as scheduler
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from infra.network.permissions import depend_on_policies, function_placement
from infra.network.placement import NetworkRefs
from infra.shared.acknowledgements import (
    acknowledge,
    acknowledge_inline_policy,
    acknowledge_nist,
    acknowledge_sagemaker_wildcard,
    acknowledge_wildcard,
)
from infra.shared.arns import sagemaker_arn
from infra.shared.conditions import apply_condition
from infra.shared.roles import trusted_service

HANDLER_DIR = Path(__file__).resolve().parent / "runtime"
RETRY_ATTEMPTS = 2
MAX_EVENT_AGE = Duration.hours(6)


@dataclass(frozen=True)
class StartTarget:
    """The pipeline the starter starts, the group it picks from, the data it watches."""

    pipeline_name: str
    model_package_group: str
    data_bucket: str
    input_prefix: str  # "batch/input/": new objects here start an execution each
    default_input_uri: str  # what a scheduled execution scores


def new_object_pattern(bucket: str, prefix: str) -> dict[str, object]:
    """EventBridge pattern: an object created under ``prefix`` of ``bucket``."""
    return {
        "source": ["aws.s3"],
        "detail-type": ["Object Created"],
        "detail": {"bucket": {"name": [bucket]}, "object": {"key": [{"prefix": prefix}]}},
    }


class BatchStarter(Construct):
    """The function, its role, log group, on-failure queue, alarms, schedule and trigger."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        target: StartTarget,
        function_name: str,
        schedule_name: str,
        rule_name: str,
        schedule_expression: str,
        scheduled: CfnCondition,
        on_new_data: CfnCondition,
        network: NetworkRefs | None = None,
    ) -> None:
        """``network``: the function attaches to the VPC with the functions' groups; it then
        reaches the SageMaker API through the storage stack's endpoint (or the VPC's own)."""
        super().__init__(scope, construct_id)
        self.log_group = logs.LogGroup(
            self,
            "Logs",
            retention=logs.RetentionDays.THREE_MONTHS,
            removal_policy=RemovalPolicy.DESTROY,
        )
        acknowledge_nist(
            self.log_group,
            "CloudWatchLogGroupEncrypted",
            "One line per started execution (ARNs and S3 URIs, no data); CloudWatch Logs "
            "encrypts it at rest with service-managed keys.",
        )
        role = iam.Role(
            self,
            "Role",
            assumed_by=trusted_service("lambda.amazonaws.com"),
            description=f"Starts {target.pipeline_name} with the newest approved version",
        )
        self._grant(role, target)
        self.failures = sqs.Queue(
            self,
            "Failures",
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
            retention_period=Duration.days(14),
        )
        acknowledge(
            self.failures,
            "AwsSolutions::AwsSolutions-SQS3",
            "This queue is the starter's on-failure destination, the end of the line for a batch "
            "that could not be started; it is alarmed on, so a queue behind it would hold "
            "nothing actionable.",
        )
        self.function = lambda_.Function(
            self,
            "Function",
            function_name=function_name,
            description=f"Start {target.pipeline_name} with the newest approved model version",
            runtime=lambda_.Runtime.PYTHON_3_12,
            architecture=lambda_.Architecture.ARM_64,
            handler="handler.handler",
            code=lambda_.Code.from_asset(
                str(HANDLER_DIR), exclude=["__pycache__", "*.pyc", "__init__.py"]
            ),
            role=role,
            timeout=Duration.seconds(30),
            memory_size=128,
            # Starting executions is cheap; this bounds a burst of uploads to 10 at a time.
            reserved_concurrent_executions=10,
            log_group=self.log_group,
            **function_placement(network),
            environment={
                "BATCH_PIPELINE_NAME": target.pipeline_name,
                "MODEL_PACKAGE_GROUP": target.model_package_group,
                "DEFAULT_INPUT_URI": target.default_input_uri,
            },
        )
        self.function.configure_async_invoke(
            retry_attempts=RETRY_ATTEMPTS,
            max_event_age=MAX_EVENT_AGE,
            on_failure=destinations.SqsDestination(self.failures),
        )
        depend_on_policies(self, self.function, role, network)
        self._acknowledge_function(in_vpc=network is not None)
        self._alarms()
        self._schedule(schedule_name, schedule_expression, scheduled)
        self._trigger(rule_name, target, on_new_data)

    def _grant(self, role: iam.Role, target: StartTarget) -> None:
        versions = f"model-package/{target.model_package_group}/*"
        role.add_to_policy(
            iam.PolicyStatement(
                sid="WriteOwnLogs",
                actions=["logs:CreateLogStream", "logs:PutLogEvents"],
                resources=[self.log_group.log_group_arn],
            )
        )
        role.add_to_policy(
            iam.PolicyStatement(
                sid="FindTheApprovedVersion",
                actions=["sagemaker:ListModelPackages"],
                resources=["*"],  # ListModelPackages supports no resource-level permission
            )
        )
        role.add_to_policy(
            iam.PolicyStatement(
                sid="ReadVersions",
                actions=["sagemaker:DescribeModelPackage"],
                resources=[sagemaker_arn(self, versions)],
            )
        )
        role.add_to_policy(
            iam.PolicyStatement(
                sid="StartTheBatchPipeline",
                actions=["sagemaker:StartPipelineExecution"],
                resources=[sagemaker_arn(self, f"pipeline/{target.pipeline_name}")],
            )
        )
        acknowledge_wildcard(
            self,
            "*",
            "sagemaker:ListModelPackages only, which supports no resource-level permission; the "
            "function asks for one group's approved versions.",
        )
        acknowledge_sagemaker_wildcard(
            self,
            versions,
            "DescribeModelPackage only, on versions of this project's group (numbered at "
            "registration).",
        )
        acknowledge_inline_policy(self)

    def _acknowledge_function(self, *, in_vpc: bool) -> None:
        acknowledge(
            self.function,
            "AwsSolutions::AwsSolutions-L1",
            "Pinned to python3.12, the runtime the handler is tested against (boto3 + stdlib).",
        )
        acknowledge_nist(
            self.function,
            "LambdaDLQ",
            "Invoked asynchronously (EventBridge, Scheduler) with an on-failure destination "
            "(EventInvokeConfig → SQS queue) instead of a DLQ: it records the event and the error.",
        )
        if not in_vpc:
            acknowledge_nist(
                self.function,
                "LambdaInsideVPC",
                "The function calls only the SageMaker control plane; the template creates no VPC "
                "and a VPC would add NAT cost without reducing exposure.",
            )

    def _alarms(self) -> None:
        comparison = cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD
        self.errors_alarm = cloudwatch.Alarm(
            self,
            "Errors",
            alarm_description="The batch starter failed (no approved version, or an API error)",
            metric=self.function.metric_errors(period=Duration.minutes(5), statistic="Sum"),
            threshold=1,
            evaluation_periods=1,
            comparison_operator=comparison,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )
        self.failed_alarm = cloudwatch.Alarm(
            self,
            "NotStarted",
            alarm_description="A batch was not started: its event is in the on-failure queue",
            metric=self.failures.metric_approximate_number_of_messages_visible(
                period=Duration.minutes(5), statistic="Maximum"
            ),
            threshold=1,
            evaluation_periods=1,
            comparison_operator=comparison,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )
        for alarm in (self.errors_alarm, self.failed_alarm):
            acknowledge_nist(
                alarm,
                "CloudWatchAlarmAction",
                "Paging targets (SNS, chat, on-call) are organisation-specific and added by the "
                "adopting team; the alarm state is what they subscribe to.",
            )

    def _schedule(self, name: str, expression: str, condition: CfnCondition) -> None:
        """EventBridge Scheduler → the function, when the stack's schedule is set."""
        stack = Stack.of(self)
        scheduled = Construct(self, "Scheduled")
        role = iam.Role(
            scheduled,
            "Role",
            assumed_by=trusted_service(
                "scheduler.amazonaws.com",
                source_arn=stack.format_arn(
                    service="scheduler", resource="schedule", resource_name=f"default/{name}"
                ),
            ),
            description="Lets EventBridge Scheduler invoke the batch starter",
        )
        role.add_to_policy(
            iam.PolicyStatement(
                sid="InvokeTheStarter",
                actions=["lambda:InvokeFunction"],
                resources=[self.function.function_arn],
            )
        )
        acknowledge_inline_policy(scheduled)
        self.schedule = scheduler.CfnSchedule(
            scheduled,
            "Schedule",
            name=name,
            description="Score the batch input prefix with the newest approved version",
            schedule_expression=expression,
            schedule_expression_timezone="UTC",
            flexible_time_window=scheduler.CfnSchedule.FlexibleTimeWindowProperty(mode="OFF"),
            target=scheduler.CfnSchedule.TargetProperty(
                arn=self.function.function_arn,
                role_arn=role.role_arn,
                # The run's id is the idempotency token of the execution it starts.
                input='{"source": "schedule", "execution_id": "<aws.scheduler.execution-id>"}',
                retry_policy=scheduler.CfnSchedule.RetryPolicyProperty(
                    maximum_event_age_in_seconds=3600, maximum_retry_attempts=2
                ),
            ),
        )
        apply_condition(scheduled, condition)

    def _trigger(self, name: str, target: StartTarget, condition: CfnCondition) -> None:
        """EventBridge rule on new objects under the input prefix → the function."""
        triggered = Construct(self, "OnNewData")
        self.rule = events.CfnRule(
            triggered,
            "Rule",
            name=name,
            description=f"Score each object created under the batch input prefix "
            f"{target.input_prefix}",
            event_pattern=new_object_pattern(target.data_bucket, target.input_prefix),
            targets=[
                events.CfnRule.TargetProperty(
                    id="Starter",
                    arn=self.function.function_arn,
                    retry_policy=events.CfnRule.RetryPolicyProperty(
                        maximum_event_age_in_seconds=3600, maximum_retry_attempts=2
                    ),
                )
            ],
        )
        lambda_.CfnPermission(
            triggered,
            "Invoke",
            action="lambda:InvokeFunction",
            function_name=self.function.function_arn,
            principal="events.amazonaws.com",
            source_arn=self.rule.attr_arn,
            source_account=Aws.ACCOUNT_ID,
        )
        apply_condition(triggered, condition)
