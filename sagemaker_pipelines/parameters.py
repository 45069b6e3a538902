"""The pipeline's parameters: names, types and defaults, in one place.

The SDK builder declares them, the local executor reads them back from the definition JSON, and
the CLI validates ``--param KEY=VALUE`` against them (`check_overrides`) before any step runs:
name, type, and the value against the rule of the setting the parameter stands for (``Eta`` is
``hyperparameters.eta``: in (0, 1]), so ``--param Eta=2`` is refused in milliseconds instead of
failing Train after Preprocess ran. Keeping the table here (pure Python, no SDK import) is what
makes that fast.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import ValidationError

from mlops.core.settings import ProjectSettings, describe_validation_error

ParameterType = Literal["String", "Integer", "Float", "Boolean"]

# The only status Register may give a new version: approval is a reviewer's UpdateModelPackage
# in the registry, never a pipeline input (the deployed execution role is held to it by an IAM
# condition on CreateModelPackage, and the approval Lambda refuses versions created Approved).
REGISTERED_APPROVAL_STATUS = "PendingManualApproval"


@dataclass(frozen=True)
class ParameterSpec:
    """One pipeline parameter as it appears in the definition's ``Parameters`` list.

    ``allowed`` becomes the definition's ``EnumValues``: the values an execution may pass.
    ``setting`` is the dotted settings key whose default (and rule) the parameter carries.
    """

    name: str
    type: ParameterType
    default: str | int | float | bool
    allowed: tuple[str, ...] | None = None
    setting: str | None = None


# Placeholders used only when nothing better is known (a definition printed offline).
DEFAULT_INPUT_FILE = "data.csv"


def parameter_specs(settings: ProjectSettings, *, default_input_uri: str) -> list[ParameterSpec]:
    """Every parameter with its default taken from the project settings."""
    hp = settings.hyperparameters
    instances = settings.instances

    def spec(name: str, kind: ParameterType, setting: str, default: Any) -> ParameterSpec:
        return ParameterSpec(name, kind, default, setting=setting)

    return [
        ParameterSpec("InputDataUrl", "String", default_input_uri),
        spec(
            "ProcessingInstanceType",
            "String",
            "instances.processing_type",
            instances.processing_type,
        ),
        spec("TrainingInstanceType", "String", "instances.training_type", instances.training_type),
        spec(
            "TrainingInstanceCount", "Integer", "instances.training_count", instances.training_count
        ),
        spec("MaxDepth", "Integer", "hyperparameters.max_depth", hp.max_depth),
        spec("Eta", "Float", "hyperparameters.eta", hp.eta),
        spec("NumRound", "Integer", "hyperparameters.num_round", hp.num_round),
        spec("Subsample", "Float", "hyperparameters.subsample", hp.subsample),
        spec("ColsampleBytree", "Float", "hyperparameters.colsample_bytree", hp.colsample_bytree),
        spec("MinChildWeight", "Float", "hyperparameters.min_child_weight", hp.min_child_weight),
        spec(
            "EarlyStoppingRounds",
            "Integer",
            "hyperparameters.early_stopping_rounds",
            hp.early_stopping_rounds,
        ),
        spec("MetricThreshold", "Float", "gate.threshold", settings.resolved_gate().threshold),
        _approval_status(settings),
    ]


def _approval_status(settings: ProjectSettings) -> ParameterSpec:
    """``ModelApprovalStatus``, declared with ``PendingManualApproval`` as its only value.

    Kept as a parameter so existing ``--param ModelApprovalStatus=PendingManualApproval``
    invocations still work; any other value is refused before an execution starts.
    """
    if settings.approval_status != REGISTERED_APPROVAL_STATUS:
        raise ParameterError(
            f"setting approval_status = {settings.approval_status!r} is not allowed: the pipeline "
            f"registers every version as {REGISTERED_APPROVAL_STATUS} and a reviewer approves it "
            "in the registry (mlops models approve)"
        )
    return ParameterSpec(
        "ModelApprovalStatus",
        "String",
        REGISTERED_APPROVAL_STATUS,
        allowed=(REGISTERED_APPROVAL_STATUS,),
    )


class ParameterError(ValueError):
    """A parameter override names no parameter or has a value of the wrong type."""


def resolve_parameters(
    declared: list[dict[str, Any]], overrides: dict[str, str] | None = None
) -> dict[str, str | int | float | bool]:
    """Values of the definition's ``Parameters``: defaults, then typed ``overrides``.

    Overrides arrive as text (``--param MaxDepth=6``) and are converted to the declared type,
    as SageMaker does for ``start_pipeline_execution``; an unknown name or a value that does
    not parse is an error naming the parameter and listing the valid ones.
    """
    types = {str(item["Name"]): str(item.get("Type", "String")) for item in declared}
    allowed = {str(item["Name"]): item["EnumValues"] for item in declared if "EnumValues" in item}
    values: dict[str, str | int | float | bool] = {}
    for item in declared:
        if "DefaultValue" in item:
            values[str(item["Name"])] = _convert(
                str(item["Name"]), types[str(item["Name"])], item["DefaultValue"]
            )
    for name, raw in (overrides or {}).items():
        if name not in types:
            raise ParameterError(
                f"unknown pipeline parameter {name!r}; valid: {', '.join(sorted(types))}"
            )
        values[name] = _convert(name, types[name], raw)
    for name, choices in allowed.items():
        if name in values and values[name] not in choices:
            raise ParameterError(
                f"pipeline parameter {name} must be one of {list(choices)}, got {values[name]!r}"
            )
    missing = sorted(set(types) - set(values))
    if missing:
        raise ParameterError(f"pipeline parameters without a default need a value: {missing}")
    return values


def _convert(name: str, kind: str, value: Any) -> str | int | float | bool:
    try:
        if kind == "Integer":
            if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
                raise ValueError
            return int(value)
        if kind == "Float":
            if isinstance(value, bool):
                raise ValueError
            return float(value)
        if kind == "Boolean":
            if isinstance(value, bool):
                return value
            text = str(value).strip().lower()
            if text not in {"true", "false"}:
                raise ValueError
            return text == "true"
    except ValueError:
        raise ParameterError(f"pipeline parameter {name} is {kind}, got {value!r}") from None
    return str(value)


# What CreateModelPackage accepts in a CustomerMetadataProperties value (botocore's
# CustomerMetadataValue pattern): Register records the InputDataUrl there.
_METADATA_VALUE = re.compile(r"^[\w\s.:/=+\-@]{1,256}$")


def check_overrides(
    settings: ProjectSettings, overrides: dict[str, str] | None
) -> dict[str, str | int | float | bool]:
    """Every override checked as the run would need it, before anything runs; ParameterError
    naming the parameter, its value and the rule (one line per problem).

    Names (a near miss such as ``max_depth`` or ``maxdepth`` is named), types, allowed values,
    and the rule of the setting each parameter stands for (``Eta`` → ``hyperparameters.eta``);
    ``InputDataUrl`` must be an ``s3://`` URI that the registry can record.
    """
    specs = parameter_specs(settings, default_input_uri="s3://placeholder/")
    by_name = {spec.name: spec for spec in specs}
    values: dict[str, str | int | float | bool] = {}
    problems: list[str] = []
    tree: dict[str, Any] = {}
    for name, raw in (overrides or {}).items():
        spec = by_name.get(name)
        if spec is None:
            problems.append(_unknown(name, sorted(by_name)))
            continue
        try:
            value = _convert(name, spec.type, raw)
        except ParameterError as error:
            problems.append(str(error))
            continue
        if spec.allowed is not None and value not in spec.allowed:
            problems.append(
                f"pipeline parameter {name} must be one of {list(spec.allowed)}, got {value!r}"
            )
            continue
        if name == "InputDataUrl" and not (
            str(value).startswith("s3://") and _METADATA_VALUE.match(str(value))
        ):
            problems.append(
                f"pipeline parameter InputDataUrl = {value!r}: must be an s3:// URI of letters, "
                "digits, spaces and _.:/=+-@ (the registry records it with the model version)"
            )
            continue
        values[name] = value
        if spec.setting is not None:
            node = tree
            *parents, leaf = spec.setting.split(".")
            for part in parents:
                node = node.setdefault(part, {})
            node[leaf] = value
    if tree and not problems:
        problems += _setting_rules(settings, tree, by_name)
    if problems:
        raise ParameterError("\n".join(problems))
    return values


def _setting_rules(
    settings: ProjectSettings, tree: dict[str, Any], by_name: dict[str, ParameterSpec]
) -> list[str]:
    """The settings' own rules applied to the overridden values: one line per broken rule."""
    document = _merge(settings.model_dump(), tree)
    try:
        ProjectSettings(**document)
    except ValidationError as error:
        parameter_of = {spec.setting: spec.name for spec in by_name.values() if spec.setting}
        lines = []
        for line in describe_validation_error(error).splitlines():
            key = line.removeprefix("setting ").split(" = ", 1)[0]
            name = parameter_of.get(key)
            lines.append(f"pipeline parameter {name}: {line}" if name else line)
        return lines
    return []


def _merge(base: dict[str, Any], top: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in top.items():
        merged[key] = _merge(merged[key], value) if isinstance(value, dict) else value
    return merged


def _unknown(name: str, valid: list[str]) -> str:
    """``unknown pipeline parameter 'max_depth' (did you mean MaxDepth?); valid: …``."""
    folded = {_fold(candidate): candidate for candidate in valid}
    guess = folded.get(_fold(name))
    hint = f" (did you mean {guess}?)" if guess else ""
    return f"unknown pipeline parameter {name!r}{hint}; valid: {', '.join(valid)}"


def _fold(name: str) -> str:
    return name.replace("_", "").replace("-", "").lower()
