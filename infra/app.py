"""Assemble the CDK app: four stacks from validated settings, plus the compliance checks.

The top of ``infra``: it imports the components' stacks, and nothing in ``infra`` imports it
(only the root ``app.py`` and the tests do).

``build_app`` takes everything computed outside CDK (the pipeline definition JSON, the code
files, the monitor image) as arguments so tests can build the same app the CLI synthesizes;
``synth_inputs`` computes them the way ``app.py`` does.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import aws_cdk as cdk

from infra.deploy.stack import DeployStack
from infra.nag import add_compliance_checks
from infra.pipeline.code_assets import CodeFiles
from infra.pipeline.definition import PLACEHOLDERS, registered_image
from infra.pipeline.stack import PipelineStack
from infra.serving.features import drift_features
from infra.serving.monitor import model_monitor_image
from infra.serving.stack import ServingStack
from infra.storage.stack import StorageStack
from mlops.core.names import DATASET_PREFIX
from mlops.core.settings import ProjectSettings

REPO_ROOT = Path(__file__).resolve().parent.parent
BUILD_DIR = REPO_ROOT / "build" / "cdk-assets"


@dataclass(frozen=True)
class SynthInputs:
    definition: str
    code_files: CodeFiles
    monitor_image_uri: str


@dataclass(frozen=True)
class Stacks:
    storage: StorageStack
    pipeline: PipelineStack
    serving: ServingStack
    deploy: DeployStack


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
        ),
        kms_key_arn=PLACEHOLDERS.kms_key_arn,
    )
    return SynthInputs(
        definition=definition,
        code_files=CodeFiles(
            preprocess=scripts["preprocess"],
            evaluate=scripts["evaluate"],
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
    storage = StorageStack(
        app,
        "Storage",
        stack_name=names.storage_stack,
        names=names,
        account=settings.account,
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
        env=env,
        description=f"{names.project}: SageMaker pipeline, execution role, model registry",
    )
    serving = ServingStack(
        app,
        "Serving",
        stack_name=names.serving_stack,
        settings=settings,
        names=names,
        storage=storage.storage.refs,
        # The endpoint runs the image the pipeline registers the model with.
        model_image_uri=registered_image(inputs.definition),
        monitor_image_uri=inputs.monitor_image_uri,
        drift_features=features,
        env=env,
        description=f"{names.project}: endpoint of the approved model, monitoring, alarms",
    )
    deploy = DeployStack(
        app,
        "Deploy",
        stack_name=names.deploy_stack,
        names=names,
        storage=storage.storage.refs,
        serving_stack=serving,
        drift_features=features,
        retrain_on_drift=settings.monitoring.retrain_on_drift and bool(features),
        env=env,
        description=f"{names.project}: approval in the model registry → serving stack update",
    )
    # The key ARN is the only cross-stack reference; bucket names are fixed strings, so state
    # the order explicitly: storage first, the deployer after what it deploys.
    for dependent in (pipeline, serving, deploy):
        dependent.add_stack_dependency(storage)
    stacks = Stacks(storage=storage, pipeline=pipeline, serving=serving, deploy=deploy)
    for stack in (storage, pipeline, serving, deploy):
        cdk.Tags.of(stack).add("project", names.project)
    add_compliance_checks(app, nist=nist)
    return stacks
