"""The one error type the monitoring package raises for input a user can fix."""

from __future__ import annotations


class MonitoringInputError(ValueError):
    """Unreadable or empty input (data, capture, baseline); the message says what to fix.

    A ValueError rather than the CLI's UserError so the package stays usable without the CLI
    (the pipeline's local executor, a processing container); the CLI converts it.
    """
