"""The user's VPC as the stacks see it: subnets, a security group per purpose, endpoints.

Built in the storage stack (every other stack already depends on it) when the ``network``
setting is present; other stacks read it from ``StorageRefs.network``. The VPC is imported from
the ids in the settings, never looked up, so the synth stays offline.

Security groups, one per purpose, unless the settings name the groups to use for everything:

- ``jobs`` (pipeline, monitoring and batch-monitoring jobs): HTTPS out, and all traffic to and
  from its own members — the hosts of a multi-instance job talk to each other (SageMaker's VPC
  guide for distributed training);
- ``models`` (the endpoints' and the batch transforms' models): HTTPS out only;
- ``functions`` (the deploy and batch-starter Lambdas): HTTPS out only.

HTTPS goes to any address on purpose: S3 is reached through the gateway endpoint, whose
addresses are S3's public ranges (a managed prefix list whose id an offline synth cannot know),
and in a private subnet the route tables take 443 nowhere but the endpoints. No group takes
any inbound traffic from outside itself.

Endpoints (``create_endpoints``), only what the placed resources call themselves:

- S3 (gateway, on ``route_table_ids``): every job and model moves its data and artifacts through
  its subnets; the deploy Lambda reads the baselines;
- SageMaker API (interface): both Lambdas (describe and list model packages, start the batch
  pipeline), and the endpoint's explainability monitoring job, whose Clarify container stands
  up a shadow endpoint of the served model;
- SageMaker Runtime (interface): that job invokes the shadow endpoint;
- CloudFormation (interface): the deploy Lambda updates the stages' serving stacks.

Nothing else is needed: every other job and the models run network-isolated (no container
traffic: no STS, KMS, CloudWatch or ECR calls from the VPC; SageMaker pulls images and ships
logs and metrics itself), Lambda writes its logs outside the function's VPC, and every stage is
in the project's account (``settings``), so the deploy Lambda assumes no role (no STS).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from aws_cdk import Fn, Stack
from aws_cdk import aws_ec2 as ec2
from constructs import Construct

from infra.shared.acknowledgements import acknowledge_nist
from mlops.core.settings import NetworkSettings

HTTPS = ec2.Port.tcp(443)
# The interface endpoints the placed Lambdas call (see the module docstring).
INTERFACE_SERVICES = {
    "SageMakerApi": ec2.InterfaceVpcEndpointAwsService.SAGEMAKER_API,
    "SageMakerRuntime": ec2.InterfaceVpcEndpointAwsService.SAGEMAKER_RUNTIME,
    "CloudFormation": ec2.InterfaceVpcEndpointAwsService.CLOUDFORMATION,
}


@dataclass(frozen=True)
class NetworkRefs:
    """What the stacks attach their jobs, models and functions to."""

    vpc: ec2.IVpc
    subnets: tuple[ec2.ISubnet, ...]
    jobs: tuple[ec2.ISecurityGroup, ...]
    models: tuple[ec2.ISecurityGroup, ...]
    functions: tuple[ec2.ISecurityGroup, ...]

    @property
    def subnet_ids(self) -> list[str]:
        return [subnet.subnet_id for subnet in self.subnets]

    @property
    def job_security_group_ids(self) -> list[str]:
        return _ids(self.jobs)

    @property
    def model_security_group_ids(self) -> list[str]:
        return _ids(self.models)

    @property
    def subnet_selection(self) -> ec2.SubnetSelection:
        """The subnets, as a Lambda function's ``vpc_subnets``."""
        return ec2.SubnetSelection(subnets=list(self.subnets))


def _ids(groups: Sequence[ec2.ISecurityGroup]) -> list[str]:
    return [group.security_group_id for group in groups]


class ProjectNetwork(Construct):
    """The imported VPC, the security groups and (``create_endpoints``) the endpoints."""

    def __init__(
        self, scope: Construct, construct_id: str, *, settings: NetworkSettings, project: str
    ) -> None:
        super().__init__(scope, construct_id)
        # The zones are never used (every subnet is given by id); CloudFormation's list keeps
        # the import valid without a lookup.
        vpc = ec2.Vpc.from_vpc_attributes(
            self, "Vpc", vpc_id=settings.vpc_id, availability_zones=Fn.get_azs()
        )
        subnets = tuple(
            ec2.Subnet.from_subnet_id(self, f"Subnet{index}", subnet)
            for index, subnet in enumerate(settings.subnet_ids)
        )
        if settings.security_group_ids:
            given = tuple(
                ec2.SecurityGroup.from_security_group_id(
                    self, f"Given{index}", group, mutable=False
                )
                for index, group in enumerate(settings.security_group_ids)
            )
            jobs = models = functions = given
        else:
            jobs = (self._group("Jobs", vpc, f"{project}: SageMaker jobs (pipeline, monitoring)"),)
            # The hosts of a multi-instance job exchange data (distributed training, sharded
            # processing): members of the group reach each other on every port.
            jobs[0].connections.allow_internally(ec2.Port.all_traffic(), "hosts of one job")
            acknowledge_nist(
                jobs[0],
                "EC2RestrictedCommonPorts",
                "The only inbound rule's source is this security group itself: the hosts of "
                "one multi-instance job (distributed XGBoost, sharded processing) on ports "
                "chosen at run time, as SageMaker's VPC guide requires; no address range.",
            )
            models = (self._group("Models", vpc, f"{project}: models of endpoints and batches"),)
            functions = (self._group("Functions", vpc, f"{project}: deploy and batch Lambdas"),)
        self.refs = NetworkRefs(
            vpc=vpc, subnets=subnets, jobs=jobs, models=models, functions=functions
        )
        self.endpoints: list[ec2.InterfaceVpcEndpoint] = []
        if settings.create_endpoints:
            # Each distinct group once, in order (the given groups serve every purpose).
            clients = tuple(dict.fromkeys((*jobs, *models, *functions)))
            self._endpoints(vpc, subnets, settings.route_table_ids, clients, project)

    def _group(self, construct_id: str, vpc: ec2.IVpc, description: str) -> ec2.SecurityGroup:
        group = ec2.SecurityGroup(
            self, construct_id, vpc=vpc, description=description, allow_all_outbound=False
        )
        group.add_egress_rule(
            ec2.Peer.any_ipv4(),
            HTTPS,
            "HTTPS to S3 (gateway endpoint) and the interface endpoints",
        )
        return group

    def _endpoints(
        self,
        vpc: ec2.IVpc,
        subnets: Sequence[ec2.ISubnet],
        route_tables: Sequence[str],
        clients: Sequence[ec2.ISecurityGroup],
        project: str,
    ) -> None:
        region = Stack.of(self).region
        self.s3 = ec2.CfnVPCEndpoint(
            self,
            "S3",
            vpc_id=vpc.vpc_id,
            service_name=f"com.amazonaws.{region}.s3",
            vpc_endpoint_type="Gateway",
            route_table_ids=list(route_tables),
        )
        group = ec2.SecurityGroup(
            self,
            "Endpoints",
            vpc=vpc,
            description=f"{project}: interface endpoints, HTTPS from the project groups",
            allow_all_outbound=False,
        )
        for construct_id, service in INTERFACE_SERVICES.items():
            endpoint = ec2.InterfaceVpcEndpoint(
                self,
                construct_id,
                vpc=vpc,
                service=service,
                subnets=ec2.SubnetSelection(subnets=list(subnets)),
                security_groups=[group],
                private_dns_enabled=True,
                open=False,
            )
            self.endpoints.append(endpoint)
        for client in clients:
            group.add_ingress_rule(
                ec2.Peer.security_group_id(client.security_group_id),
                HTTPS,
                "HTTPS from a project security group",
            )
