"""Approval-to-deploy: EventBridge rule on model package approval → a least-privilege Lambda.

The Lambda (``infra/lambdas/deploy_on_approval/handler.py``) updates the serving stack's
parameters with the previous template. It may describe packages of this group only, update
and describe the serving stack only, read objects (the baselines) in the artifact bucket, and
pass exactly the CloudFormation execution role that the serving stack already runs with.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from aws_cdk import (
    ArnFormat,
    Aws,
    CfnResource,
    DefaultStackSynthesizer,
    Duration,
    RemovalPolicy,
    Stack,
)
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

from infra.roles import sagemaker_arn

HANDLER_DIR = Path(__file__).resolve().parent / "lambdas" / "deploy_on_approval"
MODEL_PACKAGE_STATE_CHANGE = "SageMaker Model Package State Change"


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


class DeployOnApproval(Construct):
    """The rule, the function, its log group and its role."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        model_package_group: str,
        serving_stack_name: str,
        cloudformation_role_arn: str,
        baseline_bucket: str,
        bootstrap_qualifier: str = DefaultStackSynthesizer.DEFAULT_QUALIFIER,
    ) -> None:
        super().__init__(scope, construct_id)
        stack = Stack.of(self)

        self.log_group = logs.LogGroup(
            self,
            "Logs",
            retention=logs.RetentionDays.THREE_MONTHS,
            removal_policy=RemovalPolicy.DESTROY,
        )
        role = iam.Role(
            self,
            "Role",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description="Updates the serving stack when a model version is approved",
        )
        role.add_to_policy(
            iam.PolicyStatement(
                sid="WriteOwnLogs",
                actions=["logs:CreateLogStream", "logs:PutLogEvents"],
                resources=[self.log_group.log_group_arn],
            )
        )
        role.add_to_policy(
            iam.PolicyStatement(
                sid="ReadApprovedPackage",
                actions=["sagemaker:DescribeModelPackage"],
                resources=[sagemaker_arn(self, f"model-package/{model_package_group}/*")],
            )
        )
        role.add_to_policy(
            iam.PolicyStatement(
                sid="UpdateServingStack",
                actions=["cloudformation:DescribeStacks", "cloudformation:UpdateStack"],
                resources=[
                    stack.format_arn(
                        service="cloudformation",
                        resource="stack",
                        resource_name=f"{serving_stack_name}/*",
                    )
                ],
            )
        )
        role.add_to_policy(
            iam.PolicyStatement(
                sid="LetCloudFormationUseItsDeployRole",
                actions=["iam:PassRole"],
                resources=[cloudformation_role_arn],
                conditions={
                    "StringEquals": {"iam:PassedToService": "cloudformation.amazonaws.com"}
                },
            )
        )
        role.add_to_policy(
            iam.PolicyStatement(
                sid="ResolveBootstrapVersion",
                actions=["ssm:GetParameters"],
                resources=[
                    stack.format_arn(
                        service="ssm",
                        resource="parameter",
                        resource_name=f"cdk-bootstrap/{bootstrap_qualifier}/version",
                        arn_format=ArnFormat.SLASH_RESOURCE_NAME,
                    )
                ],
            )
        )
        role.add_to_policy(
            iam.PolicyStatement(
                sid="CheckBaselinesExist",
                actions=["s3:GetObject"],
                resources=[f"arn:{Aws.PARTITION}:s3:::{baseline_bucket}/*"],
            )
        )

        self.function = lambda_.Function(
            self,
            "Function",
            description="Approved model package → update the serving stack's parameters",
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
            environment={
                "SERVING_STACK_NAME": serving_stack_name,
                "MODEL_PACKAGE_GROUP": model_package_group,
            },
        )

        # Lambda's L2 makes the function depend on the role *and* its policy; the role is
        # already implied by the Role GetAtt, so keep only the policy (cfn-lint W3005).
        function_resource = self.function.node.default_child
        policy = role.node.find_child("DefaultPolicy").node.default_child
        assert isinstance(function_resource, CfnResource)
        assert isinstance(policy, CfnResource)
        function_resource.add_override("DependsOn", [stack.get_logical_id(policy)])

        self.rule = events.Rule(
            self,
            "ApprovedRule",
            description=f"Deploy approved versions of {model_package_group}",
            event_pattern=events.EventPattern(
                source=["aws.sagemaker"],
                detail_type=[MODEL_PACKAGE_STATE_CHANGE],
                detail=approval_event_pattern(model_package_group)["detail"],
            ),
            targets=[
                targets.LambdaFunction(
                    self.function, retry_attempts=2, max_event_age=Duration.hours(1)
                )
            ],
        )
