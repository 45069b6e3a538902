"""Serving stack: endpoint, data capture, safe deployment, autoscaling, monitoring, alarms."""

from __future__ import annotations

import json
from typing import Any

import pytest

from infra.serving.stack import (
    BASELINE_CONSTRAINTS_URI,
    BASELINE_STATISTICS_URI,
    MODEL_PACKAGE_ARN,
)
from tests.infra.conftest import Synthesized

ENDPOINT_TYPES = (
    "AWS::SageMaker::Model",
    "AWS::SageMaker::EndpointConfig",
    "AWS::SageMaker::Endpoint",
    "AWS::SageMaker::DataQualityJobDefinition",
    "AWS::SageMaker::ModelQualityJobDefinition",
    "AWS::SageMaker::ModelBiasJobDefinition",
    "AWS::SageMaker::ModelExplainabilityJobDefinition",
    "AWS::SageMaker::MonitoringSchedule",
    "AWS::CloudWatch::Alarm",
    "AWS::CloudWatch::CompositeAlarm",
    "AWS::ApplicationAutoScaling::ScalableTarget",
    "AWS::ApplicationAutoScaling::ScalingPolicy",
    "AWS::Events::Rule",
)


@pytest.fixture(scope="module")
def canary(synthesize_with: Any) -> Synthesized:
    """Two instances and retraining on drift: the non-default branches."""
    return synthesize_with(
        {
            "instances": {"endpoint_initial_count": 2, "endpoint_max_count": 4},
            "monitoring": {"retrain_on_drift": True, "capture_sampling_percentage": 25},
        }
    )


def test_without_a_model_package_only_roles_are_created(synthesized: Synthesized) -> None:
    template = synthesized.templates["Serving"]
    assert template["Parameters"][MODEL_PACKAGE_ARN]["Default"] == ""
    assert template["Conditions"]["HasModelPackage"] == {
        "Fn::Not": [{"Fn::Equals": [{"Ref": MODEL_PACKAGE_ARN}, ""]}]
    }
    follows_the_model = (
        "HasModelPackage",
        "AutoScalingApplies",
        "HasModelQualityBaseline",
        "HasBiasBaseline",
        "HasExplainabilityBaseline",
        "HasAttributionAlarm",
    )
    unconditional = {
        r["Type"]
        for r in template["Resources"].values()
        if r.get("Condition") not in follows_the_model
    }
    assert unconditional <= {"AWS::IAM::Role", "AWS::IAM::Policy", "AWS::CDK::Metadata"}
    conditional = {
        r["Type"] for r in template["Resources"].values() if r.get("Condition") in follows_the_model
    }
    assert {"AWS::SageMaker::Endpoint", "AWS::SageMaker::MonitoringSchedule"} <= conditional
    assert conditional <= set(ENDPOINT_TYPES)


def test_a_model_without_baselines_is_refused_before_any_change(synthesized: Synthesized) -> None:
    rule = synthesized.templates["Serving"]["Rules"]["ModelNeedsBaselines"]
    asserted = json.dumps(rule["Assertions"])
    assert BASELINE_STATISTICS_URI in asserted
    assert BASELINE_CONSTRAINTS_URI in asserted


def test_model_comes_from_the_package_with_network_isolation(synthesized: Synthesized) -> None:
    model = synthesized.one("Serving", "AWS::SageMaker::Model")["Properties"]
    assert model["PrimaryContainer"] == {"ModelPackageName": {"Ref": MODEL_PACKAGE_ARN}}
    assert model["EnableNetworkIsolation"] is True


def test_endpoint_config_encrypts_and_captures_traffic(synthesized: Synthesized) -> None:
    config = synthesized.one("Serving", "AWS::SageMaker::EndpointConfig")["Properties"]
    assert "Fn::ImportValue" in json.dumps(config["KmsKeyId"])
    capture = config["DataCaptureConfig"]
    assert capture["EnableCapture"] is True
    assert capture["InitialSamplingPercentage"] == 100
    destination = json.dumps(capture["DestinationS3Uri"])
    assert "s3://churn-mlops-data-" in destination
    assert "/data-capture" in destination
    assert capture["KmsKeyId"] == config["KmsKeyId"]
    assert {o["CaptureMode"] for o in capture["CaptureOptions"]} == {"Input", "Output"}
    assert capture["CaptureContentTypeHeader"]["CsvContentTypes"] == ["text/csv"]
    assert "application/json" in capture["CaptureContentTypeHeader"]["JsonContentTypes"]
    variant = config["ProductionVariants"][0]
    # The InstanceType parameter, defaulting to the stage's type (see test_stages).
    assert variant["InstanceType"] == {"Ref": "InstanceType"}
    assert (
        synthesized.templates["Serving"]["Parameters"]["InstanceType"]["Default"] == "ml.m5.large"
    )
    assert variant["InitialInstanceCount"] == 1


def test_model_role_may_write_captures_only_under_the_capture_prefix(
    synthesized: Synthesized,
) -> None:
    roles = synthesized.resources("Serving", "AWS::IAM::Role")
    model_role = next(logical for logical in roles if logical.startswith("ModelRole"))
    policy = next(
        p
        for p in synthesized.resources("Serving", "AWS::IAM::Policy").values()
        if p["Properties"]["Roles"] == [{"Ref": model_role}]
    )
    puts = [
        s
        for s in policy["Properties"]["PolicyDocument"]["Statement"]
        if "s3:PutObject" in json.dumps(s["Action"])
    ]
    assert len(puts) == 1
    assert json.dumps(puts[0]["Resource"]).endswith('-us-east-1/data-capture/*"]]}')
    assert "churn-mlops-data-" in json.dumps(puts[0]["Resource"])


def test_sampling_percentage_comes_from_settings(canary: Synthesized) -> None:
    config = canary.one("Serving", "AWS::SageMaker::EndpointConfig")["Properties"]
    assert config["DataCaptureConfig"]["InitialSamplingPercentage"] == 25


def test_endpoint_deploys_blue_green_and_rolls_back_on_alarms(synthesized: Synthesized) -> None:
    endpoint = synthesized.one("Serving", "AWS::SageMaker::Endpoint")["Properties"]
    assert endpoint["EndpointName"] == "churn-mlops-endpoint"
    policy = endpoint["DeploymentConfig"]["BlueGreenUpdatePolicy"]
    # One instance: nothing to split into a canary, so all at once (old fleet kept for baking).
    assert policy["TrafficRoutingConfiguration"] == {"Type": "ALL_AT_ONCE"}
    assert policy["TerminationWaitInSeconds"] > 0
    alarms = synthesized.resources("Serving", "AWS::CloudWatch::Alarm")
    rollback = endpoint["DeploymentConfig"]["AutoRollbackConfiguration"]["Alarms"]
    watched = {alarms[a["AlarmName"]["Ref"]]["Properties"]["MetricName"] for a in rollback}
    assert watched == {"Invocation5XXErrors", "ModelLatency"}


def test_two_instances_shift_traffic_by_canary(canary: Synthesized) -> None:
    endpoint = canary.one("Serving", "AWS::SageMaker::Endpoint")["Properties"]
    routing = endpoint["DeploymentConfig"]["BlueGreenUpdatePolicy"]["TrafficRoutingConfiguration"]
    assert routing["Type"] == "CANARY"
    assert routing["CanarySize"] == {"Type": "INSTANCE_COUNT", "Value": 1}
    assert routing["WaitIntervalInSeconds"] > 0


def test_autoscaling_tracks_invocations_per_instance(canary: Synthesized) -> None:
    target = canary.one("Serving", "AWS::ApplicationAutoScaling::ScalableTarget")
    assert target["Properties"]["ResourceId"] == "endpoint/churn-mlops-endpoint/variant/AllTraffic"
    assert (target["Properties"]["MinCapacity"], target["Properties"]["MaxCapacity"]) == (2, 4)
    assert any("ServingEndpoint" in d for d in target["DependsOn"])
    policy = canary.one("Serving", "AWS::ApplicationAutoScaling::ScalingPolicy")["Properties"]
    tracking = policy["TargetTrackingScalingPolicyConfiguration"]
    assert (
        tracking["PredefinedMetricSpecification"]["PredefinedMetricType"]
        == "SageMakerVariantInvocationsPerInstance"
    )


def test_monitoring_schedule_runs_the_versioned_job_definition(synthesized: Synthesized) -> None:
    jobs = synthesized.resources("Serving", "AWS::SageMaker::DataQualityJobDefinition")
    ((job_id, job),) = jobs.items()
    name = job["Properties"]["JobDefinitionName"]
    # The name embeds the model package version, so a new approval replaces the definition.
    assert name["Fn::Join"][1][0] == "churn-mlops-dq-v"
    assert "Fn::Select" in json.dumps(name)
    assert MODEL_PACKAGE_ARN in json.dumps(name)
    (schedule,) = [
        s
        for s in synthesized.resources("Serving", "AWS::SageMaker::MonitoringSchedule").values()
        if s["Properties"]["MonitoringScheduleConfig"]["MonitoringType"] == "DataQuality"
    ]
    config = schedule["Properties"]["MonitoringScheduleConfig"]
    assert config["MonitoringJobDefinitionName"] == name
    assert config["MonitoringType"] == "DataQuality"
    assert config["ScheduleConfig"]["ScheduleExpression"] == "cron(0 * ? * * *)"
    assert job_id in schedule["DependsOn"]
    baseline = job["Properties"]["DataQualityBaselineConfig"]
    assert baseline["StatisticsResource"]["S3Uri"] == {"Ref": BASELINE_STATISTICS_URI}
    assert baseline["ConstraintsResource"]["S3Uri"] == {"Ref": BASELINE_CONSTRAINTS_URI}
    app = job["Properties"]["DataQualityAppSpecification"]
    assert app["ImageUri"].endswith("/sagemaker-model-monitor-analyzer")
    assert job["Properties"]["JobResources"]["ClusterConfig"]["VolumeKmsKeyId"]


def test_each_feature_has_a_drift_alarm_feeding_one_composite(synthesized: Synthesized) -> None:
    alarms = synthesized.resources("Serving", "AWS::CloudWatch::Alarm").values()
    drift = [
        a["Properties"]
        for a in alarms
        if str(a["Properties"].get("MetricName", "")).startswith("feature_baseline_drift_")
    ]
    assert {a["MetricName"] for a in drift} >= {
        "feature_baseline_drift_tenure_months",
        "feature_baseline_drift_contract",
    }
    assert "feature_baseline_drift_churn" not in {a["MetricName"] for a in drift}
    for alarm in drift:
        assert alarm["Namespace"] == "aws/sagemaker/Endpoints/data-metrics"
        assert {d["Name"]: d["Value"] for d in alarm["Dimensions"]} == {
            "Endpoint": "churn-mlops-endpoint",
            "MonitoringSchedule": "churn-mlops-data-quality",
        }
        assert alarm["Threshold"] == 0.1
    composite = synthesized.one("Serving", "AWS::CloudWatch::CompositeAlarm")["Properties"]
    assert composite["AlarmName"] == "churn-mlops-data-drift"
    assert json.dumps(composite["AlarmRule"]).count("ALARM(") == len(drift)


def test_retraining_on_drift_is_off_by_default(synthesized: Synthesized) -> None:
    assert not synthesized.resources("Serving", "AWS::Events::Rule")


def test_drift_alarm_starts_the_pipeline_when_enabled(canary: Synthesized) -> None:
    rule = canary.one("Serving", "AWS::Events::Rule")["Properties"]
    pattern = rule["EventPattern"]
    assert pattern["source"] == ["aws.cloudwatch"]
    assert pattern["detail"] == {"state": {"value": ["ALARM"]}}
    assert ":pipeline/churn-mlops-pipeline" in json.dumps(rule["Targets"][0]["Arn"])
    policies = canary.resources("Serving", "AWS::IAM::Policy").values()
    starts = [
        s
        for p in policies
        for s in p["Properties"]["PolicyDocument"]["Statement"]
        if s["Action"] == "sagemaker:StartPipelineExecution"
    ]
    assert len(starts) == 1
    assert ":pipeline/churn-mlops-pipeline" in json.dumps(starts[0]["Resource"])


def test_with_retraining_an_approval_can_create_the_rule_but_no_role(canary: Synthesized) -> None:
    from tests.security.policies import (
        allowing,
        missing_handler_permissions,
        role_named,
        role_statements,
        service_trust_problems,
        text,
    )

    serving = canary.templates["Serving"]["Resources"]
    conditional = {r["Type"] for r in serving.values() if r.get("Condition") == "HasModelPackage"}
    assert "AWS::Events::Rule" in conditional
    assert not {t for t in conditional if t.startswith("AWS::IAM::")}
    deploy = canary.templates["Deploy"]
    statements = role_statements(deploy, role_named(deploy, "churn-mlops-cfn-serving-us-east-1"))
    assert missing_handler_permissions(canary.templates["Serving"], statements) == []
    to_events = [
        s
        for s in allowing(statements, "iam:PassRole")
        if s["Condition"]["StringEquals"]["iam:PassedToService"] == "events.amazonaws.com"
    ]
    (passing,) = to_events
    assert ":role/churn-mlops-retrain-us-east-1" in text(passing["Resource"])
    assert service_trust_problems(canary.templates) == []
