"""Typed project settings: one source of truth for the CLI, the local runtime and the CDK app.

Values come from `cdk.json` (context key ``mlops``), are overridden by environment variables
(``MLOPS_<FIELD>``, nested with ``__``, e.g. ``MLOPS_DATASET__TARGET=churn``) and then by explicit
keyword overrides (CLI flags). Everything is validated at load so that a bad value fails before
a synth, a job or a deployment starts, with the key, the value and the rule in the message.
"""

from __future__ import annotations

import json
import re
import threading
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

from mlops.core.names import ProjectNames

CONTEXT_KEY = "mlops"
DEFAULT_CDK_JSON = Path(__file__).resolve().parent.parent / "cdk.json"

# SageMaker resource names: alphanumerics and hyphens, starting and ending with an alphanumeric.
# Lowercase because S3 bucket names and some SageMaker resources (e.g. model monitor jobs) need it.
_PROJECT_NAME = re.compile(r"^[a-z0-9](?:-?[a-z0-9])*$")
_INSTANCE_TYPE = re.compile(r"^ml\.[a-z0-9-]+\.(?:medium|large|[0-9]*xlarge)$")
_REGION = re.compile(r"^[a-z]{2}(?:-gov)?-[a-z]+-[0-9]$")
_ACCOUNT = re.compile(r"^[0-9]{12}$")
# SageMaker monitoring schedules accept cron(...) with six fields, or the hourly/daily shortcuts.
_CRON = re.compile(r"^cron\((\S+ ){5}\S+\)$")


class SettingsError(ValueError):
    """A setting failed validation; the message is one line per problem, ready for a user."""


class DatasetSchema(BaseModel):
    """What a tabular dataset looks like; any CSV that matches it can be trained on."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    target: str = Field(default="churn", min_length=1, description="Label column name.")
    positive_label: str = Field(
        default="Yes", min_length=1, description="Target value meaning the positive class."
    )
    drop_columns: tuple[str, ...] = Field(
        default=("customer_id",), description="Identifier columns that must not be features."
    )
    categorical: tuple[str, ...] | None = Field(
        default=None, description="Categorical features; inferred from the data when absent."
    )
    numeric: tuple[str, ...] | None = Field(
        default=None, description="Numeric features; inferred from the data when absent."
    )

    @field_validator("drop_columns", "categorical", "numeric", mode="before")
    @classmethod
    def _split_comma_list(cls, value: Any) -> Any:
        if isinstance(value, str):
            return tuple(part.strip() for part in value.split(",") if part.strip())
        return value

    @model_validator(mode="after")
    def _columns_do_not_overlap(self) -> DatasetSchema:
        roles = {
            "drop_columns": set(self.drop_columns),
            "categorical": set(self.categorical or ()),
            "numeric": set(self.numeric or ()),
        }
        for role, columns in roles.items():
            if self.target in columns:
                raise ValueError(f"target column {self.target!r} cannot also be listed in {role}")
        names = list(roles)
        for i, first in enumerate(names):
            for second in names[i + 1 :]:
                shared = roles[first] & roles[second]
                if shared:
                    raise ValueError(
                        f"columns {sorted(shared)} are listed in both {first} and {second}"
                    )
        return self


class HyperParameters(BaseModel):
    """XGBoost defaults; each also exists as a pipeline parameter so a run can override it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    max_depth: int = Field(default=5, ge=1, le=20)
    eta: float = Field(default=0.1, gt=0, le=1)
    num_round: int = Field(default=300, ge=1, le=10_000)
    subsample: float = Field(default=0.8, gt=0, le=1)
    colsample_bytree: float = Field(default=0.8, gt=0, le=1)
    min_child_weight: float = Field(default=1.0, ge=0)
    early_stopping_rounds: int = Field(default=20, ge=1, le=1_000)


class InstanceSettings(BaseModel):
    """Instance types and counts; the defaults are the cheapest that fit the default dataset."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    processing_type: str = "ml.m5.large"
    processing_count: int = Field(default=1, ge=1, le=100)
    training_type: str = "ml.m5.xlarge"
    training_count: int = Field(default=1, ge=1, le=100)
    endpoint_type: str = "ml.m5.large"
    endpoint_initial_count: int = Field(default=1, ge=1, le=100)
    endpoint_max_count: int = Field(default=2, ge=1, le=100)
    monitoring_type: str = "ml.m5.large"

    @field_validator("processing_type", "training_type", "endpoint_type", "monitoring_type")
    @classmethod
    def _is_sagemaker_instance_type(cls, value: str) -> str:
        if not _INSTANCE_TYPE.match(value):
            raise ValueError("must be a SageMaker instance type such as ml.m5.large")
        return value

    @model_validator(mode="after")
    def _max_not_below_initial(self) -> InstanceSettings:
        if self.endpoint_max_count < self.endpoint_initial_count:
            raise ValueError(
                f"endpoint_max_count ({self.endpoint_max_count}) must be >= "
                f"endpoint_initial_count ({self.endpoint_initial_count})"
            )
        return self


class MonitoringSettings(BaseModel):
    """Data capture and Model Monitor configuration for the real-time endpoint."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    capture_sampling_percentage: int = Field(default=100, ge=0, le=100)
    schedule: str = "cron(0 * ? * * *)"
    drift_threshold: float = Field(
        default=0.1, gt=0, le=1, description="baseline_drift_check distance threshold"
    )
    retrain_on_drift: bool = Field(
        default=False, description="Drift alarm starts a pipeline execution."
    )

    @field_validator("schedule")
    @classmethod
    def _is_schedule_expression(cls, value: str) -> str:
        if not _CRON.match(value):
            raise ValueError("must be a six-field SageMaker cron expression like cron(0 * ? * * *)")
        return value


class ProjectSettings(BaseSettings):
    """Everything a team configures; see the README's configuration reference."""

    model_config = SettingsConfigDict(
        env_prefix="MLOPS_",
        env_nested_delimiter="__",
        extra="forbid",
        frozen=True,
    )

    project_name: str = Field(default="churn-mlops", max_length=32)
    account: str | None = Field(default=None, description="12-digit AWS account id.")
    region: str = "us-east-1"
    instances: InstanceSettings = InstanceSettings()
    hyperparameters: HyperParameters = HyperParameters()
    metric_threshold: float = Field(
        default=0.75, ge=0, le=1, description="Minimum test AUC to register a model."
    )
    prediction_threshold: float = Field(
        default=0.5, gt=0, lt=1, description="Probability at which the endpoint answers positive."
    )
    approval_status: Literal["PendingManualApproval", "Approved", "Rejected"] = (
        "PendingManualApproval"
    )
    monitoring: MonitoringSettings = MonitoringSettings()
    dataset: DatasetSchema = DatasetSchema()

    @field_validator("project_name")
    @classmethod
    def _is_resource_prefix(cls, value: str) -> str:
        if not _PROJECT_NAME.match(value):
            raise ValueError(
                "must be lowercase letters, digits and single hyphens, start and end with a "
                "letter or digit (a SageMaker resource name prefix)"
            )
        return value

    @field_validator("account")
    @classmethod
    def _is_account_id(cls, value: str | None) -> str | None:
        if value is not None and not _ACCOUNT.match(value):
            raise ValueError("must be a 12-digit AWS account id")
        return value

    @field_validator("region")
    @classmethod
    def _is_region(cls, value: str) -> str:
        if not _REGION.match(value):
            raise ValueError("must be an AWS region name such as us-east-1")
        return value

    @property
    def names(self) -> ProjectNames:
        """Every resource name of the project, AWS and local (``mlops.core.names``)."""
        return ProjectNames(self.project_name)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings, env_settings, _CdkContextSource(settings_cls))


class _CdkContextSource(PydanticBaseSettingsSource):
    """The ``mlops`` object of ``cdk.json``'s context, or the context dict the CDK app passes."""

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:
        return self().get(field_name), field_name, False

    def __call__(self) -> dict[str, Any]:
        if _source.context is not None:
            return dict(_source.context)
        path = _source.cdk_json
        if not path.exists():
            return {}
        try:
            document = json.loads(path.read_text())
        except json.JSONDecodeError as error:
            raise SettingsError(f"{path}: not valid JSON ({error})") from error
        context = document.get("context", {}).get(CONTEXT_KEY, {})
        if not isinstance(context, dict):
            raise SettingsError(f"{path}: context.{CONTEXT_KEY} must be an object")
        return context


class _SourceSelection(threading.local):
    """Where the next load reads its base values; thread-local so parallel loads don't mix."""

    def __init__(self) -> None:
        self.cdk_json: Path = DEFAULT_CDK_JSON
        self.context: dict[str, Any] | None = None


_source = _SourceSelection()


def load_settings(
    overrides: dict[str, Any] | None = None,
    *,
    cdk_json: Path | None = None,
    context: dict[str, Any] | None = None,
) -> ProjectSettings:
    """Load and validate settings; raise `SettingsError` naming each bad key, value and rule.

    Precedence, highest first: ``overrides`` (CLI flags), ``MLOPS_*`` environment variables,
    then ``context`` (the CDK app passes ``node.try_get_context("mlops")``) or the ``cdk.json``
    file.
    """
    _source.cdk_json = cdk_json or DEFAULT_CDK_JSON
    _source.context = context
    try:
        return ProjectSettings(**(overrides or {}))
    except ValidationError as error:
        raise SettingsError(describe_validation_error(error)) from None
    finally:
        _source.cdk_json = DEFAULT_CDK_JSON
        _source.context = None


def describe_validation_error(error: ValidationError) -> str:
    """One line per problem: ``setting <dotted.key> = <value>: <rule>``."""
    lines = []
    for problem in error.errors():
        key = ".".join(str(part) for part in problem["loc"]) or "settings"
        message = problem["msg"].removeprefix("Value error, ")
        if problem["type"] == "extra_forbidden":
            message = "unknown setting (check the spelling against the README's reference)"
        lines.append(f"setting {key} = {problem.get('input')!r}: {message}")
    return "\n".join(lines)
