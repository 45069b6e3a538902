"""The pipeline's parameters: names, types and defaults, in one place.

The SDK builder declares them, the local executor reads them back from the definition JSON, and
the CLI validates ``--param KEY=VALUE`` against them. Keeping the table here (pure Python, no
SDK import) lets the CLI reject a misspelt parameter in milliseconds instead of after the
10-second SDK import.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from mlops.core.settings import ProjectSettings

ParameterType = Literal["String", "Integer", "Float", "Boolean"]

# The only status Register may give a new version: approval is a reviewer's UpdateModelPackage
# in the registry, never a pipeline input (the deployed execution role is held to it by an IAM
# condition on CreateModelPackage, and the approval Lambda refuses versions created Approved).
REGISTERED_APPROVAL_STATUS = "PendingManualApproval"


@dataclass(frozen=True)
class ParameterSpec:
    """One pipeline parameter as it appears in the definition's ``Parameters`` list.

    ``allowed`` becomes the definition's ``EnumValues``: the values an execution may pass.
    """

    name: str
    type: ParameterType
    default: str | int | float | bool
    allowed: tuple[str, ...] | None = None


# Placeholders used only when nothing better is known (a definition printed offline).
DEFAULT_INPUT_FILE = "data.csv"


def parameter_specs(settings: ProjectSettings, *, default_input_uri: str) -> list[ParameterSpec]:
    """Every parameter with its default taken from the project settings."""
    hp = settings.hyperparameters
    instances = settings.instances
    return [
        ParameterSpec("InputDataUrl", "String", default_input_uri),
        ParameterSpec("ProcessingInstanceType", "String", instances.processing_type),
        ParameterSpec("ProcessingInstanceCount", "Integer", instances.processing_count),
        ParameterSpec("TrainingInstanceType", "String", instances.training_type),
        ParameterSpec("TrainingInstanceCount", "Integer", instances.training_count),
        ParameterSpec("MaxDepth", "Integer", hp.max_depth),
        ParameterSpec("Eta", "Float", hp.eta),
        ParameterSpec("NumRound", "Integer", hp.num_round),
        ParameterSpec("Subsample", "Float", hp.subsample),
        ParameterSpec("ColsampleBytree", "Float", hp.colsample_bytree),
        ParameterSpec("MinChildWeight", "Float", hp.min_child_weight),
        ParameterSpec("EarlyStoppingRounds", "Integer", hp.early_stopping_rounds),
        ParameterSpec("AucThreshold", "Float", settings.metric_threshold),
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
