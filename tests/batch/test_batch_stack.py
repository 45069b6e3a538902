"""The batch stack as synthesized from cdk.json's settings (the session's synthesis): the batch
pipeline with KMS and an isolated model, least-privilege roles, and the optional schedule,
new-data trigger and monitoring switched by parameters."""

from __future__ import annotations

import json
from typing import Any

from tests.infra.conftest import Synthesized

STACK = "Batch"
KEY = "KmsKeyArn"  # the Sub variable of the project key


def _definition(synthesized: Synthesized) -> tuple[dict[str, Any], dict[str, Any]]:
    pipeline = synthesized.one(STACK, "AWS::SageMaker::Pipeline")["Properties"]
    body, variables = pipeline["PipelineDefinition"]["PipelineDefinitionBody"]["Fn::Sub"]
    return json.loads(body), variables


def _statements(resource: dict[str, Any]) -> list[dict[str, Any]]:
    statements = resource["Properties"]["PolicyDocument"]["Statement"]
    return statements if isinstance(statements, list) else [statements]


def _actions(statement: dict[str, Any]) -> list[str]:
    actions = statement["Action"]
    return actions if isinstance(actions, list) else [actions]


def test_the_model_runs_isolated_and_every_transform_output_uses_the_project_key(
    synthesized: Synthesized,
) -> None:
    definition, variables = _definition(synthesized)
    model, transform = definition["Steps"]

    assert model["Arguments"]["EnableNetworkIsolation"] is True
    assert model["Arguments"]["ExecutionRoleArn"] == "${RoleArn}"
    arguments = transform["Arguments"]
    assert arguments["TransformOutput"]["KmsKeyId"] == "${KmsKeyArn}"
    assert arguments["TransformResources"]["VolumeKmsKeyId"] == "${KmsKeyArn}"
    assert arguments["DataCaptureConfig"] == {
        "DestinationS3Uri": "s3://${DataBucket}/batch/data-capture",
        "GenerateInferenceId": True,
        "KmsKeyId": "${KmsKeyArn}",
    }
    assert set(variables) == {"RoleArn", "DataBucket", KEY}


def test_the_schedule_trigger_and_monitoring_exist_only_when_switched_on(
    synthesized: Synthesized,
) -> None:
    template = synthesized.templates[STACK]
    parameters = template["Parameters"]

    assert parameters["ScheduleExpression"]["Default"] == ""
    assert parameters["TriggerOnNewData"]["Default"] == "false"
    assert parameters["BaselineStatisticsUri"]["Default"] == ""
    conditional = {
        resource["Type"]: resource.get("Condition")
        for resource in template["Resources"].values()
        if resource["Type"]
        in (
            "AWS::Scheduler::Schedule",
            "AWS::Events::Rule",
            "AWS::SageMaker::DataQualityJobDefinition",
            "AWS::SageMaker::MonitoringSchedule",
        )
    }
    assert conditional == {
        "AWS::Scheduler::Schedule": "Scheduled",
        "AWS::Events::Rule": "OnNewData",
        "AWS::SageMaker::DataQualityJobDefinition": "Monitored",
        "AWS::SageMaker::MonitoringSchedule": "Monitored",
    }


def test_new_objects_under_the_batch_input_prefix_trigger_the_starter(
    synthesized: Synthesized,
) -> None:
    rule = synthesized.one(STACK, "AWS::Events::Rule")["Properties"]
    storage = synthesized.templates["Storage"]["Resources"]
    (data,) = [
        r
        for r in storage.values()
        if r["Type"] == "AWS::S3::Bucket" and "-data-" in json.dumps(r["Properties"]["BucketName"])
    ]

    assert rule["EventPattern"]["detail-type"] == ["Object Created"]
    assert rule["EventPattern"]["detail"]["object"] == {"key": [{"prefix": "batch/input/"}]}
    assert data["Properties"]["NotificationConfiguration"] == {
        "EventBridgeConfiguration": {"EventBridgeEnabled": True}
    }


def test_the_monitor_reads_the_batch_capture_without_the_id_column(
    synthesized: Synthesized,
) -> None:
    job = synthesized.one(STACK, "AWS::SageMaker::DataQualityJobDefinition")["Properties"]
    batch_input = job["DataQualityJobInput"]["BatchTransformInput"]

    assert batch_input["DatasetFormat"] == {"Csv": {"Header": False}}
    assert batch_input["ExcludeFeaturesAttribute"] == "0"  # cdk.json: id_column customer_id
    assert json.dumps(batch_input["DataCapturedDestinationS3Uri"]).endswith(
        '/batch/data-capture"]]}'
    )
    assert job["NetworkConfig"] == {"EnableNetworkIsolation": True}
    assert job["DataQualityJobOutputConfig"]["KmsKeyId"]


def test_the_batch_role_writes_only_predictions_capture_and_reports(
    synthesized: Synthesized,
) -> None:
    policies = synthesized.resources(STACK, "AWS::IAM::Policy")
    (role_policy,) = [
        policy for logical, policy in policies.items() if logical.startswith("RoleDefaultPolicy")
    ]
    writes = [
        json.dumps(resource)
        for statement in _statements(role_policy)
        if "s3:PutObject" in _actions(statement)
        for resource in (
            statement["Resource"]
            if isinstance(statement["Resource"], list)
            else [statement["Resource"]]
        )
    ]

    assert sorted(resource.rsplit("-us-east-1/", 1)[-1] for resource in writes) == [
        'batch/data-capture/*"]]}',
        'batch/monitoring/reports/*"]]}',
        'batch/output/*"]]}',
    ]
    sagemaker = [
        json.dumps(statement["Resource"])
        for statement in _statements(role_policy)
        if "sagemaker:CreateTransformJob" in _actions(statement)
    ]
    assert len(sagemaker) == 1
    assert ":transform-job/pipelines-*" in sagemaker[0]


def test_the_starter_may_start_only_the_batch_pipeline(synthesized: Synthesized) -> None:
    policies = synthesized.resources(STACK, "AWS::IAM::Policy")
    (starter,) = [p for logical, p in policies.items() if logical.startswith("StarterRole")]
    starts = [
        statement
        for statement in _statements(starter)
        if "sagemaker:StartPipelineExecution" in _actions(statement)
    ]

    assert len(starts) == 1
    assert json.dumps(starts[0]["Resource"]).endswith(':pipeline/churn-mlops-batch"]]}')
