"""In a stage's own account: the one role the tooling account may assume there.

Two principals of the tooling account assume it, named by ARN (``aws:PrincipalArn`` under the
tooling account's principal: they may not exist yet when this stack is deployed): the deploy
Lambda's role, to update the stage's serving stack, and the stage's CI/CD role, to run the
stage's checks. It may do exactly that:

- describe the stage's serving stack and update it only as the stage's CloudFormation role and
  only with the previous template (the same conditions the Lambda has in one account), pass
  that role to CloudFormation, read the CDK bootstrap version parameter;
- for the checks: describe and invoke the stage's endpoint, read its alarms.

The tooling account trusts the stage account through nothing else: the registry, the artifact
bucket and the key name this account's serving roles in their policies (``infra.pipeline``,
``infra.storage``), and ``cdk deploy`` reaches it through the CDK bootstrap's trust
(``cdk bootstrap --trust <tooling account>``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from aws_cdk import ArnFormat, DefaultStackSynthesizer, Stack
from aws_cdk import aws_iam as iam
from constructs import Construct

from infra.deploy.serving_role import CLOUDFORMATION, bootstrap_version_parameter
from infra.shared.acknowledgements import ACCOUNT, acknowledge_inline_policy, acknowledge_wildcard
from infra.shared.arns import sagemaker_arn


@dataclass(frozen=True)
class AccessGrant:
    """Who may assume the access role, and the stage resources it reaches."""

    role_name: str
    tooling_account: str
    trusted_role_arns: Sequence[str]  # in the tooling account
    serving_stack_name: str
    cloudformation_role_arn: str
    endpoint_name: str
    alarm_names: Sequence[str]


class ToolingAccess(Construct):
    """``role``: the tooling account's way into this stage's account."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        grant: AccessGrant,
        bootstrap_qualifier: str = DefaultStackSynthesizer.DEFAULT_QUALIFIER,
    ) -> None:
        super().__init__(scope, construct_id)
        stack = Stack.of(self)
        self.role = iam.Role(
            self,
            "Role",
            role_name=grant.role_name,
            assumed_by=iam.AccountPrincipal(grant.tooling_account).with_conditions(
                {"ArnEquals": {"aws:PrincipalArn": list(grant.trusted_role_arns)}}
            ),
            description=(
                f"The tooling account's deploy Lambda and CI/CD role: update "
                f"{grant.serving_stack_name} as its CloudFormation role, check its endpoint"
            ),
        )
        serving_stack = stack.format_arn(
            service="cloudformation",
            resource="stack",
            resource_name=f"{grant.serving_stack_name}/*",
        )
        self.role.add_to_policy(
            iam.PolicyStatement(
                sid="ReadServingStack",
                actions=["cloudformation:DescribeStacks"],
                resources=[serving_stack],
            )
        )
        self.role.add_to_policy(
            iam.PolicyStatement(
                sid="UpdateServingStackAsItsRole",
                actions=["cloudformation:UpdateStack"],
                resources=[serving_stack],
                conditions={
                    "StringEquals": {"cloudformation:RoleArn": grant.cloudformation_role_arn},
                    "Null": {"cloudformation:TemplateUrl": "true"},
                },
            )
        )
        self.role.add_to_policy(
            iam.PolicyStatement(
                sid="PassOnlyTheServingStackRole",
                actions=["iam:PassRole"],
                resources=[grant.cloudformation_role_arn],
                conditions={"StringEquals": {"iam:PassedToService": CLOUDFORMATION}},
            )
        )
        self.role.add_to_policy(
            iam.PolicyStatement(
                sid="ResolveBootstrapVersion",
                actions=["ssm:GetParameters"],
                resources=[bootstrap_version_parameter(stack, bootstrap_qualifier)],
            )
        )
        self.role.add_to_policy(
            iam.PolicyStatement(
                sid="CheckTheEndpoint",
                actions=["sagemaker:DescribeEndpoint", "sagemaker:InvokeEndpoint"],
                resources=[sagemaker_arn(self, f"endpoint/{grant.endpoint_name}")],
            )
        )
        self.role.add_to_policy(
            iam.PolicyStatement(
                sid="ReadTheEndpointAlarms",
                actions=["cloudwatch:DescribeAlarms"],
                resources=[
                    stack.format_arn(
                        service="cloudwatch",
                        resource="alarm",
                        resource_name=name,
                        arn_format=ArnFormat.COLON_RESOURCE_NAME,
                    )
                    for name in grant.alarm_names
                ],
            )
        )
        acknowledge_wildcard(
            self,
            f"arn:aws:cloudformation:{stack.region}:{ACCOUNT}:stack/{grant.serving_stack_name}/*",
            "A stack ARN ends in an id generated at creation; the name pins the serving stack.",
        )
        acknowledge_inline_policy(self)
