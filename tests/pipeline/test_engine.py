"""The executor's control flow on small definitions: order, conditions, failure, Fail steps.

Step work is supplied through the handler interface (the local handlers run real jobs and are
covered end to end in test_local_run); here each handler records what it was asked to do.
"""

from __future__ import annotations

import threading
from typing import Any

import pytest

from mlops.local_runtime.executor.engine import (
    FAILED,
    NOT_EXECUTED,
    SUCCEEDED,
    StepFailed,
    StepInvocation,
    StepOutcome,
    execute,
)
from mlops.local_runtime.executor.graph import DefinitionError


class Recorder:
    """A 'Work' step type: echoes its resolved arguments as properties, fails on request."""

    def __init__(self) -> None:
        self.calls: list[StepInvocation] = []

    def __call__(self, step: StepInvocation) -> StepOutcome:
        self.calls.append(step)
        if step.arguments.get("Fail"):
            raise StepFailed(f"{step.name} broke")
        return StepOutcome(properties={"Out": step.arguments.get("Value"), **step.arguments})

    @property
    def order(self) -> list[str]:
        return [call.name for call in self.calls]


def work(name: str, value: Any = None, **extra: Any) -> dict[str, Any]:
    return {"Name": name, "Type": "Work", "Arguments": {"Value": value, **extra}}


def run(definition: dict[str, Any], recorder: Recorder, **kwargs: Any) -> Any:
    return execute(
        definition, handlers={"Work": recorder}, execution_id="e1", pipeline_name="p", **kwargs
    )


def test_data_dependencies_order_steps_and_pass_values() -> None:
    recorder = Recorder()
    definition = {
        "Version": "2020-12-01",
        "Parameters": [],
        "Steps": [
            work("Second", {"Std:Join": {"On": "-", "Values": [{"Get": "Steps.First.Out"}, "b"]}}),
            work("First", {"Get": "Execution.PipelineExecutionId"}),
        ],
    }
    result = run(definition, recorder)
    assert result.status == SUCCEEDED
    assert recorder.order == ["First", "Second"]
    assert result.properties("Second")["Out"] == "e1-b"


def test_depends_on_orders_steps_without_data_dependencies() -> None:
    recorder = Recorder()
    late = {**work("Late"), "DependsOn": ["Early"]}
    result = run({"Steps": [late, work("Early")]}, recorder)
    assert result.status == SUCCEEDED
    assert recorder.order == ["Early", "Late"]


def test_a_failing_step_stops_the_execution_and_nothing_downstream_runs() -> None:
    recorder = Recorder()
    definition = {
        "Steps": [
            work("A", 1, Fail=True),
            work("B", {"Get": "Steps.A.Out"}),
            work("Independent", 3),
        ]
    }
    result = run(definition, recorder)
    assert (result.status, result.failed_step, result.failure_reason) == (FAILED, "A", "A broke")
    assert recorder.order == ["A"]
    assert {r.name: r.status for r in result.steps} == {
        "A": FAILED,
        "B": NOT_EXECUTED,
        "Independent": NOT_EXECUTED,
    }


def _gate(threshold: float) -> dict[str, Any]:
    return {
        "Steps": [
            work("Score", 0.8),
            {
                "Name": "Check",
                "Type": "Condition",
                "Arguments": {
                    "Conditions": [
                        {
                            "Type": "GreaterThanOrEqualTo",
                            "LeftValue": {"Get": "Steps.Score.Out"},
                            "RightValue": {"Get": "Parameters.Threshold"},
                        }
                    ],
                    "IfSteps": [work("Ship", {"Get": "Steps.Score.Out"})],
                    "ElseSteps": [
                        {
                            "Name": "TooLow",
                            "Type": "Fail",
                            "Arguments": {
                                "ErrorMessage": {
                                    "Std:Join": {
                                        "On": " ",
                                        "Values": [
                                            "score",
                                            {"Get": "Steps.Score.Out"},
                                            "below",
                                            {"Get": "Parameters.Threshold"},
                                        ],
                                    }
                                }
                            },
                        }
                    ],
                },
            },
        ],
        "Parameters": [{"Name": "Threshold", "Type": "Float", "DefaultValue": threshold}],
    }


def test_condition_true_runs_the_if_branch_only() -> None:
    recorder = Recorder()
    result = run(_gate(0.5), recorder)
    assert result.status == SUCCEEDED
    assert recorder.order == ["Score", "Ship"]
    assert {r.name: r.status for r in result.steps}["TooLow"] == NOT_EXECUTED


def test_condition_false_reaches_the_fail_step_with_its_message() -> None:
    recorder = Recorder()
    result = run(_gate(0.5), recorder, overrides={"Threshold": "0.9"})
    assert result.status == FAILED
    assert result.failed_step == "TooLow"
    assert result.failure_reason == "score 0.8 below 0.9"
    assert recorder.order == ["Score"]


def test_property_files_are_read_from_the_named_output() -> None:
    recorder = Recorder()
    reads: list[str] = []

    def read_json(uri: str) -> Any:
        reads.append(uri)
        return {"metrics": {"auc": 0.91}}

    producer = work(
        "Eval",
        None,
        ProcessingOutputConfig={
            "Outputs": [{"OutputName": "report", "S3Output": {"S3Uri": "s3://b/run/eval"}}]
        },
    )
    producer["PropertyFiles"] = [
        {"PropertyFileName": "Report", "OutputName": "report", "FilePath": "evaluation.json"}
    ]
    consumer = work(
        "Use",
        {
            "Std:JsonGet": {
                "PropertyFile": {"Get": "Steps.Eval.PropertyFiles.Report"},
                "Path": "metrics.auc",
            }
        },
    )
    result = run({"Steps": [consumer, producer]}, recorder, read_json=read_json)
    assert reads == ["s3://b/run/eval/evaluation.json"]
    assert result.properties("Use")["Out"] == 0.91


def test_unresolvable_arguments_fail_the_step_with_the_reason() -> None:
    result = run({"Steps": [work("A", {"Get": "Parameters.Missing"})]}, Recorder())
    assert result.failed_step == "A"
    assert "unknown pipeline parameter 'Missing'" in str(result.failure_reason)


def test_unsupported_step_types_fail_with_a_clear_reason() -> None:
    result = run({"Steps": [{"Name": "L", "Type": "Lambda", "Arguments": {}}]}, Recorder())
    assert result.failure_reason == "not supported locally: Type=Lambda"


def test_a_dependency_cycle_is_rejected_before_anything_runs() -> None:
    recorder = Recorder()
    with pytest.raises(DefinitionError, match="cycle"):
        run(
            {"Steps": [work("A", {"Get": "Steps.B.Out"}), work("B", {"Get": "Steps.A.Out"})]},
            recorder,
        )
    assert recorder.calls == []


class Rendezvous:
    """A 'Work' step type whose steps each wait for the other: they end only if both run at
    once (SageMaker runs independent steps in parallel)."""

    def __init__(self, parties: int) -> None:
        self.barrier = threading.Barrier(parties, timeout=2)

    def __call__(self, step: StepInvocation) -> StepOutcome:
        try:
            self.barrier.wait()
        except threading.BrokenBarrierError:
            raise StepFailed(f"{step.name} ran alone") from None
        return StepOutcome(properties={"Out": step.name})


class Observed:
    def __init__(self) -> None:
        self.events: list[str] = []

    def step_started(self, name: str, step_type: str) -> None:
        self.events.append(f"start {name}")

    def step_finished(self, record: Any) -> None:
        self.events.append(f"end {record.name}")


def test_independent_steps_run_at_the_same_time_and_are_reported_in_definition_order() -> None:
    observer = Observed()
    definition = {
        "Steps": [
            work("Baseline"),
            work("Train"),
            {**work("Register"), "DependsOn": ["Baseline", "Train"]},
        ]
    }
    handler = Rendezvous(2)

    def register_or_meet(step: StepInvocation) -> StepOutcome:
        return StepOutcome() if step.name == "Register" else handler(step)

    result = execute(
        definition,
        handlers={"Work": register_or_meet},
        execution_id="e1",
        pipeline_name="p",
        max_parallel=2,
        observer=observer,
    )
    assert result.status == SUCCEEDED
    assert [record.name for record in result.steps] == ["Baseline", "Train", "Register"]
    assert observer.events == [
        "start Baseline",
        "start Train",
        "end Baseline",
        "end Train",
        "start Register",
        "end Register",
    ]


def test_one_step_at_a_time_when_parallelism_is_one() -> None:
    definition = {"Steps": [work("Baseline"), work("Train")]}
    result = execute(
        definition,
        handlers={"Work": Rendezvous(2)},
        execution_id="e1",
        pipeline_name="p",
        max_parallel=1,
    )
    assert (result.status, result.failed_step) == (FAILED, "Baseline")
    assert result.failure_reason == "Baseline ran alone"
