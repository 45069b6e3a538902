"""Typed project settings: one source of truth for the CLI, the local runtime and the CDK app.

Values come from `cdk.json` (context key ``mlops``), are overridden by environment variables
(``MLOPS_<FIELD>``, nested with ``__``, e.g. ``MLOPS_DATASET__TARGET=churn``) and then by explicit
keyword overrides (CLI flags). Everything is validated at load so that a bad value fails before
a synth, a job or a deployment starts, with the key, the value and the rule in the message.
"""

from __future__ import annotations

import json
import os
import re
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

from mlops.core.names import ProjectNames
from mlops.core.problem_types import ProblemType, problem_type_spec
from mlops.core.stages import (
    DEFAULT_STAGES,
    CiCdSettings,
    DeploymentStage,
    StageSettings,
    check_stages,
    resolve_stages,
)

CONTEXT_KEY = "mlops"
DEFAULT_CDK_JSON = Path(__file__).resolve().parent.parent.parent / "cdk.json"
# Another file in cdk.json's shape to read settings from (``mlops --config``; tests, a second
# project in one clone): the environment variable reaches CLI subprocesses too.
CONFIG_FILE_ENV = "MLOPS_CONFIG_FILE"

# SageMaker resource names: alphanumerics and hyphens, starting and ending with an alphanumeric.
# Lowercase because S3 bucket names and some SageMaker resources (e.g. model monitor jobs) need it.
_PROJECT_NAME = re.compile(r"^[a-z0-9](?:-?[a-z0-9])*$")
_INSTANCE_TYPE = re.compile(r"^ml\.[a-z0-9-]+\.(?:medium|large|[0-9]*xlarge)$")
_REGION = re.compile(r"^[a-z]{2}(?:-gov)?-[a-z]+-[0-9]$")
_ACCOUNT = re.compile(r"^[0-9]{12}$")
# SageMaker monitoring schedules accept cron(...) with six fields, or the hourly/daily shortcuts.
_CRON = re.compile(r"^cron\((\S+ ){5}\S+\)$")
# EC2 ids: the prefix, then 8 (older) or 17 hexadecimal digits.
_EC2_ID = r"^{}-(?:[0-9a-f]{{8}}|[0-9a-f]{{17}})$"


class SettingsError(ValueError):
    """A setting failed validation; the message is one line per problem, ready for a user."""


class _KeyedError(ValueError):
    """A cross-field rule broken by one setting: reported under that setting's dotted key."""

    def __init__(self, key: tuple[str, ...], value: Any, rule: str) -> None:
        super().__init__(f"setting {'.'.join(key)} = {value!r}: {rule}")


@dataclass(frozen=True)
class Gate:
    """The resolved quality gate: ``<path>`` (a JsonGet path into evaluation.json) must be
    ≥ ``threshold`` (≤ for an error metric) for a version to be registered."""

    metric: str
    threshold: float
    higher_is_better: bool
    path: str

    @property
    def comparison(self) -> str:
        return ">=" if self.higher_is_better else "<="


class DatasetSchema(BaseModel):
    """What the project's dataset looks like; any CSV that matches it can be trained on.

    Set once per project (``mlops init`` writes it into ``cdk.json``) and read by every
    command; each command's ``--target``/``--problem-type``/``--positive-label``/
    ``--drop-columns``/``--id-column`` override it for one run. The template's own example
    (the generated churn table) is in ``cdk.json``, not here: nothing defaults to it.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    target: str | None = Field(default=None, min_length=1, description="Label column name.")
    problem_type: ProblemType | None = Field(
        default=None, description="binary, multiclass or regression; inferred from the target."
    )
    positive_label: str | None = Field(
        default=None,
        min_length=1,
        description="Binary only: the target value meaning the positive class; inferred if absent.",
    )
    id_column: str | None = Field(
        default=None,
        min_length=1,
        description="The column naming a row: never a feature; sent as the InferenceId by "
        "`endpoint invoke`, the join key of `monitor ground-truth`.",
    )
    drop_columns: tuple[str, ...] = Field(
        default=(), description="Other columns that must not be features."
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
    def _consistent(self) -> DatasetSchema:
        if self.positive_label is not None and self.problem_type not in (None, "binary"):
            raise _KeyedError(
                ("dataset", "positive_label"),
                self.positive_label,
                f"only a binary problem has a positive label (problem_type is "
                f"{self.problem_type}): remove it",
            )
        roles = {
            "id_column": {self.id_column} if self.id_column else set(),
            "drop_columns": set(self.drop_columns),
            "categorical": set(self.categorical or ()),
            "numeric": set(self.numeric or ()),
        }
        for role, columns in roles.items():
            if self.target is not None and self.target in columns:
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

    @property
    def excluded_columns(self) -> tuple[str, ...]:
        """Columns that are never features: the id column, then the drop columns."""
        return ((self.id_column,) if self.id_column else ()) + self.drop_columns

    @property
    def non_feature_columns(self) -> tuple[str, ...]:
        """What to remove from a raw row before it is a model input: target and excluded."""
        return ((self.target,) if self.target else ()) + self.excluded_columns

    def require_target(self) -> str:
        """The target column; SettingsError saying how to set it when the project has none."""
        if self.target is None:
            raise SettingsError(
                "setting dataset.target = None: no target column is configured; run "
                "`mlops init --data FILE --target COLUMN` or pass --target"
            )
        return self.target

    def require_problem_type(self) -> ProblemType:
        """The problem type; SettingsError when it is neither configured nor inferred yet."""
        if self.problem_type is None:
            raise SettingsError(
                "setting dataset.problem_type = None: the problem type is not set; run "
                "`mlops init --data FILE --target COLUMN` (it infers and records it) or pass "
                "--problem-type binary|multiclass|regression"
            )
        return self.problem_type


class GateSettings(BaseModel):
    """The pipeline's quality gate: which test metric must reach the ``MetricThreshold``.

    Both default per problem type (``mlops.core.problem_types``): binary ``auc`` ≥ 0.75,
    multiclass ``weighted_f1`` ≥ 0.7, regression ``r2`` ≥ 0.2. For an error metric (``rmse``,
    ``mae``, ``mse``) the threshold is a maximum.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    metric: str | None = Field(default=None, min_length=1)
    threshold: float | None = None


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


ClarifyValue = str | int | float


class BiasFacet(BaseModel):
    """A sensitive attribute, as Clarify's analysis configuration names one (``facet``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1, description="The feature column (name_or_index).")
    value_or_threshold: tuple[ClarifyValue, ...] | None = Field(
        default=None,
        description="The sensitive group's values, or for a numeric column the threshold above "
        "which a value is in the group; absent: one group per value.",
    )

    def to_config(self) -> dict[str, object]:
        """Clarify's ``{"name_or_index", "value_or_threshold"}``."""
        entry: dict[str, object] = {"name_or_index": self.name}
        if self.value_or_threshold:
            entry["value_or_threshold"] = list(self.value_or_threshold)
        return entry


class BiasSettings(BaseModel):
    """Bias baselines and bias drift monitoring (SageMaker Clarify's settings); no facet = no
    bias monitoring. ``label_values_or_threshold`` says which outcome is positive: defaults
    to the positive label of a binary problem; a multiclass problem lists classes, a
    regression gives one threshold (an outcome above it is positive)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    facets: tuple[BiasFacet, ...] = ()
    label_values_or_threshold: tuple[ClarifyValue, ...] | None = None
    group_variable: str | None = Field(
        default=None, min_length=1, description="Subgroup column of CDDL and CDDPL."
    )


class ExplainabilitySettings(BaseModel):
    """SHAP baselines and feature-attribution drift monitoring (SageMaker Clarify's SHAP)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = True
    agg_method: Literal["mean_abs", "median", "mean_sq"] = "mean_abs"
    num_samples: int = Field(
        default=100, ge=1, le=100_000, description="Kernel SHAP samples of the AWS monitor."
    )


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
    ground_truth_offset_hours: int = Field(
        default=1,
        ge=0,
        le=168,
        description="Model quality and bias drift analyse the capture hour that ended this many "
        "hours before each execution, so its ground truth has arrived.",
    )
    bias: BiasSettings = BiasSettings()
    explainability: ExplainabilitySettings = ExplainabilitySettings()

    @field_validator("schedule")
    @classmethod
    def _is_schedule_expression(cls, value: str) -> str:
        if not _CRON.match(value):
            raise ValueError("must be a six-field SageMaker cron expression like cron(0 * ? * * *)")
        return value


class NetworkSettings(BaseModel):
    """VPC placement (optional): jobs, models and the project's functions in private subnets.

    Absent: nothing is placed in a VPC. Present: every SageMaker job (pipeline, monitoring,
    batch), every model (endpoints, batch transform) and both Lambda functions attach to
    ``subnet_ids`` with ``security_group_ids`` (empty: the storage stack creates one group
    per purpose). The ids are taken as given: the synth never looks the VPC up, so it stays
    offline. ``create_endpoints`` adds what private subnets without a NAT need (infra/network).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    vpc_id: str = Field(description="The VPC the subnets belong to (vpc-…).")
    subnet_ids: tuple[str, ...] = Field(
        max_length=16,
        description="Private subnets (subnet-…); two or more in different zones recommended.",
    )
    security_group_ids: tuple[str, ...] = Field(
        default=(),
        max_length=5,
        description="Security groups (sg-…) for everything placed; empty: created per purpose.",
    )
    create_endpoints: bool = Field(
        default=True,
        description="Create the S3 gateway endpoint and the SageMaker API and CloudFormation "
        "interface endpoints; false when the VPC already reaches them (its endpoints, a NAT).",
    )
    route_table_ids: tuple[str, ...] = Field(
        default=(),
        max_length=16,
        description="The subnets' route tables (rtb-…): where the S3 gateway endpoint routes.",
    )

    @field_validator("vpc_id")
    @classmethod
    def _is_vpc_id(cls, value: str) -> str:
        return _ec2_id("vpc", value)

    @field_validator("subnet_ids")
    @classmethod
    def _are_subnet_ids(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if not value:
            raise ValueError(
                "list at least one private subnet (subnet-…); two or more in different "
                "availability zones keep jobs and endpoints running when a zone is not"
            )
        return _ec2_ids("subnet", value)

    @field_validator("security_group_ids")
    @classmethod
    def _are_security_group_ids(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return _ec2_ids("sg", value)

    @field_validator("route_table_ids")
    @classmethod
    def _are_route_table_ids(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return _ec2_ids("rtb", value)

    @model_validator(mode="after")
    def _endpoints_have_route_tables(self) -> NetworkSettings:
        if self.create_endpoints and not self.route_table_ids:
            raise _KeyedError(
                ("network", "route_table_ids"),
                [],
                "the S3 gateway endpoint needs the private subnets' route tables: list them "
                "(rtb-…), or set network.create_endpoints to false if the VPC already reaches "
                "S3, SageMaker and CloudFormation",
            )
        return self


def _ec2_id(prefix: str, value: str) -> str:
    if not re.match(_EC2_ID.format(prefix), value):
        raise ValueError(f"must be an id like {prefix}-0123456789abcdef0")
    return value


def _ec2_ids(prefix: str, values: tuple[str, ...]) -> tuple[str, ...]:
    for value in values:
        _ec2_id(prefix, value)
    repeated = sorted({value for value in values if values.count(value) > 1})
    if repeated:
        raise ValueError(f"{repeated} listed more than once")
    return values


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
    gate: GateSettings = GateSettings()
    prediction_threshold: float = Field(
        default=0.5, gt=0, lt=1, description="Probability at which the endpoint answers positive."
    )
    approval_status: Literal["PendingManualApproval", "Approved", "Rejected"] = (
        "PendingManualApproval"
    )
    monitoring: MonitoringSettings = MonitoringSettings()
    dataset: DatasetSchema = DatasetSchema()
    stages: tuple[StageSettings, ...] = Field(
        default=DEFAULT_STAGES,
        description="Ordered deployment stages; the last is production (mlops.core.stages).",
    )
    cicd: CiCdSettings = CiCdSettings()
    network: NetworkSettings | None = Field(
        default=None, description="VPC placement; absent: nothing runs in a VPC."
    )

    @model_validator(mode="after")
    def _stages_fit_the_project(self) -> ProjectSettings:
        try:
            check_stages(self.stages, project_account=self.account, project_region=self.region)
        except ValueError as error:
            raise _KeyedError(("stages",), [s.name for s in self.stages], str(error)) from None
        return self

    @model_validator(mode="after")
    def _network_holds_every_stage(self) -> ProjectSettings:
        if self.network is None:
            return self
        foreign = [stage.name for stage in self.deployment_stages if stage.cross_account]
        if foreign:
            raise _KeyedError(
                ("network",),
                self.network.vpc_id,
                f"stages {foreign} are in another account, which cannot use this VPC: VPC "
                "placement needs every stage in the project's account",
            )
        return self

    @property
    def deployment_stages(self) -> tuple[DeploymentStage, ...]:
        """The stages with the project's defaults resolved (account, region, instances)."""
        instances = self.instances
        return resolve_stages(
            self.stages,
            names=self.names,
            project_account=self.account,
            project_region=self.region,
            instance_type=instances.endpoint_type,
            initial_count=instances.endpoint_initial_count,
            max_count=instances.endpoint_max_count,
        )

    @model_validator(mode="after")
    def _gate_fits_the_problem_type(self) -> ProjectSettings:
        problem_type = self.dataset.problem_type
        if problem_type is None:
            return self
        spec = problem_type_spec(problem_type)
        if self.gate.metric is not None and self.gate.metric not in spec.metric_names:
            raise _KeyedError(
                ("gate", "metric"),
                self.gate.metric,
                f"not a {problem_type} metric; choose one of {', '.join(spec.metric_names)}",
            )
        gate = self.resolved_gate()
        problem = spec.metric(gate.metric).check_threshold(gate.threshold)
        if problem is not None and self.gate.threshold is not None:
            raise _KeyedError(("gate", "threshold"), self.gate.threshold, problem)
        return self

    @model_validator(mode="after")
    def _bias_fits_the_problem_type(self) -> ProjectSettings:
        bias = self.monitoring.bias
        problem_type = self.dataset.problem_type
        key = ("monitoring", "bias", "label_values_or_threshold")
        given = bias.label_values_or_threshold
        if not bias.facets or problem_type is None:
            return self
        if (
            problem_type == "regression"
            and given is not None
            and (len(given) != 1 or isinstance(given[0], str))
        ):
            raise _KeyedError(key, list(given), "a regression takes one number: the threshold")
        not_features = set(self.dataset.non_feature_columns)
        for facet in bias.facets:
            if facet.name in not_features:
                raise _KeyedError(
                    ("monitoring", "bias", "facets"),
                    facet.name,
                    "a facet must be a feature, not the target, id or a dropped column",
                )
        return self

    def resolved_bias_labels(self) -> tuple[ClarifyValue, ...] | None:
        """The positive outcomes of bias metrics; None when the project monitors no bias: no
        facet, or a multiclass / regression problem without ``label_values_or_threshold``
        (only a binary problem has a default: its positive label)."""
        bias = self.monitoring.bias
        if not bias.facets:
            return None
        if bias.label_values_or_threshold is not None:
            return bias.label_values_or_threshold
        positive = self.dataset.positive_label
        return (positive,) if positive is not None else None

    def resolved_gate(self) -> Gate:
        """The gate metric and default threshold for the (configured) problem type."""
        spec = problem_type_spec(self.dataset.require_problem_type())
        metric = spec.metric(self.gate.metric or spec.default_gate_metric)
        threshold = (
            self.gate.threshold if self.gate.threshold is not None else spec.default_gate_threshold
        )
        return Gate(
            metric=metric.name,
            threshold=float(threshold),
            higher_is_better=metric.higher_is_better,
            path=spec.metric_path(metric.name),
        )

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
    _source.cdk_json = cdk_json or config_file()
    _source.context = context
    try:
        return ProjectSettings(**(overrides or {}))
    except ValidationError as error:
        raise SettingsError(describe_validation_error(error)) from None
    finally:
        _source.cdk_json = DEFAULT_CDK_JSON
        _source.context = None


def config_file() -> Path:
    """The settings file: ``$MLOPS_CONFIG_FILE`` when set, else the clone's ``cdk.json``."""
    override = os.environ.get(CONFIG_FILE_ENV)
    return Path(override) if override else DEFAULT_CDK_JSON


def describe_validation_error(error: ValidationError) -> str:
    """One line per problem: ``setting <dotted.key> = <value>: <rule>``."""
    lines = []
    for problem in error.errors():
        cause = (problem.get("ctx") or {}).get("error")
        if isinstance(cause, _KeyedError):  # a cross-field rule: already names its key
            lines.append(str(cause))
            continue
        key = ".".join(str(part) for part in problem["loc"]) or "settings"
        message = problem["msg"].removeprefix("Value error, ")
        if problem["type"] == "extra_forbidden":
            message = "unknown setting (check the spelling against the README's reference)"
        lines.append(f"setting {key} = {problem.get('input')!r}: {message}")
    return "\n".join(lines)
