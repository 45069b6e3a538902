"""Build the SageMaker Pipeline definition JSON with the SageMaker Python SDK v3, offline.

The CDK stack embeds the JSON returned by `build_definition` in ``AWS::SageMaker::Pipeline``,
and the local executor runs that same JSON: there is one pipeline, described once. The build is
deterministic and offline (no network call, no credentials, byte-identical output) because the
caller passes every S3 location — the code comes from CDK assets, never from SDK uploads made at
build time with timestamps in their keys. docs/contracts.md §10 states the contract.

Each step is built by its own module under `sagemaker_pipelines.steps`; this module runs them in
order inside an environment that keeps the SDK offline, and hands the SDK well-formed stand-ins
for caller values it would otherwise parse or resolve. The SDK import costs ~10 s on the
reference machine, so it happens inside `build_definition` (never at import: the CLI and the
local executor import this module for the step names) and Python caches it for the process.
"""

from __future__ import annotations

import json
import logging
import os
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from mlops.core.settings import ProjectSettings
from sagemaker_pipelines.steps.check_metric import (
    THRESHOLD_PARAMETER,
    build_check_metric,
    build_check_predictions,
    build_constant_fail,
    build_fail,
)
from sagemaker_pipelines.steps.clarify import build_bias, build_explainability
from sagemaker_pipelines.steps.context import (
    PROCESSING_CODE_DIR,
    TRAINING_CODE_DIR,
    CodeLocations,
    JobNetwork,
    build_context,
)
from sagemaker_pipelines.steps.data_quality import build_data_quality, isolate_network
from sagemaker_pipelines.steps.evaluate import build_evaluate
from sagemaker_pipelines.steps.model_quality import build_model_quality
from sagemaker_pipelines.steps.names import (
    CHECK_METRIC,
    CHECK_PREDICTIONS,
    CONSTANT_PREDICTIONS,
    DATA_QUALITY,
    EVALUATE,
    EVALUATION_PROPERTY_FILE,
    FAIL,
    MODEL_BIAS,
    MODEL_EXPLAINABILITY,
    MODEL_QUALITY,
    PREPROCESS,
    REGISTER,
    TRAIN,
)
from sagemaker_pipelines.steps.preprocess import build_preprocess
from sagemaker_pipelines.steps.register import build_register
from sagemaker_pipelines.steps.train import build_train

if TYPE_CHECKING:
    from sagemaker.mlops.workflow.pipeline import Pipeline

# What callers import from here: the step names (the local executor, the CLI summary and
# `start --wait` output address steps by them) and the builder's signature.
__all__ = [
    "CHECK_METRIC",
    "CHECK_PREDICTIONS",
    "CONSTANT_PREDICTIONS",
    "DATA_QUALITY",
    "EVALUATE",
    "EVALUATION_PROPERTY_FILE",
    "FAIL",
    "MODEL_BIAS",
    "MODEL_EXPLAINABILITY",
    "MODEL_QUALITY",
    "PREPROCESS",
    "REGISTER",
    "THRESHOLD_PARAMETER",
    "TRAIN",
    "CodeLocations",
    "JobNetwork",
    "build_definition",
]


def build_definition(
    settings: ProjectSettings,
    *,
    role_arn: str,
    artifact_bucket: str,
    default_input_uri: str,
    code: CodeLocations,
    kms_key_arn: str | None = None,
    network: JobNetwork | None = None,
) -> str:
    """Pipeline definition JSON (deterministic, offline).

    With ``kms_key_arn`` every job encrypts its ML storage volume and its S3 outputs with that
    key (the local executor passes none: moto has nothing to encrypt with). Every job runs
    network-isolated: the containers get their inputs and code staged by SageMaker. With
    ``network`` (the CDK app, from the ``network`` setting) every job also attaches to those
    subnets and security groups (``VpcConfig``); without it the definition has no VPC at all.

    Every argument may be an opaque placeholder (a CDK token such as ``${Token[TOKEN.12]}``):
    each lands verbatim in the JSON for the caller to substitute. One derived value: a
    processing step's entry point is ``/opt/ml/processing/input/code/<last segment of its code
    URI>`` (where SageMaker stages the object), so substitute that segment too (contracts §10).
    """
    settings.resolved_gate()  # SettingsError now, before the SDK import, if no problem type
    stand_ins = _StandIns.for_call(role_arn, code)
    with _offline_sdk_environment(settings.region):
        pipeline = _build_pipeline(
            settings,
            role_arn=stand_ins.role_arn,
            artifact_bucket=artifact_bucket,
            default_input_uri=default_input_uri,
            code=stand_ins.code,
            kms_key_arn=kms_key_arn,
            network=network,
        )
        document = json.loads(pipeline.definition())
    isolate_network(document, network)
    document = stand_ins.restore(document)
    return json.dumps(document, sort_keys=True, separators=(",", ":"))


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
        if code.clarify is not None:
            names["clarify"] = code.clarify
        stand_in_code = {name: f"s3://mlops-stand-in-code/mlops-stand-in-{name}" for name in names}
        training = "s3://mlops-stand-in-code/mlops-stand-in-sourcedir.tar.gz"
        swaps = (
            (role, role_arn),
            *((stand_in_code[name], uri) for name, uri in names.items()),
            (training, code.training_source),
        )
        processing_entries = tuple(
            (
                PROCESSING_CODE_DIR + stand_in_code[name].rsplit("/", 1)[-1],
                PROCESSING_CODE_DIR + uri.rsplit("/", 1)[-1],
            )
            for name, uri in names.items()
        )
        # sagemaker_submit_directory names the code channel's file inside the container.
        training_entry = (
            TRAINING_CODE_DIR + training.rsplit("/", 1)[-1],
            TRAINING_CODE_DIR + code.training_source.rsplit("/", 1)[-1],
        )
        entry_swaps = (*processing_entries, training_entry)
        return cls(
            role_arn=role,
            code=CodeLocations(
                preprocess=stand_in_code["preprocess"],
                evaluate=stand_in_code["evaluate"],
                training_source=training,
                clarify=stand_in_code.get("clarify"),
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


def _build_pipeline(
    settings: ProjectSettings,
    *,
    role_arn: str,
    artifact_bucket: str,
    default_input_uri: str,
    code: CodeLocations,
    kms_key_arn: str | None,
    network: JobNetwork | None,
) -> Pipeline:
    """The steps in execution order; the SDK import happens here and in the builders."""
    from sagemaker.mlops.workflow.pipeline import Pipeline

    ctx = build_context(
        settings,
        role_arn=role_arn,
        artifact_bucket=artifact_bucket,
        default_input_uri=default_input_uri,
        code=code,
        kms_key_arn=kms_key_arn,
        network=network,
    )
    preprocess = build_preprocess(ctx)
    data_quality = build_data_quality(ctx, preprocess)
    train = build_train(ctx, preprocess)
    evaluate = build_evaluate(ctx, preprocess, train)
    model_quality = build_model_quality(ctx, evaluate)
    bias = build_bias(ctx, preprocess, train)
    explainability = build_explainability(ctx, preprocess, train)
    register = build_register(
        ctx,
        train=train,
        evaluate=evaluate,
        data_quality=data_quality,
        model_quality=model_quality,
        bias=bias,
        explainability=explainability,
    )
    refused = build_check_predictions(
        evaluate, below_threshold=build_fail(ctx, evaluate), constant=build_constant_fail(evaluate)
    )
    check = build_check_metric(ctx, evaluate, passed=register, refused=refused)
    return Pipeline(
        name=settings.names.pipeline,
        parameters=list(ctx.parameters.values()),
        steps=[
            preprocess,
            data_quality,
            train,
            evaluate,
            model_quality,
            *(step for step in (bias, explainability) if step is not None),
            check,
        ],
        sagemaker_session=ctx.session,
    )
