"""Register: the trained model as a package version of the project's model package group.

The package records what deployment and monitoring need later: the serving image and entry
point, the evaluation report, and the baselines of the four monitor types — data quality, model
quality, bias and explainability — that the monitoring schedules check endpoint traffic against
(read back by the approval Lambda, contracts §11).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from mlops.core.media import JSON, REQUEST_TYPES, RESPONSE_TYPES
from sagemaker_pipelines.code import INFERENCE_SCRIPT
from sagemaker_pipelines.steps.check_metric import THRESHOLD_PARAMETER
from sagemaker_pipelines.steps.clarify import (
    ANALYSIS_FILE,
    BIAS_OUTPUT,
    CONFIG_FILE,
    CONSTRAINTS_FILE,
    EXPLAINABILITY_OUTPUT,
    clarify_file,
)
from sagemaker_pipelines.steps.context import StepContext
from sagemaker_pipelines.steps.evaluate import evaluated, report_uri
from sagemaker_pipelines.steps.names import REGISTER
from sagemaker_pipelines.steps.train import model_artifact

if TYPE_CHECKING:
    from sagemaker.mlops.workflow.model_step import ModelStep
    from sagemaker.mlops.workflow.quality_check_step import QualityCheckStep
    from sagemaker.mlops.workflow.steps import ProcessingStep, TrainingStep

# train.py packs inference.py into model.tar.gz here (contracts §4).
MODEL_CODE_DIR = "/opt/ml/model/code"
# CustomerMetadataProperties keys: what `mlops models list|describe` show of each version.
METADATA_KEYS = (
    "problem-type",
    "target",
    "gate-metric",
    "gate-value",
    "gate-threshold",
    "input-data",
)
# Characters a CustomerMetadataProperties value may not hold (botocore's pattern allows letters,
# digits, spaces and _.:/=+-@); a target name outside them is recorded with "_" in their place.
_NOT_IN_METADATA = re.compile(r"[^\w\s.:/=+\-@]")


def build_register(
    ctx: StepContext,
    *,
    train: TrainingStep,
    evaluate: ProcessingStep,
    data_quality: QualityCheckStep,
    model_quality: QualityCheckStep,
    bias: ProcessingStep | None = None,
    explainability: ProcessingStep | None = None,
) -> ModelStep:
    """Register as ``PendingManualApproval`` (the parameter allows nothing else), with metrics
    and the drift baselines of every monitor type (bias and explainability when built)."""
    from sagemaker.core.drift_check_baselines import DriftCheckBaselines
    from sagemaker.core.model_metrics import FileSource, MetricsSource, ModelMetrics
    from sagemaker.mlops.workflow.model_step import ModelStep
    from sagemaker.serve import ModelBuilder

    builder = ModelBuilder(
        image_uri=ctx.images.xgboost,
        s3_model_data_url=model_artifact(train),
        role_arn=ctx.role_arn,
        sagemaker_session=ctx.session,
        # No dependency discovery (it uploads code): train.py already put inference.py into
        # model.tar.gz under code/, which these variables select at serving time.
        dependencies={},
        env_vars={
            "SAGEMAKER_PROGRAM": INFERENCE_SCRIPT.name,
            "SAGEMAKER_SUBMIT_DIRECTORY": MODEL_CODE_DIR,
        },
    )
    baseline = data_quality.properties
    quality = model_quality.properties
    endpoint_type = ctx.settings.instances.endpoint_type
    gate = ctx.settings.resolved_gate()

    def source(uri: Any) -> MetricsSource:
        return MetricsSource(s3_uri=uri, content_type=JSON)

    def clarify_source(step: ProcessingStep | None, output: str, name: str) -> Any:
        return None if step is None else source(clarify_file(step, output, name))

    def clarify_config(step: ProcessingStep | None, output: str) -> Any:
        if step is None:
            return None
        return FileSource(s3_uri=clarify_file(step, output, CONFIG_FILE), content_type=JSON)

    return ModelStep(
        name=REGISTER,
        step_args=builder.register(
            model_package_group_name=ctx.settings.names.model_package_group,
            content_types=list(REQUEST_TYPES),
            response_types=list(RESPONSE_TYPES),
            inference_instances=[endpoint_type],
            transform_instances=[endpoint_type],
            approval_status=ctx.parameters["ModelApprovalStatus"],
            customer_metadata_properties=version_metadata(ctx, evaluate, gate.metric, gate.path),
            model_metrics=ModelMetrics(
                model_statistics=source(report_uri(evaluate)),
                model_constraints=source(quality.CalculatedBaselineConstraints),
                model_data_statistics=source(baseline.CalculatedBaselineStatistics),
                model_data_constraints=source(baseline.CalculatedBaselineConstraints),
                bias=clarify_source(bias, BIAS_OUTPUT, ANALYSIS_FILE),
                explainability=clarify_source(explainability, EXPLAINABILITY_OUTPUT, ANALYSIS_FILE),
            ),
            drift_check_baselines=DriftCheckBaselines(
                model_statistics=source(quality.BaselineUsedForDriftCheckStatistics),
                model_constraints=source(quality.BaselineUsedForDriftCheckConstraints),
                model_data_statistics=source(baseline.CalculatedBaselineStatistics),
                model_data_constraints=source(baseline.CalculatedBaselineConstraints),
                bias_config_file=clarify_config(bias, BIAS_OUTPUT),
                bias_pre_training_constraints=clarify_source(bias, BIAS_OUTPUT, CONSTRAINTS_FILE),
                bias_post_training_constraints=clarify_source(bias, BIAS_OUTPUT, CONSTRAINTS_FILE),
                explainability_constraints=clarify_source(
                    explainability, EXPLAINABILITY_OUTPUT, ANALYSIS_FILE
                ),
                explainability_config_file=clarify_config(explainability, EXPLAINABILITY_OUTPUT),
            ),
        ),
    )


def version_metadata(
    ctx: StepContext, evaluate: ProcessingStep, metric: str, path: str
) -> dict[str, Any]:
    """What tells versions apart in the registry: the dataset (problem type, target, input
    URI) and the gate (metric, its test value, the threshold it passed), as strings."""
    from sagemaker.core.workflow.functions import Join

    schema = ctx.settings.dataset
    values: dict[str, Any] = {
        "problem-type": schema.require_problem_type(),
        "target": _NOT_IN_METADATA.sub("_", schema.require_target())[:256],
        "gate-metric": metric,
        "gate-value": Join(on="", values=[evaluated(evaluate, path)]),
        "gate-threshold": ctx.parameters[THRESHOLD_PARAMETER].to_string(),
        "input-data": ctx.parameters["InputDataUrl"],
    }
    assert tuple(values) == METADATA_KEYS
    return values
