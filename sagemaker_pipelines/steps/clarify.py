"""ModelBiasBaseline and ModelExplainabilityBaseline: clarify.py in the XGBoost image.

Both read the trained model and the encoded test split and write SageMaker Clarify's files
(contracts §9): bias ``analysis.json`` + ``constraints.json`` + the bias monitor's
``analysis_config.json``; explainability ``analysis.json`` (exact TreeSHAP per raw feature) +
the explainability monitor's ``analysis_config.json``. The registered package carries them as
its Bias / Explainability metrics and drift-check baselines. Processing steps rather than
ClarifyCheck steps: the SDK's ClarifyCheckStep uploads its analysis configuration to S3 while
the definition is built (with a timestamped key), which an offline, deterministic definition
cannot do, and the managed Clarify job would stand up a shadow endpoint for Kernel SHAP.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from sagemaker_pipelines.steps.context import StepContext
from sagemaker_pipelines.steps.names import MODEL_BIAS, MODEL_EXPLAINABILITY
from sagemaker_pipelines.steps.preprocess import preprocess_output
from sagemaker_pipelines.steps.processing import (
    processing_input,
    processing_output,
    script_processor,
)
from sagemaker_pipelines.steps.train import model_artifact

if TYPE_CHECKING:
    from sagemaker.core.workflow.functions import Join
    from sagemaker.mlops.workflow.steps import ProcessingStep, TrainingStep

BIAS_OUTPUT = "bias"
EXPLAINABILITY_OUTPUT = "explainability"
ANALYSIS_FILE = "analysis.json"
CONSTRAINTS_FILE = "constraints.json"
CONFIG_FILE = "analysis_config.json"


def build_bias(
    ctx: StepContext, preprocess: ProcessingStep, train: TrainingStep
) -> ProcessingStep | None:
    """The bias baseline under ``bias/``; None without clarify.py or a configured facet."""
    settings = ctx.settings
    labels = settings.resolved_bias_labels()
    if ctx.code.clarify is None or labels is None:
        return None
    bias = settings.monitoring.bias
    arguments = [
        "--analysis",
        "bias",
        "--facets",
        json.dumps([facet.to_config() for facet in bias.facets], separators=(",", ":")),
        "--label-values-or-threshold",
        json.dumps(list(labels), separators=(",", ":")),
    ]
    if bias.group_variable:
        arguments += ["--group-variable", bias.group_variable]
    return _clarify_step(ctx, MODEL_BIAS, BIAS_OUTPUT, arguments, preprocess, train)


def build_explainability(
    ctx: StepContext, preprocess: ProcessingStep, train: TrainingStep
) -> ProcessingStep | None:
    """The SHAP baseline under ``explainability/``; None without clarify.py or when off."""
    explainability = ctx.settings.monitoring.explainability
    if ctx.code.clarify is None or not explainability.enabled:
        return None
    arguments = [
        "--analysis",
        "explainability",
        "--agg-method",
        explainability.agg_method,
        "--num-samples",
        str(explainability.num_samples),
    ]
    return _clarify_step(
        ctx, MODEL_EXPLAINABILITY, EXPLAINABILITY_OUTPUT, arguments, preprocess, train
    )


def _clarify_step(
    ctx: StepContext,
    name: str,
    output: str,
    arguments: list[str],
    preprocess: ProcessingStep,
    train: TrainingStep,
) -> ProcessingStep:
    from sagemaker.mlops.workflow.steps import ProcessingStep

    assert ctx.code.clarify is not None
    processor = script_processor(ctx, job=output, image_uri=ctx.images.xgboost, instance_count=1)
    return ProcessingStep(
        name=name,
        step_args=processor.run(
            code=ctx.code.clarify,
            inputs=[
                processing_input("model", model_artifact(train), "model"),
                processing_input("test", preprocess_output(preprocess, "test"), "test"),
            ],
            outputs=[processing_output(output, ctx.execution_uri(output), output)],
            arguments=arguments,
        ),
    )


def clarify_file(step: ProcessingStep, output: str, name: str) -> Join:
    """The S3 URI of one file the step writes, resolved when the pipeline runs."""
    from sagemaker.core.workflow.functions import Join

    uri = step.properties.ProcessingOutputConfig.Outputs[output].S3Output.S3Uri
    return Join(on="/", values=[uri, name])
