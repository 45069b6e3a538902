"""A SageMaker processing job without Docker: ``/opt/ml`` re-rooted in a work directory.

What SageMaker does for ``CreateProcessingJob``, in order: every input (the code is an input
like any other) is staged at its ``LocalPath``; ``/opt/ml/config/processingjobconfig.json``
(the request) and ``resourceconfig.json`` are written; exactly ``ContainerEntrypoint`` +
``ContainerArguments`` run in the image's environment (``python3`` is the image's Python when
an image environment is given); on success every output's ``LocalPath`` is uploaded. A
non-zero exit fails the job with the service's ``FailureReason``
(``AlgorithmError: See job logs for more information``) and its ``ExitMessage``: the first
1 KB of ``/opt/ml/output/message``, which the container may write.

``/opt/ml`` maps to ``<work_dir>/<job>/`` (see `mlops.local_runtime.jobs.container`).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path, PurePosixPath
from typing import Any

from mlops.core.s3uri import Location
from mlops.local_runtime.images import ImageEnvironment
from mlops.local_runtime.jobs.container import (
    PROCESSING_ROOT_ENV,
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
    LOG_NAME,
    NotUtf8Error,
    describe,
    fresh_job_root,
    read_exit_message,
    resource_config,
)
from mlops.local_runtime.jobs.process import (
    CommandNotFound,
    LineCallback,
    ProcessOutcome,
    run_command,
)
from mlops.local_runtime.jobs.staging import stage_in, stage_out
from mlops.local_runtime.jobs.warm import WarmRuntime, warm_launcher

CONTAINER_ROOT = "/opt/ml/processing"
CODE_INPUT = "code"
CODE_DIR = "/opt/ml/processing/input/code"
ALGORITHM_ERROR = "AlgorithmError: See job logs for more information"
DEFAULT_INSTANCE_TYPE = "ml.m5.large"


@dataclass(frozen=True)
class ProcessingJobSpec:
    """What ``CreateProcessingJob`` receives.

    ``entrypoint``/``arguments`` are ``ContainerEntrypoint``/``ContainerArguments``;
    ``inputs`` map an input name to (source, ``LocalPath``), ``outputs`` a name to
    (``LocalPath``, destination); sources and destinations are S3 URIs or local paths.
    ``image`` is the environment standing in for ``image_uri`` (None: the project's own
    interpreter and no image ``ENV``). ``request`` is the full request when there is one (the
    pipeline executor passes it): it becomes ``processingjobconfig.json`` as SageMaker writes it.
    ``aws`` reaches the job only when ``network_isolation`` is off. ``code`` is the SDK's
    ScriptProcessor shorthand: that file as the ``code`` input at ``/opt/ml/processing/input/
    code`` and ``python3 /opt/ml/processing/input/code/<file>`` as the entry point.
    ``instance_count`` hosts run the job; ``input_distribution`` maps an input name to its
    ``S3DataDistributionType`` (``ShardedByS3Key`` splits its objects among the hosts).
    """

    name: str
    work_dir: Path
    entrypoint: Sequence[str] = ()
    code: Location | None = None
    arguments: Sequence[str] = ()
    inputs: Mapping[str, tuple[Location, str]] = field(default_factory=dict)
    outputs: Mapping[str, tuple[str, Location]] = field(default_factory=dict)
    environment: Mapping[str, str] = field(default_factory=dict)
    image: ImageEnvironment | None = None
    image_uri: str = ""
    instance_type: str = DEFAULT_INSTANCE_TYPE
    instance_count: int = 1
    input_distribution: Mapping[str, str] = field(default_factory=dict)
    network_isolation: bool = False
    aws: AwsChannel | None = None
    region: str = "us-east-1"
    account: str = "123456789012"
    role_arn: str = ""
    request: Mapping[str, Any] = field(default_factory=dict)
    timeout_seconds: float | None = None


@dataclass(frozen=True)
class ProcessingJobResult:
    """Each output's destination and its local directory (what a user opens)."""

    name: str
    outputs: dict[str, str]
    local_outputs: dict[str, Path]
    log_file: Path
    seconds: float
    exit_message: str | None = None


def run_processing_job(
    spec: ProcessingJobSpec,
    *,
    s3_client: Any = None,
    on_line: LineCallback | None = None,
    warm: WarmRuntime | None = None,
    cancel: threading.Event | None = None,
) -> ProcessingJobResult:
    """Stage, run and collect one processing job; raises JobFailed as DescribeProcessingJob
    would report the failure.

    With ``instance_count`` N > 1, N hosts run at once (`mlops.local_runtime.jobs.hosts`),
    each with its part of every ``ShardedByS3Key`` input; each output publishes the union of
    what the hosts wrote at its ``LocalPath`` (two hosts writing one file name fail the job).
    """
    spec = with_code_shorthand(spec)
    root = fresh_job_root(spec.work_dir, spec.name)
    try:
        cluster = Cluster.of(spec.instance_count)
    except ValueError as error:
        raise JobFailed(spec.name, f"ClientError: {error}") from None
    hosts = {host: _prepare_host(spec, cluster, host, root, s3_client) for host in cluster.hosts}

    def launch(host: str, stop: threading.Event) -> ProcessOutcome:
        prepared = hosts[host]
        rerooting = prepared.rerooting
        return run_command(
            rerooting.values(spec.entrypoint) + rerooting.values(spec.arguments),
            env=prepared.env,
            cwd=rerooting.path(CONTAINER_ROOT),
            log_file=prepared.root / LOG_NAME,
            timeout_seconds=spec.timeout_seconds,
            on_line=on_line,
            cancel=stop,
            warm=warm_launcher(warm, spec.image),
        )

    try:
        outcomes = run_hosts(cluster.hosts, launch, cancel)
    except CommandNotFound as error:
        raise JobFailed(spec.name, f"ClientError: {error}") from error
    log_file = root / LOG_NAME
    if cluster.multi:
        combine_logs([(host, hosts[host].root / LOG_NAME) for host in cluster.hosts], log_file)
    failed = first_failure(outcomes)
    reporting = hosts[failed if failed is not None else cluster.hosts[0]]
    try:
        exit_message = read_exit_message(reporting.root / "output" / "message")
    except NotUtf8Error as error:
        raise JobFailed(spec.name, str(error)) from None
    if failed is not None:
        reason = outcomes[failed].stopped_reason(spec.timeout_seconds) or ALGORITHM_ERROR
        raise JobFailed(spec.name, reason, exit_message=exit_message)

    local_outputs = {name: hosts[cluster.hosts[0]].outputs[name] for name in spec.outputs}
    if cluster.multi:
        try:
            for name, (path, _) in spec.outputs.items():
                local_outputs[name] = root / "outputs" / name
                merge_host_dirs(
                    [(host, hosts[host].outputs[name]) for host in cluster.hosts],
                    local_outputs[name],
                    f"output {name} ({path})",
                )
        except HostOutputClash as error:
            raise JobFailed(spec.name, ALGORITHM_ERROR, exit_message=str(error)) from None
    published: dict[str, str] = {}
    for name, (_, destination) in spec.outputs.items():
        stage_out(local_outputs[name], destination, s3_client)
        published[name] = describe(destination)
    return ProcessingJobResult(
        name=spec.name,
        outputs=published,
        local_outputs=local_outputs,
        log_file=log_file,
        seconds=max(outcome.seconds for outcome in outcomes.values()),
        exit_message=exit_message,
    )


@dataclass(frozen=True)
class _PreparedHost:
    """One host's staged ``/opt/ml``: its output directories and its environment."""

    root: Path
    rerooting: Rerooting
    outputs: dict[str, Path]
    env: dict[str, str]


def _prepare_host(
    spec: ProcessingJobSpec, cluster: Cluster, host: str, job_root: Path, s3_client: Any
) -> _PreparedHost:
    """What SageMaker does on one instance before the container starts."""
    root = cluster.root(job_root, host)
    rerooting = Rerooting(root)
    local_outputs = {
        name: container_to_local(rerooting, path) for name, (path, _) in spec.outputs.items()
    }
    input_dirs = {
        name: container_to_local(rerooting, path) for name, (_, path) in spec.inputs.items()
    }
    try:
        for name, (source, _) in spec.inputs.items():
            shard = cluster.shard(host, spec.input_distribution.get(name))
            stage_in(source, input_dirs[name], s3_client, shard)
    except (FileNotFoundError, ValueError) as error:
        raise JobFailed(spec.name, f"ClientError: {error}") from error
    for path in local_outputs.values():
        path.mkdir(parents=True, exist_ok=True)
    _write_configs(root / "config", spec, cluster.hosts, host)
    (root / "output").mkdir(exist_ok=True)

    env = container_environment(
        image_environment=spec.image.environment if spec.image else {},
        bin_dirs=[spec.image.bin_dir] if spec.image else [interpreter_dir()],
        rerooting=rerooting,
        scratch=root / "container",
        platform={"AWS_REGION": spec.region},
        job_environment=spec.environment,
        aws=None if spec.network_isolation else spec.aws,
    )
    if not spec.image:
        env.setdefault("PYTHONUNBUFFERED", "1")
    env[PROCESSING_ROOT_ENV] = str(rerooting.path(CONTAINER_ROOT))
    env.update(cluster.environment())
    return _PreparedHost(root=root, rerooting=rerooting, outputs=local_outputs, env=env)


def with_code_shorthand(spec: ProcessingJobSpec) -> ProcessingJobSpec:
    """``code=`` expanded as the SDK's ScriptProcessor expands it (a ``code`` input + entry)."""
    if spec.code is None:
        return spec
    name = PurePosixPath(str(spec.code)).name
    return replace(
        spec,
        code=None,
        inputs={**spec.inputs, CODE_INPUT: (spec.code, CODE_DIR)},
        entrypoint=list(spec.entrypoint) or ["python3", f"{CODE_DIR}/{name}"],
    )


def container_to_local(rerooting: Rerooting, container_path: str) -> Path:
    """A ``LocalPath`` on this machine; SageMaker requires it under ``/opt/ml/processing``."""
    if container_path != CONTAINER_ROOT and not container_path.startswith(f"{CONTAINER_ROOT}/"):
        raise ValueError(
            f"processing path {container_path} must be under {CONTAINER_ROOT} (SageMaker's rule)"
        )
    return rerooting.path(container_path)


def processing_job_config(spec: ProcessingJobSpec) -> dict[str, Any]:
    """``/opt/ml/config/processingjobconfig.json``: the request, with the job's name and ARN."""
    request: dict[str, Any] = {
        "AppSpecification": {
            "ImageUri": spec.image_uri,
            "ContainerEntrypoint": list(spec.entrypoint),
            "ContainerArguments": list(spec.arguments),
        },
        "Environment": dict(spec.environment),
        "ProcessingInputs": [
            {
                "InputName": name,
                "AppManaged": False,
                "S3Input": {
                    "S3Uri": describe(source),
                    "LocalPath": local_path,
                    "S3DataType": "S3Prefix",
                    "S3InputMode": "File",
                    "S3DataDistributionType": spec.input_distribution.get(name, "FullyReplicated"),
                    "S3CompressionType": "None",
                },
            }
            for name, (source, local_path) in spec.inputs.items()
        ],
        "ProcessingOutputConfig": {
            "Outputs": [
                {
                    "OutputName": name,
                    "AppManaged": False,
                    "S3Output": {
                        "S3Uri": describe(destination),
                        "LocalPath": local_path,
                        "S3UploadMode": "EndOfJob",
                    },
                }
                for name, (local_path, destination) in spec.outputs.items()
            ]
        },
        "ProcessingResources": {
            "ClusterConfig": {
                "InstanceCount": spec.instance_count,
                "InstanceType": spec.instance_type,
                "VolumeSizeInGB": 30,
            }
        },
        "NetworkConfig": {"EnableNetworkIsolation": spec.network_isolation},
        "RoleArn": spec.role_arn or f"arn:aws:iam::{spec.account}:role/local-runtime",
        "StoppingCondition": {"MaxRuntimeInSeconds": int(spec.timeout_seconds or 86400)},
    }
    request.update({k: v for k, v in spec.request.items() if v is not None})
    request["ProcessingJobName"] = spec.name
    request["ProcessingJobArn"] = (
        f"arn:aws:sagemaker:{spec.region}:{spec.account}:processing-job/{spec.name.lower()}"
    )
    return request


def _write_configs(
    config_dir: Path, spec: ProcessingJobSpec, hosts: Sequence[str], current_host: str
) -> None:
    config_dir.mkdir(parents=True, exist_ok=True)
    (config_dir / "processingjobconfig.json").write_text(
        json.dumps(processing_job_config(spec), default=str)
    )
    (config_dir / "resourceconfig.json").write_text(
        json.dumps(resource_config(spec.instance_type, current_host=current_host, hosts=hosts))
    )
