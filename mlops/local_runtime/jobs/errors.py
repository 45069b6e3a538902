"""The one exception a local job raises, so callers (the pipeline executor, the CLI) handle
every way a job can fail — bad input location, script error, timeout, kill — the same way,
just as SageMaker reports any of them as a Failed job with a FailureReason."""

from __future__ import annotations


class JobFailed(Exception):  # noqa: N818 - the name is the public contract (§7)
    """A training or processing job failed.

    ``reason`` is what the Describe*Job response's ``FailureReason`` holds; ``exit_message``
    what a processing job's ``ExitMessage`` holds (the first 1 KB of
    ``/opt/ml/output/message``), None when the container wrote none.
    """

    def __init__(self, job_name: str, reason: str, *, exit_message: str | None = None) -> None:
        detail = f"{reason}; ExitMessage: {exit_message}" if exit_message else reason
        super().__init__(f"job {job_name} failed: {detail}")
        self.job_name = job_name
        self.reason = reason
        self.exit_message = exit_message

    @property
    def description(self) -> str:
        """Both fields in one line, as a person reading DescribeProcessingJob sees them."""
        if self.exit_message:
            return f"{self.reason}; ExitMessage: {self.exit_message.strip()}"
        return self.reason
