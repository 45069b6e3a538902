"""IAM roles assumed by AWS services, and the SageMaker roles (pipeline, model, monitor).

Every service role trusts its service only on behalf of this account (``aws:SourceAccount``,
plus ``aws:SourceArn`` where the service sets it): the confused-deputy guard AWS recommends,
so another account's SageMaker job or EventBridge rule cannot be made to act as our role.

No managed policy: each SageMaker role gets what its container needs to start (pull exactly
its images, write its logs and metrics) plus the SageMaker actions passed in, scoped by ARN
prefix to this project's resources. Bucket and key access is granted by the stacks with the
buckets' own ``grant_*`` methods so that each role sees only the data its job reads or writes;
the stack that grants a wildcard acknowledges it. The container basics are acknowledged here,
once for every role that carries them.
"""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import ArnFormat, Aws, DefaultStackSynthesizer, Fn, Stack
from aws_cdk import aws_iam as iam
from constructs import Construct

from infra.shared.acknowledgements import (
    ACCOUNT,
    acknowledge_inline_policy,
    acknowledge_wildcard,
)
from infra.shared.images import ecr_repository_arns

SAGEMAKER = "sagemaker.amazonaws.com"


def trusted_service(service: str, *, source_arn: str | None = None) -> iam.ServicePrincipal:
    """``service`` as a role's trusted principal, only when it acts for this account.

    ``aws:SourceAccount`` is required; ``source_arn`` (an ``ArnLike`` pattern) narrows it to
    the resources the service acts for, where the service sets ``aws:SourceArn``.
    """
    conditions: dict[str, object] = {"StringEquals": {"aws:SourceAccount": Aws.ACCOUNT_ID}}
    if source_arn is not None:
        conditions["ArnLike"] = {"aws:SourceArn": source_arn}
    return iam.ServicePrincipal(service, conditions=conditions)


def sagemaker_principal(scope: Construct) -> iam.ServicePrincipal:
    """SageMaker acting for any SageMaker resource of this account and region.

    The role is assumed for pipelines, processing and training jobs, endpoints and monitoring
    schedules; SageMaker sets ``aws:SourceArn`` to the resource it acts for.
    """
    stack = Stack.of(scope)
    return trusted_service(
        SAGEMAKER,
        source_arn=f"arn:{Aws.PARTITION}:sagemaker:{stack.region}:{Aws.ACCOUNT_ID}:*",
    )


def default_policy(role: iam.Role) -> iam.Policy:
    """The inline policy CDK creates for ``role.add_to_policy`` statements.

    Depend on it, not on the role, before a service validates the role's permissions.
    """
    policy = role.node.find_child("DefaultPolicy")
    assert isinstance(policy, iam.Policy)
    return policy


class SageMakerRole(Construct):
    """A role for SageMaker jobs or models with the container basics and the given actions."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        role_name: str,
        description: str,
        images: Sequence[str],
        statements: Sequence[iam.PolicyStatement] = (),
    ) -> None:
        super().__init__(scope, construct_id)
        self.role = iam.Role(
            self,
            "Role",
            role_name=role_name,
            assumed_by=sagemaker_principal(self),
            description=description,
        )
        stack = Stack.of(self)
        self.role.add_to_policy(
            iam.PolicyStatement(
                sid="PullItsImages",
                actions=[
                    "ecr:BatchCheckLayerAvailability",
                    "ecr:BatchGetImage",
                    "ecr:GetDownloadUrlForLayer",
                ],
                # The exact repositories of the images this role's containers run.
                resources=ecr_repository_arns(images),
            )
        )
        self.role.add_to_policy(
            iam.PolicyStatement(
                sid="EcrLogin",
                actions=["ecr:GetAuthorizationToken"],
                resources=["*"],  # the action supports no resource-level permission
            )
        )
        self.role.add_to_policy(
            iam.PolicyStatement(
                sid="WriteSageMakerLogs",
                actions=[
                    "logs:CreateLogGroup",
                    "logs:CreateLogStream",
                    "logs:PutLogEvents",
                    "logs:DescribeLogStreams",
                ],
                resources=[
                    stack.format_arn(
                        service="logs",
                        resource="log-group",
                        resource_name="/aws/sagemaker/*",
                        arn_format=ArnFormat.COLON_RESOURCE_NAME,
                    )
                ],
            )
        )
        self.role.add_to_policy(
            iam.PolicyStatement(
                sid="PublishSageMakerMetrics",
                actions=["cloudwatch:PutMetricData"],
                resources=["*"],  # PutMetricData has no resource-level permission
                conditions={
                    "StringLike": {"cloudwatch:namespace": ["/aws/sagemaker/*", "aws/sagemaker/*"]}
                },
            )
        )
        for statement in statements:
            self.role.add_to_policy(statement)
        self._acknowledge_container_basics(stack.region)
        acknowledge_inline_policy(self)

    def _acknowledge_container_basics(self, region: str) -> None:
        """The wildcards of the statements above, which every SageMaker container needs."""
        acknowledge_wildcard(
            self,
            "*",
            "Only ecr:GetAuthorizationToken and cloudwatch:PutMetricData, which support no "
            "resource-level permissions; PutMetricData is restricted by a cloudwatch:namespace "
            "condition to SageMaker's namespaces.",
        )
        acknowledge_wildcard(
            self,
            f"arn:aws:logs:{region}:{ACCOUNT}:log-group:/aws/sagemaker/*",
            "SageMaker writes job and endpoint logs to /aws/sagemaker/<kind> groups with streams "
            "named per job at run time; limited to SageMaker's log groups in this account/region.",
        )

    @property
    def policy(self) -> iam.Policy:
        """The role's inline policy: depend on it, not the role, before SageMaker uses the role."""
        return default_policy(self.role)

    def allow_passing_to_sagemaker(self) -> None:
        """Let the role hand itself to the jobs it starts (pipelines create jobs as this role)."""
        self.role.add_to_policy(
            iam.PolicyStatement(
                sid="PassSelfToSageMakerJobs",
                actions=["iam:PassRole"],
                resources=[self.role.role_arn],
                conditions={"StringEquals": {"iam:PassedToService": SAGEMAKER}},
            )
        )


def bootstrap_execution_role_arn(stack: Stack) -> str:
    """The CDK bootstrap's CloudFormation execution role of ``stack``'s account (``cdk deploy``
    runs as it), as a CloudFormation expression."""
    synthesizer = stack.synthesizer
    if not isinstance(synthesizer, DefaultStackSynthesizer):  # pragma: no cover
        raise TypeError("the app must use the DefaultStackSynthesizer")
    return Fn.sub(synthesizer.cloud_formation_execution_role_arn)
