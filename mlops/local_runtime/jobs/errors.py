"""The one exception a local job raises, so callers (the pipeline executor, the CLI) handle
every way a job can fail — bad input location, script error, timeout, kill — the same way,
just as SageMaker reports any of them as a Failed job with a FailureReason."""

from __future__ import annotations


class JobFailed(Exception):  # noqa: N818 - the name is the public contract (§7)
    """A training or processing job failed; ``reason`` is what SageMaker's FailureReason holds."""

    def __init__(self, job_name: str, reason: str) -> None:
        super().__init__(f"job {job_name} failed: {reason}")
        self.job_name = job_name
        self.reason = reason
