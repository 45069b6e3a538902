"""Deployment stages and CI/CD settings: where approved model versions are served.

``stages`` is an ordered list, e.g. ``staging`` then ``prod``. Approval in the registry deploys
a version to the first stage; each later stage is reached only by an explicit promotion
(``sagemaker_pipelines.lifecycle``). The **last stage is production** and keeps the project's
own resource names (``<project>-endpoint``, ``<project>-serving``, …, as before stages
existed); every earlier stage's resources are named ``<project>-<stage>-…``
(``mlops.core.names.StageNames``).

Each stage names its account and region (default: the project's, i.e. the deploying
"tooling" account), its endpoint's instance type and counts (default: ``instances``) and the
bake time of its checks. Stages in another account need the project's ``account`` set: the
tooling account's registry, artifact bucket and key name the other account in their policies.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict, Field, field_validator

from mlops.core.names import ProjectNames, StageNames

_STAGE_NAME = re.compile(r"^[a-z][a-z0-9]{0,9}$")
_ACCOUNT = re.compile(r"^[0-9]{12}$")
_REGION = re.compile(r"^[a-z]{2}(?:-gov)?-[a-z]+-[0-9]$")
_INSTANCE_TYPE = re.compile(r"^ml\.[a-z0-9-]+\.(?:medium|large|[0-9]*xlarge)$")
_REPOSITORY = re.compile(r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$")
_IAM_PATH = re.compile(r"^/(?:[\x21-\x7e]+/)?$")
_POLICY_ARN = re.compile(r"^arn:aws[a-z-]*:iam::(?:[0-9]{12}|aws):policy/[\x21-\x7e]+$")
DEFAULT_BAKE_SECONDS = 600


class StageSettings(BaseModel):
    """One deployment stage. Unset values fall back to the project's."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(description="Lowercase letters and digits, at most 10, starting a letter.")
    account: str | None = Field(default=None, description="12-digit account; default: project's.")
    region: str | None = Field(default=None, description="Region; default: the project's.")
    instance_type: str | None = Field(default=None, description="Default: instances.endpoint_type.")
    initial_count: int | None = Field(default=None, ge=1, le=100)
    max_count: int | None = Field(default=None, ge=1, le=100)
    bake_seconds: int = Field(
        default=DEFAULT_BAKE_SECONDS,
        ge=0,
        le=86_400,
        description="How long the stage's alarms must stay quiet after a deployment.",
    )

    @field_validator("name")
    @classmethod
    def _is_stage_name(cls, value: str) -> str:
        if not _STAGE_NAME.match(value):
            raise ValueError(
                "must be 1-10 lowercase letters and digits starting with a letter (it is part "
                "of resource, role and stack names), e.g. staging or prod"
            )
        return value

    @field_validator("account")
    @classmethod
    def _is_account(cls, value: str | None) -> str | None:
        if value is not None and not _ACCOUNT.match(value):
            raise ValueError("must be a 12-digit AWS account id")
        return value

    @field_validator("region")
    @classmethod
    def _is_region(cls, value: str | None) -> str | None:
        if value is not None and not _REGION.match(value):
            raise ValueError("must be an AWS region name such as us-east-1")
        return value

    @field_validator("instance_type")
    @classmethod
    def _is_instance_type(cls, value: str | None) -> str | None:
        if value is not None and not _INSTANCE_TYPE.match(value):
            raise ValueError("must be a SageMaker instance type such as ml.m5.large")
        return value


DEFAULT_STAGES = (StageSettings(name="staging"), StageSettings(name="prod"))


class CiCdSettings(BaseModel):
    """The CI/CD bootstrap stack (``<project>-cicd``): GitHub Actions OIDC roles per stage."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    github_repository: str | None = Field(
        default=None, description="owner/name; set it to synthesize the CI/CD stack."
    )
    oidc_provider_arn: str | None = Field(
        default=None,
        description="An existing token.actions.githubusercontent.com provider; default: create one.",
    )
    permissions_boundary: str | None = Field(
        default=None, description="Managed policy ARN applied as every project role's boundary."
    )
    iam_path: str = Field(default="/", description="IAM path of the CI/CD roles.")

    @field_validator("github_repository")
    @classmethod
    def _is_repository(cls, value: str | None) -> str | None:
        if value is not None and not _REPOSITORY.match(value):
            raise ValueError("must be a GitHub repository as owner/name")
        return value

    @field_validator("permissions_boundary")
    @classmethod
    def _is_policy_arn(cls, value: str | None) -> str | None:
        if value is not None and not _POLICY_ARN.match(value):
            raise ValueError("must be an IAM managed policy ARN (arn:aws:iam::<account>:policy/…)")
        return value

    @field_validator("iam_path")
    @classmethod
    def _is_iam_path(cls, value: str) -> str:
        if not _IAM_PATH.match(value) or len(value) > 512:
            raise ValueError("must be an IAM path: / or /segments/ (printable ASCII)")
        return value

    @field_validator("oidc_provider_arn")
    @classmethod
    def _is_provider_arn(cls, value: str | None) -> str | None:
        if value is not None and not re.match(
            r"^arn:aws[a-z-]*:iam::[0-9]{12}:oidc-provider/token\.actions\.githubusercontent\.com$",
            value,
        ):
            raise ValueError("must be the ARN of a token.actions.githubusercontent.com provider")
        return value


def check_stages(
    stages: tuple[StageSettings, ...], *, project_account: str | None, project_region: str
) -> None:
    """Cross-field rules of the stage list (ValueError naming the rule)."""
    if not stages:
        raise ValueError("stages: at least one stage (the last one is production)")
    names = [stage.name for stage in stages]
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        raise ValueError(f"stages: names must be distinct, {duplicates} repeat")
    elsewhere = [stage.name for stage in stages if stage.region not in (None, project_region)]
    if elsewhere:
        raise ValueError(
            f"stages {elsewhere} name another region than the project's ({project_region}): "
            "SageMaker serves a model only from an S3 bucket in the endpoint's region, and the "
            "model artifacts live in the project's artifact bucket"
        )
    foreign = [stage.name for stage in stages if stage.account not in (None, project_account)]
    if foreign and project_account is None:
        raise ValueError(
            f"stages {foreign} name an account: set the project's account (the tooling account "
            "whose registry, bucket and key policies grant those accounts) as well"
        )


@dataclass(frozen=True)
class DeploymentStage:
    """A stage with every default resolved."""

    name: str
    position: int
    account: str | None  # None: the deploying account (whatever the credentials say)
    region: str
    instance_type: str
    initial_count: int
    max_count: int
    bake_seconds: int
    production: bool
    cross_account: bool
    names: StageNames

    @property
    def first(self) -> bool:
        return self.position == 0


def resolve_stages(
    stages: tuple[StageSettings, ...],
    *,
    names: ProjectNames,
    project_account: str | None,
    project_region: str,
    instance_type: str,
    initial_count: int,
    max_count: int,
) -> tuple[DeploymentStage, ...]:
    """The stages with the project's defaults filled in (``stages`` already checked)."""
    resolved = []
    for position, stage in enumerate(stages):
        production = position == len(stages) - 1
        initial = stage.initial_count or initial_count
        resolved.append(
            DeploymentStage(
                name=stage.name,
                position=position,
                account=stage.account or project_account,
                region=stage.region or project_region,
                instance_type=stage.instance_type or instance_type,
                initial_count=initial,
                max_count=max(stage.max_count or max_count, initial),
                bake_seconds=stage.bake_seconds,
                production=production,
                cross_account=stage.account not in (None, project_account),
                names=names.stage(stage.name, production=production),
            )
        )
    return tuple(resolved)


def retrains_on_drift(enabled: bool, stage: DeploymentStage) -> bool:
    """Whether ``stage``'s drift alarm starts the training pipeline (``monitoring.retrain_on_drift``).

    Only production traffic says the world moved, and EventBridge starts a pipeline of its own
    account only: the production stage in the tooling account retrains on drift.
    """
    return enabled and stage.production and not stage.cross_account
