"""Per-job scratch directories: one fresh directory per job name under the caller's work dir.

Re-running a job name locally replaces its directory (SageMaker would refuse a duplicate name;
locally re-running is the normal edit-run loop), so stale files from a previous run can never
leak into a new one's outputs.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from mlops.core.s3uri import Location, is_s3

# SageMaker job names: 1-63 alphanumerics and hyphens, starting with an alphanumeric.
_JOB_NAME = re.compile(r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$")
LOG_NAME = "job.log"


def fresh_job_root(work_dir: Path, job_name: str) -> Path:
    """Validate the job name and return an empty ``work_dir/job_name`` directory."""
    if not _JOB_NAME.match(job_name):
        raise ValueError(
            f"job name {job_name!r} must be 1-63 letters, digits and hyphens, "
            "starting with a letter or digit (SageMaker's rule)"
        )
    # Absolute: the job's process runs in another working directory and gets these paths as
    # arguments and SM_* variables; a relative work dir (e.g. build/demo) would break them.
    root = work_dir.resolve() / job_name
    if root.exists():
        shutil.rmtree(root)
    root.mkdir(parents=True)
    return root


def describe(location: Location) -> str:
    """A location as text for messages and results."""
    return str(location) if is_s3(location) else str(Path(location))


CURRENT_HOST = "algo-1"
INSTANCE_GROUP = "homogeneousCluster"
_MESSAGE_LIMIT_BYTES = 1024  # ExitMessage / FailureReason hold the first 1 KB


def resource_config(
    instance_type: str,
    *,
    current_host: str = CURRENT_HOST,
    hosts: Sequence[str] = (CURRENT_HOST,),
) -> dict[str, Any]:
    """``resourceconfig.json`` as the service writes it on ``current_host`` of ``hosts``."""
    return {
        "current_host": current_host,
        "current_instance_type": instance_type,
        "current_group_name": INSTANCE_GROUP,
        "hosts": list(hosts),
        "instance_groups": [
            {
                "instance_group_name": INSTANCE_GROUP,
                "instance_type": instance_type,
                "hosts": list(hosts),
            }
        ],
        "network_interface_name": "eth0",
    }


def read_exit_message(path: Path) -> str | None:
    """The first 1 KB of a message/failure file the container wrote, or None without one.

    SageMaker fails the job with a ClientError when the text is not UTF-8; so does this.
    """
    if not path.is_file():
        return None
    data = path.read_bytes()[:_MESSAGE_LIMIT_BYTES]
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        if error.start < len(data) - 3:  # a character cut at the 1 KB boundary is fine
            raise NotUtf8Error(f"ClientError: {path.name} is not UTF-8 encoded") from None
        text = data[: error.start].decode("utf-8")
    return text or None


class NotUtf8Error(ValueError):
    """A message file that is not UTF-8 (the service rejects it)."""
