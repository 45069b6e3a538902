"""The pieces the two script-processing steps (Preprocess, Evaluate) build alike."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sagemaker_pipelines.steps.context import PROCESSING_DIR, StepContext

SHARDED = "ShardedByS3Key"
FULLY_REPLICATED = "FullyReplicated"

if TYPE_CHECKING:
    from sagemaker.core.processing import ScriptProcessor
    from sagemaker.core.shapes import ProcessingInput, ProcessingOutput


def script_processor(
    ctx: StepContext, *, job: str, image_uri: str, instance_count: Any
) -> ScriptProcessor:
    """A ``python3 <script>`` processor, network-isolated, encrypting with the caller's key.

    Isolation: the job gets its inputs and script staged by SageMaker and needs nothing else.
    With ``kms_key_arn`` the ML storage volume and the S3 outputs are encrypted with it; with
    ``network`` the job attaches to the user's subnets (``NetworkConfig.VpcConfig``).
    """
    from sagemaker.core.network import NetworkConfig
    from sagemaker.core.processing import ScriptProcessor

    network = ctx.network
    return ScriptProcessor(
        image_uri=image_uri,
        command=["python3"],
        role=ctx.role_arn,
        instance_type=ctx.parameters["ProcessingInstanceType"],
        instance_count=instance_count,
        base_job_name=ctx.settings.names.job_prefix(job),
        sagemaker_session=ctx.session,
        volume_kms_key=ctx.kms_key_arn,
        output_kms_key=ctx.kms_key_arn,
        network_config=NetworkConfig(
            enable_network_isolation=True,
            security_group_ids=list(network.security_group_ids) if network else None,
            subnets=list(network.subnets) if network else None,
        ),
    )


def processing_input(name: str, s3_uri: Any, directory: str) -> ProcessingInput:
    """Every object under ``s3_uri``, copied to ``/opt/ml/processing/<directory>`` first (every
    processing step runs on one instance)."""
    from sagemaker.core.shapes import ProcessingInput, ProcessingS3Input

    return ProcessingInput(
        input_name=name,
        s3_input=ProcessingS3Input(
            s3_uri=s3_uri,
            local_path=f"{PROCESSING_DIR}/{directory}",
            s3_data_type="S3Prefix",
            s3_input_mode="File",
            s3_data_distribution_type=FULLY_REPLICATED,
        ),
    )


def processing_output(name: str, s3_uri: Any, directory: str) -> ProcessingOutput:
    """``/opt/ml/processing/<directory>``, uploaded to ``s3_uri`` when the job ends."""
    from sagemaker.core.shapes import ProcessingOutput, ProcessingS3Output

    return ProcessingOutput(
        output_name=name,
        s3_output=ProcessingS3Output(
            s3_uri=s3_uri,
            local_path=f"{PROCESSING_DIR}/{directory}",
            s3_upload_mode="EndOfJob",
        ),
    )
