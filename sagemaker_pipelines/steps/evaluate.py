"""Evaluate: evaluate.py in the XGBoost image scores the trained model on the test split.

Its ``evaluation.json`` (contracts §6) is both a property file, which the gates read the
prediction check and the gate metric from, and the registered model's quality metrics.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sagemaker_pipelines.steps.context import StepContext
from sagemaker_pipelines.steps.names import EVALUATE, EVALUATION_PROPERTY_FILE
from sagemaker_pipelines.steps.preprocess import preprocess_output
from sagemaker_pipelines.steps.processing import (
    processing_input,
    processing_output,
    script_processor,
)
from sagemaker_pipelines.steps.train import model_artifact

if TYPE_CHECKING:
    from sagemaker.core.workflow.functions import Join, JsonGet
    from sagemaker.mlops.workflow.steps import ProcessingStep, TrainingStep

OUTPUT = "evaluation"
REPORT_FILE = "evaluation.json"


def build_evaluate(
    ctx: StepContext, preprocess: ProcessingStep, train: TrainingStep
) -> ProcessingStep:
    """Read the model artifact and the ``test`` output; write the report under ``evaluate/``."""
    from sagemaker.core.workflow.properties import PropertyFile
    from sagemaker.mlops.workflow.steps import ProcessingStep

    processor = script_processor(
        ctx, job="evaluate", image_uri=ctx.images.xgboost, instance_count=1
    )
    return ProcessingStep(
        name=EVALUATE,
        step_args=processor.run(
            code=ctx.code.evaluate,
            inputs=[
                processing_input("model", model_artifact(train), "model"),
                processing_input("test", preprocess_output(preprocess, "test"), "test"),
            ],
            outputs=[processing_output(OUTPUT, ctx.execution_uri("evaluate"), OUTPUT)],
        ),
        property_files=[
            PropertyFile(name=EVALUATION_PROPERTY_FILE, output_name=OUTPUT, path=REPORT_FILE)
        ],
    )


def report_uri(evaluate: ProcessingStep) -> Join:
    """The S3 URI of ``evaluation.json``, resolved when the pipeline runs."""
    from sagemaker.core.workflow.functions import Join

    output = evaluate.properties.ProcessingOutputConfig.Outputs[OUTPUT].S3Output.S3Uri
    return Join(on="/", values=[output, REPORT_FILE])


def evaluated(evaluate: ProcessingStep, json_path: str) -> JsonGet:
    """A value of ``evaluation.json`` (e.g. ``regression_metrics.r2.value``), read from the
    step's property file when the pipeline runs."""
    from sagemaker.core.workflow.functions import JsonGet

    (report,) = evaluate.property_files
    return JsonGet(step_name=evaluate.name, property_file=report, json_path=json_path)
