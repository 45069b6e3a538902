"""Build the batch pipeline definition JSON with the SageMaker Python SDK v3, offline.

Two steps: ``CreateModel`` (a Model step: ``CreateModel`` with the model package version given
by the ``ModelPackageArn`` parameter as its container, network-isolated) and ``Transform`` (a
transform job of that model over ``InputDataUrl``, predictions under
``s3://<data bucket>/batch/output/<execution id>/``, data capture on). The CDK batch stack
embeds the JSON and the local executor runs it, as for the training pipeline; the build reuses
that pipeline's offline recipe (`sagemaker_pipelines.definition`): no network call, no
credentials, byte-identical output, every caller string verbatim in the JSON.

The data capture destination is one prefix for every execution
(``s3://<data bucket>/batch/data-capture``): a monitoring schedule reads a transform job's
capture by the hour it ran (``input/yyyy/mm/dd/hh/…``), not by execution.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from mlops.core.names import BATCH_CAPTURE_PREFIX, BATCH_OUTPUT_PREFIX
from mlops.core.settings import ProjectSettings
from sagemaker_pipelines.batch import parameters as p
from sagemaker_pipelines.batch.names import CREATE_MODEL, TRANSFORM
from sagemaker_pipelines.definition import _offline_sdk_environment
from sagemaker_pipelines.steps.context import JobNetwork, _declare

if TYPE_CHECKING:
    from sagemaker.core.workflow.parameters import Parameter
    from sagemaker.core.workflow.pipeline_context import PipelineSession
    from sagemaker.mlops.workflow.model_step import ModelStep
    from sagemaker.mlops.workflow.pipeline import Pipeline
    from sagemaker.mlops.workflow.steps import TransformStep

__all__ = [
    "CREATE_MODEL",
    "TRANSFORM",
    "build_batch_definition",
    "capture_uri",
    "predictions_uri",
]

# The SDK expands a role that is not ARN-shaped through IAM GetRole (a network call, and a
# failure for a CDK token): it sees this stand-in, swapped back in the finished document.
_ROLE_STAND_IN = "arn:aws:iam::000000000000:role/mlops-stand-in-batch-role"


def capture_uri(data_bucket: str) -> str:
    """The transform jobs' data capture destination: one prefix for every execution."""
    return f"s3://{data_bucket}/{BATCH_CAPTURE_PREFIX}"


def predictions_uri(data_bucket: str, execution_id: str) -> str:
    """Where an execution's transform writes its ``.out`` objects (its ``S3OutputPath``)."""
    return f"s3://{data_bucket}/{BATCH_OUTPUT_PREFIX}/{execution_id}"


def build_batch_definition(
    settings: ProjectSettings,
    *,
    role_arn: str,
    data_bucket: str,
    input_uri: str | None = None,
    kms_key_arn: str | None = None,
    network: JobNetwork | None = None,
) -> str:
    """Batch pipeline definition JSON (deterministic, offline).

    ``input_uri`` is the default of ``InputDataUrl`` (``s3://<data bucket>/batch/input/`` when
    omitted). With ``kms_key_arn`` the transform encrypts its volume, its outputs and its data
    capture with that key; the model runs network-isolated either way. With ``network`` the
    model (and so the transform job) attaches to those subnets and groups (``VpcConfig``).
    Every argument may be an opaque placeholder (a CDK token): it lands verbatim in the JSON.
    """
    with _offline_sdk_environment(settings.region):
        pipeline = _build_pipeline(
            settings,
            data_bucket=data_bucket,
            input_uri=input_uri or p.default_input_uri(data_bucket),
            kms_key_arn=kms_key_arn,
            network=network,
        )
        document = json.loads(pipeline.definition())
    _instance_count_from_parameter(document)
    document = _restore(document, _ROLE_STAND_IN, role_arn)
    return json.dumps(document, sort_keys=True, separators=(",", ":"))


@dataclass(frozen=True)
class _Context:
    settings: ProjectSettings
    session: PipelineSession
    data_bucket: str
    kms_key_arn: str | None
    parameters: dict[str, Parameter]
    network: JobNetwork | None


def _build_pipeline(
    settings: ProjectSettings,
    *,
    data_bucket: str,
    input_uri: str,
    kms_key_arn: str | None,
    network: JobNetwork | None,
) -> Pipeline:
    import boto3
    from sagemaker.core.workflow.pipeline_context import PipelineSession
    from sagemaker.mlops.workflow.pipeline import Pipeline

    # As for the training pipeline: a given default bucket (no S3 probe), telemetry off.
    session = PipelineSession(
        boto_session=boto3.Session(region_name=settings.region),
        default_bucket=data_bucket,
        sagemaker_config={
            "SchemaVersion": "1.0",
            "SageMaker": {"PythonSDK": {"Modules": {"TelemetryOptOut": True}}},
        },
    )
    specs = p.batch_parameter_specs(settings, input_uri=input_uri)
    ctx = _Context(
        settings=settings,
        session=session,
        data_bucket=data_bucket,
        kms_key_arn=kms_key_arn,
        parameters={spec.name: _declare(spec) for spec in specs},
        network=network,
    )
    create_model = _build_create_model(ctx)
    transform = _build_transform(ctx, create_model)
    return Pipeline(
        name=settings.names.batch_pipeline,
        parameters=list(ctx.parameters.values()),
        steps=[create_model, transform],
        sagemaker_session=session,
    )


@dataclass(frozen=True)
class _PackageModel:
    """What ``ModelStep`` asks of the model behind its arguments: the pipeline session.

    The model is a model package version known only when an execution starts, so there is no
    SDK model object to build; the request is the SDK session's own ``create_model`` with the
    package as the container, captured by the pipeline session.
    """

    sagemaker_session: PipelineSession


def _build_create_model(ctx: _Context) -> ModelStep:
    """``CreateModel`` with ``Containers=[{ModelPackageName: ModelPackageArn}]``, isolated."""
    from sagemaker.core.workflow.pipeline_context import _ModelStepArguments
    from sagemaker.mlops.workflow.model_step import ModelStep

    ctx.session.context = _ModelStepArguments(_PackageModel(ctx.session))
    ctx.session.create_model(
        name="pipeline-names-the-model",  # Pipelines names the model; the SDK drops this
        role=_ROLE_STAND_IN,
        container_defs={"ModelPackageName": ctx.parameters[p.MODEL_PACKAGE_ARN]},
        vpc_config=ctx.network.vpc_config() if ctx.network is not None else None,
        enable_network_isolation=True,
    )
    return ModelStep(name=CREATE_MODEL, step_args=ctx.session.context)


def _build_transform(ctx: _Context, create_model: ModelStep) -> TransformStep:
    """The transform job over ``InputDataUrl``: filters, join, capture, KMS from the context."""
    from sagemaker.core.shapes import BatchDataCaptureConfig
    from sagemaker.core.transformer import Transformer
    from sagemaker.core.workflow.execution_variables import ExecutionVariables
    from sagemaker.core.workflow.functions import Join
    from sagemaker.mlops.workflow.steps import TransformStep

    parameters = ctx.parameters
    transformer = Transformer(
        model_name=create_model.properties.ModelName,
        instance_count=1,  # see `_instance_count_from_parameter`
        instance_type=parameters[p.INSTANCE_TYPE],
        strategy=parameters[p.BATCH_STRATEGY],
        assemble_with=parameters[p.ASSEMBLE_WITH],
        output_path=Join(
            on="/",
            values=[
                "s3:/",
                ctx.data_bucket,
                BATCH_OUTPUT_PREFIX,
                ExecutionVariables.PIPELINE_EXECUTION_ID,
            ],
        ),
        output_kms_key=ctx.kms_key_arn,
        accept=parameters[p.ACCEPT],
        max_concurrent_transforms=parameters[p.MAX_CONCURRENT],
        max_payload=parameters[p.MAX_PAYLOAD_MB],
        base_transform_job_name=ctx.settings.names.job_prefix("batch-transform"),
        sagemaker_session=ctx.session,
        volume_kms_key=ctx.kms_key_arn,
    )
    step_args = transformer.transform(
        data=parameters[p.INPUT_DATA_URL],
        data_type="S3Prefix",
        content_type=parameters[p.CONTENT_TYPE],
        split_type=parameters[p.SPLIT_TYPE],
        input_filter=parameters[p.INPUT_FILTER],
        output_filter=parameters[p.OUTPUT_FILTER],
        join_source=parameters[p.JOIN_SOURCE],
        batch_data_capture_config=BatchDataCaptureConfig(
            destination_s3_uri=capture_uri(ctx.data_bucket),
            kms_key_id=ctx.kms_key_arn,
            # Each output record gets an inference id and time: ground truth labelled with
            # them turns the captured batches into model-quality monitoring.
            generate_inference_id=True,
        ),
    )
    return TransformStep(name=TRANSFORM, step_args=step_args)


def _instance_count_from_parameter(document: dict[str, Any]) -> None:
    """``TransformInstanceCount`` as the transform's instance count, set in the document.

    SDK 3.27 validates ``TransformResources`` as a strict pydantic shape, which refuses a
    pipeline variable for ``InstanceCount``; the finished request reads the parameter instead.
    """
    for step in document["Steps"]:
        if step["Name"] == TRANSFORM:
            resources = step["Arguments"]["TransformResources"]
            resources["InstanceCount"] = {"Get": f"Parameters.{p.INSTANCE_COUNT}"}


def _restore(value: Any, stand_in: str, real: str) -> Any:
    if isinstance(value, dict):
        return {key: _restore(item, stand_in, real) for key, item in value.items()}
    if isinstance(value, list):
        return [_restore(item, stand_in, real) for item in value]
    return real if value == stand_in else value
