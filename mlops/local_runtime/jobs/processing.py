"""A SageMaker processing job without Docker: inputs staged under a re-rooted
``/opt/ml/processing``, the script run, declared outputs published only on success.

Container paths (every ProcessingInput/Output path must lie under ``/opt/ml/processing``)
map to ``<work_dir>/<job>/processing/…``. The script finds that root two ways, so both plain
container scripts and ones that take paths as arguments work: arguments that start with
``/opt/ml/processing`` (also after ``--flag=``) are rewritten to the staged root, and the
environment variable ``SM_PROCESSING_ROOT`` names it (the project's scripts default their
paths from it). The code is staged at ``input/code/<file>`` as the SDK's ScriptProcessor does.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from mlops.local_runtime.jobs.errors import JobFailed
from mlops.local_runtime.jobs.layout import LOG_NAME, describe, fresh_job_root
from mlops.local_runtime.jobs.process import LineCallback, base_environment, run_script
from mlops.local_runtime.jobs.staging import Location, fetch_file, stage_in, stage_out

CONTAINER_ROOT = "/opt/ml/processing"
ROOT_ENV = "SM_PROCESSING_ROOT"
_CONTAINER_PREFIX = re.compile(r"(^|=)/opt/ml/processing(?=/|$)")


@dataclass(frozen=True)
class ProcessingJobSpec:
    """What CreateProcessingJob would receive: ``inputs`` map a name to (source, container
    path), ``outputs`` a name to (container path, destination); sources and destinations are
    S3 URIs or local paths, ``code`` a script file (local or S3)."""

    name: str
    code: Location
    work_dir: Path
    arguments: Sequence[str] = ()
    inputs: Mapping[str, tuple[Location, str]] = field(default_factory=dict)
    outputs: Mapping[str, tuple[str, Location]] = field(default_factory=dict)
    environment: Mapping[str, str] = field(default_factory=dict)
    timeout_seconds: float | None = None


@dataclass(frozen=True)
class ProcessingJobResult:
    """Each output's destination and its local directory (what a user opens)."""

    name: str
    outputs: dict[str, str]
    local_outputs: dict[str, Path]
    log_file: Path
    seconds: float


def run_processing_job(
    spec: ProcessingJobSpec,
    *,
    s3_client: Any = None,
    on_line: LineCallback | None = None,
) -> ProcessingJobResult:
    """Stage, run and collect one processing job; raises JobFailed with the stderr reason."""
    job_root = fresh_job_root(spec.work_dir, spec.name)
    root = job_root / "processing"
    local_outputs = {
        name: container_to_local(root, container_path)
        for name, (container_path, _) in spec.outputs.items()
    }
    input_dirs = {
        name: container_to_local(root, container_path)
        for name, (_, container_path) in spec.inputs.items()
    }
    try:
        script = fetch_file(spec.code, root / "input" / "code", s3_client)
        for name, (source, _) in spec.inputs.items():
            stage_in(source, input_dirs[name], s3_client)
    except (FileNotFoundError, ValueError) as error:
        raise JobFailed(spec.name, f"ClientError: {error}") from error
    for path in local_outputs.values():
        path.mkdir(parents=True, exist_ok=True)

    env = base_environment()
    env[ROOT_ENV] = str(root)
    env["PROCESSING_JOB_NAME"] = spec.name
    env.update(spec.environment)
    log_file = job_root / LOG_NAME
    outcome = run_script(
        script,
        rewrite_arguments(spec.arguments, root),
        env=env,
        cwd=script.parent,
        log_file=log_file,
        timeout_seconds=spec.timeout_seconds,
        on_line=on_line,
    )
    if outcome.returncode != 0 or outcome.timed_out:
        raise JobFailed(spec.name, outcome.failure_reason(spec.timeout_seconds))

    published: dict[str, str] = {}
    for name, (_, destination) in spec.outputs.items():
        stage_out(local_outputs[name], destination, s3_client)
        published[name] = describe(destination)
    return ProcessingJobResult(
        name=spec.name,
        outputs=published,
        local_outputs=local_outputs,
        log_file=log_file,
        seconds=outcome.seconds,
    )


def container_to_local(root: Path, container_path: str) -> Path:
    """``/opt/ml/processing/x/y`` → ``root/x/y``; anything outside that tree is rejected."""
    path = PurePosixPath(container_path)
    try:
        relative = path.relative_to(CONTAINER_ROOT)
    except ValueError:
        raise ValueError(
            f"processing path {container_path} must be under {CONTAINER_ROOT} (SageMaker's rule)"
        ) from None
    if ".." in relative.parts:
        raise ValueError(f"processing path {container_path} must not contain '..'")
    return root.joinpath(*relative.parts)


def rewrite_arguments(arguments: Sequence[str], root: Path) -> list[str]:
    """Point container paths in the arguments at the staged root."""
    return [_CONTAINER_PREFIX.sub(lambda m: f"{m.group(1)}{root}", arg) for arg in arguments]
