"""Optional: the drift alarm starts a pipeline execution (``monitoring.retrain_on_drift``).

EventBridge targets the pipeline directly, no Lambda: the alarm's transition to ALARM is the
only event matched, and the rule's role may start only this one pipeline. The role trusts
EventBridge only for rules of this account and region.
"""

from __future__ import annotations

from aws_cdk import Aws, Stack
from aws_cdk import aws_events as events
from aws_cdk import aws_iam as iam
from constructs import Construct

from infra.shared.acknowledgements import acknowledge_nist
from infra.shared.arns import sagemaker_arn
from infra.shared.roles import default_policy, trusted_service

EVENTS = "events.amazonaws.com"


class RetrainOnDrift(Construct):
    """Drift alarm state change to ALARM → ``StartPipelineExecution``."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        alarm_arn: str,
        pipeline_name: str,
        role_name: str,
    ) -> None:
        super().__init__(scope, construct_id)
        pipeline_arn = sagemaker_arn(self, f"pipeline/{pipeline_name}")
        region = Stack.of(self).region
        role = iam.Role(
            self,
            "Role",
            role_name=role_name,
            # The rule's ARN would make the role and the rule refer to each other; any rule of
            # this account and region is as narrow as CloudFormation allows.
            assumed_by=trusted_service(
                EVENTS,
                source_arn=f"arn:{Aws.PARTITION}:events:{region}:{Aws.ACCOUNT_ID}:rule/*",
            ),
            description=f"Lets EventBridge start {pipeline_name} when the drift alarm fires",
        )
        self.role = role
        role.add_to_policy(
            iam.PolicyStatement(
                actions=["sagemaker:StartPipelineExecution"], resources=[pipeline_arn]
            )
        )
        self.rule = events.CfnRule(
            self,
            "Rule",
            description=f"Retrain {pipeline_name} when the data drift alarm goes to ALARM",
            event_pattern={
                "source": ["aws.cloudwatch"],
                "detail-type": ["CloudWatch Alarm State Change"],
                "resources": [alarm_arn],
                "detail": {"state": {"value": ["ALARM"]}},
            },
            targets=[
                events.CfnRule.TargetProperty(
                    id="StartPipeline",
                    arn=pipeline_arn,
                    role_arn=role.role_arn,
                )
            ],
        )
        self.rule.node.add_dependency(default_policy(role))
        acknowledge_nist(
            self,
            "IAMNoInlinePolicy",
            "EventBridge's role may only start this project's pipeline; the policy is specific "
            "to the rule and lives and dies with it.",
        )
