"""The step graph of a definition: which step waits for which, in a deterministic order.

SageMaker orders steps by explicit ``DependsOn`` and by data dependencies (a step's arguments
``Get`` another step's properties or property files). Steps listed in a Condition step's
``IfSteps``/``ElseSteps`` run only when that branch is chosen, so they also depend on the
Condition step. The order among independent steps follows the definition, so local runs are
reproducible.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

_STEP_REFERENCE = re.compile(r"^Steps\.([^.\[]+)")


class DefinitionError(ValueError):
    """The definition is not something SageMaker would accept (cycle, unknown step, …)."""


@dataclass(frozen=True)
class StepNode:
    """One step with what it waits for and, for branch steps, the Condition that owns it."""

    name: str
    type: str
    definition: dict[str, Any]
    depends_on: frozenset[str]
    branch_of: tuple[str, bool] | None = None  # (condition step, True=IfSteps)
    branches: dict[bool, tuple[str, ...]] = field(default_factory=dict)


def referenced_steps(value: Any) -> set[str]:
    """Names of steps whose properties ``value`` reads through ``Get`` expressions."""
    found: set[str] = set()
    if isinstance(value, dict):
        for key, item in value.items():
            if key == "Get" and isinstance(item, str):
                match = _STEP_REFERENCE.match(item)
                if match:
                    found.add(match.group(1))
            else:
                found |= referenced_steps(item)
    elif isinstance(value, list):
        for item in value:
            found |= referenced_steps(item)
    return found


def build_graph(definition: dict[str, Any]) -> list[StepNode]:
    """All steps (branch steps included) in a topological, definition-stable order."""
    flat: list[tuple[dict[str, Any], tuple[str, bool] | None]] = []

    def collect(steps: list[dict[str, Any]], owner: tuple[str, bool] | None) -> None:
        for step in steps:
            flat.append((step, owner))
            if step.get("Type") == "Condition":
                arguments = step.get("Arguments", {})
                collect(arguments.get("IfSteps", []), (step["Name"], True))
                collect(arguments.get("ElseSteps", []), (step["Name"], False))

    collect(list(definition.get("Steps", [])), None)
    names = [str(step["Name"]) for step, _ in flat]
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        raise DefinitionError(f"step names must be unique: {duplicates}")
    known = set(names)

    nodes: dict[str, StepNode] = {}
    for step, owner in flat:
        name = str(step["Name"])
        # A Condition's own dependencies are those of its conditions, not of its branches.
        payload = dict(step)
        if step.get("Type") == "Condition":
            payload = {"Arguments": {"Conditions": step.get("Arguments", {}).get("Conditions")}}
        waits = referenced_steps(payload.get("Arguments", {})) | set(step.get("DependsOn", []))
        if owner is not None:
            waits.add(owner[0])
        unknown = sorted(waits - known)
        if unknown:
            raise DefinitionError(f"step {name!r} depends on unknown steps {unknown}")
        branches: dict[bool, tuple[str, ...]] = {}
        if step.get("Type") == "Condition":
            arguments = step.get("Arguments", {})
            branches = {
                True: tuple(str(s["Name"]) for s in arguments.get("IfSteps", [])),
                False: tuple(str(s["Name"]) for s in arguments.get("ElseSteps", [])),
            }
        nodes[name] = StepNode(
            name=name,
            type=str(step.get("Type")),
            definition=step,
            depends_on=frozenset(waits - {name}),
            branch_of=owner,
            branches=branches,
        )
    return _topological(nodes, names)


def _topological(nodes: dict[str, StepNode], order: list[str]) -> list[StepNode]:
    placed: list[StepNode] = []
    done: set[str] = set()
    remaining = list(order)
    while remaining:
        ready = [name for name in remaining if nodes[name].depends_on <= done]
        if not ready:
            raise DefinitionError(f"dependency cycle among steps {sorted(remaining)}")
        first = ready[0]
        placed.append(nodes[first])
        done.add(first)
        remaining.remove(first)
    return placed
