"""Model-quality, bias and attribution drift monitoring in the serving stack (contracts §9,
"On AWS").

Reads the session's synthesized templates (no synth of its own). Job definitions are checked
against botocore's ``Create*JobDefinition`` input shapes, with the template's CloudFormation
expressions resolved the way CloudFormation would for a deployed version.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from infra.deploy.runtime.handler import served_model_name
from infra.serving.model_monitors import (
    bias_attributes,
    explainability_attributes,
    model_quality_attributes,
    time_offsets,
)
from infra.serving.stack import (
    ATTRIBUTION_ALARM_FEATURE,
    ATTRIBUTION_ALARM_LABEL,
    ATTRIBUTION_ALARM_THRESHOLD,
    BASELINE_CONSTRAINTS_URI,
    BASELINE_STATISTICS_URI,
    BIAS_CONFIG_URI,
    BIAS_CONSTRAINTS_URI,
    EXPLAINABILITY_CONFIG_URI,
    EXPLAINABILITY_CONSTRAINTS_URI,
    EXPLAINABILITY_MODEL_PREFIX,
    MODEL_PACKAGE_ARN,
    MODEL_QUALITY_CONSTRAINTS_URI,
)
from mlops.core.names import ProjectNames
from tests.infra.conftest import Synthesized
from tests.security.policies import as_list

ACCOUNT = "123456789012"
PACKAGE = f"arn:aws:sagemaker:us-east-1:{ACCOUNT}:model-package/churn-mlops-models/7"
KEY = f"arn:aws:kms:us-east-1:{ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab"
EXECUTION = "s3://churn-mlops-artifacts/churn-mlops-pipeline/exec-7"
EVERY_BASELINE = {
    MODEL_PACKAGE_ARN: PACKAGE,
    BASELINE_STATISTICS_URI: f"{EXECUTION}/data-quality/statistics.json",
    BASELINE_CONSTRAINTS_URI: f"{EXECUTION}/data-quality/constraints.json",
    MODEL_QUALITY_CONSTRAINTS_URI: f"{EXECUTION}/model-quality/constraints.json",
    BIAS_CONFIG_URI: f"{EXECUTION}/bias/analysis_config.json",
    BIAS_CONSTRAINTS_URI: f"{EXECUTION}/bias/constraints.json",
    # What the deploy Lambda sets: the stage's config (baseline + predictor) and the alarm's.
    EXPLAINABILITY_CONFIG_URI: (
        "s3://churn-mlops-artifacts/churn-mlops-pipeline/monitor-configs/prod/"
        "churn-mlops-m1a2b3c-v7/analysis_config.json"
    ),
    EXPLAINABILITY_CONSTRAINTS_URI: f"{EXECUTION}/explainability/analysis.json",
    ATTRIBUTION_ALARM_FEATURE: "tenure_months",
    ATTRIBUTION_ALARM_LABEL: "label0",
    ATTRIBUTION_ALARM_THRESHOLD: "0.25",
}
ONLY_DATA_QUALITY = {
    **EVERY_BASELINE,
    MODEL_QUALITY_CONSTRAINTS_URI: "",
    BIAS_CONFIG_URI: "",
    BIAS_CONSTRAINTS_URI: "",
    EXPLAINABILITY_CONFIG_URI: "",
    EXPLAINABILITY_CONSTRAINTS_URI: "",
    EXPLAINABILITY_MODEL_PREFIX: "",
    ATTRIBUTION_ALARM_FEATURE: "",
    ATTRIBUTION_ALARM_LABEL: "",
    ATTRIBUTION_ALARM_THRESHOLD: "0",
}
JOB_DEFINITIONS = {
    "AWS::SageMaker::DataQualityJobDefinition": "CreateDataQualityJobDefinition",
    "AWS::SageMaker::ModelQualityJobDefinition": "CreateModelQualityJobDefinition",
    "AWS::SageMaker::ModelBiasJobDefinition": "CreateModelBiasJobDefinition",
    "AWS::SageMaker::ModelExplainabilityJobDefinition": "CreateModelExplainabilityJobDefinition",
}
MONITOR_TYPES = (
    "AWS::SageMaker::ModelQualityJobDefinition",
    "AWS::SageMaker::ModelBiasJobDefinition",
    "AWS::SageMaker::ModelExplainabilityJobDefinition",
)
MONITOR_CONDITIONS = (
    "HasModelQualityBaseline",
    "HasBiasBaseline",
    "HasExplainabilityBaseline",
    "HasAttributionAlarm",
)


def resolve(value: Any, parameters: dict[str, str]) -> Any:
    """Evaluate the intrinsic functions the serving template uses, as CloudFormation would."""
    if isinstance(value, list):
        return [resolve(item, parameters) for item in value]
    if not isinstance(value, dict):
        return value
    if len(value) == 1:
        ((function, argument),) = value.items()
        if function == "Ref":
            return {
                "AWS::AccountId": ACCOUNT,
                "AWS::Region": "us-east-1",
                "AWS::Partition": "aws",
            }.get(argument, parameters.get(argument))
        if function == "Fn::Join":
            separator, items = argument
            return separator.join(str(resolve(item, parameters)) for item in items)
        if function == "Fn::Select":
            index, items = argument
            return resolve(items, parameters)[index]
        if function == "Fn::Split":
            separator, text = argument
            return str(resolve(text, parameters)).split(separator)
        if function == "Fn::GetAtt":
            return f"arn:aws:iam::{ACCOUNT}:role/{argument[0]}"
        if function == "Fn::ImportValue":
            return KEY
    return {key: resolve(item, parameters) for key, item in value.items()}


def condition_holds(template: dict[str, Any], name: str, parameters: dict[str, str]) -> bool:
    def evaluate(expression: Any) -> Any:
        ((function, argument),) = expression.items()
        if function == "Condition":
            return evaluate(template["Conditions"][argument])
        if function == "Fn::And":
            return all(evaluate(item) for item in argument)
        if function == "Fn::Not":
            return not evaluate(argument[0])
        if function == "Fn::Equals":
            return resolve(argument[0], parameters) == resolve(argument[1], parameters)
        raise AssertionError(f"unexpected condition function {function}")

    return bool(evaluate(template["Conditions"][name]))


def created(synthesized: Synthesized, parameters: dict[str, str]) -> set[str]:
    """Resource types of the serving stack CloudFormation creates with these parameters."""
    template = synthesized.templates["Serving"]
    return {
        resource["Type"]
        for resource in template["Resources"].values()
        if "Condition" not in resource
        or condition_holds(template, resource["Condition"], parameters)
    }


@pytest.fixture(scope="module")
def serving(synthesized: Synthesized) -> dict[str, Any]:
    return dict(synthesized.templates["Serving"]["Resources"])


def served_model_prefix(synthesized: Synthesized) -> str:
    """The template's ``ServedModelPrefix`` output (what the deploy Lambda reads)."""
    return str(synthesized.templates["Serving"]["Outputs"]["ServedModelPrefix"]["Value"])


@pytest.fixture(scope="module")
def every_baseline(synthesized: Synthesized) -> dict[str, str]:
    """Every baseline set, the explainability config written for this template's models."""
    return {**EVERY_BASELINE, EXPLAINABILITY_MODEL_PREFIX: served_model_prefix(synthesized)}


def _by_condition(serving: dict[str, Any], condition: str) -> dict[str, dict[str, Any]]:
    return {
        resource["Type"]: resource["Properties"]
        for resource in serving.values()
        if resource.get("Condition") == condition
    }


def test_a_version_with_every_baseline_gets_every_monitor(
    synthesized: Synthesized, every_baseline: dict[str, str]
) -> None:
    types = created(synthesized, every_baseline)
    assert set(MONITOR_TYPES) <= types


def test_a_version_with_only_data_quality_gets_no_other_monitor(
    synthesized: Synthesized, every_baseline: dict[str, str]
) -> None:
    with_every = created(synthesized, every_baseline)
    with_data_quality = created(synthesized, ONLY_DATA_QUALITY)
    assert not set(MONITOR_TYPES) & with_data_quality
    assert "AWS::SageMaker::DataQualityJobDefinition" in with_data_quality
    # Exactly the three schedules and three alarms of those monitors go with them.
    serving = synthesized.templates["Serving"]["Resources"].values()
    conditional = [r["Type"] for r in serving if r.get("Condition") in MONITOR_CONDITIONS]
    assert sorted(conditional) == sorted(
        [
            *MONITOR_TYPES,
            *["AWS::SageMaker::MonitoringSchedule"] * 3,
            *["AWS::CloudWatch::Alarm"] * 3,
        ]
    )
    assert with_every - with_data_quality == set(MONITOR_TYPES)


def test_without_a_model_no_monitor_exists_whatever_the_baselines(
    synthesized: Synthesized, every_baseline: dict[str, str]
) -> None:
    types = created(synthesized, {**every_baseline, MODEL_PACKAGE_ARN: ""})
    assert not {t for t in types if t.startswith("AWS::SageMaker::")}


@pytest.mark.parametrize("resource_type", sorted(JOB_DEFINITIONS))
def test_job_definitions_are_requests_sagemaker_accepts(
    serving: dict[str, Any], resource_type: str
) -> None:
    from mlops.local_runtime.request_contract import request_findings

    (properties,) = [r["Properties"] for r in serving.values() if r["Type"] == resource_type]
    request = resolve(properties, EVERY_BASELINE)
    assert request_findings("sagemaker", JOB_DEFINITIONS[resource_type], request) == []


def test_model_quality_joins_captured_probabilities_with_ground_truth(
    serving: dict[str, Any],
) -> None:
    job = _by_condition(serving, "HasModelQualityBaseline")[
        "AWS::SageMaker::ModelQualityJobDefinition"
    ]
    request = resolve(job, EVERY_BASELINE)
    assert request["JobDefinitionName"] == "churn-mlops-mq-v7"
    app = request["ModelQualityAppSpecification"]
    assert app["ImageUri"].endswith("/sagemaker-model-monitor-analyzer")
    assert app["ProblemType"] == "BinaryClassification"
    assert app["Environment"] == {"publish_cloudwatch_metrics": "Enabled"}
    assert request["ModelQualityBaselineConfig"] == {
        "ConstraintsResource": {"S3Uri": EVERY_BASELINE[MODEL_QUALITY_CONSTRAINTS_URI]}
    }
    job_input = request["ModelQualityJobInput"]
    assert job_input["EndpointInput"] == {
        "EndpointName": "churn-mlops-endpoint",
        "LocalPath": "/opt/ml/processing/input/endpoint",
        "S3InputMode": "File",
        "S3DataDistributionType": "FullyReplicated",
        "ProbabilityAttribute": "0",
        "ProbabilityThresholdAttribute": 0.5,
        "StartTimeOffset": "-PT2H",
        "EndTimeOffset": "-PT1H",
    }
    assert job_input["GroundTruthS3Input"] == {
        "S3Uri": f"s3://churn-mlops-data-{ACCOUNT}-us-east-1/ground-truth/churn-mlops-endpoint"
    }
    output = request["ModelQualityJobOutputConfig"]
    assert output["MonitoringOutputs"][0]["S3Output"]["S3Uri"].endswith(
        "/monitoring/reports/model-quality"
    )


def test_bias_drift_runs_clarify_on_the_predicted_label_with_the_baseline_config(
    serving: dict[str, Any],
) -> None:
    job = _by_condition(serving, "HasBiasBaseline")["AWS::SageMaker::ModelBiasJobDefinition"]
    request = resolve(job, EVERY_BASELINE)
    assert request["JobDefinitionName"] == "churn-mlops-bias-v7"
    assert request["ModelBiasAppSpecification"] == {
        "ImageUri": "205585389593.dkr.ecr.us-east-1.amazonaws.com/sagemaker-clarify-processing:1.0",
        "ConfigUri": EVERY_BASELINE[BIAS_CONFIG_URI],
    }
    assert request["ModelBiasBaselineConfig"] == {
        "ConstraintsResource": {"S3Uri": EVERY_BASELINE[BIAS_CONSTRAINTS_URI]}
    }
    endpoint_input = request["ModelBiasJobInput"]["EndpointInput"]
    assert endpoint_input["InferenceAttribute"] == "1"  # binary answers: probability,label
    assert (endpoint_input["StartTimeOffset"], endpoint_input["EndTimeOffset"]) == (
        "-PT2H",
        "-PT1H",
    )
    assert request["ModelBiasJobInput"]["GroundTruthS3Input"]["S3Uri"].endswith(
        "/ground-truth/churn-mlops-endpoint"
    )


@pytest.mark.parametrize(
    ("condition", "isolated"),
    [
        ("HasModelQualityBaseline", True),
        ("HasBiasBaseline", True),
        # Clarify calls a shadow endpoint of the served model to compute Kernel SHAP.
        ("HasExplainabilityBaseline", False),
    ],
)
def test_monitoring_jobs_run_encrypted_as_the_monitor_role_isolated_unless_calling_a_model(
    serving: dict[str, Any], condition: str, isolated: bool
) -> None:
    (job,) = [
        resource
        for resource in serving.values()
        if resource.get("Condition") == condition and resource["Type"] in MONITOR_TYPES
    ]
    properties = job["Properties"]
    assert properties["NetworkConfig"]["EnableNetworkIsolation"] is isolated
    cluster = properties["JobResources"]["ClusterConfig"]
    assert cluster["InstanceType"] == "ml.m5.large"
    assert "Fn::ImportValue" in json.dumps(cluster["VolumeKmsKeyId"])
    (output,) = [v for k, v in properties.items() if k.endswith("JobOutputConfig")]
    assert output["KmsKeyId"] == cluster["VolumeKmsKeyId"]
    monitor_role = next(
        logical
        for logical, r in serving.items()
        if r["Type"] == "AWS::IAM::Role"
        and r["Properties"]["RoleName"] == "churn-mlops-monitor-us-east-1"
    )
    assert properties["RoleArn"] == {"Fn::GetAtt": [monitor_role, "Arn"]}
    # SageMaker checks the endpoint and the role's permissions when the definition is created.
    assert any(d.startswith("ServingEndpoint") for d in job["DependsOn"])
    assert any(d.startswith("MonitorRoleDefaultPolicy") for d in job["DependsOn"])


@pytest.mark.parametrize(
    ("condition", "name", "monitoring_type", "prefix"),
    [
        ("HasModelQualityBaseline", "churn-mlops-model-quality", "ModelQuality", "mq"),
        ("HasBiasBaseline", "churn-mlops-bias-drift", "ModelBias", "bias"),
        (
            "HasExplainabilityBaseline",
            "churn-mlops-attribution-drift",
            "ModelExplainability",
            "explain",
        ),
    ],
)
def test_each_monitor_has_its_schedule(
    serving: dict[str, Any], condition: str, name: str, monitoring_type: str, prefix: str
) -> None:
    schedule = _by_condition(serving, condition)["AWS::SageMaker::MonitoringSchedule"]
    request = resolve(schedule, EVERY_BASELINE)
    assert request["MonitoringScheduleName"] == name
    config = request["MonitoringScheduleConfig"]
    assert config["MonitoringType"] == monitoring_type
    assert config["MonitoringJobDefinitionName"] == f"churn-mlops-{prefix}-v7"
    assert config["ScheduleConfig"] == {"ScheduleExpression": "cron(0 * ? * * *)"}


def test_model_quality_alarm_fires_when_the_gate_metric_falls_below_the_gate(
    serving: dict[str, Any],
) -> None:
    alarm = _by_condition(serving, "HasModelQualityBaseline")["AWS::CloudWatch::Alarm"]
    assert alarm["AlarmName"] == "churn-mlops-model-quality"
    assert (alarm["Namespace"], alarm["MetricName"]) == (
        "aws/sagemaker/Endpoints/model-metrics",
        "auc",
    )
    assert {d["Name"]: d["Value"] for d in alarm["Dimensions"]} == {
        "Endpoint": "churn-mlops-endpoint",
        "MonitoringSchedule": "churn-mlops-model-quality",
    }
    assert (alarm["ComparisonOperator"], alarm["Threshold"]) == ("LessThanThreshold", 0.75)


def test_bias_alarm_watches_the_first_facets_absolute_dppl(serving: dict[str, Any]) -> None:
    alarm = _by_condition(serving, "HasBiasBaseline")["AWS::CloudWatch::Alarm"]
    assert alarm["AlarmName"] == "churn-mlops-bias-drift"
    (expression, metric) = sorted(alarm["Metrics"], key=lambda m: "MetricStat" in m)
    assert expression["Expression"] == "ABS(dppl)"
    assert expression["ReturnData"] is True
    stat = metric["MetricStat"]["Metric"]
    assert (stat["Namespace"], stat["MetricName"]) == (
        "aws/sagemaker/Endpoints/bias-metrics",
        "bias_metric_DPPL",
    )
    assert {d["Name"]: d["Value"] for d in stat["Dimensions"]} == {
        "Endpoint": "churn-mlops-endpoint",
        "MonitoringSchedule": "churn-mlops-bias-drift",
        "BiasStage": "Post-training",
        "Label": "churn",
        "LabelValue": "Yes",
        "Facet": "senior_citizen",
        "FacetValue": "1",
    }
    assert alarm["ComparisonOperator"] == "GreaterThanThreshold"


def test_the_monitor_role_reads_this_endpoints_ground_truth_only(
    serving: dict[str, Any],
) -> None:
    policies = [
        r["Properties"]["PolicyDocument"]["Statement"]
        for logical, r in serving.items()
        if r["Type"] == "AWS::IAM::Policy" and logical.startswith("MonitorRoleDefaultPolicy")
    ]
    (statements,) = policies
    readable = [
        resource
        for statement in statements
        if "s3:GetObject" in statement["Action"]
        for resource in resolve(as_list(statement["Resource"]), {})
    ]
    assert [r for r in readable if "ground-truth" in r] == [
        f"arn:aws:s3:::churn-mlops-data-{ACCOUNT}-us-east-1/ground-truth/churn-mlops-endpoint/*"
    ]
    pulls = next(s for s in statements if s.get("Sid") == "PullItsImages")
    assert "sagemaker-clarify-processing" in json.dumps(pulls["Resource"])
    assert not [
        s for s in statements if "s3:PutObject" in s["Action"] and "ground-truth" in json.dumps(s)
    ]


@pytest.mark.parametrize(
    ("problem_type", "quality", "bias", "explained"),
    [
        (
            "binary",
            {"probability_attribute": "0", "probability_threshold_attribute": 0.3},
            {"inference_attribute": "1"},
            "0",  # the probability
        ),
        (
            "multiclass",
            {"inference_attribute": "0"},
            {"inference_attribute": "0"},
            "probabilities.*",
        ),
        ("regression", {"inference_attribute": "0"}, {"inference_attribute": "0"}, "0"),
    ],
)
def test_monitors_read_the_prediction_where_each_problem_types_answer_has_it(
    problem_type: Any, quality: dict[str, Any], bias: dict[str, Any], explained: str
) -> None:
    assert model_quality_attributes(problem_type, 0.3) == quality
    assert bias_attributes(problem_type) == bias
    assert explainability_attributes(problem_type) == {"inference_attribute": explained}


def test_a_longer_ground_truth_delay_analyses_an_older_capture_hour() -> None:
    assert time_offsets(0) == ("-PT1H", "-PT0H")
    assert time_offsets(24) == ("-PT25H", "-PT24H")


# ------------------------------------------------------------------- feature attribution drift


def test_explainability_runs_clarify_with_the_stages_config_on_the_last_capture_hour(
    serving: dict[str, Any],
) -> None:
    job = _by_condition(serving, "HasExplainabilityBaseline")[
        "AWS::SageMaker::ModelExplainabilityJobDefinition"
    ]
    request = resolve(job, EVERY_BASELINE)
    assert request["JobDefinitionName"] == "churn-mlops-explain-v7"
    assert request["ModelExplainabilityAppSpecification"] == {
        "ImageUri": "205585389593.dkr.ecr.us-east-1.amazonaws.com/sagemaker-clarify-processing:1.0",
        "ConfigUri": EVERY_BASELINE[EXPLAINABILITY_CONFIG_URI],
    }
    assert request["ModelExplainabilityBaselineConfig"] == {
        "ConstraintsResource": {"S3Uri": EVERY_BASELINE[EXPLAINABILITY_CONSTRAINTS_URI]}
    }
    # No ground truth to wait for: no offsets, the schedule's own hour.
    assert request["ModelExplainabilityJobInput"] == {
        "EndpointInput": {
            "EndpointName": "churn-mlops-endpoint",
            "LocalPath": "/opt/ml/processing/input/endpoint",
            "S3InputMode": "File",
            "S3DataDistributionType": "FullyReplicated",
            "InferenceAttribute": "0",
        }
    }
    output = request["ModelExplainabilityJobOutputConfig"]
    assert output["MonitoringOutputs"][0]["S3Output"]["S3Uri"].endswith(
        "/monitoring/reports/explainability"
    )


def test_the_job_definition_is_created_after_the_model_its_config_names(
    serving: dict[str, Any],
) -> None:
    (logical,) = [
        logical
        for logical, r in serving.items()
        if r["Type"] == "AWS::SageMaker::ModelExplainabilityJobDefinition"
    ]
    (model,) = [logical for logical, r in serving.items() if r["Type"] == "AWS::SageMaker::Model"]
    assert model in serving[logical]["DependsOn"]


def test_the_served_model_is_named_as_the_deploy_lambda_names_it(
    synthesized: Synthesized, serving: dict[str, Any]
) -> None:
    (model,) = [r for r in serving.values() if r["Type"] == "AWS::SageMaker::Model"]
    name = resolve(model["Properties"]["ModelName"], EVERY_BASELINE)
    assert re.fullmatch(r"churn-mlops-m[0-9a-f]{6}-v7", name)
    assert name == served_model_name(served_model_prefix(synthesized), PACKAGE)


def test_a_change_to_the_models_own_properties_renames_it() -> None:
    """So CloudFormation can replace the model of the version being served."""
    import aws_cdk as cdk
    from aws_cdk import aws_sagemaker as sagemaker

    from infra.serving.endpoint import model_revision

    stack = cdk.Stack(cdk.App(), "Revisions")

    def model(construct_id: str, *, isolated: bool) -> str:
        return model_revision(
            sagemaker.CfnModel(
                stack,
                construct_id,
                execution_role_arn="arn:aws:iam::123456789012:role/model",
                primary_container=sagemaker.CfnModel.ContainerDefinitionProperty(
                    model_package_name=PACKAGE
                ),
                enable_network_isolation=isolated,
            )
        )

    assert model("A", isolated=True) == model("B", isolated=True)
    assert model("C", isolated=False) != model("D", isolated=True)


def test_the_longest_stage_and_version_still_make_a_valid_model_name() -> None:
    from mlops.local_runtime.request_contract import input_shape

    shape = input_shape("sagemaker", "CreateModel").members["ModelName"]
    longest = ProjectNames(f"{'p' * 32}-{'s' * 10}").served_model_prefix("f" * 6)
    package = PACKAGE.replace("/7", "/" + "9" * 10)
    name = served_model_name(longest, package)
    assert len(name) <= shape.metadata["max"] == 63
    assert re.fullmatch(shape.metadata["pattern"], name)


def test_a_config_written_for_another_templates_models_creates_no_explainability_monitor(
    synthesized: Synthesized, every_baseline: dict[str, str]
) -> None:
    """After ``cdk deploy`` renamed the model, the old config would name a deleted model."""
    stale = {**every_baseline, EXPLAINABILITY_MODEL_PREFIX: "churn-mlops-m000000-v"}
    assert "AWS::SageMaker::ModelExplainabilityJobDefinition" not in created(synthesized, stale)
    assert "AWS::SageMaker::ModelExplainabilityJobDefinition" in created(
        synthesized, every_baseline
    )


def test_without_an_explainability_baseline_no_attribution_monitor_exists(
    synthesized: Synthesized, every_baseline: dict[str, str]
) -> None:
    without = {**every_baseline, EXPLAINABILITY_CONFIG_URI: "", EXPLAINABILITY_CONSTRAINTS_URI: ""}
    types = created(synthesized, without)
    assert "AWS::SageMaker::ModelExplainabilityJobDefinition" not in types
    template = synthesized.templates["Serving"]
    for condition in ("HasExplainabilityBaseline", "HasAttributionAlarm"):
        assert not condition_holds(template, condition, without)


def test_a_baseline_without_attributions_gets_the_monitor_but_no_alarm(
    synthesized: Synthesized, every_baseline: dict[str, str]
) -> None:
    template = synthesized.templates["Serving"]
    unnamed = {**every_baseline, ATTRIBUTION_ALARM_FEATURE: ""}
    assert condition_holds(template, "HasExplainabilityBaseline", unnamed)
    assert not condition_holds(template, "HasAttributionAlarm", unnamed)
    assert condition_holds(template, "HasAttributionAlarm", every_baseline)


def test_attribution_alarm_watches_the_baselines_top_feature_as_clarify_publishes_it(
    serving: dict[str, Any],
) -> None:
    alarm = resolve(
        _by_condition(serving, "HasAttributionAlarm")["AWS::CloudWatch::Alarm"], EVERY_BASELINE
    )
    assert alarm["AlarmName"] == "churn-mlops-attribution-drift"
    assert (alarm["Namespace"], alarm["MetricName"]) == (
        "aws/sagemaker/Endpoints/explainability-metrics",
        "feature_tenure_months",
    )
    assert {d["Name"]: d["Value"] for d in alarm["Dimensions"]} == {
        "Endpoint": "churn-mlops-endpoint",
        "MonitoringSchedule": "churn-mlops-attribution-drift",
        "ExplainabilityMethod": "KernelShap",
        "Label": "label0",
        "ValueType": "GlobalShapValues",
    }
    assert (alarm["ComparisonOperator"], alarm["Threshold"]) == ("LessThanThreshold", "0.25")


def test_the_monitor_role_manages_only_clarifys_shadow_endpoints_of_the_served_models(
    serving: dict[str, Any],
) -> None:
    (statements,) = [
        r["Properties"]["PolicyDocument"]["Statement"]
        for logical, r in serving.items()
        if r["Type"] == "AWS::IAM::Policy" and logical.startswith("MonitorRoleDefaultPolicy")
    ]

    def resources(action: str) -> list[str]:
        return sorted(
            resource
            for statement in statements
            if action in as_list(statement["Action"])
            for resource in resolve(as_list(statement["Resource"]), {})
        )

    arn = f"arn:aws:sagemaker:us-east-1:{ACCOUNT}"
    for action in ("CreateEndpoint", "DeleteEndpoint", "InvokeEndpoint", "AddTags"):
        assert f"{arn}:endpoint/sm-clarify-*" in resources(f"sagemaker:{action}")
    for action in ("CreateEndpointConfig", "DeleteEndpointConfig"):
        assert resources(f"sagemaker:{action}") == [f"{arn}:endpoint-config/sm-clarify-*"]
    assert resources("sagemaker:InvokeEndpoint") == [f"{arn}:endpoint/sm-clarify-*"]
    assert resources("sagemaker:DescribeModel") == [f"{arn}:model/churn-mlops-m*-v*"]
    assert not resources("sagemaker:CreateModel")
