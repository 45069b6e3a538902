"""Run a pipeline definition JSON step by step: the control flow, independent of what steps do.

The engine walks the step graph, resolves each step's arguments against the parameters,
execution variables and earlier steps' properties, hands the resolved request to the handler
registered for the step type, records the properties the handler returns, and evaluates
Condition and Fail steps itself. The first failing step fails the execution: its name and
reason are recorded and nothing after it starts, so a half-finished execution never registers
a model. Handlers that touch S3, jobs or the registry live in `handlers.py`.

Independent steps run at the same time, as SageMaker runs them (Preprocess, then
DataQualityBaseline alongside Train), up to ``max_parallel`` at once (the caller bounds it by
the machine's cores). Everything that reads or writes the execution's state — resolving
arguments, recording properties, property files, conditions — happens on the calling thread;
only the handlers run on worker threads. What a user sees stays deterministic: observers hear
``step_started`` in definition order and ``step_finished`` in definition order (a step that
ends early is reported once the steps before it have), and the result lists the steps in
definition order, whatever order they finished in. A step failing while another runs lets the
other finish (its outcome is recorded) and starts nothing more; the first failed step in
definition order is the execution's ``failed_step``.
"""

from __future__ import annotations

import json
import queue
import threading
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
    max_parallel: int = 1,
    cancel: threading.Event | None = None,
) -> ExecutionResult:
    """Execute ``definition``; never raises for a step failure (the result says Failed).

    ``read_json`` reads a JSON document from an S3 URI: property files and ``Std:JsonGet`` on
    S3 need it. Parameter override errors and malformed definitions do raise, before any step
    runs. Up to ``max_parallel`` steps run at once; on Ctrl-C ``cancel`` is set (handlers that
    run jobs kill them when it is) and `ExecutionInterrupted` is raised once they have ended.
    """
    document = json.loads(definition) if isinstance(definition, str) else definition
    nodes = build_graph(document)
    started = datetime.now(UTC).isoformat(timespec="seconds")
    context = EvaluationContext(
        parameters=dict(resolve_parameters(document.get("Parameters", []), overrides)),
        execution=execution_variables(execution_id, pipeline_name, account, region, started),
        read_s3_json=read_json,
    )
    records = {node.name: StepRecord(node.name, node.type) for node in nodes}
    result = ExecutionResult(execution_id, SUCCEEDED, list(records.values()), context)
    run = _Run(
        nodes=nodes,
        records=records,
        context=context,
        handlers=handlers,
        execution=(execution_id, account, region),
        read_json=read_json,
        reporter=_InOrder(nodes, observer or _SilentObserver()),
        max_parallel=max(1, max_parallel),
        cancel=cancel or threading.Event(),
    )
    try:
        run.until_done()
    except KeyboardInterrupt:  # Ctrl-C: the running jobs are killed, the execution is Stopped
        run.stop_running()
        result.status = STOPPED
        stopped = [name for name in records if records[name].status == STOPPED]
        result.failed_step = stopped[0] if stopped else None
        result.failure_reason = "interrupted (Ctrl-C)"
        raise ExecutionInterrupted(result) from None
    failed = [record for record in records.values() if record.status == FAILED]
    if failed:
        result.status = FAILED
        result.failed_step, result.failure_reason = failed[0].name, failed[0].failure_reason
    return result


_Done = tuple[str, StepOutcome | None, BaseException | None, float]


@dataclass
class _Run:
    """One execution's scheduling: which steps are ready, running, finished or never run."""

    nodes: list[StepNode]
    records: dict[str, StepRecord]
    context: EvaluationContext
    handlers: Mapping[str, StepHandler]
    execution: tuple[str, str, str]
    read_json: Callable[[str], Any] | None
    reporter: _InOrder
    max_parallel: int
    cancel: threading.Event
    chosen: dict[str, bool] = field(default_factory=dict)  # condition step → branch taken
    settled: set[str] = field(default_factory=set)  # finished, or will never run
    running: dict[str, float] = field(default_factory=dict)  # step → perf_counter at start
    done: queue.Queue[_Done] = field(default_factory=queue.Queue)
    failed: bool = False

    def until_done(self) -> None:
        while True:
            self._start_ready()
            if not self.running:
                for node in self.nodes:  # whatever did not run stays NotExecuted
                    self._settle(node.name)
                return
            try:
                finished = self.done.get(timeout=0.25)
            except queue.Empty:
                continue
            self._finish(*finished)

    def _start_ready(self) -> None:
        progress = True
        while progress:
            progress = False
            for node in self.nodes:
                if node.name in self.settled or node.name in self.running:
                    continue
                readiness = self._readiness(node)
                if readiness == "never":
                    self._settle(node.name)
                    progress = True
                elif readiness == "ready" and not self.failed:
                    if node.type in ("Condition", "Fail"):
                        self._run_inline(node)
                        progress = True
                    elif len(self.running) < self.max_parallel:
                        self._submit(node)
                        progress = True

    def _readiness(self, node: StepNode) -> str:
        """``ready`` (every dependency succeeded, its branch taken), ``never``, or ``wait``."""
        if node.branch_of is not None:
            condition, branch = node.branch_of
            if condition in self.settled and self.chosen.get(condition) is not branch:
                return "never"
        for name in node.depends_on:
            if name in self.settled and self.records[name].status != SUCCEEDED:
                return "never"
        if node.branch_of is not None and node.branch_of[0] not in self.settled:
            return "wait"
        if all(
            name in self.settled and self.records[name].status == SUCCEEDED
            for name in node.depends_on
        ):
            return "ready" if not self.failed else "never"
        return "wait"

    def _run_inline(self, node: StepNode) -> None:
        """Condition and Fail steps: evaluated here, at once, as the service does."""
        self.reporter.started(node)
        began = time.perf_counter()
        record = self.records[node.name]
        try:
            self.context.execution["CurrentDateTime"] = _now()
            _control_flow(node, self.context, self.chosen)
            record.status = SUCCEEDED
        except Exception as error:
            _record_failure(record, error)
        self._ended(record, began)

    def _submit(self, node: StepNode) -> None:
        """Resolve the step's arguments here, run its handler on a worker thread."""
        self.reporter.started(node)
        began = time.perf_counter()
        self.running[node.name] = began
        try:
            invocation = self._invocation(node)
        except Exception as error:
            self.done.put((node.name, None, error, began))
            return
        handler = self.handlers[node.type]

        def work() -> None:
            try:
                outcome = handler(invocation)
            except BaseException as error:  # reported on the calling thread
                self.done.put((node.name, None, error, began))
            else:
                self.done.put((node.name, outcome, None, began))

        threading.Thread(target=work, name=f"step-{node.name}", daemon=True).start()

    def _invocation(self, node: StepNode) -> StepInvocation:
        self.context.execution["CurrentDateTime"] = _now()
        ignored = unsupported_step_keys(node.definition)
        if ignored:
            raise StepFailed(f"not supported locally: {', '.join(ignored)}")
        if node.type not in self.handlers:
            raise StepFailed(f"not supported locally: Type={node.type}")
        execution_id, account, region = self.execution
        return StepInvocation(
            name=node.name,
            type=node.type,
            arguments=resolve(node.definition.get("Arguments", {}), self.context),
            definition=node.definition,
            execution_id=execution_id,
            account=account,
            region=region,
        )

    def _finish(
        self, name: str, outcome: StepOutcome | None, error: BaseException | None, began: float
    ) -> None:
        record = self.records[name]
        del self.running[name]
        if isinstance(error, KeyboardInterrupt):
            raise KeyboardInterrupt
        if outcome is not None:
            try:
                node = next(node for node in self.nodes if node.name == name)
                self.context.steps[name] = outcome.properties
                for property_file in node.definition.get("PropertyFiles", []):
                    _load_property_file(
                        name, property_file, outcome.properties, self.context, self.read_json
                    )
                record.status = SUCCEEDED
            except Exception as failure:
                _record_failure(record, failure)
        elif self.cancel.is_set():
            record.status, record.failure_reason = STOPPED, "interrupted (Ctrl-C)"
        elif error is not None:
            _record_failure(record, error)
        self._ended(record, began)

    def _ended(self, record: StepRecord, began: float) -> None:
        """A step that ran is over: timed, settled and reported."""
        record.seconds = round(time.perf_counter() - began, 3)
        self.settled.add(record.name)
        self.failed = self.failed or record.status == FAILED
        self.reporter.finished(record)

    def _settle(self, name: str) -> None:
        """A step that will never run (a dependency failed, its branch was not taken)."""
        if name not in self.settled:
            self.settled.add(name)
            self.reporter.settled(name)

    def stop_running(self) -> None:
        """Ctrl-C: kill what runs (handlers see ``cancel``), wait for it, record it Stopped."""
        self.cancel.set()
        deadline = time.monotonic() + _STOP_GRACE_SECONDS
        while self.running and time.monotonic() < deadline:
            try:
                name, _, _, began = self.done.get(timeout=0.25)
            except queue.Empty:
                continue
            self._stopped(name, began)
        for name, began in list(self.running.items()):  # still busy (in-process work)
            self._stopped(name, began)

    def _stopped(self, name: str, began: float) -> None:
        record = self.records[name]
        self.running.pop(name, None)
        record.status, record.failure_reason = STOPPED, "interrupted (Ctrl-C)"
        self._ended(record, began)


_STOP_GRACE_SECONDS = 15.0


class _InOrder:
    """Tells the observer about steps in definition order, whatever order they run in.

    A step's start is announced when every earlier step has started or will never run; its
    end once every earlier step has ended (or never ran).
    """

    def __init__(self, nodes: list[StepNode], observer: ExecutionObserver) -> None:
        self.order = [node.name for node in nodes]
        self.types = {node.name: node.type for node in nodes}
        self.observer = observer
        self.started_steps: set[str] = set()
        self.ended: dict[str, StepRecord | None] = {}  # None: never ran
        self.announced_start = 0
        self.announced_end = 0

    def started(self, node: StepNode) -> None:
        self.started_steps.add(node.name)
        self._flush()

    def finished(self, record: StepRecord) -> None:
        self.ended[record.name] = record
        self._flush()

    def settled(self, name: str) -> None:
        self.ended.setdefault(name, None)
        self._flush()

    def _flush(self) -> None:
        while self.announced_start < len(self.order):
            name = self.order[self.announced_start]
            if name in self.started_steps:
                self.observer.step_started(name, self.types[name])
            elif name not in self.ended:
                break
            self.announced_start += 1
        while self.announced_end < min(self.announced_start, len(self.order)):
            name = self.order[self.announced_end]
            if name not in self.ended:
                break
            record = self.ended[name]
            if record is not None:
                self.observer.step_finished(record)
            self.announced_end += 1


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _record_failure(record: StepRecord, error: BaseException) -> None:
    if isinstance(error, StepFailed):
        record.status, record.failure_reason = FAILED, error.reason
    elif isinstance(error, ExpressionError):
        record.status, record.failure_reason = FAILED, f"cannot resolve arguments: {error}"
    else:  # a handler bug or an AWS error: still a failed step
        record.status, record.failure_reason = FAILED, f"{type(error).__name__}: {error}"


def _control_flow(node: StepNode, context: EvaluationContext, chosen: dict[str, bool]) -> None:
    ignored = unsupported_step_keys(node.definition)
    if ignored:
        raise StepFailed(f"not supported locally: {', '.join(ignored)}")
    if node.type == "Condition":
        conditions = node.definition.get("Arguments", {}).get("Conditions", [])
        holds = all_conditions_hold(conditions, context)
        chosen[node.name] = holds
        context.steps[node.name] = {"Outcome": "True" if holds else "False"}
        return
    message = resolve(node.definition.get("Arguments", {}).get("ErrorMessage", ""), context)
    context.steps[node.name] = {"ErrorMessage": message}
    raise StepFailed(str(message) or f"step {node.name} is a Fail step")


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
