"""Per-job scratch directories: one fresh directory per job name under the caller's work dir.

Re-running a job name locally replaces its directory (SageMaker would refuse a duplicate name;
locally re-running is the normal edit-run loop), so stale files from a previous run can never
leak into a new one's outputs.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

from mlops.local_runtime.jobs.staging import Location, is_s3

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
