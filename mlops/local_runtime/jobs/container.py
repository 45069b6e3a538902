"""What a job's process sees, as close to a SageMaker container as a plain process gets.

A container starts with the image's ``ENV`` lines, the variables the platform sets, and the
job's ``Environment``; nothing of the caller's shell leaks in (no AWS credentials, no
``MLOPS_*``, no PATH of the developer's tools). Locally the same holds, with one allowed
difference: every path under ``/opt/ml`` is *re-rooted* to the job's own directory, because a
plain process cannot mount ``/opt/ml``. Re-rooting applies to the image ENV values, the
entry point and arguments, and the ``SM_*`` variables; processing scripts also get
``SM_PROCESSING_ROOT`` (the re-rooted ``/opt/ml/processing``), the one variable a container
does not have.

The other documented channel is the local AWS: a job that is *not* network-isolated gets the
embedded AWS endpoint and its fake credentials as botocore's standard variables
(``AWS_ENDPOINT_URL``, ``AWS_ACCESS_KEY_ID``, ``AWS_SECRET_ACCESS_KEY``, ``AWS_REGION``,
``AWS_DEFAULT_REGION``), so boto3 inside the job reaches it unchanged. A network-isolated job
gets neither endpoint nor credentials, as on SageMaker.

Two host variables pass through because they describe this machine's CPU, not the job:
``OPENBLAS_CORETYPE`` and ``OPENBLAS_L2_SIZE`` (some OpenBLAS builds need them to run at all).
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

CONTAINER_ML_ROOT = "/opt/ml"
PROCESSING_ROOT_ENV = "SM_PROCESSING_ROOT"
SYSTEM_PATH = ("/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin")
HOST_PASSTHROUGH = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")
# The container's home directory, and any TEMP the image points outside /opt/ml, live in a
# scratch directory of the job.
_HOME = "/root"
_ML_PATH = re.compile(r"(^|[=:,])/opt/ml(?=/|$|[:,])")


@dataclass(frozen=True)
class AwsChannel:
    """The embedded AWS as a job reaches it (only when the job is not network-isolated)."""

    endpoint_url: str
    region: str
    access_key_id: str
    secret_access_key: str

    def variables(self) -> dict[str, str]:
        """botocore's standard variables: boto3 in the job needs no code change."""
        return {
            "AWS_ENDPOINT_URL": self.endpoint_url,
            "AWS_ACCESS_KEY_ID": self.access_key_id,
            "AWS_SECRET_ACCESS_KEY": self.secret_access_key,
            "AWS_REGION": self.region,
            "AWS_DEFAULT_REGION": self.region,
        }


@dataclass(frozen=True)
class Rerooting:
    """``/opt/ml`` of the container ↔ the job's directory on this machine."""

    root: Path

    def path(self, container_path: str) -> Path:
        """``/opt/ml/x/y`` → ``root/x/y``; anything outside ``/opt/ml`` is rejected."""
        if container_path != CONTAINER_ML_ROOT and not container_path.startswith(
            f"{CONTAINER_ML_ROOT}/"
        ):
            raise ValueError(f"{container_path} is not under {CONTAINER_ML_ROOT}")
        relative = container_path[len(CONTAINER_ML_ROOT) :].strip("/")
        parts = [part for part in relative.split("/") if part]
        if ".." in parts:
            raise ValueError(f"container path {container_path} must not contain '..'")
        return self.root.joinpath(*parts)

    def text(self, value: str) -> str:
        """Every ``/opt/ml`` path inside ``value`` (also after ``--flag=``, in lists) re-rooted."""
        return _ML_PATH.sub(lambda match: f"{match.group(1)}{self.root}", value)

    def values(self, values: Sequence[str]) -> list[str]:
        return [self.text(value) for value in values]


def container_environment(
    *,
    image_environment: Mapping[str, str],
    bin_dirs: Sequence[Path],
    rerooting: Rerooting,
    scratch: Path,
    platform: Mapping[str, str],
    job_environment: Mapping[str, str],
    aws: AwsChannel | None,
) -> dict[str, str]:
    """The environment a job's container starts with (module doc lists what is in it).

    Order is precedence: image ``ENV`` < platform variables < the job's ``Environment``, as in
    SageMaker, where the request's ``Environment`` overrides the image's.
    """
    env: dict[str, str] = {
        "PATH": ":".join([*(str(path) for path in bin_dirs), *SYSTEM_PATH]),
        "HOME": str(scratch / _HOME.strip("/")),
    }
    for name, value in image_environment.items():
        env[name] = _local_value(name, value, rerooting, scratch)
    for name in HOST_PASSTHROUGH:
        if name in os.environ:
            env[name] = os.environ[name]
    env.update(platform)
    if aws is not None:
        env.update(aws.variables())
    env.update(job_environment)
    Path(env["HOME"]).mkdir(parents=True, exist_ok=True)
    return env


def interpreter_dir() -> Path:
    """The project's own interpreter directory: ``python3`` for jobs run without an image."""
    return Path(sys.executable).parent


def _local_value(name: str, value: str, rerooting: Rerooting, scratch: Path) -> str:
    if name in {"TEMP", "TMP", "TMPDIR"} and value.startswith("/"):
        local = scratch / value.strip("/")
        local.mkdir(parents=True, exist_ok=True)
        return str(local)
    return rerooting.text(value)
