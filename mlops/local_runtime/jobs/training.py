"""A SageMaker training job without Docker: ``/opt/ml`` re-rooted in a work directory.

What SageMaker does for ``CreateTrainingJob``: every channel is staged at
``/opt/ml/input/data/<channel>``, ``/opt/ml/input/config/{hyperparameters,inputdataconfig,
resourceconfig}.json`` are written (hyperparameters exactly as the request gives them), and
the image starts. Script-mode images then run their launcher, reproduced in
`mlops.local_runtime.jobs.toolkit` (``python -m <program> --key value …`` from
``/opt/ml/code`` with the launcher's ``SM_*`` variables, its failure file on error). On
success ``/opt/ml/model`` is packed into ``model.tar.gz`` (and ``/opt/ml/output/data`` into
``output.tar.gz``) under ``<S3OutputPath>/<job>/output/``. A failure is reported as
``DescribeTrainingJob`` would: ``AlgorithmError: <first 1 KB of /opt/ml/output/failure>``.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess  # nosec B404 - only for its exception types
import tarfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mlops.core.archive import pack_directory, unpack
from mlops.core.s3uri import Location, is_s3
from mlops.local_runtime.images import ImageEnvironment
from mlops.local_runtime.jobs.container import (
    AwsChannel,
    Rerooting,
    container_environment,
    interpreter_dir,
)
from mlops.local_runtime.jobs.errors import JobFailed
from mlops.local_runtime.jobs.layout import (
    LOG_NAME,
    NotUtf8Error,
    fresh_job_root,
    read_exit_message,
    resource_config,
)
from mlops.local_runtime.jobs.process import LineCallback, run_command
from mlops.local_runtime.jobs.staging import fetch_file, join_location, publish_file, stage_in
from mlops.local_runtime.jobs.toolkit import (
    FAILURE_PREFIX,
    PROGRAM_HP,
    SUBMIT_DIRECTORY_HP,
    UnsupportedSourceError,
    failure_text,
    launcher_sys_path,
    plan_launch,
    prepare_code_dir,
)

DEFAULT_INSTANCE_TYPE = "ml.m5.xlarge"
_CHANNEL_NAME = re.compile(r"[A-Za-z0-9\.\-_]{1,64}")


@dataclass(frozen=True)
class TrainingJobSpec:
    """What ``CreateTrainingJob`` receives, with local paths allowed wherever S3 URIs are.

    The code comes from the ``sagemaker_program`` / ``sagemaker_submit_directory``
    hyperparameters, as in the pipeline definition; ``source_dir`` + ``entry_point`` are the
    SDK's shorthand for them (a directory or tarball, local or S3). ``image`` is the
    environment standing in for the training image (None: the project's interpreter).
    ``channel_settings`` carries each channel's ``ContentType``/``InputMode`` for
    ``inputdataconfig.json``. ``metric_definitions`` maps a metric name to a regex with one
    group, applied to the log like SageMaker's MetricDefinitions.
    """

    name: str
    channels: Mapping[str, Location]
    output_path: Location
    work_dir: Path
    hyperparameters: Mapping[str, str] = field(default_factory=dict)
    source_dir: Location | None = None
    entry_point: str | None = None
    environment: Mapping[str, str] = field(default_factory=dict)
    metric_definitions: Mapping[str, str] = field(default_factory=dict)
    image: ImageEnvironment | None = None
    instance_type: str = DEFAULT_INSTANCE_TYPE
    channel_settings: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    network_isolation: bool = False
    aws: AwsChannel | None = None
    region: str = "us-east-1"
    account: str = "123456789012"
    timeout_seconds: float | None = None


@dataclass(frozen=True)
class TrainingJobResult:
    """Where the artifacts went (``model_artifact`` = ModelArtifacts.S3ModelArtifacts) and the
    local copies a user opens."""

    name: str
    model_artifact: str
    output_artifact: str | None
    local_model: Path
    model_dir: Path
    log_file: Path
    metrics: dict[str, float]
    seconds: float


def run_training_job(
    spec: TrainingJobSpec,
    *,
    s3_client: Any = None,
    on_line: LineCallback | None = None,
) -> TrainingJobResult:
    """Stage, launch and publish one training job; raises JobFailed with SageMaker's reason."""
    root = fresh_job_root(spec.work_dir, spec.name)
    rerooting = Rerooting(root)
    dirs = _make_layout(root, spec.channels)
    hyperparameters = _with_code_shorthand(spec)
    try:
        for channel, location in spec.channels.items():
            stage_in(location, dirs["input_data"] / channel, s3_client)
    except (FileNotFoundError, ValueError) as error:
        raise JobFailed(spec.name, f"ClientError: {error}") from error
    write_training_configs(dirs["input_config"], hyperparameters, spec)

    env = training_container_environment(spec, rerooting)
    python = str((spec.image.bin_dir if spec.image else interpreter_dir()) / "python3")
    try:
        launcher_path = launcher_sys_path(python)
    except (OSError, subprocess.SubprocessError) as error:
        raise JobFailed(spec.name, f"{FAILURE_PREFIX}framework error: {error}") from None
    plan = plan_launch(
        rerooting=rerooting, container_env=env, python=python, launcher_path=launcher_path
    )
    try:
        _extract_code(plan.module_dir, dirs["code"], root / "download", spec, s3_client)
        prepare_code_dir(dirs["code"], plan.module_name)
    except UnsupportedSourceError as error:
        raise JobFailed(spec.name, str(error)) from None
    except (FileNotFoundError, tarfile.TarError, ValueError) as error:
        raise JobFailed(spec.name, f"{FAILURE_PREFIX}framework error: {error}") from None

    log_file = root / LOG_NAME
    outcome = run_command(
        plan.command,
        env={**env, **plan.environment},
        cwd=dirs["code"],
        log_file=log_file,
        timeout_seconds=spec.timeout_seconds,
        on_line=on_line,
    )
    if not outcome.succeeded:
        stopped = outcome.stopped_reason(spec.timeout_seconds)
        if stopped is not None:
            raise JobFailed(spec.name, stopped)
        # The launcher reports every script failure the same way, over the script's own file.
        (dirs["output"] / "failure").write_text(failure_text(plan.command))
        raise JobFailed(spec.name, failure_reason(dirs["output"] / "failure"))

    artifacts = root / "artifacts"
    local_model = pack_directory(dirs["model"], artifacts / "model.tar.gz")
    destination = join_location(spec.output_path, spec.name, "output")
    model_artifact = publish_file(
        local_model, join_location(destination, "model.tar.gz"), s3_client
    )
    output_artifact = None
    if any(path.is_file() for path in dirs["output_data"].rglob("*")):
        local_output = pack_directory(dirs["output_data"], artifacts / "output.tar.gz")
        output_artifact = publish_file(
            local_output, join_location(destination, "output.tar.gz"), s3_client
        )
    return TrainingJobResult(
        name=spec.name,
        model_artifact=model_artifact,
        output_artifact=output_artifact,
        local_model=local_model,
        model_dir=dirs["model"],
        log_file=log_file,
        metrics=_final_metrics(log_file, spec.metric_definitions),
        seconds=outcome.seconds,
    )


def training_container_environment(spec: TrainingJobSpec, rerooting: Rerooting) -> dict[str, str]:
    """What the training container starts with, before its launcher adds the ``SM_*`` set."""
    env = container_environment(
        image_environment=spec.image.environment if spec.image else {},
        bin_dirs=[spec.image.bin_dir] if spec.image else [interpreter_dir()],
        rerooting=rerooting,
        scratch=rerooting.root / "container",
        platform={
            "TRAINING_JOB_NAME": spec.name,
            "TRAINING_JOB_ARN": (
                f"arn:aws:sagemaker:{spec.region}:{spec.account}:training-job/{spec.name.lower()}"
            ),
            "AWS_REGION": spec.region,
        },
        job_environment=spec.environment,
        aws=None if spec.network_isolation else spec.aws,
    )
    if not spec.image:
        env.setdefault("PYTHONUNBUFFERED", "1")
    return env


def write_training_configs(
    config_dir: Path, hyperparameters: Mapping[str, str], spec: TrainingJobSpec
) -> None:
    """``/opt/ml/input/config``: the request's hyperparameters verbatim, the channels, hosts."""
    (config_dir / "hyperparameters.json").write_text(json.dumps(dict(hyperparameters)))
    (config_dir / "inputdataconfig.json").write_text(
        json.dumps(
            {
                channel: {
                    **{
                        key: value
                        for key, value in spec.channel_settings.get(channel, {}).items()
                        if key == "ContentType"
                    },
                    "TrainingInputMode": "File",
                    "S3DistributionType": "FullyReplicated",
                    "RecordWrapperType": "None",
                }
                for channel in spec.channels
            }
        )
    )
    (config_dir / "resourceconfig.json").write_text(json.dumps(resource_config(spec.instance_type)))


def failure_reason(failure_file: Path) -> str:
    """``FailureReason``: the first 1 KB of the failure file after ``AlgorithmError: ``."""
    try:
        text = read_exit_message(failure_file)
    except NotUtf8Error as error:
        return str(error)
    return (
        f"{FAILURE_PREFIX}{text}" if text else f"{FAILURE_PREFIX}See job logs for more information"
    )


def _with_code_shorthand(spec: TrainingJobSpec) -> dict[str, str]:
    """``source_dir``/``entry_point`` as the SDK sends them: JSON-encoded hyperparameters."""
    hyperparameters = dict(spec.hyperparameters)
    if spec.source_dir is not None:
        source = spec.source_dir if is_s3(spec.source_dir) else str(Path(spec.source_dir).resolve())
        hyperparameters[SUBMIT_DIRECTORY_HP] = json.dumps(str(source))
    if spec.entry_point is not None:
        hyperparameters[PROGRAM_HP] = json.dumps(spec.entry_point)
    return hyperparameters


def _make_layout(root: Path, channels: Mapping[str, Location]) -> dict[str, Path]:
    dirs = {
        "input": root / "input",
        "input_config": root / "input" / "config",
        "input_data": root / "input" / "data",
        "model": root / "model",
        "output": root / "output",
        "output_data": root / "output" / "data",
        "output_intermediate": root / "output" / "intermediate",
        "code": root / "code",
    }
    for path in dirs.values():
        path.mkdir(parents=True, exist_ok=True)
    for channel in channels:
        if not _CHANNEL_NAME.fullmatch(channel):
            raise ValueError(f"channel name {channel!r} is not a valid SageMaker channel name")
        (dirs["input_data"] / channel).mkdir()
    return dirs


def _extract_code(
    module_dir: str, code_dir: Path, download: Path, spec: TrainingJobSpec, s3: Any
) -> None:
    """The launcher's download_and_extract: an S3 tarball, a directory, a tarball or a file."""
    if any(code_dir.iterdir()):
        return
    if is_s3(module_dir):
        if spec.network_isolation:
            raise FileNotFoundError(
                f"{module_dir}: a network-isolated container cannot download its code from S3 "
                "(give the source tarball as a channel)"
            )
        unpack(fetch_file(module_dir, download, s3), code_dir)
        return
    source = Path(module_dir)
    if source.is_dir():
        shutil.copytree(source, code_dir, dirs_exist_ok=True)
    elif tarfile.is_tarfile(source):
        unpack(source, code_dir)
    else:
        shutil.copy2(source, code_dir)


def _final_metrics(log_file: Path, definitions: Mapping[str, str]) -> dict[str, float]:
    """The last value each metric regex matched in the log (SageMaker's FinalMetricDataList)."""
    if not definitions:
        return {}
    patterns = {name: re.compile(regex) for name, regex in definitions.items()}
    found: dict[str, float] = {}
    for line in log_file.read_text(encoding="utf-8", errors="replace").splitlines():
        for name, pattern in patterns.items():
            for match in pattern.finditer(line):
                try:
                    found[name] = float(match.group(1))
                except (IndexError, ValueError):
                    continue
    return found
