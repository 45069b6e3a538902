"""Start and watch executions of the deployed pipeline on AWS (plain boto3, no SDK import).

``mlops pipeline start`` needs seconds, not the 10-second SDK import, so this talks to the
SageMaker API directly. Parameter overrides are checked against the *deployed* definition's
``Parameters`` before anything starts, so a typo fails with the list of valid names instead of
a ValidationException after an execution was created.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sagemaker_pipelines.parameters import resolve_parameters
from sagemaker_pipelines.steps.names import PREPROCESS

TERMINAL_STATUSES = frozenset({"Succeeded", "Failed", "Stopped"})


@dataclass(frozen=True)
class StepStatus:
    """One row of ``list_pipeline_execution_steps`` as shown to the user."""

    name: str
    status: str
    seconds: float | None
    failure_reason: str | None = None


@dataclass
class ExecutionOutcome:
    """The final state of a watched execution."""

    arn: str
    status: str
    steps: list[StepStatus] = field(default_factory=list)
    failed_step: str | None = None
    failure_reason: str | None = None


def deployed_definition(sagemaker: Any, pipeline_name: str) -> dict[str, Any]:
    """The deployed pipeline's definition document."""
    described = sagemaker.describe_pipeline(PipelineName=pipeline_name)
    document = json.loads(described["PipelineDefinition"])
    return document if isinstance(document, dict) else {}


def preprocess_arguments(definition: dict[str, Any]) -> list[str] | None:
    """The Preprocess step's container arguments: the dataset schema the pipeline trains."""
    for step in definition.get("Steps", []):
        if step.get("Name") == PREPROCESS:
            arguments = step.get("Arguments", {}).get("AppSpecification", {})
            return [str(item) for item in arguments.get("ContainerArguments", [])]
    return None


def start_execution(
    sagemaker: Any,
    pipeline_name: str,
    overrides: dict[str, str],
    *,
    definition: dict[str, Any] | None = None,
) -> str:
    """Validate ``overrides`` against the deployed definition, start, return the execution ARN."""
    document = (
        definition if definition is not None else deployed_definition(sagemaker, pipeline_name)
    )
    resolve_parameters(document.get("Parameters", []), overrides)  # ParameterError names it
    request: dict[str, Any] = {"PipelineName": pipeline_name}
    if overrides:
        request["PipelineParameters"] = [
            {"Name": name, "Value": str(value)} for name, value in sorted(overrides.items())
        ]
    response = sagemaker.start_pipeline_execution(**request)
    return str(response["PipelineExecutionArn"])


def watch_execution(
    sagemaker: Any,
    execution_arn: str,
    *,
    poll_seconds: float = 15.0,
    on_update: Callable[[str, list[StepStatus]], None] | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> ExecutionOutcome:
    """Poll until the execution ends; ``on_update`` gets the status and steps on each change."""
    last: tuple[str, tuple[StepStatus, ...]] | None = None
    while True:
        execution = sagemaker.describe_pipeline_execution(PipelineExecutionArn=execution_arn)
        status = str(execution["PipelineExecutionStatus"])
        steps = list_steps(sagemaker, execution_arn)
        snapshot = (status, tuple(steps))
        if on_update is not None and snapshot != last:
            on_update(status, steps)
        last = snapshot
        if status in TERMINAL_STATUSES:
            outcome = ExecutionOutcome(execution_arn, status, steps)
            if status != "Succeeded":
                failed = next((step for step in steps if step.status == "Failed"), None)
                outcome.failed_step = failed.name if failed else None
                outcome.failure_reason = (
                    (failed.failure_reason if failed and failed.failure_reason else None)
                    or execution.get("FailureReason")
                    or f"the execution ended {status}"
                )
            return outcome
        sleep(poll_seconds)


def list_steps(sagemaker: Any, execution_arn: str) -> list[StepStatus]:
    """Every step of the execution, oldest first (all pages)."""
    steps: list[StepStatus] = []
    request: dict[str, Any] = {"PipelineExecutionArn": execution_arn, "SortOrder": "Ascending"}
    while True:
        page = sagemaker.list_pipeline_execution_steps(**request)
        for item in page.get("PipelineExecutionSteps", []):
            started, ended = item.get("StartTime"), item.get("EndTime")
            seconds = (ended - started).total_seconds() if started and ended else None
            steps.append(
                StepStatus(
                    name=str(item["StepName"]),
                    status=str(item.get("StepStatus", "Unknown")),
                    seconds=seconds,
                    failure_reason=item.get("FailureReason"),
                )
            )
        token = page.get("NextToken")
        if not token:
            return steps
        request["NextToken"] = token
