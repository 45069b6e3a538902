"""Where the embedded AWS keeps its files in a state directory (``.mlops`` by default).

Shared by the server process (``aws_server``) and its clients (``aws``), which meet only
through these files and the health route.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

# Answered by the server itself, never by moto: cheap at any load and it names the server's pid.
HEALTH_PATH = "/moto-api/mlops/health"


@dataclass(frozen=True)
class AwsStateLayout:
    state_dir: Path

    @property
    def state_file(self) -> Path:
        """The running server's address and pid, written by the server once it serves."""
        return self.state_dir / "local-aws.json"

    @property
    def log(self) -> Path:
        return self.state_dir / "local-aws.log"

    @property
    def server_lock(self) -> Path:
        """flock-ed by the server for its whole life (its pid inside): one server per state."""
        return self.state_dir / "local-aws.server.lock"

    @property
    def start_lock(self) -> Path:
        """flock-ed by a command while it checks for, starts or stops the server."""
        return self.state_dir / "local-aws.start.lock"

    @property
    def journal_dir(self) -> Path:
        """The durable state: ``journal.jsonl`` and ``blobs/`` (``aws_journal``)."""
        return self.state_dir / "local-aws"
