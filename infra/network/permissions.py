"""What a role needs for the resources it runs to attach to the VPC: network interfaces.

SageMaker creates the network interfaces of a job or a model in the subnets as the job's or the
model's role (the execution role permissions of CreateProcessingJob, CreateTrainingJob,
CreateModel and monitoring schedules in SageMaker's developer guide); Lambda does the same as a
function's role (what the managed AWSLambdaVPCAccessExecutionRole holds). Creating an
interface is scoped to the project's subnets and security groups; the describe calls and
deleting an interface SageMaker named at run time support no narrower resource, acknowledged
beside the statement with that reason.
"""

from __future__ import annotations

from typing import Any

from aws_cdk import ArnFormat, CfnResource, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

from infra.network.placement import NetworkRefs
from infra.shared.acknowledgements import (
    ACCOUNT,
    acknowledge_inline_policy,
    acknowledge_wildcard,
)
from infra.shared.roles import default_policy

_SAGEMAKER_DESCRIBE = [
    "ec2:DescribeNetworkInterfaces",
    "ec2:DescribeVpcs",
    "ec2:DescribeDhcpOptions",
    "ec2:DescribeSubnets",
    "ec2:DescribeSecurityGroups",
]
_LAMBDA_DESCRIBE = ["ec2:DescribeNetworkInterfaces", "ec2:DescribeSubnets"]
_INTERFACES = "network-interface/*"


def grant_sagemaker_network_interfaces(
    scope: Construct, role: iam.IRole, network: NetworkRefs, security_group_ids: list[str]
) -> iam.Policy:
    """Let SageMaker attach the jobs or models that run as ``role`` to the subnets, with
    ``security_group_ids`` (a purpose's groups). Returns the policy: a model or job definition
    created by CloudFormation must depend on it (SageMaker checks the role when it is created)."""
    return _grant(
        scope,
        role,
        network,
        security_group_ids,
        manage=[
            "ec2:CreateNetworkInterfacePermission",
            "ec2:DeleteNetworkInterface",
            "ec2:DeleteNetworkInterfacePermission",
        ],
        describe=_SAGEMAKER_DESCRIBE,
        reason="SageMaker names the network interfaces of a job or model at run time and "
        "creates them only in the project's subnets with its security groups (scoped "
        "separately); the ec2:Describe* calls support no resource-level permission.",
    )


def function_placement(network: NetworkRefs | None) -> dict[str, Any]:
    """A Lambda function's ``vpc``, ``vpc_subnets`` and ``security_groups``: the functions'
    groups in the project's subnets, or none of them without a network setting."""
    if network is None:
        return {"vpc": None, "vpc_subnets": None, "security_groups": None}
    return {
        "vpc": network.vpc,
        "vpc_subnets": network.subnet_selection,
        "security_groups": list(network.functions),
    }


def depend_on_policies(
    scope: Construct, function: lambda_.Function, role: iam.Role, network: NetworkRefs | None
) -> None:
    """Make ``function`` depend on exactly the policies Lambda checks when it creates it: the
    role's default policy and, in a VPC, the network-interface grant. Lambda's L2 makes the
    function depend on the role *and* its policy; the role is already implied by the Role
    GetAtt, so only the policies stay (cfn-lint W3005)."""
    policies = [default_policy(role)]
    if network is not None:
        groups = [group.security_group_id for group in network.functions]
        policies.append(grant_lambda_network_interfaces(scope, role, network, groups))
    stack = Stack.of(scope)
    depends_on = []
    for policy in policies:
        resource = policy.node.default_child
        assert isinstance(resource, CfnResource)
        depends_on.append(stack.get_logical_id(resource))
    function_resource = function.node.default_child
    assert isinstance(function_resource, CfnResource)
    function_resource.add_override("DependsOn", depends_on)


def grant_lambda_network_interfaces(
    scope: Construct, role: iam.IRole, network: NetworkRefs, security_group_ids: list[str]
) -> iam.Policy:
    """Let Lambda attach the function that runs as ``role`` to the subnets (the actions of
    AWSLambdaVPCAccessExecutionRole, scoped where EC2 allows it). Returns the policy: the
    function must depend on it (Lambda checks the role when the function is created)."""
    return _grant(
        scope,
        role,
        network,
        security_group_ids,
        manage=[
            "ec2:DeleteNetworkInterface",
            "ec2:AssignPrivateIpAddresses",
            "ec2:UnassignPrivateIpAddresses",
        ],
        describe=_LAMBDA_DESCRIBE,
        reason="Lambda names the function's network interfaces at run time and creates them "
        "only in the project's subnets with its security groups (scoped separately); the "
        "ec2:Describe* calls support no resource-level permission.",
    )


def _grant(
    scope: Construct,
    role: iam.IRole,
    network: NetworkRefs,
    security_group_ids: list[str],
    *,
    manage: list[str],
    describe: list[str],
    reason: str,
) -> iam.Policy:
    stack = Stack.of(scope)

    def ec2_arn(resource: str, name: str) -> str:
        return stack.format_arn(
            service="ec2",
            resource=resource,
            resource_name=name,
            arn_format=ArnFormat.SLASH_RESOURCE_NAME,
        )

    interfaces = ec2_arn(*_INTERFACES.split("/"))
    # A policy of its own (not the role's default one): its wildcards are acknowledged on it
    # alone, with this reason, apart from the role's other statements.
    policy = iam.Policy(
        scope,
        "NetworkInterfaces",
        roles=[role],
        statements=[
            iam.PolicyStatement(
                sid="CreateInTheProjectSubnets",
                actions=["ec2:CreateNetworkInterface"],
                resources=[
                    interfaces,
                    *(ec2_arn("subnet", subnet) for subnet in network.subnet_ids),
                    *(ec2_arn("security-group", group) for group in security_group_ids),
                ],
            ),
            iam.PolicyStatement(sid="ManageInterfaces", actions=manage, resources=[interfaces]),
            iam.PolicyStatement(sid="DescribeTheNetwork", actions=describe, resources=["*"]),
        ],
    )
    acknowledge_wildcard(policy, f"arn:aws:ec2:{stack.region}:{ACCOUNT}:{_INTERFACES}", reason)
    acknowledge_wildcard(policy, "*", reason)
    acknowledge_inline_policy(policy)
    return policy
