"""ModelQualityBaseline: a Model Monitor model-quality baseline of Evaluate's predictions.

Model Monitor's MODEL_QUALITY analysis of ``predictions.csv`` (the test split's predictions
next to its labels, written by evaluate.py) gives the problem type's metrics and suggested
constraints; the registered package carries them, and the model-quality schedule checks the
endpoint's predictions joined with ground truth against them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from mlops.core.problem_types import problem_type_spec
from sagemaker_pipelines.steps.context import StepContext
from sagemaker_pipelines.steps.evaluate import OUTPUT
from sagemaker_pipelines.steps.names import MODEL_QUALITY

if TYPE_CHECKING:
    from sagemaker.core.workflow.functions import Join
    from sagemaker.mlops.workflow.quality_check_step import QualityCheckStep
    from sagemaker.mlops.workflow.steps import ProcessingStep

PREDICTIONS_FILE = "predictions.csv"
# predictions.csv's columns (training/evaluate.py `write_predictions`).
PREDICTION_COLUMN = "prediction"
PROBABILITY_COLUMN = "probability"
LABEL_COLUMN = "label"


def build_model_quality(ctx: StepContext, evaluate: ProcessingStep) -> QualityCheckStep:
    """Baseline ``predictions.csv`` (with header) into the execution's ``model-quality/``."""
    from sagemaker.core.model_monitor import DatasetFormat
    from sagemaker.mlops.workflow.check_job_config import CheckJobConfig
    from sagemaker.mlops.workflow.quality_check_step import (
        ModelQualityCheckConfig,
        QualityCheckStep,
    )

    problem_type = ctx.settings.dataset.require_problem_type()
    binary = problem_type == "binary"
    # No network_config here: see `data_quality.isolate_network`.
    check_job = CheckJobConfig(
        role=ctx.role_arn,
        instance_count=1,
        instance_type=ctx.parameters["ProcessingInstanceType"],
        base_job_name=ctx.settings.names.job_prefix("model-quality"),
        sagemaker_session=ctx.session,
        volume_kms_key=ctx.kms_key_arn,
        output_kms_key=ctx.kms_key_arn,
    )
    return QualityCheckStep(
        name=MODEL_QUALITY,
        quality_check_config=ModelQualityCheckConfig(
            baseline_dataset=predictions_uri(evaluate),
            dataset_format=DatasetFormat.csv(header=True),
            output_s3_uri=ctx.execution_uri("model-quality"),
            problem_type=problem_type_spec(problem_type).monitor_problem_type,
            inference_attribute=PREDICTION_COLUMN,
            probability_attribute=PROBABILITY_COLUMN if binary else None,
            ground_truth_attribute=LABEL_COLUMN,
            probability_threshold_attribute=(
                str(ctx.settings.prediction_threshold) if binary else None
            ),
        ),
        check_job_config=check_job,
        # As the data-quality baseline: computed and registered, never checked against an
        # earlier one here (the schedule checks live predictions against it).
        skip_check=True,
        register_new_baseline=True,
        model_package_group_name=ctx.settings.names.model_package_group,
    )


def predictions_uri(evaluate: ProcessingStep) -> Join:
    """The S3 URI of Evaluate's ``predictions.csv``, resolved when the pipeline runs."""
    from sagemaker.core.workflow.functions import Join

    output = evaluate.properties.ProcessingOutputConfig.Outputs[OUTPUT].S3Output.S3Uri
    return Join(on="/", values=[output, PREDICTIONS_FILE])
