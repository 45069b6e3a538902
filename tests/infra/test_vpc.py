"""VPC placement (the ``network`` setting): what a synth with two private subnets places where.

One synth with the setting per module (~25 s: the definitions are rebuilt with the VPC), the
session's default synth for "nothing changes without it", and small stand-alone stacks for the
variants of the network construct itself.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.fidelity.definitions import deployed_definition
from tests.fidelity.test_batch_definition_contract import with_package
from tests.infra.conftest import Synthesized, synthesize

VPC = "vpc-0123456789abcdef0"
SUBNETS = ["subnet-0123456789abcdef0", "subnet-0123456789abcdef1"]
ROUTE_TABLES = ["rtb-0123456789abcdef0", "rtb-0123456789abcdef1"]
NETWORK = {"vpc_id": VPC, "subnet_ids": SUBNETS, "route_table_ids": ROUTE_TABLES}
JOB_STEP_TYPES = {"Processing", "Training", "QualityCheck"}


@pytest.fixture(scope="module")
def placed(tmp_path_factory: pytest.TempPathFactory) -> Synthesized:
    """The app with the ``network`` setting (its own definitions: they carry the VpcConfig)."""
    return synthesize(tmp_path_factory.mktemp("cdk.out"), {"network": NETWORK})


def _group_export(synthesized: Synthesized, construct_id: str) -> dict[str, Any]:
    """How another stack reads the storage stack's security group ``construct_id``."""
    storage = synthesized.templates["Storage"]
    logical = next(
        logical
        for logical, resource in storage["Resources"].items()
        if resource["Type"] == "AWS::EC2::SecurityGroup" and logical.startswith(construct_id)
    )
    for output in storage["Outputs"].values():
        if output["Value"] == {"Fn::GetAtt": [logical, "GroupId"]}:
            return {"Fn::ImportValue": output["Export"]["Name"]}
    raise LookupError(f"the storage stack exports no {construct_id} group")


def _resolved_group(synthesized: Synthesized, construct_id: str) -> str:
    """The plausible id tests.fidelity.definitions resolves that group's export to."""
    storage = synthesized.templates["Storage"]
    logical = next(
        logical
        for logical, resource in storage["Resources"].items()
        if resource["Type"] == "AWS::EC2::SecurityGroup" and logical.startswith(construct_id)
    )
    return f"plausible-{logical.lower()}"


def _job_steps(definition: dict[str, Any]) -> list[dict[str, Any]]:
    found = []
    for step in definition["Steps"]:
        if step["Type"] in JOB_STEP_TYPES:
            found.append(step)
        arguments = step.get("Arguments", {})
        for branch in ("IfSteps", "ElseSteps"):
            found += [s for s in arguments.get(branch, []) if s["Type"] in JOB_STEP_TYPES]
    return found


def _vpc_config(step: dict[str, Any]) -> Any:
    arguments = step["Arguments"]
    if step["Type"] == "Training":
        return arguments.get("VpcConfig")
    return arguments.get("NetworkConfig", {}).get("VpcConfig")


def test_every_pipeline_job_runs_isolated_in_the_subnets_with_the_jobs_group(
    placed: Synthesized,
) -> None:
    definition = deployed_definition(placed.templates)
    jobs = _job_steps(definition)
    assert {step["Type"] for step in jobs} == JOB_STEP_TYPES
    expected = {"SecurityGroupIds": [_resolved_group(placed, "NetworkJobs")], "Subnets": SUBNETS}
    for step in jobs:
        assert _vpc_config(step) == expected, step["Name"]
        isolated = (
            step["Arguments"]["EnableNetworkIsolation"]
            if step["Type"] == "Training"
            else step["Arguments"]["NetworkConfig"]["EnableNetworkIsolation"]
        )
        assert isolated is True, step["Name"]


def test_the_placed_definitions_pass_botocore(placed: Synthesized) -> None:
    from mlops.core.settings import load_settings
    from mlops.local_runtime.executor.contract import definition_findings

    names = load_settings().names
    training = deployed_definition(placed.templates, names.pipeline)
    assert definition_findings(training, names.pipeline) == []
    # A batch execution names its package version (the parameter's default is empty).
    batch = with_package(deployed_definition(placed.templates, names.batch_pipeline))
    assert definition_findings(batch, names.batch_pipeline) == []


def test_the_batch_model_runs_in_the_subnets_with_the_models_group(placed: Synthesized) -> None:
    from mlops.core.settings import load_settings

    batch = deployed_definition(placed.templates, load_settings().names.batch_pipeline)
    (model,) = [step for step in batch["Steps"] if step["Type"] == "Model"]
    assert model["Arguments"]["VpcConfig"] == {
        "SecurityGroupIds": [_resolved_group(placed, "NetworkModels")],
        "Subnets": SUBNETS,
    }
    assert model["Arguments"]["EnableNetworkIsolation"] is True


def test_the_batch_monitor_runs_in_the_subnets_with_the_jobs_group(placed: Synthesized) -> None:
    job = placed.one("Batch", "AWS::SageMaker::DataQualityJobDefinition")
    assert job["Properties"]["NetworkConfig"] == {
        "EnableNetworkIsolation": True,
        "VpcConfig": {
            "SecurityGroupIds": [_group_export(placed, "NetworkJobs")],
            "Subnets": SUBNETS,
        },
    }


def test_the_batch_starter_runs_in_the_subnets_with_the_functions_group(
    placed: Synthesized,
) -> None:
    function = placed.one("Batch", "AWS::Lambda::Function")
    assert function["Properties"]["VpcConfig"] == {
        "SecurityGroupIds": [_group_export(placed, "NetworkFunctions")],
        "SubnetIds": SUBNETS,
    }
    # Lambda checks the role's network-interface permissions when it creates the function.
    policies = placed.resources("Batch", "AWS::IAM::Policy")
    network_policy = next(logical for logical in policies if logical.startswith("StarterNetwork"))
    assert network_policy in function["DependsOn"]


SERVING_STACKS = ("StagingServing", "Serving")
MONITORING_JOB_TYPES = {
    "AWS::SageMaker::DataQualityJobDefinition",
    "AWS::SageMaker::ModelQualityJobDefinition",
    "AWS::SageMaker::ModelBiasJobDefinition",
    "AWS::SageMaker::ModelExplainabilityJobDefinition",
}


def test_each_stage_serves_its_model_in_the_subnets_with_the_models_group(
    placed: Synthesized,
) -> None:
    for stack in SERVING_STACKS:
        model = placed.one(stack, "AWS::SageMaker::Model")["Properties"]
        assert model["VpcConfig"] == {
            "SecurityGroupIds": [_group_export(placed, "NetworkModels")],
            "Subnets": SUBNETS,
        }, stack
        assert model["EnableNetworkIsolation"] is True


def test_every_monitoring_job_runs_in_the_subnets_with_the_jobs_group(
    placed: Synthesized,
) -> None:
    expected = {"SecurityGroupIds": [_group_export(placed, "NetworkJobs")], "Subnets": SUBNETS}
    for stack in SERVING_STACKS:
        jobs = {
            resource["Type"]: resource["Properties"]
            for resource in placed.templates[stack]["Resources"].values()
            if resource["Type"] in MONITORING_JOB_TYPES
        }
        assert set(jobs) == MONITORING_JOB_TYPES, stack
        for kind, properties in jobs.items():
            assert properties["NetworkConfig"]["VpcConfig"] == expected, (stack, kind)


def test_the_deployer_runs_in_the_subnets_with_the_functions_group(placed: Synthesized) -> None:
    function = placed.one("Deploy", "AWS::Lambda::Function")
    assert function["Properties"]["VpcConfig"] == {
        "SecurityGroupIds": [_group_export(placed, "NetworkFunctions")],
        "SubnetIds": SUBNETS,
    }
    policies = placed.resources("Deploy", "AWS::IAM::Policy")
    network_policy = next(logical for logical in policies if "NetworkInterfaces" in logical)
    assert network_policy in function["DependsOn"]


def test_roles_create_interfaces_only_in_the_project_subnets(placed: Synthesized) -> None:
    placed_by = {"Pipeline": 1, "Batch": 2, "Serving": 2, "StagingServing": 2, "Deploy": 1}
    for stack, count in placed_by.items():
        policies = [
            resource
            for logical, resource in placed.resources(stack, "AWS::IAM::Policy").items()
            if "NetworkInterfaces" in logical
        ]
        assert len(policies) == count, stack
        for policy in policies:
            (create,) = [
                statement
                for statement in policy["Properties"]["PolicyDocument"]["Statement"]
                if statement["Action"] == "ec2:CreateNetworkInterface"
            ]
            targets = json.dumps(create["Resource"])
            assert all(f":subnet/{subnet}" in targets for subnet in SUBNETS)
            assert ":subnet/*" not in targets
            assert ":security-group/*" not in targets


def test_endpoints_are_what_the_placed_resources_call(placed: Synthesized) -> None:
    endpoints = placed.resources("Storage", "AWS::EC2::VPCEndpoint").values()
    services = {
        endpoint["Properties"]["ServiceName"]: endpoint["Properties"] for endpoint in endpoints
    }
    assert set(services) == {
        "com.amazonaws.us-east-1.s3",
        "com.amazonaws.us-east-1.sagemaker.api",
        "com.amazonaws.us-east-1.sagemaker.runtime",
        "com.amazonaws.us-east-1.cloudformation",
    }
    s3 = services["com.amazonaws.us-east-1.s3"]
    assert (s3["VpcEndpointType"], s3["RouteTableIds"]) == ("Gateway", ROUTE_TABLES)
    for name, properties in services.items():
        assert properties["VpcId"] == VPC
        if properties["VpcEndpointType"] == "Interface":
            assert properties["SubnetIds"] == SUBNETS, name
            assert properties["PrivateDnsEnabled"] is True, name


def test_no_security_group_admits_traffic_from_addresses(placed: Synthesized) -> None:
    groups = placed.resources("Storage", "AWS::EC2::SecurityGroup").values()
    rules = [
        rule for group in groups for rule in group["Properties"].get("SecurityGroupIngress", [])
    ]
    rules += [
        rule["Properties"]
        for rule in placed.resources("Storage", "AWS::EC2::SecurityGroupIngress").values()
    ]
    assert rules
    for rule in rules:
        assert not {"CidrIp", "CidrIpv6"} & set(rule), rule
        assert "SourceSecurityGroupId" in rule, rule
    for group in groups:
        for rule in group["Properties"].get("SecurityGroupEgress", []):
            assert (rule["FromPort"], rule["ToPort"]) in {(443, 443), (252, 86)}, rule


def test_cdk_nag_and_cfn_lint_are_clean_with_the_network(placed: Synthesized) -> None:
    from cfnlint.api import lint

    report = json.loads((placed.outdir / "validation-report.json").read_text())
    assert {p["pluginName"]: p["conclusion"] for p in report["pluginReports"]} == {
        "AwsSolutions": "success",
        "NIST.800.53.R5": "success",
    }
    problems = [
        f"{path.name}: {match}"
        for path in sorted(placed.outdir.glob("*.template.json"))
        for match in lint(path.read_text())
    ]
    assert problems == []


def test_without_the_setting_nothing_is_placed_in_a_vpc(synthesized: Synthesized) -> None:
    for name, template in synthesized.templates.items():
        assert "VpcConfig" not in json.dumps(template), name
        types = {resource["Type"] for resource in template["Resources"].values()}
        assert not {t for t in types if t.startswith("AWS::EC2::")}, name


def _network_stack(outdir: Path, **overrides: Any) -> dict[str, Any]:
    """Only the network construct, in a stack of its own: its template."""
    import aws_cdk as cdk

    from infra.network.placement import ProjectNetwork
    from mlops.core.settings import NetworkSettings

    app = cdk.App(outdir=str(outdir))
    stack = cdk.Stack(app, "Network", env=cdk.Environment(region="us-east-1"))
    ProjectNetwork(
        stack, "Network", settings=NetworkSettings(**{**NETWORK, **overrides}), project="p"
    )
    return dict(app.synth().get_stack_by_name("Network").template)


def test_given_groups_serve_every_purpose_and_none_is_created(tmp_path: Path) -> None:
    given = ["sg-0123456789abcdef0", "sg-0123456789abcdef1"]
    template = _network_stack(tmp_path, security_group_ids=given, create_endpoints=False)
    assert template.get("Resources", {}) == {}


def test_given_groups_may_reach_the_created_endpoints(tmp_path: Path) -> None:
    given = ["sg-0123456789abcdef0"]
    template = _network_stack(tmp_path, security_group_ids=given)
    groups = [r for r in template["Resources"].values() if r["Type"] == "AWS::EC2::SecurityGroup"]
    (endpoints,) = groups  # the endpoints' own group; nothing else is created
    sources = [
        rule["SourceSecurityGroupId"] for rule in endpoints["Properties"]["SecurityGroupIngress"]
    ]
    assert sources == given


def test_jobs_use_the_given_groups_verbatim_in_the_definition() -> None:
    from infra.shared.pipeline_definition import PLACEHOLDERS, definition_network
    from mlops.core.settings import load_settings

    given = ("sg-0123456789abcdef0",)
    settings = load_settings({"network": {**NETWORK, "security_group_ids": given}})
    network = definition_network(settings, PLACEHOLDERS.jobs_security_group)
    assert network is not None
    assert network.vpc_config() == {"SecurityGroupIds": list(given), "Subnets": SUBNETS}


def test_the_local_executor_runs_placed_requests_and_says_the_vpc_does_not_apply(
    placed: Synthesized,
) -> None:
    from mlops.core.settings import load_settings
    from mlops.local_runtime.executor.contract import (
        IMPLEMENTED,
        placement_note,
        plausible_requests,
        unsupported_fields,
    )

    names = load_settings().names
    training = deployed_definition(placed.templates, names.pipeline)
    batch = with_package(deployed_definition(placed.templates, names.batch_pipeline))
    noted = set()
    for pipeline, definition in ((names.pipeline, training), (names.batch_pipeline, batch)):
        for planned in plausible_requests(definition, pipeline):
            if planned.operation not in IMPLEMENTED:
                continue
            assert unsupported_fields(planned.operation, planned.request) == [], planned.step
            note = placement_note(planned.operation, planned.request)
            if note is not None:
                assert f"subnets {', '.join(SUBNETS)}" in note
                assert "not applicable locally" in note
                noted.add(planned.step_type)
    assert noted == JOB_STEP_TYPES | {"Model"}


def test_a_placed_step_runs_locally_and_its_output_says_the_vpc_does_not_apply(
    tmp_path: Path,
) -> None:
    import boto3
    from moto import mock_aws

    from mlops.local_runtime.executor.engine import StepInvocation
    from mlops.local_runtime.executor.handlers import LocalServices, default_handlers

    lines: list[str] = []
    vpc_config = {"SecurityGroupIds": ["sg-0123456789abcdef0"], "Subnets": SUBNETS}
    step = StepInvocation(
        name="CreateModel",
        type="Model",
        arguments={
            "ExecutionRoleArn": "arn:aws:iam::123456789012:role/model",
            "PrimaryContainer": {
                "Image": "123456789012.dkr.ecr.us-east-1.amazonaws.com/model:1",
                "ModelDataUrl": "s3://bucket/model.tar.gz",
            },
            "VpcConfig": vpc_config,
        },
        definition={},
        execution_id="a1b2c3d4e5f6",
    )
    with mock_aws():
        services = LocalServices(
            s3=boto3.client("s3", region_name="us-east-1"),
            sagemaker=boto3.client("sagemaker", region_name="us-east-1"),
            work_dir=tmp_path,
            on_line=lambda stream, line: lines.append(line),
        )
        outcome = default_handlers(services)["Model"](step)
    assert outcome.properties["VpcConfig"] == vpc_config
    assert lines == [
        f"[local] VpcConfig (subnets {', '.join(SUBNETS)}; security groups sg-0123456789abcdef0) "
        "not applicable locally: there is no VPC, the job runs on this machine as it would in "
        "those subnets"
    ]
