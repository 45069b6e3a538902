"""A SageMaker training job without Docker: the `/opt/ml` contract re-rooted in a work dir.

The staged tree is what a script-mode framework container sees (``input/config/*.json``,
``input/data/<channel>/``, ``model/``, ``output/``, ``code/``), the environment carries the
``SM_*`` variables the SageMaker training toolkit sets, and hyperparameters arrive as
``--key value`` arguments. ``sagemaker_program`` / ``sagemaker_submit_directory``
hyperparameters select the code exactly as in the pipeline definition, so a definition that
runs on SageMaker runs here unchanged.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mlops.local_runtime.jobs.archive import pack_directory, unpack
from mlops.local_runtime.jobs.errors import JobFailed
from mlops.local_runtime.jobs.layout import LOG_NAME, describe, fresh_job_root
from mlops.local_runtime.jobs.process import (
    LineCallback,
    ProcessOutcome,
    base_environment,
    run_script,
)
from mlops.local_runtime.jobs.staging import (
    Location,
    fetch_file,
    is_s3,
    join_location,
    publish_file,
    stage_in,
)

CURRENT_HOST = "algo-1"
PROGRAM_HP = "sagemaker_program"
SUBMIT_DIRECTORY_HP = "sagemaker_submit_directory"
CONTAINER_ROOT = "/opt/ml/"
_FAILURE_MAX_CHARS = 1024  # SageMaker truncates FailureReason to 1024 characters


@dataclass(frozen=True)
class TrainingJobSpec:
    """What CreateTrainingJob would receive, with local paths allowed wherever S3 URIs are.

    ``source_dir`` is a directory, or a ``sourcedir.tar.gz`` (local or S3); when it or
    ``entry_point`` is None, the ``sagemaker_submit_directory`` / ``sagemaker_program``
    hyperparameters supply it. ``metric_definitions`` maps a metric name to a regex with one
    group, applied to the job's log like SageMaker's MetricDefinitions.
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
    """Stage, run and publish one training job; raises JobFailed with SageMaker's reason."""
    root = fresh_job_root(spec.work_dir, spec.name)
    dirs = _make_layout(root, spec.channels)
    try:
        for channel, location in spec.channels.items():
            stage_in(location, dirs["input_data"] / channel, s3_client)
        # After the channels: with network isolation the source tarball arrives as a channel
        # and sagemaker_submit_directory names its path inside the container.
        entry = _stage_code(spec, dirs["code"], root / "download", s3_client, root)
    except (FileNotFoundError, ValueError) as error:
        raise JobFailed(spec.name, f"ClientError: {error}") from error

    user_hps = _user_hyperparameters(spec.hyperparameters)
    _write_configs(dirs["input_config"], spec.hyperparameters, spec.channels)
    env = _environment(spec, dirs, entry, user_hps)
    arguments = _to_arguments(user_hps)
    log_file = root / LOG_NAME
    outcome = run_script(
        entry,
        arguments,
        env=env,
        cwd=dirs["code"],
        log_file=log_file,
        timeout_seconds=spec.timeout_seconds,
        on_line=on_line,
    )
    if outcome.returncode != 0 or outcome.timed_out:
        raise JobFailed(spec.name, _failure_reason(dirs["output"], outcome, spec))

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
        if not re.fullmatch(r"[A-Za-z0-9\.\-_]{1,64}", channel):
            raise ValueError(f"channel name {channel!r} is not a valid SageMaker channel name")
        (dirs["input_data"] / channel).mkdir()
    return dirs


def _stage_code(spec: TrainingJobSpec, code_dir: Path, download: Path, s3: Any, root: Path) -> Path:
    source = spec.source_dir
    if source is None:
        source = _decoded(spec.hyperparameters.get(SUBMIT_DIRECTORY_HP))
        if source is not None and str(source).startswith(CONTAINER_ROOT):
            # A path inside the container (e.g. /opt/ml/input/data/code/sourcedir.tar.gz):
            # the same path under this job's staged root.
            source = str(root / str(source)[len(CONTAINER_ROOT) :])
    entry_point = spec.entry_point or _decoded(spec.hyperparameters.get(PROGRAM_HP))
    if not source or not entry_point:
        raise ValueError(
            "no code: give source_dir and entry_point, or the sagemaker_submit_directory and "
            "sagemaker_program hyperparameters"
        )
    if not is_s3(source) and Path(source).is_dir():
        shutil.copytree(Path(source), code_dir, dirs_exist_ok=True)
    else:
        unpack(fetch_file(source, download, s3), code_dir)
    entry = code_dir / entry_point
    if not entry.is_file():
        raise FileNotFoundError(f"entry point {entry_point} is not in {describe(source)}")
    return entry


def _decoded(value: str | None) -> str | None:
    """SDK-written hyperparameters are JSON-encoded strings (``"\\"train.py\\""``)."""
    if value is None:
        return None
    try:
        decoded = json.loads(value)
    except json.JSONDecodeError:
        return value
    return decoded if isinstance(decoded, str) else value


def _user_hyperparameters(hyperparameters: Mapping[str, str]) -> dict[str, Any]:
    """The toolkit hides its own ``sagemaker_*`` keys from the script and decodes JSON values."""
    user: dict[str, Any] = {}
    for key, value in hyperparameters.items():
        if key.startswith("sagemaker_"):
            continue
        try:
            user[key] = json.loads(value)
        except (json.JSONDecodeError, TypeError):
            user[key] = value
    return user


def _to_arguments(user_hps: Mapping[str, Any]) -> list[str]:
    arguments: list[str] = []
    for key, value in user_hps.items():
        arguments += [f"--{key}", value if isinstance(value, str) else json.dumps(value)]
    return arguments


def _write_configs(
    config_dir: Path, hyperparameters: Mapping[str, str], channels: Mapping[str, Location]
) -> None:
    (config_dir / "hyperparameters.json").write_text(
        json.dumps({key: str(value) for key, value in hyperparameters.items()}, indent=2)
    )
    (config_dir / "inputdataconfig.json").write_text(json.dumps(_input_data_config(channels)))
    (config_dir / "resourceconfig.json").write_text(json.dumps(_resource_config()))


def _input_data_config(channels: Mapping[str, Location]) -> dict[str, dict[str, str]]:
    return {
        channel: {
            "TrainingInputMode": "File",
            "S3DistributionType": "FullyReplicated",
            "RecordWrapperType": "None",
        }
        for channel in channels
    }


def _resource_config() -> dict[str, Any]:
    return {
        "current_host": CURRENT_HOST,
        "current_instance_type": "local",
        "hosts": [CURRENT_HOST],
        "network_interface_name": "eth0",
    }


def _environment(
    spec: TrainingJobSpec, dirs: Mapping[str, Path], entry: Path, user_hps: Mapping[str, Any]
) -> dict[str, str]:
    channels = sorted(spec.channels)
    env = base_environment()
    env.update(
        {
            "TRAINING_JOB_NAME": spec.name,
            "SM_MODEL_DIR": str(dirs["model"]),
            "SM_INPUT_DIR": str(dirs["input"]),
            "SM_INPUT_CONFIG_DIR": str(dirs["input_config"]),
            "SM_OUTPUT_DIR": str(dirs["output"]),
            "SM_OUTPUT_DATA_DIR": str(dirs["output_data"]),
            "SM_OUTPUT_INTERMEDIATE_DIR": str(dirs["output_intermediate"]),
            "SM_CHANNELS": json.dumps(channels),
            "SM_HPS": json.dumps(dict(user_hps)),
            "SM_CURRENT_HOST": CURRENT_HOST,
            "SM_HOSTS": json.dumps([CURRENT_HOST]),
            "SM_NETWORK_INTERFACE_NAME": "eth0",
            "SM_NUM_CPUS": str(os.cpu_count() or 1),
            "SM_NUM_GPUS": "0",
            "SM_LOG_LEVEL": "20",
            "SM_USER_ENTRY_POINT": entry.name,
            "SM_MODULE_NAME": entry.stem,
            "SM_MODULE_DIR": str(dirs["code"]),
            "SM_USER_ARGS": json.dumps(_to_arguments(user_hps)),
            "SM_INPUT_DATA_CONFIG": json.dumps(_input_data_config(spec.channels)),
            "SM_RESOURCE_CONFIG": json.dumps(_resource_config()),
        }
    )
    for channel in channels:
        env[f"SM_CHANNEL_{channel.upper()}"] = str(dirs["input_data"] / channel)
    for key, value in user_hps.items():
        env[f"SM_HP_{key.upper()}"] = value if isinstance(value, str) else json.dumps(value)
    env["SM_TRAINING_ENV"] = json.dumps(
        {
            "job_name": spec.name,
            "hyperparameters": dict(user_hps),
            "channel_input_dirs": {c: str(dirs["input_data"] / c) for c in channels},
            "model_dir": str(dirs["model"]),
            "output_data_dir": str(dirs["output_data"]),
            "current_host": CURRENT_HOST,
            "hosts": [CURRENT_HOST],
            "user_entry_point": entry.name,
        }
    )
    env.update(spec.environment)
    return env


def _failure_reason(output_dir: Path, outcome: ProcessOutcome, spec: TrainingJobSpec) -> str:
    failure = output_dir / "failure"
    if not outcome.timed_out and failure.is_file():
        text = failure.read_text(encoding="utf-8", errors="replace").strip()
        if text:
            return text[:_FAILURE_MAX_CHARS]
    return outcome.failure_reason(spec.timeout_seconds)[:_FAILURE_MAX_CHARS]


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
