"""Evaluate the expressions of a pipeline definition JSON the way SageMaker Pipelines does.

A definition's step arguments are plain JSON with embedded expressions: ``{"Get": …}`` for
parameters, execution variables and step properties, ``{"Std:Join": …}``, ``{"Std:JsonGet": …}``
on property files (or an S3 object), and condition objects. The local executor resolves each
step's arguments through `resolve` just before running the step, so whatever the SDK emitted is
what runs — there is no second description of the pipeline to drift from the first.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

Json = Any


class ExpressionError(ValueError):
    """An expression cannot be evaluated (unknown reference, bad path, wrong type)."""


@dataclass
class EvaluationContext:
    """Everything an expression can refer to during one execution.

    ``steps`` maps a step name to its properties (the shape of the matching Describe* response,
    e.g. ``{"ModelArtifacts": {"S3ModelArtifacts": "s3://…"}}``); ``property_files`` maps
    ``(step, property file name)`` to the parsed JSON of that file; ``read_s3_json`` serves the
    ``Std:JsonGet`` form that reads an S3 object directly.
    """

    parameters: dict[str, Json] = field(default_factory=dict)
    execution: dict[str, Json] = field(default_factory=dict)
    steps: dict[str, Json] = field(default_factory=dict)
    property_files: dict[tuple[str, str], Json] = field(default_factory=dict)
    read_s3_json: Callable[[str], Json] | None = None


def resolve(value: Json, context: EvaluationContext) -> Json:
    """Replace every expression inside ``value`` by its value; plain JSON passes through."""
    if isinstance(value, list):
        return [resolve(item, context) for item in value]
    if not isinstance(value, dict):
        return value
    if len(value) == 1:
        (key, argument), *_ = value.items()
        if key == "Get":
            return get(str(argument), context)
        if key == "Std:Join":
            return join(argument, context)
        if key == "Std:JsonGet":
            return json_get(argument, context)
    return {key: resolve(item, context) for key, item in value.items()}


def get(reference: str, context: EvaluationContext) -> Json:
    """``Parameters.X``, ``Execution.X`` or ``Steps.<name>.<property path>``."""
    root, _, rest = reference.partition(".")
    if root == "Parameters":
        if rest not in context.parameters:
            raise ExpressionError(f"unknown pipeline parameter {rest!r} in Get {reference!r}")
        return context.parameters[rest]
    if root == "Execution":
        if rest not in context.execution:
            raise ExpressionError(f"unknown execution variable {rest!r} in Get {reference!r}")
        return context.execution[rest]
    if root == "Steps":
        step, _, path = rest.partition(".")
        if path.startswith("PropertyFiles."):
            return _property_file(step, path.removeprefix("PropertyFiles."), context)
        if step not in context.steps:
            raise ExpressionError(f"Get {reference!r}: step {step!r} has not run")
        return walk(context.steps[step], path, what=f"Get {reference!r}")
    raise ExpressionError(f"Get {reference!r}: expected Parameters., Execution. or Steps.")


def join(argument: Json, context: EvaluationContext) -> str:
    """``Std:Join``: the values, resolved and rendered as text, joined by ``On``."""
    if not isinstance(argument, dict) or "Values" not in argument:
        raise ExpressionError(f"Std:Join needs On and Values, got {argument!r}")
    separator = str(argument.get("On", ""))
    return separator.join(render(resolve(item, context)) for item in argument["Values"])


def json_get(argument: Json, context: EvaluationContext) -> Json:
    """``Std:JsonGet``: a JSON path into a step's property file, or into an S3 JSON object."""
    if not isinstance(argument, dict) or "Path" not in argument:
        raise ExpressionError(f"Std:JsonGet needs Path, got {argument!r}")
    path = str(argument["Path"])
    if "PropertyFile" in argument:
        reference = argument["PropertyFile"]
        if isinstance(reference, dict) and "Get" in reference:
            document = resolve(reference, context)
        else:
            raise ExpressionError(f"Std:JsonGet PropertyFile must be a Get, got {reference!r}")
        return walk(document, path, what=f"Std:JsonGet {path!r}")
    if "S3Uri" in argument:
        uri = resolve(argument["S3Uri"], context)
        if context.read_s3_json is None:
            raise ExpressionError("Std:JsonGet on an S3 URI needs an S3 reader")
        return walk(context.read_s3_json(str(uri)), path, what=f"Std:JsonGet {uri}#{path}")
    raise ExpressionError(f"Std:JsonGet needs PropertyFile or S3Uri, got {argument!r}")


def render(value: Json) -> str:
    """Text form of a resolved value inside ``Std:Join`` (JSON spelling for booleans/None)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, dict | list):
        return json.dumps(value, sort_keys=True)
    return str(value)


_TOKEN = re.compile(r"""\.?([A-Za-z_][A-Za-z0-9_]*)|\[\s*(?:'([^']*)'|"([^"]*)"|(-?\d+))\s*\]""")


def split_path(path: str) -> list[str | int]:
    """``Outputs['train'].S3Output.S3Uri`` → ``["Outputs", "train", "S3Output", "S3Uri"]``."""
    tokens: list[str | int] = []
    position = 0
    while position < len(path):
        match = _TOKEN.match(path, position)
        if match is None or match.end() == position:
            raise ExpressionError(f"cannot parse property path {path!r} at {path[position:]!r}")
        name, quoted, double_quoted, index = match.groups()
        if index is not None:
            tokens.append(int(index))
        else:
            tokens.append(name or quoted or double_quoted or "")
        position = match.end()
    return tokens


# List elements addressed by name in property paths (Outputs['train'], Channels['train'], …).
_NAME_KEYS = ("OutputName", "InputName", "ChannelName", "Name", "MetricName")


def walk(document: Json, path: str, *, what: str) -> Json:
    """Follow ``path`` into ``document``; a string index selects a list item by its name."""
    node = document
    for token in split_path(path):
        if isinstance(token, int):
            if not isinstance(node, list) or not -len(node) <= token < len(node):
                raise ExpressionError(f"{what}: no item [{token}]")
            node = node[token]
        elif isinstance(node, Mapping) and token in node:
            node = node[token]
        elif isinstance(node, list):
            matches = [
                item
                for item in node
                if isinstance(item, Mapping) and any(item.get(key) == token for key in _NAME_KEYS)
            ]
            if not matches:
                raise ExpressionError(f"{what}: no item named {token!r}")
            node = matches[0]
        else:
            raise ExpressionError(f"{what}: no field {token!r}")
    return node


def _property_file(step: str, name: str, context: EvaluationContext) -> Json:
    key = (step, name)
    if key not in context.property_files:
        raise ExpressionError(f"step {step!r} produced no property file {name!r}")
    return context.property_files[key]


# --- conditions ------------------------------------------------------------------------------

_COMPARISONS: dict[str, Callable[[Any, Any], bool]] = {
    "GreaterThan": lambda left, right: left > right,
    "GreaterThanOrEqualTo": lambda left, right: left >= right,
    "LessThan": lambda left, right: left < right,
    "LessThanOrEqualTo": lambda left, right: left <= right,
}


def condition_holds(condition: Json, context: EvaluationContext) -> bool:
    """Evaluate one condition object of a ``Condition`` step (every type the SDK emits)."""
    kind = condition.get("Type") if isinstance(condition, dict) else None
    if kind == "Equals":
        left, right = _comparable(condition, context)
        return bool(left == right)
    if kind in _COMPARISONS:
        left, right = _comparable(condition, context)
        try:
            return _COMPARISONS[kind](left, right)
        except TypeError:
            raise ExpressionError(f"{kind}: cannot compare {left!r} with {right!r}") from None
    if kind == "In":
        value = _scalar(resolve(condition["QueryValue"], context))
        candidates = [_scalar(resolve(item, context)) for item in condition["Values"]]
        return any(
            _coerce_pair(value, item)[0] == _coerce_pair(value, item)[1] for item in candidates
        )
    if kind == "Not":
        return not condition_holds(condition["Condition"], context)
    if kind == "Or":
        return any(condition_holds(item, context) for item in condition["Conditions"])
    raise ExpressionError(f"unsupported condition type {kind!r}")


def all_conditions_hold(conditions: list[Json], context: EvaluationContext) -> bool:
    """A Condition step's list is a conjunction (SageMaker: all must be true)."""
    return all(condition_holds(condition, context) for condition in conditions)


def _comparable(condition: Json, context: EvaluationContext) -> tuple[Any, Any]:
    left = _scalar(resolve(condition["LeftValue"], context))
    right = _scalar(resolve(condition["RightValue"], context))
    return _coerce_pair(left, right)


def _scalar(value: Json) -> Json:
    if isinstance(value, dict | list):
        raise ExpressionError(f"a condition operand must be a primitive value, got {value!r}")
    return value


def _coerce_pair(left: Json, right: Json) -> tuple[Any, Any]:
    """Numbers compare as numbers even when one side arrived as text (a JSON property file)."""
    left_number, right_number = _as_number(left), _as_number(right)
    both_numbers = left_number is not None and right_number is not None
    if both_numbers and (isinstance(left, str) or isinstance(right, str)):
        return left_number, right_number
    return left, right


def _as_number(value: Json) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            number = float(value)
        except ValueError:
            return None
        return number if math.isfinite(number) else None
    return None
