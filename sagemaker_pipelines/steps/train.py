"""Train: train.py in the XGBoost image, on Preprocess's encoded splits and feature spec."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sagemaker_pipelines.code import TRAINING_ENTRY_POINT, training_metric_definitions
from sagemaker_pipelines.steps.context import TRAINING_CODE_DIR, StepContext
from sagemaker_pipelines.steps.names import TRAIN
from sagemaker_pipelines.steps.preprocess import preprocess_output
from sagemaker_pipelines.steps.processing import SHARDED

if TYPE_CHECKING:
    from sagemaker.core.workflow.properties import Properties
    from sagemaker.mlops.workflow.steps import ProcessingStep, TrainingStep

# Preprocess outputs handed to train.py, one channel each (contracts §4).
DATA_CHANNELS = ("train", "validation", "spec")
# Split among the instances of a multi-instance job; the spec goes to every instance.
SHARDED_CHANNELS = ("train", "validation")


def build_train(ctx: StepContext, preprocess: ProcessingStep) -> TrainingStep:
    """The training job: hyperparameters from the pipeline parameters, model under ``train/``."""
    from sagemaker.core.training.configs import (
        Compute,
        InputData,
        MetricDefinition,
        Networking,
        OutputDataConfig,
    )
    from sagemaker.mlops.workflow.steps import TrainingStep
    from sagemaker.train import ModelTrainer

    parameters = ctx.parameters
    network = ctx.network
    sourcedir = ctx.code.training_source.rsplit("/", 1)[-1]
    trainer = ModelTrainer(
        training_image=ctx.images.xgboost,
        role=ctx.role_arn,
        sagemaker_session=ctx.session,
        base_job_name=ctx.settings.names.job_prefix("train"),
        compute=Compute(
            instance_type=parameters["TrainingInstanceType"],
            instance_count=parameters["TrainingInstanceCount"],
            volume_kms_key_id=ctx.kms_key_arn,
        ),
        networking=Networking(
            enable_network_isolation=True,
            # With the `network` setting: the job's ENIs in the user's subnets (VpcConfig).
            security_group_ids=list(network.security_group_ids) if network else None,
            subnets=list(network.subnets) if network else None,
        ),
        hyperparameters={
            # The XGBoost container's own script mode, network-isolated: the source tarball
            # arrives as the `code` channel and the container unpacks it from there and runs
            # train.py, so the SDK uploads nothing and the definition stays deterministic.
            "sagemaker_program": TRAINING_ENTRY_POINT,
            "sagemaker_submit_directory": TRAINING_CODE_DIR + sourcedir,
            # CreateTrainingJob takes hyperparameters as strings only (botocore's model:
            # HyperParameters is a map of string to string); an Integer/Float parameter is
            # rendered as a string at run time with Std:Join, as the SDK does for estimators.
            "max_depth": parameters["MaxDepth"].to_string(),
            "eta": parameters["Eta"].to_string(),
            "num_round": parameters["NumRound"].to_string(),
            "subsample": parameters["Subsample"].to_string(),
            "colsample_bytree": parameters["ColsampleBytree"].to_string(),
            "min_child_weight": parameters["MinChildWeight"].to_string(),
            "early_stopping_rounds": parameters["EarlyStoppingRounds"].to_string(),
            # A project setting, not a parameter: a binary endpoint's decision threshold is
            # part of the model (feature_spec.json), evaluate.py reports precision/recall at it.
            # The objective and early-stopping metric follow the spec's problem type (train.py).
            "prediction_threshold": str(ctx.settings.prediction_threshold),
        },
        input_data_config=[
            *(
                InputData(channel_name=name, data_source=_channel_source(preprocess, name))
                for name in DATA_CHANNELS
            ),
            InputData(channel_name="code", data_source=ctx.code.training_source),
        ],
        output_data_config=OutputDataConfig(
            s3_output_path=ctx.execution_uri("train"), kms_key_id=ctx.kms_key_arn
        ),
    )
    # SageMaker parses these from the job's log into the training job's metrics (and the
    # pipeline step's properties), as the local runtime does (contracts §4).
    trainer.with_metric_definitions(
        [
            MetricDefinition(name=name, regex=regex)
            for name, regex in training_metric_definitions(
                ctx.settings.dataset.require_problem_type()
            ).items()
        ]
    )
    return TrainingStep(name=TRAIN, step_args=trainer.train())


def _channel_source(preprocess: ProcessingStep, name: str) -> Any:
    """A channel on a Preprocess output: the data splits sharded by S3 key (with
    TrainingInstanceCount N each instance trains on its files, the XGBoost image's
    distributed mode), the spec on every instance."""
    from sagemaker.core.training.configs import S3DataSource

    if name not in SHARDED_CHANNELS:
        return preprocess_output(preprocess, name)
    return S3DataSource(
        s3_uri=preprocess_output(preprocess, name),
        s3_data_type="S3Prefix",
        s3_data_distribution_type=SHARDED,
    )


def model_artifact(train: TrainingStep) -> Properties:
    """The S3 URI of the trained ``model.tar.gz``, resolved when the pipeline runs."""
    return train.properties.ModelArtifacts.S3ModelArtifacts
