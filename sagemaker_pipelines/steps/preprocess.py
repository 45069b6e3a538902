"""Preprocess: preprocess.py in the scikit-learn image splits and encodes the input CSVs.

Its outputs (contracts §2) feed every later step, each reading the one it needs through
`preprocess_output`, so no output is copied into another.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from mlops.core.settings import DatasetSchema
from sagemaker_pipelines.steps.context import StepContext
from sagemaker_pipelines.steps.names import PREPROCESS
from sagemaker_pipelines.steps.processing import (
    processing_input,
    processing_output,
    script_processor,
)

if TYPE_CHECKING:
    from sagemaker.core.workflow.properties import Properties
    from sagemaker.mlops.workflow.steps import ProcessingStep

OUTPUTS = ("train", "validation", "test", "baseline", "spec")


def build_preprocess(ctx: StepContext) -> ProcessingStep:
    """Read ``InputDataUrl``; write each of `OUTPUTS` under the execution's ``preprocess/``.

    One instance: the fit (categories, medians, the split) needs every row, so preprocess.py
    refuses to run on several. It writes the train and validation splits in
    ``TrainingInstanceCount`` parts (``--parts``), one per training instance of the sharded
    training channels: that is where the work scales out.
    """
    from sagemaker.core.workflow.functions import Join
    from sagemaker.mlops.workflow.steps import ProcessingStep

    processor = script_processor(
        ctx, job="preprocess", image_uri=ctx.images.sklearn, instance_count=1
    )
    # ContainerArguments are strings (botocore): the Integer parameter joined into one.
    parts = Join(on="", values=[ctx.parameters["TrainingInstanceCount"]])
    return ProcessingStep(
        name=PREPROCESS,
        step_args=processor.run(
            code=ctx.code.preprocess,
            inputs=[processing_input("input", ctx.parameters["InputDataUrl"], "input")],
            outputs=[
                processing_output(name, ctx.execution_uri("preprocess", name), name)
                for name in OUTPUTS
            ],
            arguments=[*schema_arguments(ctx.settings.dataset), "--parts", parts],
        ),
    )


def preprocess_output(preprocess: ProcessingStep, name: str) -> Properties:
    """The S3 URI of one of `OUTPUTS`, resolved when the pipeline runs."""
    return preprocess.properties.ProcessingOutputConfig.Outputs[name].S3Output.S3Uri


def schema_arguments(schema: DatasetSchema) -> list[str]:
    """The dataset schema as preprocess.py arguments (contracts §1); the id column is one of
    the ``--drop-columns`` there (preprocess only needs to know it is not a feature)."""
    arguments = [
        "--target",
        schema.require_target(),
        "--problem-type",
        schema.require_problem_type(),
    ]
    if schema.positive_label is not None:
        arguments += ["--positive-label", schema.positive_label]
    if schema.excluded_columns:
        arguments += ["--drop-columns", ",".join(schema.excluded_columns)]
    if schema.categorical is not None:
        arguments += ["--categorical", ",".join(schema.categorical)]
    if schema.numeric is not None:
        arguments += ["--numeric", ",".join(schema.numeric)]
    return arguments
