"""Build the SageMaker Pipeline definition JSON with the SageMaker Python SDK v3, offline.

The CDK stack embeds the JSON returned by `build_definition` in ``AWS::SageMaker::Pipeline``,
and the local executor runs that same JSON: there is one pipeline, described once. The build is
deterministic and offline (no network call, no credentials, byte-identical output) because the
caller passes every S3 location — the code comes from CDK assets, never from SDK uploads made at
build time with timestamps in their keys. ``platform-facts.md`` records the SDK recipe used here.

The SDK import costs ~10 s on the reference machine, so it happens inside `build_definition`
and the result of the import is cached by Python for the rest of the process.
"""

from __future__ import annotations

import json
import logging
import os
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from mlops.settings import ProjectSettings
from sagemaker_pipelines.parameters import parameter_specs

# Step names: the local executor, the CLI summary and `start --wait` output use them too.
PREPROCESS = "Preprocess"
DATA_QUALITY = "DataQualityBaseline"
TRAIN = "Train"
EVALUATE = "Evaluate"
CHECK_METRIC = "CheckMetric"
REGISTER = "Register"
FAIL = "AucBelowThreshold"

EVALUATION_PROPERTY_FILE = "EvaluationReport"
AUC_PATH = "binary_classification_metrics.auc.value"

SKLEARN_VERSION = "1.9-0"
XGBOOST_VERSION = "3.2-0"

_PROCESSING = "/opt/ml/processing"
# Content types the serving handlers accept and answer with (contracts §5).
REQUEST_TYPES = ("text/csv", "application/json", "application/jsonlines")
RESPONSE_TYPES = ("application/json", "text/csv")


@dataclass(frozen=True)
class CodeLocations:
    """Where the container-side code lives in S3 (CDK assets on AWS, the local bucket locally)."""

    preprocess: str  # s3 URI of preprocess.py
    evaluate: str  # s3 URI of evaluate.py
    training_source: str  # s3 URI of sourcedir.tar.gz (train.py + inference.py)


def build_definition(
    settings: ProjectSettings,
    *,
    role_arn: str,
    artifact_bucket: str,
    default_input_uri: str,
    code: CodeLocations,
    kms_key_arn: str | None = None,
) -> str:
    """Pipeline definition JSON (deterministic, offline).

    With ``kms_key_arn`` every job encrypts its ML storage volume and its S3 outputs with that
    key (the local executor passes none: moto has nothing to encrypt with). Every job runs
    network-isolated: the containers get their inputs and code staged by SageMaker.

    Every argument may be an opaque placeholder (a CDK token such as ``${Token[TOKEN.12]}``):
    each lands verbatim in the JSON for the caller to substitute. One derived value: a
    processing step's entry point is ``/opt/ml/processing/input/code/<last segment of its code
    URI>`` (where SageMaker stages the object), so substitute that segment too (contracts §10).
    """
    stand_ins = _StandIns.for_call(role_arn, code)
    with _offline_sdk_environment(settings.region):
        pipeline = _build_pipeline(
            settings,
            role_arn=stand_ins.role_arn,
            artifact_bucket=artifact_bucket,
            default_input_uri=default_input_uri,
            code=stand_ins.code,
            kms_key_arn=kms_key_arn,
        )
        document = json.loads(pipeline.definition())
    _isolate_quality_check(document)
    document = stand_ins.restore(document)
    return json.dumps(document, sort_keys=True, separators=(",", ":"))


def _isolate_quality_check(document: dict[str, Any]) -> None:
    """Network isolation for the QualityCheck job, set in the document.

    SDK 3.27 cannot serialise a ``NetworkConfig`` handed to ``CheckJobConfig`` (its object
    reaches ``json.dumps`` unconverted), so the step's processing request gets the same
    ``NetworkConfig`` the other processing steps carry, here.
    """
    for step in document["Steps"]:
        if step["Name"] == DATA_QUALITY:
            step["Arguments"]["NetworkConfig"] = {"EnableNetworkIsolation": True}


_CONTAINER_CODE_DIR = f"{_PROCESSING}/input/code/"
# A training channel's files land in /opt/ml/input/data/<channel>/<object key basename>.
_TRAINING_CODE_DIR = "/opt/ml/input/data/code/"
_STAND_IN_SOURCEDIR = "mlops-stand-in-sourcedir.tar.gz"


@dataclass(frozen=True)
class _StandIns:
    """Well-formed values the SDK sees in place of the caller's, swapped back afterwards.

    The SDK parses two of the caller's values: ``ModelTrainer`` resolves a role that is not
    shaped like an IAM role ARN through IAM GetRole (a network call, and a failure for a CDK
    token), and ``ScriptProcessor`` runs ``urlparse`` on the code URIs (which rejects
    ``s3://${Token[…]}/…``: brackets in a host name). The SDK gets ARN- and URI-shaped stand-ins
    and the finished document gets the caller's strings back, verbatim.

    A processing script is staged at ``/opt/ml/processing/input/code/<last URI segment>`` and
    that path is the container entry point, so the entry point ends with the caller's last
    segment too (for ``s3://${Token[A]}/${Token[B]}`` it ends with ``${Token[B]}``).
    """

    role_arn: str
    code: CodeLocations
    swaps: tuple[tuple[str, str], ...]
    entry_swaps: tuple[tuple[str, str], ...]

    @classmethod
    def for_call(cls, role_arn: str, code: CodeLocations) -> _StandIns:
        role = "arn:aws:iam::000000000000:role/mlops-stand-in-role"
        names = {"preprocess": code.preprocess, "evaluate": code.evaluate}
        stand_in_code = {name: f"s3://mlops-stand-in-code/mlops-stand-in-{name}" for name in names}
        training = f"s3://mlops-stand-in-code/{_STAND_IN_SOURCEDIR}"
        swaps = (
            (role, role_arn),
            *((stand_in_code[name], uri) for name, uri in names.items()),
            (training, code.training_source),
        )
        processing_entries = tuple(
            (
                _CONTAINER_CODE_DIR + stand_in_code[name].rsplit("/", 1)[-1],
                _CONTAINER_CODE_DIR + uri.rsplit("/", 1)[-1],
            )
            for name, uri in names.items()
        )
        # sagemaker_submit_directory names the code channel's file inside the container.
        training_entry = (
            _TRAINING_CODE_DIR + _STAND_IN_SOURCEDIR,
            _TRAINING_CODE_DIR + code.training_source.rsplit("/", 1)[-1],
        )
        entry_swaps = (*processing_entries, training_entry)
        return cls(
            role_arn=role,
            code=CodeLocations(
                preprocess=stand_in_code["preprocess"],
                evaluate=stand_in_code["evaluate"],
                training_source=training,
            ),
            swaps=swaps,
            entry_swaps=entry_swaps,
        )

    def restore(self, value: Any) -> Any:
        """The document with every stand-in replaced by the caller's value."""
        if isinstance(value, dict):
            return {key: self.restore(item) for key, item in value.items()}
        if isinstance(value, list):
            return [self.restore(item) for item in value]
        for stand_in, real in (*self.swaps, *self.entry_swaps):
            if value == stand_in:
                return real
        return value


@contextmanager
def _offline_sdk_environment(region: str) -> Iterator[None]:
    """Environment under which the SDK neither validates roles nor needs a configured region.

    ``SAGEMAKER_VALIDATE_ROLE=false`` stops ``ModelTrainer`` calling IAM; the region is needed
    because the pipeline modules create boto clients at import. Both are restored afterwards so
    that a build inside a larger process (the CDK app, a test) leaves no trace.
    """
    wanted = {"SAGEMAKER_VALIDATE_ROLE": "false", "AWS_DEFAULT_REGION": region}
    saved = {key: os.environ.get(key) for key in wanted}
    os.environ.update(wanted)
    # The SDK logs INFO/WARNING lines for every default it applies ("Popping out
    # 'ProcessingJobName'…"); they are noise for a build whose output is the JSON itself.
    previous_disable = logging.root.manager.disable
    logging.disable(logging.WARNING)
    try:
        with warnings.catch_warnings(), _config_validated_once():
            # "Running within a PipelineSession, there will be No Wait…": expected here.
            warnings.simplefilter("ignore", UserWarning)
            yield
    finally:
        logging.disable(previous_disable)
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


_VALIDATED_CONFIGS: set[str] = set()


@contextmanager
def _config_validated_once() -> Iterator[None]:
    """Validate the SDK defaults config once instead of on every lookup.

    The SDK re-validates the (constant) config dict with jsonschema on each of ~60 lookups
    during a build, 0.2 s each: 13 of a build's 15 seconds on the reference machine. Same
    validation, same errors, once per distinct config; the SDK's function is restored after.
    """
    from sagemaker.core.config.config_manager import SageMakerConfig

    original = SageMakerConfig.__dict__["validate_sagemaker_config"]
    validate = original.__func__ if isinstance(original, staticmethod) else original

    def validate_once(sagemaker_config: dict[str, Any] | None = None) -> None:
        key = json.dumps(sagemaker_config, sort_keys=True, default=str)
        if key not in _VALIDATED_CONFIGS:
            validate(sagemaker_config)
            _VALIDATED_CONFIGS.add(key)

    SageMakerConfig.validate_sagemaker_config = staticmethod(validate_once)  # type: ignore[method-assign]
    try:
        yield
    finally:
        SageMakerConfig.validate_sagemaker_config = original  # type: ignore[method-assign]


def _schema_arguments(settings: ProjectSettings) -> list[str]:
    """The dataset schema as preprocess.py arguments (contracts §1)."""
    schema = settings.dataset
    arguments = ["--target", schema.target, "--positive-label", schema.positive_label]
    if schema.drop_columns:
        arguments += ["--drop-columns", ",".join(schema.drop_columns)]
    if schema.categorical is not None:
        arguments += ["--categorical", ",".join(schema.categorical)]
    if schema.numeric is not None:
        arguments += ["--numeric", ",".join(schema.numeric)]
    return arguments


def _build_pipeline(
    settings: ProjectSettings,
    *,
    role_arn: str,
    artifact_bucket: str,
    default_input_uri: str,
    code: CodeLocations,
    kms_key_arn: str | None,
) -> Any:
    """The SDK objects; kept apart from `build_definition` so the import stays lazy."""
    import boto3
    from sagemaker.core import image_uris
    from sagemaker.core.drift_check_baselines import DriftCheckBaselines
    from sagemaker.core.model_metrics import MetricsSource, ModelMetrics
    from sagemaker.core.model_monitor import DatasetFormat
    from sagemaker.core.network import NetworkConfig
    from sagemaker.core.processing import ScriptProcessor
    from sagemaker.core.shapes import (
        ProcessingInput,
        ProcessingOutput,
        ProcessingS3Input,
        ProcessingS3Output,
    )
    from sagemaker.core.training.configs import (
        Compute,
        InputData,
        Networking,
        OutputDataConfig,
    )
    from sagemaker.core.workflow.conditions import ConditionGreaterThanOrEqualTo
    from sagemaker.core.workflow.execution_variables import ExecutionVariables
    from sagemaker.core.workflow.functions import Join, JsonGet
    from sagemaker.core.workflow.parameters import (
        ParameterFloat,
        ParameterInteger,
        ParameterString,
    )
    from sagemaker.core.workflow.pipeline_context import PipelineSession
    from sagemaker.core.workflow.properties import PropertyFile
    from sagemaker.mlops.workflow.check_job_config import CheckJobConfig
    from sagemaker.mlops.workflow.condition_step import ConditionStep
    from sagemaker.mlops.workflow.fail_step import FailStep
    from sagemaker.mlops.workflow.model_step import ModelStep
    from sagemaker.mlops.workflow.pipeline import Pipeline
    from sagemaker.mlops.workflow.quality_check_step import (
        DataQualityCheckConfig,
        QualityCheckStep,
    )
    from sagemaker.mlops.workflow.steps import ProcessingStep, TrainingStep
    from sagemaker.serve import ModelBuilder
    from sagemaker.train import ModelTrainer

    region = settings.region
    # The default bucket is given so the SDK never calls S3 to create or probe one; telemetry
    # is opted out because it would call STS and an HTTPS endpoint.
    boto_session = boto3.Session(region_name=region)
    session = PipelineSession(
        boto_session=boto_session,
        default_bucket=artifact_bucket,
        sagemaker_config={
            "SchemaVersion": "1.0",
            "SageMaker": {"PythonSDK": {"Modules": {"TelemetryOptOut": True}}},
        },
    )

    by_name = {spec.name: spec for spec in parameter_specs(settings, default_input_uri="")}

    def string(name: str, default: str | None = None) -> Any:
        return ParameterString(name=name, default_value=default or str(by_name[name].default))

    def integer(name: str) -> Any:
        return ParameterInteger(name=name, default_value=int(by_name[name].default))

    def floating(name: str) -> Any:
        return ParameterFloat(name=name, default_value=float(by_name[name].default))

    input_data = string("InputDataUrl", default_input_uri)
    processing_type = string("ProcessingInstanceType")
    processing_count = integer("ProcessingInstanceCount")
    training_type = string("TrainingInstanceType")
    training_count = integer("TrainingInstanceCount")
    max_depth = integer("MaxDepth")
    eta = floating("Eta")
    num_round = integer("NumRound")
    subsample = floating("Subsample")
    colsample = floating("ColsampleBytree")
    min_child_weight = floating("MinChildWeight")
    early_stopping = integer("EarlyStoppingRounds")
    auc_threshold = floating("AucThreshold")
    approval_status = string("ModelApprovalStatus")
    parameters = [
        input_data,
        processing_type,
        processing_count,
        training_type,
        training_count,
        max_depth,
        eta,
        num_round,
        subsample,
        colsample,
        min_child_weight,
        early_stopping,
        auc_threshold,
        approval_status,
    ]

    def execution_uri(*parts: str) -> Any:
        """s3://<bucket>/<pipeline>/<execution id>/<parts…>: one prefix per execution."""
        return Join(
            on="/",
            values=[
                "s3:/",
                artifact_bucket,
                settings.pipeline_name,
                ExecutionVariables.PIPELINE_EXECUTION_ID,
                *parts,
            ],
        )

    sklearn_image = image_uris.retrieve("sklearn", region, SKLEARN_VERSION)
    xgboost_image = image_uris.retrieve("xgboost", region, XGBOOST_VERSION)

    # --- Preprocess -------------------------------------------------------------------------
    preprocess_outputs = ("train", "validation", "test", "baseline", "spec")
    preprocessor = ScriptProcessor(
        image_uri=sklearn_image,
        command=["python3"],
        role=role_arn,
        instance_type=processing_type,
        instance_count=processing_count,
        base_job_name=f"{settings.project_name}-preprocess",
        sagemaker_session=session,
        volume_kms_key=kms_key_arn,
        output_kms_key=kms_key_arn,
        network_config=NetworkConfig(enable_network_isolation=True),
    )
    preprocess = ProcessingStep(
        name=PREPROCESS,
        step_args=preprocessor.run(
            code=code.preprocess,
            inputs=[
                ProcessingInput(
                    input_name="input",
                    s3_input=ProcessingS3Input(
                        s3_uri=input_data,
                        local_path=f"{_PROCESSING}/input",
                        s3_data_type="S3Prefix",
                        s3_input_mode="File",
                    ),
                )
            ],
            outputs=[
                ProcessingOutput(
                    output_name=name,
                    s3_output=ProcessingS3Output(
                        s3_uri=execution_uri("preprocess", name),
                        local_path=f"{_PROCESSING}/{name}",
                        s3_upload_mode="EndOfJob",
                    ),
                )
                for name in preprocess_outputs
            ],
            arguments=_schema_arguments(settings),
        ),
    )

    def preprocess_output(name: str) -> Any:
        return preprocess.properties.ProcessingOutputConfig.Outputs[name].S3Output.S3Uri

    # --- DataQualityBaseline ----------------------------------------------------------------
    check_job = CheckJobConfig(
        role=role_arn,
        instance_count=1,
        instance_type=processing_type,
        base_job_name=f"{settings.project_name}-data-quality",
        sagemaker_session=session,
        volume_kms_key=kms_key_arn,
        output_kms_key=kms_key_arn,
    )
    data_quality = QualityCheckStep(
        name=DATA_QUALITY,
        quality_check_config=DataQualityCheckConfig(
            baseline_dataset=preprocess_output("baseline"),
            dataset_format=DatasetFormat.csv(header=True),
            output_s3_uri=execution_uri("data-quality"),
        ),
        check_job_config=check_job,
        # The first execution has no earlier baseline to compare with: compute and register
        # a new one. Drift against it is checked by Model Monitor on endpoint traffic.
        skip_check=True,
        register_new_baseline=True,
        model_package_group_name=settings.model_package_group,
    )

    # --- Train ------------------------------------------------------------------------------
    trainer = ModelTrainer(
        training_image=xgboost_image,
        role=role_arn,
        sagemaker_session=session,
        base_job_name=f"{settings.project_name}-train",
        compute=Compute(
            instance_type=training_type,
            instance_count=training_count,
            volume_kms_key_id=kms_key_arn,
        ),
        networking=Networking(enable_network_isolation=True),
        hyperparameters={
            # The XGBoost container's own script mode, network-isolated: the source tarball
            # arrives as the `code` channel and the container unpacks it from there and runs
            # train.py, so the SDK uploads nothing and the definition stays deterministic.
            "sagemaker_program": "train.py",
            "sagemaker_submit_directory": _TRAINING_CODE_DIR + _STAND_IN_SOURCEDIR,
            "max_depth": max_depth,
            "eta": eta,
            "num_round": num_round,
            "subsample": subsample,
            "colsample_bytree": colsample,
            "min_child_weight": min_child_weight,
            "early_stopping_rounds": early_stopping,
            # A project setting, not a parameter: the endpoint's decision threshold is part of
            # the model (feature_spec.json), evaluate.py reports precision/recall at it.
            "prediction_threshold": str(settings.prediction_threshold),
        },
        input_data_config=[
            *(
                InputData(channel_name=name, data_source=preprocess_output(name))
                for name in ("train", "validation", "spec")
            ),
            InputData(channel_name="code", data_source=code.training_source),
        ],
        output_data_config=OutputDataConfig(
            s3_output_path=execution_uri("train"), kms_key_id=kms_key_arn
        ),
    )
    train = TrainingStep(name=TRAIN, step_args=trainer.train())
    model_artifact = train.properties.ModelArtifacts.S3ModelArtifacts

    # --- Evaluate ---------------------------------------------------------------------------
    evaluation_report = PropertyFile(
        name=EVALUATION_PROPERTY_FILE, output_name="evaluation", path="evaluation.json"
    )
    evaluator = ScriptProcessor(
        image_uri=xgboost_image,
        command=["python3"],
        role=role_arn,
        instance_type=processing_type,
        instance_count=1,
        base_job_name=f"{settings.project_name}-evaluate",
        sagemaker_session=session,
        volume_kms_key=kms_key_arn,
        output_kms_key=kms_key_arn,
        network_config=NetworkConfig(enable_network_isolation=True),
    )
    evaluate = ProcessingStep(
        name=EVALUATE,
        step_args=evaluator.run(
            code=code.evaluate,
            inputs=[
                ProcessingInput(
                    input_name="model",
                    s3_input=ProcessingS3Input(
                        s3_uri=model_artifact,
                        local_path=f"{_PROCESSING}/model",
                        s3_data_type="S3Prefix",
                        s3_input_mode="File",
                    ),
                ),
                ProcessingInput(
                    input_name="test",
                    s3_input=ProcessingS3Input(
                        s3_uri=preprocess_output("test"),
                        local_path=f"{_PROCESSING}/test",
                        s3_data_type="S3Prefix",
                        s3_input_mode="File",
                    ),
                ),
            ],
            outputs=[
                ProcessingOutput(
                    output_name="evaluation",
                    s3_output=ProcessingS3Output(
                        s3_uri=execution_uri("evaluate"),
                        local_path=f"{_PROCESSING}/evaluation",
                        s3_upload_mode="EndOfJob",
                    ),
                )
            ],
        ),
        property_files=[evaluation_report],
    )

    # --- Register ---------------------------------------------------------------------------
    evaluation_uri = Join(
        on="/",
        values=[
            evaluate.properties.ProcessingOutputConfig.Outputs["evaluation"].S3Output.S3Uri,
            "evaluation.json",
        ],
    )
    builder = ModelBuilder(
        image_uri=xgboost_image,
        s3_model_data_url=model_artifact,
        role_arn=role_arn,
        sagemaker_session=session,
        # No dependency discovery (it uploads code): train.py already put inference.py into
        # model.tar.gz under code/, which these variables select at serving time.
        dependencies={},
        env_vars={
            "SAGEMAKER_PROGRAM": "inference.py",
            "SAGEMAKER_SUBMIT_DIRECTORY": "/opt/ml/model/code",
        },
    )
    quality = data_quality.properties
    register = ModelStep(
        name=REGISTER,
        step_args=builder.register(
            model_package_group_name=settings.model_package_group,
            content_types=list(REQUEST_TYPES),
            response_types=list(RESPONSE_TYPES),
            inference_instances=[settings.instances.endpoint_type],
            transform_instances=[settings.instances.endpoint_type],
            approval_status=approval_status,
            model_metrics=ModelMetrics(
                model_statistics=MetricsSource(
                    s3_uri=evaluation_uri, content_type="application/json"
                ),
                model_data_statistics=MetricsSource(
                    s3_uri=quality.CalculatedBaselineStatistics, content_type="application/json"
                ),
                model_data_constraints=MetricsSource(
                    s3_uri=quality.CalculatedBaselineConstraints, content_type="application/json"
                ),
            ),
            drift_check_baselines=DriftCheckBaselines(
                model_data_statistics=MetricsSource(
                    s3_uri=quality.CalculatedBaselineStatistics, content_type="application/json"
                ),
                model_data_constraints=MetricsSource(
                    s3_uri=quality.CalculatedBaselineConstraints, content_type="application/json"
                ),
            ),
        ),
    )

    # --- CheckMetric → Register | Fail ------------------------------------------------------
    auc = JsonGet(step_name=EVALUATE, property_file=evaluation_report, json_path=AUC_PATH)
    fail = FailStep(
        name=FAIL,
        error_message=Join(
            on=" ",
            values=["Test AUC", auc, "is below the AucThreshold parameter", auc_threshold],
        ),
    )
    check = ConditionStep(
        name=CHECK_METRIC,
        conditions=[ConditionGreaterThanOrEqualTo(left=auc, right=auc_threshold)],
        if_steps=[register],
        else_steps=[fail],
    )

    return Pipeline(
        name=settings.pipeline_name,
        parameters=parameters,
        steps=[preprocess, data_quality, train, evaluate, check],
        sagemaker_session=session,
    )
