"""`mlops pipeline start [--wait]`: the start call against moto, the watch loop against a
stubbed SageMaker client replaying InProgress → Succeeded / Failed sequences."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
import typer
from botocore.stub import Stubber
from moto import mock_aws
from typer.testing import CliRunner

from mlops.cli.main import app
from mlops.cli.pipeline import watch_and_report
from mlops.core.errors import UserError
from sagemaker_pipelines.remote import watch_execution

PIPELINE = "churn-mlops-pipeline"
ARN = f"arn:aws:sagemaker:us-east-1:123456789012:pipeline/{PIPELINE}/execution/x1"
DEFINITION = {
    "Version": "2020-12-01",
    "Steps": [],
    "Parameters": [
        {"Name": "MaxDepth", "Type": "Integer", "DefaultValue": 5},
        {"Name": "AucThreshold", "Type": "Float", "DefaultValue": 0.75},
    ],
}


@pytest.fixture
def deployed() -> Iterator[Any]:
    with mock_aws():
        sagemaker = boto3.client("sagemaker", region_name="us-east-1")
        sagemaker.create_pipeline(
            PipelineName=PIPELINE,
            PipelineDefinition=json.dumps(DEFINITION),
            RoleArn="arn:aws:iam::123456789012:role/pipeline",
        )
        yield sagemaker


def test_start_sends_the_parameter_overrides_and_prints_the_execution_arn(deployed: Any) -> None:
    result = CliRunner().invoke(
        app, ["pipeline", "start", "--param", "MaxDepth=7", "--param", "AucThreshold=0.8"]
    )
    assert result.exit_code == 0, result.output
    arn = result.stdout.strip()
    parameters = deployed.list_pipeline_parameters_for_execution(PipelineExecutionArn=arn)
    assert {p["Name"]: p["Value"] for p in parameters["PipelineParameters"]} == {
        "MaxDepth": "7",
        "AucThreshold": "0.8",
    }


def test_start_rejects_a_parameter_the_deployed_pipeline_does_not_declare(deployed: Any) -> None:
    result = CliRunner().invoke(app, ["pipeline", "start", "--param", "Depth=7"])
    assert isinstance(result.exception, UserError)
    assert "unknown pipeline parameter 'Depth'" in str(result.exception)
    summaries = deployed.list_pipeline_executions(PipelineName=PIPELINE)
    assert summaries["PipelineExecutionSummaries"] == []


def test_start_of_an_undeployed_pipeline_says_to_deploy() -> None:
    with mock_aws():
        result = CliRunner().invoke(app, ["pipeline", "start"])
    assert isinstance(result.exception, UserError)
    assert "cannot start pipeline churn-mlops-pipeline" in str(result.exception)
    assert "is it deployed?" in str(result.exception)


def test_start_refuses_an_out_of_range_parameter_before_calling_aws(deployed: Any) -> None:
    result = CliRunner().invoke(app, ["pipeline", "start", "--param", "Eta=2"])
    assert isinstance(result.exception, UserError)
    assert "pipeline parameter Eta: setting hyperparameters.eta = 2.0" in str(result.exception)
    summaries = deployed.list_pipeline_executions(PipelineName=PIPELINE)
    assert summaries["PipelineExecutionSummaries"] == []


def test_start_refuses_a_schema_the_deployed_pipeline_does_not_train() -> None:
    preprocess = {
        "Name": "Preprocess",
        "Type": "Processing",
        "Arguments": {
            "AppSpecification": {
                "ContainerArguments": [
                    *("--target", "churn", "--problem-type", "binary"),
                    *("--positive-label", "Yes", "--drop-columns", "customer_id"),
                ]
            }
        },
    }
    with mock_aws():
        sagemaker = boto3.client("sagemaker", region_name="us-east-1")
        sagemaker.create_pipeline(
            PipelineName=PIPELINE,
            PipelineDefinition=json.dumps({**DEFINITION, "Steps": [preprocess]}),
            RoleArn="arn:aws:iam::123456789012:role/pipeline",
        )
        same = CliRunner().invoke(app, ["pipeline", "start", "--target", "churn"])
        other = CliRunner().invoke(app, ["pipeline", "start", "--problem-type", "multiclass"])
        executions = sagemaker.list_pipeline_executions(PipelineName=PIPELINE)
    assert same.exit_code == 0, same.output
    assert isinstance(other.exception, UserError)
    assert "an execution cannot change the dataset schema" in str(other.exception)
    assert len(executions["PipelineExecutionSummaries"]) == 1


# --- the watch loop against a stubbed client ------------------------------------------------

T0 = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)


def _execution(stubber: Stubber, status: str, reason: str | None = None) -> None:
    response: dict[str, Any] = {"PipelineExecutionArn": ARN, "PipelineExecutionStatus": status}
    if reason:
        response["FailureReason"] = reason
    stubber.add_response("describe_pipeline_execution", response, {"PipelineExecutionArn": ARN})


def _steps(stubber: Stubber, *steps: tuple[str, str, int | None, str | None]) -> None:
    items = []
    for name, status, seconds, reason in steps:
        item: dict[str, Any] = {"StepName": name, "StepStatus": status, "StartTime": T0}
        if seconds is not None:
            item["EndTime"] = T0 + timedelta(seconds=seconds)
        if reason:
            item["FailureReason"] = reason
        items.append(item)
    stubber.add_response(
        "list_pipeline_execution_steps",
        {"PipelineExecutionSteps": items},
        {"PipelineExecutionArn": ARN, "SortOrder": "Ascending"},
    )


@pytest.fixture
def stubbed() -> Iterator[tuple[Any, Stubber]]:
    sagemaker = boto3.client("sagemaker", region_name="us-east-1")
    with Stubber(sagemaker) as stubber:
        yield sagemaker, stubber
        stubber.assert_no_pending_responses()


def test_wait_polls_until_succeeded_and_reports_each_step_change(
    stubbed: tuple[Any, Stubber],
) -> None:
    sagemaker, stubber = stubbed
    _execution(stubber, "Executing")
    _steps(stubber, ("Preprocess", "Executing", None, None))
    _execution(stubber, "Executing")
    _steps(stubber, ("Preprocess", "Succeeded", 90, None), ("Train", "Executing", None, None))
    _execution(stubber, "Succeeded")
    _steps(stubber, ("Preprocess", "Succeeded", 90, None), ("Train", "Succeeded", 300, None))
    updates: list[tuple[str, list[str]]] = []
    sleeps: list[float] = []
    outcome = watch_execution(
        sagemaker,
        ARN,
        poll_seconds=5,
        on_update=lambda status, steps: updates.append(
            (status, [f"{s.name}:{s.status}" for s in steps])
        ),
        sleep=sleeps.append,
    )
    assert outcome.status == "Succeeded"
    assert sleeps == [5, 5]
    assert updates[-1] == ("Succeeded", ["Preprocess:Succeeded", "Train:Succeeded"])
    assert updates[1] == ("Executing", ["Preprocess:Succeeded", "Train:Executing"])
    assert outcome.steps[1].seconds == 300


def test_wait_on_failure_names_the_failing_step_and_its_reason(
    stubbed: tuple[Any, Stubber],
) -> None:
    sagemaker, stubber = stubbed
    _execution(stubber, "Executing")
    _steps(stubber, ("Preprocess", "Executing", None, None))
    _execution(stubber, "Failed", "Step failure: One or multiple steps failed.")
    _steps(stubber, ("Preprocess", "Failed", 12, "AlgorithmError: column 'churn' is missing"))
    outcome = watch_execution(sagemaker, ARN, poll_seconds=1, sleep=lambda _: None)
    assert (outcome.status, outcome.failed_step) == ("Failed", "Preprocess")
    assert outcome.failure_reason == "AlgorithmError: column 'churn' is missing"


def test_cli_wait_exits_non_zero_with_the_step_failure_reason(
    stubbed: tuple[Any, Stubber],
    capsys: pytest.CaptureFixture[str],
) -> None:
    sagemaker, stubber = stubbed
    _execution(stubber, "Executing")
    _steps(stubber, ("Evaluate", "Executing", None, None))
    _execution(stubber, "Failed")
    _steps(
        stubber,
        ("Evaluate", "Succeeded", 40, None),
        (
            "AucBelowThreshold",
            "Failed",
            0,
            "Test AUC 0.61 is below the AucThreshold parameter 0.75",
        ),
    )
    with pytest.raises(typer.Exit) as stopped:
        watch_and_report(sagemaker, ARN, poll_seconds=0.01)
    assert stopped.value.exit_code == 1
    error = capsys.readouterr().err
    assert (
        "at step AucBelowThreshold: Test AUC 0.61 is below the AucThreshold parameter 0.75" in error
    )
    assert "Executing" in error
    assert "Failed" in error
