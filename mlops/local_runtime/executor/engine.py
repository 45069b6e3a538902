"""Run a pipeline definition JSON step by step: the control flow, independent of what steps do.

The engine walks the step graph, resolves each step's arguments against the parameters,
execution variables and earlier steps' properties, hands the resolved request to the handler
registered for the step type, records the properties the handler returns, and evaluates
Condition and Fail steps itself. The first failing step fails the execution: its name and
reason are recorded and nothing after it runs, so a half-finished execution never registers a
model. Handlers that touch S3, jobs or the registry live in `handlers.py`.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from mlops.local_runtime.executor.contract import execution_variables, unsupported_step_keys
from mlops.local_runtime.executor.expressions import (
    EvaluationContext,
    ExpressionError,
    all_conditions_hold,
    resolve,
)
from mlops.local_runtime.executor.graph import StepNode, build_graph
from sagemaker_pipelines.parameters import resolve_parameters

SUCCEEDED = "Succeeded"
FAILED = "Failed"
NOT_EXECUTED = "NotExecuted"
STOPPED = "Stopped"


class StepFailed(Exception):  # noqa: N818 - named like SageMaker's step status, as JobFailed
    """A step's work failed; ``reason`` is what the user reads (the job's failure text)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class ExecutionInterrupted(KeyboardInterrupt):
    """Ctrl-C during a step: ``result`` records the execution as Stopped at that step.

    Still a KeyboardInterrupt, so the interrupt keeps propagating; callers that want to
    record the outcome (``run_local_pipeline`` writes summary.json) catch it first.
    """

    def __init__(self, result: ExecutionResult) -> None:
        super().__init__(f"interrupted at step {result.failed_step}")
        self.result = result


@dataclass(frozen=True)
class StepInvocation:
    """What a handler receives: the step with every expression already resolved."""

    name: str
    type: str
    arguments: dict[str, Any]
    definition: dict[str, Any]
    execution_id: str
    account: str = "123456789012"
    region: str = "us-east-1"


@dataclass
class StepOutcome:
    """What a handler returns: the step's properties (Describe* response shape)."""

    properties: dict[str, Any] = field(default_factory=dict)


StepHandler = Callable[[StepInvocation], StepOutcome]


@dataclass
class StepRecord:
    name: str
    type: str
    status: str = NOT_EXECUTED
    seconds: float = 0.0
    failure_reason: str | None = None


@dataclass
class ExecutionResult:
    """The outcome of one local execution, shaped like ``describe_pipeline_execution``."""

    execution_id: str
    status: str
    steps: list[StepRecord]
    context: EvaluationContext
    failed_step: str | None = None
    failure_reason: str | None = None

    def properties(self, step: str) -> dict[str, Any]:
        """The recorded properties of ``step`` (empty when it did not run)."""
        value = self.context.steps.get(step, {})
        return value if isinstance(value, dict) else {}


class ExecutionObserver(Protocol):
    """Live progress: told when each step starts and ends."""

    def step_started(self, name: str, step_type: str) -> None: ...

    def step_finished(self, record: StepRecord) -> None: ...


class _SilentObserver:
    def step_started(self, name: str, step_type: str) -> None:
        return None

    def step_finished(self, record: StepRecord) -> None:
        return None


def execute(
    definition: dict[str, Any] | str,
    *,
    handlers: Mapping[str, StepHandler],
    execution_id: str,
    pipeline_name: str,
    overrides: dict[str, str] | None = None,
    read_json: Callable[[str], Any] | None = None,
    observer: ExecutionObserver | None = None,
    account: str = "123456789012",
    region: str = "us-east-1",
) -> ExecutionResult:
    """Execute ``definition``; never raises for a step failure (the result says Failed).

    ``read_json`` reads a JSON document from an S3 URI: property files and ``Std:JsonGet`` on
    S3 need it. Parameter override errors and malformed definitions do raise, before any step
    runs.
    """
    document = json.loads(definition) if isinstance(definition, str) else definition
    observer = observer or _SilentObserver()
    nodes = build_graph(document)
    started = datetime.now(UTC).isoformat(timespec="seconds")
    context = EvaluationContext(
        parameters=dict(resolve_parameters(document.get("Parameters", []), overrides)),
        execution=execution_variables(execution_id, pipeline_name, account, region, started),
        read_s3_json=read_json,
    )
    records = {node.name: StepRecord(node.name, node.type) for node in nodes}
    result = ExecutionResult(execution_id, SUCCEEDED, list(records.values()), context)
    chosen: dict[str, bool] = {}  # condition step → branch taken
    for node in nodes:
        if not _should_run(node, records, chosen):
            continue
        observer.step_started(node.name, node.type)
        record = records[node.name]
        began = time.perf_counter()
        try:
            _run_step(node, context, handlers, chosen, (execution_id, account, region), read_json)
            record.status = SUCCEEDED
        except StepFailed as failure:
            record.status, record.failure_reason = FAILED, failure.reason
        except ExpressionError as error:
            record.status, record.failure_reason = FAILED, f"cannot resolve arguments: {error}"
        except Exception as error:  # a handler bug or an AWS error: still a failed step
            record.status = FAILED
            record.failure_reason = f"{type(error).__name__}: {error}"
        except KeyboardInterrupt:  # Ctrl-C: the job runtime has already killed the job
            record.status, record.failure_reason = STOPPED, "interrupted (Ctrl-C)"
            record.seconds = round(time.perf_counter() - began, 3)
            observer.step_finished(record)
            result.status, result.failed_step = STOPPED, node.name
            result.failure_reason = record.failure_reason
            raise ExecutionInterrupted(result) from None
        record.seconds = round(time.perf_counter() - began, 3)
        observer.step_finished(record)
        if record.status == FAILED:
            result.status = FAILED
            result.failed_step, result.failure_reason = node.name, record.failure_reason
            break
    return result


def _should_run(node: StepNode, records: dict[str, StepRecord], chosen: dict[str, bool]) -> bool:
    """Run when every dependency succeeded and, for branch steps, the branch was chosen."""
    if node.branch_of is not None:
        condition, branch = node.branch_of
        if chosen.get(condition) is not branch:
            return False
    return all(records[name].status == SUCCEEDED for name in node.depends_on)


def _run_step(
    node: StepNode,
    context: EvaluationContext,
    handlers: Mapping[str, StepHandler],
    chosen: dict[str, bool],
    execution: tuple[str, str, str],
    read_json: Callable[[str], Any] | None,
) -> None:
    context.execution["CurrentDateTime"] = datetime.now(UTC).isoformat(timespec="seconds")
    ignored = unsupported_step_keys(node.definition)
    if ignored:
        raise StepFailed(f"not supported locally: {', '.join(ignored)}")
    if node.type == "Condition":
        conditions = node.definition.get("Arguments", {}).get("Conditions", [])
        holds = all_conditions_hold(conditions, context)
        chosen[node.name] = holds
        context.steps[node.name] = {"Outcome": "True" if holds else "False"}
        return
    if node.type == "Fail":
        message = resolve(node.definition.get("Arguments", {}).get("ErrorMessage", ""), context)
        context.steps[node.name] = {"ErrorMessage": message}
        raise StepFailed(str(message) or f"step {node.name} is a Fail step")
    handler = handlers.get(node.type)
    if handler is None:
        raise StepFailed(f"not supported locally: Type={node.type}")
    arguments = resolve(node.definition.get("Arguments", {}), context)
    execution_id, account, region = execution
    invocation = StepInvocation(
        name=node.name,
        type=node.type,
        arguments=arguments,
        definition=node.definition,
        execution_id=execution_id,
        account=account,
        region=region,
    )
    outcome = handler(invocation)
    context.steps[node.name] = outcome.properties
    for property_file in node.definition.get("PropertyFiles", []):
        _load_property_file(node.name, property_file, outcome.properties, context, read_json)


def _load_property_file(
    step: str,
    property_file: dict[str, Any],
    properties: dict[str, Any],
    context: EvaluationContext,
    read_json: Callable[[str], Any] | None,
) -> None:
    """Read ``FilePath`` under the named processing output, as SageMaker does after the job."""
    output_name = property_file["OutputName"]
    outputs = properties.get("ProcessingOutputConfig", {}).get("Outputs", [])
    matches = [item for item in outputs if item.get("OutputName") == output_name]
    if not matches:
        raise StepFailed(
            f"property file {property_file['PropertyFileName']}: no output {output_name}"
        )
    uri = f"{str(matches[0]['S3Output']['S3Uri']).rstrip('/')}/{property_file['FilePath']}"
    if read_json is None:
        raise StepFailed("property files need an S3 reader")
    try:
        document = read_json(uri)
    except Exception as error:
        raise StepFailed(
            f"property file {property_file['PropertyFileName']} ({uri}) cannot be read: {error}"
        ) from None
    context.property_files[(step, str(property_file["PropertyFileName"]))] = document
