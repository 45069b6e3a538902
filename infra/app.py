"""Assemble the CDK app: the stacks of validated settings, plus the compliance checks.

The tooling account holds storage, the pipeline and registry, batch and the deploy stack;
each deployment stage has a serving stack in its own account and region, and a stage in
another account a stage stack as well (``mlops.core.stages``).

The top of ``infra``: it imports the components' stacks, and nothing in ``infra`` imports it
(only the root ``app.py`` and the tests do).

``build_app`` takes everything computed outside CDK (the pipeline definitions' JSON, the code
files, the monitor image) as arguments so tests can build the same app the CLI synthesizes;
``synth_inputs`` computes them the way ``app.py`` does.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import aws_cdk as cdk
from aws_cdk import aws_iam as iam

from infra.batch.definition import batch_definition
from infra.batch.stack import BatchStack
from infra.cicd.stack import CiCdStack
from infra.deploy.stack import DeployStack, stage_construct_id, stage_stack_id
from infra.deploy.stage import StageStack
from infra.nag import add_compliance_checks
from infra.pipeline.code_assets import CodeFiles
from infra.pipeline.stack import PipelineStack
from infra.serving.artifacts import ArtifactSource
from infra.serving.features import drift_features
from infra.serving.monitor import model_monitor_image
from infra.serving.stack import ServingStack
from infra.shared.arns import account_role_arn
from infra.shared.pipeline_definition import (
    PLACEHOLDERS,
    definition_network,
    registered_image,
)
from infra.shared.role_names import RoleNames
from infra.storage.key_policy import ForeignReader
from infra.storage.stack import StorageStack
from mlops.core.names import DATASET_PREFIX
from mlops.core.settings import ProjectSettings
from mlops.core.stages import DeploymentStage

REPO_ROOT = Path(__file__).resolve().parent.parent
BUILD_DIR = REPO_ROOT / "build" / "cdk-assets"


@dataclass(frozen=True)
class SynthInputs:
    definition: str
    batch_definition: str
    code_files: CodeFiles
    monitor_image_uri: str


@dataclass(frozen=True)
class Stacks:
    storage: StorageStack
    pipeline: PipelineStack
    serving: ServingStack  # the production stage's
    deploy: DeployStack
    batch: BatchStack
    # Every stage's serving stack, by stage name (production's is ``serving`` too), and the
    # stage stacks of stages in other accounts.
    stage_serving: dict[str, ServingStack] = field(default_factory=dict)
    stage_stacks: dict[str, StageStack] = field(default_factory=dict)
    cicd: CiCdStack | None = None  # with cicd.github_repository

    def all(self) -> list[cdk.Stack]:
        """Every stack of the app, each once."""
        stacks: list[cdk.Stack] = [self.storage, self.pipeline, self.deploy, self.batch]
        stacks += [*self.stage_serving.values(), *self.stage_stacks.values()]
        return stacks + ([self.cicd] if self.cicd is not None else [])


def cdk_json_context(path: Path = REPO_ROOT / "cdk.json") -> dict[str, object]:
    """The ``context`` of cdk.json (settings and feature flags), for apps built in tests."""
    import json

    context = json.loads(path.read_text()).get("context", {})
    return dict(context)


def synth_inputs(settings: ProjectSettings, *, build_dir: Path = BUILD_DIR) -> SynthInputs:
    """Build the pipeline definition (offline) and the training source tarball."""
    os.environ.setdefault("AWS_DEFAULT_REGION", settings.region)
    os.environ.setdefault("SAGEMAKER_VALIDATE_ROLE", "false")
    from sagemaker_pipelines.code import processing_scripts, write_sourcedir_tarball
    from sagemaker_pipelines.definition import CodeLocations, build_definition

    build_dir.mkdir(parents=True, exist_ok=True)
    tarball = write_sourcedir_tarball(build_dir / "sourcedir.tar.gz")
    scripts = processing_scripts()
    definition = build_definition(
        settings,
        role_arn=PLACEHOLDERS.role_arn,
        artifact_bucket=PLACEHOLDERS.artifact_bucket,
        default_input_uri=f"s3://{PLACEHOLDERS.data_bucket}/{DATASET_PREFIX}/",
        code=CodeLocations(
            preprocess=PLACEHOLDERS.preprocess,
            evaluate=PLACEHOLDERS.evaluate,
            training_source=PLACEHOLDERS.training_source,
            clarify=PLACEHOLDERS.clarify,
        ),
        kms_key_arn=PLACEHOLDERS.kms_key_arn,
        network=definition_network(settings, PLACEHOLDERS.jobs_security_group),
    )
    return SynthInputs(
        definition=definition,
        batch_definition=batch_definition(settings),
        code_files=CodeFiles(
            preprocess=scripts["preprocess"],
            evaluate=scripts["evaluate"],
            clarify=scripts["clarify"],
            sourcedir_tarball=Path(tarball),
        ),
        monitor_image_uri=model_monitor_image(settings.region),
    )


def build_app(
    app: cdk.App, settings: ProjectSettings, inputs: SynthInputs, *, nist: bool = True
) -> Stacks:
    """Add the project's stacks and compliance checks to ``app``."""
    names = settings.names
    features = drift_features(settings)
    env = cdk.Environment(account=settings.account, region=settings.region)
    stages = settings.deployment_stages
    executions = f"{names.pipeline}/"
    storage = StorageStack(
        app,
        "Storage",
        stack_name=names.storage_stack,
        names=names,
        account=settings.account,
        serving_roles=[
            RoleNames(stage.names.resources, settings.region)
            for stage in stages
            if not stage.cross_account
        ],
        foreign_readers=[
            ForeignReader(account=account, role_arns=arns, prefix=executions)
            for account, arns in _foreign_roles(stages, "model", "monitor").items()
        ],
        network=settings.network,
        env=env,
        description=f"{names.project}: KMS key and encrypted buckets (retained on delete)",
    )
    pipeline = PipelineStack(
        app,
        "Pipeline",
        stack_name=names.pipeline_stack,
        names=names,
        storage=storage.storage.refs,
        code_files=inputs.code_files,
        definition=inputs.definition,
        registry_readers=_foreign_roles(stages, "serving_cloudformation", "model"),
        env=env,
        description=f"{names.project}: SageMaker pipeline, execution role, model registry",
    )
    stage_stacks: dict[str, StageStack] = {}
    stage_serving: dict[str, ServingStack] = {}
    for stage in stages:
        stage_env = cdk.Environment(account=stage.account, region=stage.region)
        refs = storage.storage.refs
        if stage.cross_account:
            stage_stack = StageStack(
                app,
                stage_stack_id(stage),
                stack_name=stage.names.stage_stack,
                settings=settings,
                stage=stage,
                drift_features=features,
                env=stage_env,
                description=f"{names.project}: stage {stage.name}'s storage and deploy roles",
            )
            stage_stacks[stage.name] = stage_stack
            refs = stage_stack.storage.refs
        serving_stack = ServingStack(
            app,
            stage_construct_id(stage, "Serving"),
            stack_name=stage.names.serving_stack,
            settings=settings,
            stage=stage,
            storage=refs,
            artifacts=ArtifactSource(
                bucket=storage.storage.refs.artifact_bucket,
                prefix=executions,
                storage=refs,
                tooling_account=settings.account if stage.cross_account else None,
                region=settings.region,
            ),
            # The endpoint runs the image the pipeline registers the model with.
            model_image_uri=registered_image(inputs.definition),
            monitor_image_uri=inputs.monitor_image_uri,
            drift_features=features,
            env=stage_env,
            description=f"{names.project}: stage {stage.name}: endpoint of the version it "
            "serves, monitoring, alarms",
        )
        serving_stack.add_stack_dependency(stage_stacks.get(stage.name) or storage)
        stage_serving[stage.name] = serving_stack
    serving = stage_serving[stages[-1].name]
    deploy = DeployStack(
        app,
        "Deploy",
        stack_name=names.deploy_stack,
        settings=settings,
        storage=storage.storage.refs,
        stages=stages,
        drift_features=features,
        env=env,
        description=f"{names.project}: approval and promotions → the stages' serving stacks",
    )
    for serving_stack in stage_serving.values():
        deploy.add_stack_dependency(serving_stack)
    batch = BatchStack(
        app,
        "Batch",
        stack_name=names.batch_stack,
        settings=settings,
        storage=storage.storage.refs,
        definition=inputs.batch_definition,
        # Batches score with the image the pipeline registers the model with.
        images=[registered_image(inputs.definition)],
        monitor_image_uri=inputs.monitor_image_uri,
        env=env,
        description=f"{names.project}: batch transform of approved models, its schedule, "
        "trigger and monitoring",
    )
    # The key ARN is the only cross-stack reference; bucket names are fixed strings, so state
    # the order explicitly: storage first, the deployer after what it deploys.
    for dependent in (pipeline, deploy, batch):
        dependent.add_stack_dependency(storage)
    cicd = None
    if settings.cicd.github_repository is not None:
        cicd = CiCdStack(
            app,
            "CiCd",
            stack_name=names.cicd_stack,
            settings=settings,
            env=env,
            description=f"{names.project}: GitHub Actions OIDC roles, one per deployment stage",
        )
    stacks = Stacks(
        storage=storage,
        pipeline=pipeline,
        serving=serving,
        deploy=deploy,
        batch=batch,
        stage_serving=stage_serving,
        stage_stacks=stage_stacks,
        cicd=cicd,
    )
    for stack in stacks.all():
        cdk.Tags.of(stack).add("project", names.project)
    if settings.cicd.permissions_boundary is not None:
        # Every role of the app, the CI/CD roles included, gets the organisation's boundary.
        iam.PermissionsBoundary.of(app).apply(
            iam.ManagedPolicy.from_managed_policy_arn(
                app, "PermissionsBoundary", settings.cicd.permissions_boundary
            )
        )
    add_compliance_checks(app, nist=nist)
    return stacks


def _foreign_roles(stages: tuple[DeploymentStage, ...], *purposes: str) -> dict[str, list[str]]:
    """Stages in other accounts → the ARNs of their roles of ``purposes`` (``RoleNames``
    properties), grouped by account (one policy statement per account)."""
    roles: dict[str, list[str]] = {}
    for stage in stages:
        if not stage.cross_account or stage.account is None:
            continue
        names = RoleNames(stage.names.resources, stage.region)
        roles.setdefault(stage.account, []).extend(
            account_role_arn(stage.account, getattr(names, purpose)) for purpose in purposes
        )
    return roles
