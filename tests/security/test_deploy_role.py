"""The approval path's privileges: the Lambda, and the CloudFormation role it hands over.

Before: the Lambda passed the CDK bootstrap's execution role (AdministratorAccess by default)
and could update the serving stack with any template, i.e. it was an administrator. Now it may
pass one role, only to CloudFormation, and update the serving stack only as that role and
without a template URL; the role itself can touch only the serving stack's resources.
"""

from __future__ import annotations

from fnmatch import fnmatchcase

import pytest

from tests.infra.conftest import Synthesized
from tests.security.policies import (
    NOT_UPDATED_ON_APPROVAL,
    Statement,
    allowed_actions,
    allowing,
    as_list,
    missing_handler_permissions,
    role_named,
    role_statements,
    text,
)

CFN_ROLE = "churn-mlops-cfn-serving-us-east-1"
STAGING_CFN_ROLE = "churn-mlops-staging-cfn-serving-us-east-1"
DEPLOYER = "churn-mlops-deployer-us-east-1"
# Resources of the serving CloudFormation role that do not carry the project's name, and why.
GENERIC_RESOURCES = {
    ":model/*": "models: CloudFormation generates their names at each replacement",
    ":endpoint-config/*": "endpoint configs: generated names, like models",
    ":scalable-target/*": "tagging the endpoint's scalable target, whose ARN is generated",
    "cdk-bootstrap/hnb659fds/version": "the bootstrap version CloudFormation resolves",
    "AWSServiceRoleForApplicationAutoScaling_SageMakerEndpoint": "autoscaling's service role",
    "Fn::ImportValue": "the project key (imported from the storage stack)",
}
# Actions the role may use on Resource "*": none supports resource-level permissions, or
# (scaling writes) a condition limits them to SageMaker endpoint variants.
STAR_ACTIONS = {
    "application-autoscaling:DescribeScalableTargets",
    "application-autoscaling:DescribeScalingPolicies",
    "application-autoscaling:DescribeScheduledActions",
    "cloudwatch:GetMetricData",
}
IAM_WRITES = ("iam:Create*", "iam:Put*", "iam:Attach*", "iam:Update*", "iam:Delete*", "iam:Tag*")


@pytest.fixture(scope="module")
def cfn_role(synthesized: Synthesized) -> list[Statement]:
    template = synthesized.templates["Deploy"]
    return role_statements(template, role_named(template, CFN_ROLE))


@pytest.fixture(scope="module")
def deployer(synthesized: Synthesized) -> list[Statement]:
    template = synthesized.templates["Deploy"]
    return role_statements(template, role_named(template, DEPLOYER))


def test_the_lambda_can_pass_only_the_stages_serving_cloudformation_roles(
    synthesized: Synthesized, deployer: list[Statement]
) -> None:
    template = synthesized.templates["Deploy"]
    passed = []
    for passing in allowing(deployer, "iam:PassRole"):
        assert passing["Condition"] == {
            "StringEquals": {"iam:PassedToService": "cloudformation.amazonaws.com"}
        }
        passed.append(passing["Resource"])
    assert sorted(passed, key=str) == sorted(
        (
            {"Fn::GetAtt": [role_named(template, name), "Arn"]}
            for name in (CFN_ROLE, STAGING_CFN_ROLE)
        ),
        key=str,
    )
    assert "cfn-exec-role" not in text(deployer)


def test_the_lambda_updates_the_serving_stack_only_as_that_role_and_without_a_template_url(
    synthesized: Synthesized, deployer: list[Statement]
) -> None:
    template = synthesized.templates["Deploy"]
    updates = {
        text(update["Resource"]): update
        for update in allowing(deployer, "cloudformation:UpdateStack")
    }
    assert len(updates) == 2
    for stack, role in (
        ("churn-mlops-serving", CFN_ROLE),
        ("churn-mlops-staging-serving", STAGING_CFN_ROLE),
    ):
        (update,) = [u for resource, u in updates.items() if f":stack/{stack}/*" in resource]
        assert update["Condition"] == {
            "StringEquals": {
                "cloudformation:RoleArn": {"Fn::GetAtt": [role_named(template, role), "Arn"]}
            },
            "Null": {"cloudformation:TemplateUrl": "true"},
        }


def test_the_serving_cloudformation_role_is_assumed_only_by_cloudformation(
    synthesized: Synthesized,
) -> None:
    template = synthesized.templates["Deploy"]
    role = template["Resources"][role_named(template, CFN_ROLE)]["Properties"]
    (trust,) = role["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Principal"] == {"Service": "cloudformation.amazonaws.com"}
    assert "ManagedPolicyArns" not in role


def test_the_serving_cloudformation_role_names_only_project_resources(
    cfn_role: list[Statement],
) -> None:
    for statement in cfn_role:
        for resource in as_list(statement["Resource"]):
            if resource == "*":
                assert set(
                    as_list(statement["Action"])
                ) <= STAR_ACTIONS or "application-autoscaling:service-namespace" in text(
                    statement["Condition"]
                ), statement
                continue
            rendered = text(resource)
            assert "churn-mlops" in rendered or any(
                marker in rendered for marker in GENERIC_RESOURCES
            ), rendered


def test_the_serving_cloudformation_role_writes_no_iam(cfn_role: list[Statement]) -> None:
    writes = {
        action
        for statement in cfn_role
        for action in as_list(statement["Action"])
        if any(fnmatchcase(action, pattern) for pattern in IAM_WRITES)
    }
    # The one exception: Application Auto Scaling's service-linked role, created on first use.
    assert writes == {"iam:CreateServiceLinkedRole"}
    (linked,) = allowing(cfn_role, "iam:CreateServiceLinkedRole")
    assert linked["Condition"] == {
        "StringEquals": {"iam:AWSServiceName": "sagemaker.application-autoscaling.amazonaws.com"}
    }


def test_the_serving_cloudformation_role_passes_only_the_serving_roles_to_sagemaker(
    cfn_role: list[Statement],
) -> None:
    (passing,) = allowing(cfn_role, "iam:PassRole")
    assert passing["Condition"] == {
        "StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}
    }
    rendered = [text(resource) for resource in as_list(passing["Resource"])]
    assert len(rendered) == 2
    assert any(":role/churn-mlops-model-us-east-1" in r for r in rendered)
    assert any(":role/churn-mlops-monitor-us-east-1" in r for r in rendered)


def test_the_serving_cloudformation_role_allows_what_the_serving_resources_handlers_call(
    synthesized: Synthesized, cfn_role: list[Statement]
) -> None:
    """The judge is CloudFormation's own resource schemas (handler permissions, via cfn-lint)."""
    assert missing_handler_permissions(synthesized.templates["Serving"], cfn_role) == []
    types = {r["Type"] for r in synthesized.templates["Serving"]["Resources"].values()}
    assert types & set(NOT_UPDATED_ON_APPROVAL) == {"AWS::IAM::Role", "AWS::IAM::Policy"}


def test_the_serving_cloudformation_role_covers_every_alarm_the_serving_stack_names(
    synthesized: Synthesized, cfn_role: list[Statement]
) -> None:
    alarms = [
        resource["Properties"]["AlarmName"]
        for resource in synthesized.templates["Serving"]["Resources"].values()
        if resource["Type"] in ("AWS::CloudWatch::Alarm", "AWS::CloudWatch::CompositeAlarm")
    ]
    assert len(alarms) > 3
    (managing,) = allowing(cfn_role, "cloudwatch:PutCompositeAlarm")
    named = {text(resource).split(":alarm:")[1].split('"')[0] for resource in managing["Resource"]}
    assert named == set(alarms)


def test_the_serving_roles_never_need_creating_on_approval(synthesized: Synthesized) -> None:
    """Every IAM resource of the serving stack exists before the first approval."""
    conditional = [
        resource["Type"]
        for resource in synthesized.templates["Serving"]["Resources"].values()
        if resource.get("Condition") and resource["Type"].startswith("AWS::IAM::")
    ]
    assert conditional == []


# ----------------------------------------------------------------- failures are kept, alarmed


def test_the_deploy_function_has_an_on_failure_destination(synthesized: Synthesized) -> None:
    deploy = synthesized.templates["Deploy"]["Resources"]
    (function_id,) = [k for k, r in deploy.items() if r["Type"] == "AWS::Lambda::Function"]
    (queue_id,) = [k for k, r in deploy.items() if r["Type"] == "AWS::SQS::Queue"]
    config = synthesized.one("Deploy", "AWS::Lambda::EventInvokeConfig")["Properties"]
    assert config["FunctionName"] == {"Ref": function_id}
    assert config["DestinationConfig"]["OnFailure"]["Destination"] == {
        "Fn::GetAtt": [queue_id, "Arn"]
    }
    # Lambda's maxima for asynchronous invocations, explicitly.
    assert (config["MaximumRetryAttempts"], config["MaximumEventAgeInSeconds"]) == (2, 21600)
    queue = deploy[queue_id]["Properties"]
    assert queue["SqsManagedSseEnabled"] is True
    assert queue["MessageRetentionPeriod"] == 14 * 24 * 3600


def test_the_deploy_function_may_send_its_failures_to_the_queue(
    synthesized: Synthesized, deployer: list[Statement]
) -> None:
    deploy = synthesized.templates["Deploy"]["Resources"]
    (queue_id,) = [k for k, r in deploy.items() if r["Type"] == "AWS::SQS::Queue"]
    (sending,) = allowing(deployer, "sqs:SendMessage")
    assert sending["Resource"] == {"Fn::GetAtt": [queue_id, "Arn"]}


def test_the_deploy_function_errors_and_kept_failures_raise_alarms(
    synthesized: Synthesized,
) -> None:
    deploy = synthesized.templates["Deploy"]["Resources"]
    (function_id,) = [k for k, r in deploy.items() if r["Type"] == "AWS::Lambda::Function"]
    (queue_id,) = [k for k, r in deploy.items() if r["Type"] == "AWS::SQS::Queue"]
    alarms = {
        (a["Properties"]["Namespace"], a["Properties"]["MetricName"]): a["Properties"]
        for a in synthesized.resources("Deploy", "AWS::CloudWatch::Alarm").values()
    }
    errors = alarms[("AWS/Lambda", "Errors")]
    assert errors["Dimensions"] == [{"Name": "FunctionName", "Value": {"Ref": function_id}}]
    assert (errors["Threshold"], errors["ComparisonOperator"]) == (
        1,
        "GreaterThanOrEqualToThreshold",
    )
    kept = alarms[("AWS/SQS", "ApproximateNumberOfMessagesVisible")]
    assert kept["Dimensions"] == [
        {"Name": "QueueName", "Value": {"Fn::GetAtt": [queue_id, "QueueName"]}}
    ]
    assert kept["Threshold"] == 1


def test_the_lambda_itself_has_no_wildcard_action(deployer: list[Statement]) -> None:
    assert all("*" not in action for action in allowed_actions(deployer))
