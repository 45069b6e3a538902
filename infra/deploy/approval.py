"""Approval-to-deploy: EventBridge rule on model package approval → a least-privilege Lambda.

The Lambda (``runtime/handler.py`` beside this module) updates the serving stack's
parameters with the previous template. It may describe packages of this group only, update
and describe the serving stack only, read objects (the baselines) in the artifact bucket, and
pass exactly the CloudFormation execution role that the serving stack already runs with.
The cdk-nag findings this leaves (ARN wildcards ending in ids made at run time, the log group's
service-managed encryption, no DLQ or VPC) are acknowledged beside the resources, with why.
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
from infra.shared.roles import default_policy

HANDLER_DIR = Path(__file__).resolve().parent / "runtime"
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
        acknowledge_nist(
            self.log_group,
            "CloudWatchLogGroupEncrypted",
            "The log holds one line per deployment decision (ARNs and stack names, no data); "
            "CloudWatch Logs encrypts it at rest with service-managed keys.",
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
        self._acknowledge_role(
            stack.region, model_package_group, serving_stack_name, baseline_bucket
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
        self._acknowledge_function()

        # Lambda's L2 makes the function depend on the role *and* its policy; the role is
        # already implied by the Role GetAtt, so keep only the policy (cfn-lint W3005).
        function_resource = self.function.node.default_child
        policy = default_policy(role).node.default_child
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

    def _acknowledge_role(
        self, region: str, model_package_group: str, serving_stack_name: str, baseline_bucket: str
    ) -> None:
        """The role's wildcards (each ends in a name or id made at run time) and inline policy."""
        acknowledge_sagemaker_wildcard(
            self,
            f"model-package/{model_package_group}/*",
            "DescribeModelPackage only, on versions of this project's group (numbered at "
            "registration).",
        )
        acknowledge_wildcard(
            self,
            f"arn:aws:cloudformation:{region}:{ACCOUNT}:stack/{serving_stack_name}/*",
            "A stack ARN ends in an id generated at creation; the name pins the serving stack.",
        )
        acknowledge_bucket_objects(
            self,
            baseline_bucket,
            "",
            "GetObject (HEAD) to check that an approved version's baselines exist before "
            "deploying; their keys are per pipeline execution.",
        )
        acknowledge_inline_policy(self)

    def _acknowledge_function(self) -> None:
        acknowledge(
            self.function,
            "AwsSolutions::AwsSolutions-L1",
            "Pinned to python3.12, the runtime the handler is tested against (boto3 + stdlib); "
            "moving it is a deliberate, tested change rather than an automatic one.",
        )
        acknowledge_nist(
            self.function,
            "LambdaDLQ",
            "EventBridge retries a failed invocation twice; a failed deployment stays visible in "
            "the Lambda Errors metric and the serving stack's events, and re-approving the "
            "version re-sends the event. A DLQ would hold nothing actionable.",
        )
        acknowledge_nist(
            self.function,
            "LambdaInsideVPC",
            "The function calls only AWS control-plane APIs (SageMaker, CloudFormation, S3 HEAD); "
            "the template creates no VPC and a VPC would add NAT cost without reducing exposure.",
        )
