"""A stage's checks of the version it serves: the deployment finished, a smoke request through
``invoke_endpoint`` answers, and the endpoint's alarms stay quiet for the bake time.

What ``mlops models check`` runs before it records ``<stage>/ChecksPassed`` (or
``ChecksFailed``) in the registry, and what ``promote --wait`` waits for. The smoke request is
built from the version's own data-quality baseline (``statistics.json``): one JSON instance with
each numeric feature's mean and each text feature's most frequent value, by name, so it fits
whatever schema the version was trained on.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

MODEL_PACKAGE_ARN = "ModelPackageArn"  # the serving stack's parameter (infra/serving/stack.py)
_FAILED_ENDS = ("ROLLBACK_COMPLETE", "ROLLBACK_FAILED", "_FAILED")


class StageCheckFailedError(RuntimeError):
    """A check failed; the message says which and why (recorded as the StageDescription)."""


@dataclass(frozen=True)
class StageClients:
    """Clients of the stage's account and region."""

    cloudformation: Any
    sagemaker: Any
    runtime: Any
    cloudwatch: Any


@dataclass(frozen=True)
class Clock:
    """Time, injectable so tests bake in milliseconds."""

    now: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep


def smoke_instance(statistics: Mapping[str, Any]) -> dict[str, Any]:
    """One typical row of the baseline: numeric mean (rounded for integral), top category."""
    row: dict[str, Any] = {}
    for feature in statistics.get("features", []):
        name = str(feature["name"])
        numeric = feature.get("numerical_statistics")
        if numeric is not None:
            mean = float(numeric.get("mean") or 0.0)
            row[name] = round(mean) if feature.get("inferred_type") == "Integral" else mean
            continue
        buckets = (
            (feature.get("string_statistics") or {})
            .get("distribution", {})
            .get("categorical", {})
            .get("buckets", [])
        )
        row[name] = str(buckets[0]["value"]) if buckets else None
    if not row:
        raise StageCheckFailedError("the baseline statistics name no feature to build a request")
    return row


def wait_for_deployment(
    cloudformation: Any,
    stack_name: str,
    arn: str,
    *,
    timeout_seconds: float,
    poll_seconds: float = 15.0,
    clock: Clock | None = None,
) -> str:
    """Until the stage's serving stack serves ``arn`` with its update complete; the status."""
    clock = clock or Clock()
    deadline = clock.now() + timeout_seconds
    while True:
        stack = cloudformation.describe_stacks(StackName=stack_name)["Stacks"][0]
        status = str(stack["StackStatus"])
        parameters = {p["ParameterKey"]: p.get("ParameterValue") for p in stack["Parameters"]}
        serves = parameters.get(MODEL_PACKAGE_ARN) == arn
        if not status.endswith("_IN_PROGRESS"):
            if serves and status.endswith("_COMPLETE") and "ROLLBACK" not in status:
                return status
            if status.endswith(_FAILED_ENDS) or "ROLLBACK" in status:
                raise StageCheckFailedError(f"{stack_name} is {status}: the deployment failed")
            if not serves:
                raise StageCheckFailedError(
                    f"{stack_name} serves {parameters.get(MODEL_PACKAGE_ARN) or 'nothing'}, "
                    f"not {arn}"
                )
        if clock.now() >= deadline:
            raise StageCheckFailedError(f"{stack_name} still {status} after {timeout_seconds} s")
        clock.sleep(poll_seconds)


def smoke_test(clients: StageClients, endpoint: str, instance: Mapping[str, Any]) -> str:
    """One JSON request through ``invoke_endpoint``; its answer (StageCheckFailedError if not)."""
    described = clients.sagemaker.describe_endpoint(EndpointName=endpoint)
    if described.get("EndpointStatus") != "InService":
        raise StageCheckFailedError(f"{endpoint} is {described.get('EndpointStatus')}")
    try:
        response = clients.runtime.invoke_endpoint(
            EndpointName=endpoint,
            ContentType="application/json",
            Accept="application/json",
            Body=json.dumps({"instances": [dict(instance)]}).encode(),
        )
    except Exception as error:  # any failure of the request is the check's finding
        raise StageCheckFailedError(f"smoke request to {endpoint} failed: {error}") from error
    body = response["Body"].read().decode()
    try:
        answer = json.loads(body)
    except json.JSONDecodeError as error:
        raise StageCheckFailedError(f"{endpoint} answered non-JSON: {body[:200]!r}") from error
    predictions = answer.get("predictions") if isinstance(answer, dict) else None
    if not predictions:
        raise StageCheckFailedError(f"{endpoint} answered without predictions: {body[:200]!r}")
    return body


def bake(
    cloudwatch: Any,
    alarms: Sequence[str],
    *,
    seconds: float,
    poll_seconds: float = 30.0,
    clock: Clock | None = None,
) -> int:
    """Watch ``alarms`` for ``seconds``; StageCheckFailedError as soon as one is in ALARM.
    Returns how many times they were read (at least once, even for a zero bake)."""
    clock = clock or Clock()
    deadline = clock.now() + seconds
    reads = 0
    while True:
        described = cloudwatch.describe_alarms(AlarmNames=list(alarms))
        reads += 1
        firing = [
            alarm["AlarmName"]
            for alarm in described.get("MetricAlarms", [])
            if alarm.get("StateValue") == "ALARM"
        ]
        if firing:
            raise StageCheckFailedError(f"alarm in ALARM during the bake: {', '.join(firing)}")
        if clock.now() >= deadline:
            return reads
        clock.sleep(min(poll_seconds, max(deadline - clock.now(), 0.0)))
