"""DataQualityBaseline: a Model Monitor data-quality baseline of Preprocess's ``baseline`` output.

The registered model carries the statistics and constraints computed here; the serving
stack's monitoring schedule checks endpoint traffic against them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sagemaker_pipelines.steps.context import JobNetwork, StepContext
from sagemaker_pipelines.steps.names import DATA_QUALITY
from sagemaker_pipelines.steps.preprocess import preprocess_output

if TYPE_CHECKING:
    from sagemaker.mlops.workflow.quality_check_step import QualityCheckStep
    from sagemaker.mlops.workflow.steps import ProcessingStep


def build_data_quality(ctx: StepContext, preprocess: ProcessingStep) -> QualityCheckStep:
    """Baseline the ``baseline`` CSV (with header) into the execution's ``data-quality/``."""
    from sagemaker.core.model_monitor import DatasetFormat
    from sagemaker.mlops.workflow.check_job_config import CheckJobConfig
    from sagemaker.mlops.workflow.quality_check_step import (
        DataQualityCheckConfig,
        QualityCheckStep,
    )

    # No network_config here: see `isolate_network`.
    check_job = CheckJobConfig(
        role=ctx.role_arn,
        instance_count=1,
        instance_type=ctx.parameters["ProcessingInstanceType"],
        base_job_name=ctx.settings.names.job_prefix("data-quality"),
        sagemaker_session=ctx.session,
        volume_kms_key=ctx.kms_key_arn,
        output_kms_key=ctx.kms_key_arn,
    )
    return QualityCheckStep(
        name=DATA_QUALITY,
        quality_check_config=DataQualityCheckConfig(
            baseline_dataset=preprocess_output(preprocess, "baseline"),
            dataset_format=DatasetFormat.csv(header=True),
            output_s3_uri=ctx.execution_uri("data-quality"),
        ),
        check_job_config=check_job,
        # The first execution has no earlier baseline to compare with: compute and register
        # a new one. Drift against it is checked by Model Monitor on endpoint traffic.
        skip_check=True,
        register_new_baseline=True,
        model_package_group_name=ctx.settings.names.model_package_group,
    )


def isolate_network(document: dict[str, Any], network: JobNetwork | None = None) -> None:
    """Network isolation (and, with ``network``, the VPC) for the QualityCheck jobs, set in the
    finished document.

    SDK 3.27 cannot serialise a ``NetworkConfig`` handed to ``CheckJobConfig`` (its object
    reaches ``json.dumps`` unconverted), so each QualityCheck step's processing request gets the
    same ``NetworkConfig`` the other processing steps carry, here.
    """
    config: dict[str, Any] = {"EnableNetworkIsolation": True}
    if network is not None:
        config["VpcConfig"] = network.vpc_config()
    for step in _all_steps(document["Steps"]):
        if step["Type"] == "QualityCheck":
            step["Arguments"]["NetworkConfig"] = dict(config)


def _all_steps(steps: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Every step, those inside a Condition's branches too."""
    found = []
    for step in steps:
        found.append(step)
        arguments = step.get("Arguments", {})
        for branch in ("IfSteps", "ElseSteps"):
            found += _all_steps(arguments.get(branch, []) if isinstance(arguments, dict) else [])
    return found
