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
import threading
from collections.abc import Mapping, Sequence
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
from mlops.local_runtime.jobs.hosts import (
    Cluster,
    HostOutputClash,
    combine_logs,
    first_failure,
    merge_host_dirs,
    run_hosts,
)
from mlops.local_runtime.jobs.layout import (
    CURRENT_HOST,
    LOG_NAME,
    NotUtf8Error,
    fresh_job_root,
    read_exit_message,
    resource_config,
)
from mlops.local_runtime.jobs.process import LineCallback, ProcessOutcome, run_command
from mlops.local_runtime.jobs.staging import fetch_file, join_location, publish_file, stage_in
from mlops.local_runtime.jobs.toolkit import (
    FAILURE_PREFIX,
    PROGRAM_HP,
    SUBMIT_DIRECTORY_HP,
    LaunchPlan,
    UnsupportedSourceError,
    failure_text,
    launcher_sys_path,
    plan_launch,
    prepare_code_dir,
)
from mlops.local_runtime.jobs.warm import WarmRuntime, warm_launcher

DEFAULT_INSTANCE_TYPE = "ml.m5.xlarge"
DISTRIBUTION_KEY = "S3DataDistributionType"
FULLY_REPLICATED = "FullyReplicated"
_CHANNEL_NAME = re.compile(r"[A-Za-z0-9\.\-_]{1,64}")


@dataclass(frozen=True)
class TrainingJobSpec:
    """What ``CreateTrainingJob`` receives, with local paths allowed wherever S3 URIs are.

    The code comes from the ``sagemaker_program`` / ``sagemaker_submit_directory``
    hyperparameters, as in the pipeline definition; ``source_dir`` + ``entry_point`` are the
    SDK's shorthand for them (a directory or tarball, local or S3). ``image`` is the
    environment standing in for the training image (None: the project's interpreter).
    ``channel_settings`` carries each channel's ``ContentType`` and
    ``S3DataDistributionType`` (``ShardedByS3Key`` splits its objects among the hosts) for
    ``inputdataconfig.json``. ``metric_definitions`` maps a metric name to a regex with one
    group, applied to the log (algo-1's) like SageMaker's MetricDefinitions.
    ``instance_count`` hosts run the job (`mlops.local_runtime.jobs.hosts`).
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
    instance_count: int = 1
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
    warm: WarmRuntime | None = None,
    cancel: threading.Event | None = None,
) -> TrainingJobResult:
    """Stage, launch and publish one training job; raises JobFailed with SageMaker's reason.

    With ``instance_count`` N > 1, N hosts run at once (`mlops.local_runtime.jobs.hosts`),
    each staged with its part of the ``ShardedByS3Key`` channels; ``model.tar.gz`` packs the
    union of their model directories (the script's master writes it, as the image's own
    distributed training does).
    """
    root = fresh_job_root(spec.work_dir, spec.name)
    try:
        cluster = Cluster.of(spec.instance_count)
    except ValueError as error:
        raise JobFailed(spec.name, f"ClientError: {error}") from None
    hyperparameters = _with_code_shorthand(spec)
    python = str((spec.image.bin_dir if spec.image else interpreter_dir()) / "python3")
    try:
        launcher_path = launcher_sys_path(python)
    except (OSError, subprocess.SubprocessError) as error:
        raise JobFailed(spec.name, f"{FAILURE_PREFIX}framework error: {error}") from None
    hosts = {
        host: _prepare_host(
            spec, cluster, host, root, hyperparameters, python, launcher_path, s3_client
        )
        for host in cluster.hosts
    }

    def launch(host: str, stop: threading.Event) -> ProcessOutcome:
        prepared = hosts[host]
        return run_command(
            prepared.plan.command,
            env=prepared.env,
            cwd=prepared.dirs["code"],
            log_file=prepared.log_file,
            timeout_seconds=spec.timeout_seconds,
            on_line=on_line,
            cancel=stop,
            warm=warm_launcher(warm, spec.image),
        )

    outcomes = run_hosts(cluster.hosts, launch, cancel)
    log_file = root / LOG_NAME
    if cluster.multi:
        combine_logs([(host, hosts[host].log_file) for host in cluster.hosts], log_file)
    failed = first_failure(outcomes)
    if failed is not None:
        outcome, prepared = outcomes[failed], hosts[failed]
        stopped = outcome.stopped_reason(spec.timeout_seconds)
        if stopped is not None:
            raise JobFailed(spec.name, stopped)
        # The launcher reports every script failure the same way, over the script's own file.
        failure = prepared.dirs["output"] / "failure"
        failure.write_text(failure_text(prepared.plan.command))
        raise JobFailed(spec.name, failure_reason(failure))

    model_dir, output_data = root / "model", root / "output" / "data"
    try:
        for name, target in (("model", model_dir), ("output_data", output_data)):
            sources = [(host, hosts[host].dirs[name]) for host in cluster.hosts]
            merge_host_dirs(sources, target, f"/opt/ml/{name.replace('_', '/')}")
    except HostOutputClash as error:
        raise JobFailed(spec.name, f"{FAILURE_PREFIX}{error}") from None
    artifacts = root / "artifacts"
    local_model = pack_directory(model_dir, artifacts / "model.tar.gz")
    destination = join_location(spec.output_path, spec.name, "output")
    model_artifact = publish_file(
        local_model, join_location(destination, "model.tar.gz"), s3_client
    )
    output_artifact = None
    if any(path.is_file() for path in output_data.rglob("*")):
        local_output = pack_directory(output_data, artifacts / "output.tar.gz")
        output_artifact = publish_file(
            local_output, join_location(destination, "output.tar.gz"), s3_client
        )
    return TrainingJobResult(
        name=spec.name,
        model_artifact=model_artifact,
        output_artifact=output_artifact,
        local_model=local_model,
        model_dir=model_dir,
        log_file=log_file,
        metrics=_final_metrics(hosts[cluster.hosts[0]].log_file, spec.metric_definitions),
        seconds=max(outcome.seconds for outcome in outcomes.values()),
    )


@dataclass(frozen=True)
class _PreparedHost:
    """One host's staged ``/opt/ml``, its environment and what its launcher runs."""

    dirs: dict[str, Path]
    env: dict[str, str]
    plan: LaunchPlan
    log_file: Path


def _prepare_host(
    spec: TrainingJobSpec,
    cluster: Cluster,
    host: str,
    job_root: Path,
    hyperparameters: Mapping[str, str],
    python: str,
    launcher_path: Sequence[str],
    s3_client: Any,
) -> _PreparedHost:
    """What SageMaker does on one instance before the image starts, then the launcher's plan."""
    root = cluster.root(job_root, host)
    rerooting = Rerooting(root)
    dirs = _make_layout(root, spec.channels)
    try:
        for channel, location in spec.channels.items():
            distribution = spec.channel_settings.get(channel, {}).get(DISTRIBUTION_KEY)
            shard = cluster.shard(host, distribution)
            stage_in(location, dirs["input_data"] / channel, s3_client, shard)
    except (FileNotFoundError, ValueError) as error:
        raise JobFailed(spec.name, f"ClientError: {error}") from error
    write_training_configs(dirs["input_config"], hyperparameters, spec, cluster.hosts, host)
    env = training_container_environment(spec, rerooting)
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
    return _PreparedHost(
        dirs=dirs,
        env={**env, **plan.environment, **cluster.environment()},
        plan=plan,
        log_file=root / LOG_NAME,
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
    config_dir: Path,
    hyperparameters: Mapping[str, str],
    spec: TrainingJobSpec,
    hosts: Sequence[str] = (CURRENT_HOST,),
    current_host: str = CURRENT_HOST,
) -> None:
    """``/opt/ml/input/config``: the request's hyperparameters verbatim, the channels (with
    their distribution), the cluster as this host sees it."""
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
                    "S3DistributionType": spec.channel_settings.get(channel, {}).get(
                        DISTRIBUTION_KEY, FULLY_REPLICATED
                    ),
                    "RecordWrapperType": "None",
                }
                for channel in spec.channels
            }
        )
    )
    (config_dir / "resourceconfig.json").write_text(
        json.dumps(resource_config(spec.instance_type, current_host=current_host, hosts=hosts))
    )


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
