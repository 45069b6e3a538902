"""The embedded "AWS" of the local workflow: one moto server on 127.0.0.1, shared by CLI calls.

SageMaker's registry and S3 must outlive a single CLI invocation (``mlops pipeline run
--local`` registers a package that a later ``mlops models approve`` sees), so the server runs
as a detached process whose address is kept in ``<state_dir>/local-aws.json``. Every command
reuses it while it answers and starts a new one otherwise (moto keeps state in memory only:
a restarted server starts empty, and the CLI says so).
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config

from mlops.core.errors import UserError
from mlops.local_runtime.request_contract import enforce_service_contract

DEFAULT_STATE_DIR = Path(".mlops")
STATE_FILE = "local-aws.json"
FAKE_CREDENTIALS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
_START_TIMEOUT_SECONDS = 30.0


def client_config() -> Config:
    """No retries against the embedded server: moto answers unimplemented calls with HTTP 500.

    ``total_max_attempts`` counts the first call (``max_attempts`` would still retry once).
    """
    return Config(
        retries={"total_max_attempts": 1, "mode": "standard"}, connect_timeout=5, read_timeout=60
    )


@dataclass(frozen=True)
class AwsTarget:
    """Where a command's AWS calls go: a region of real AWS, or an endpoint such as the
    embedded local server. Every command resolves one (``mlops.cli.context.aws_target``) and
    makes all its clients from it, so no call can land in another region or account."""

    region: str
    endpoint_url: str | None = None

    @property
    def is_local(self) -> bool:
        return self.endpoint_url is not None

    def client(self, service: str) -> Any:
        return client(service, endpoint_url=self.endpoint_url, region=self.region)


def resolve_target(
    region: str,
    *,
    local: bool,
    endpoint_url: str | None = None,
    state_dir: Path = DEFAULT_STATE_DIR,
) -> AwsTarget:
    """An explicit endpoint URL, else the embedded AWS (started on demand) with ``local``,
    else real AWS in ``region``."""
    if endpoint_url:
        return AwsTarget(region=region, endpoint_url=endpoint_url)
    if local:
        return AwsTarget(region=region, endpoint_url=ensure_local_aws(state_dir))
    return AwsTarget(region=region)


def client(service: str, *, endpoint_url: str | None, region: str) -> Any:
    """A boto3 client for AWS (``endpoint_url=None``) or for the local server.

    A client of the local server refuses, before sending, every request AWS would reject
    (botocore's service model: types, required members, lengths, ranges, patterns, enums):
    moto accepts far more than AWS does, and a request that works only locally is a bug.
    """
    if endpoint_url is None:
        return boto3.client(service, region_name=region)
    return enforce_service_contract(
        boto3.client(
            service,
            region_name=region,
            endpoint_url=endpoint_url,
            config=client_config(),
            **FAKE_CREDENTIALS,
        )
    )


def is_serving(endpoint_url: str) -> bool:
    """True when a moto server answers at ``endpoint_url`` (an http(s) URL, nothing else)."""
    if not endpoint_url.startswith(("http://", "https://")):
        return False  # e.g. MLOPS_LOCAL_AWS_URL=file:///… must not be opened
    try:
        with urllib.request.urlopen(f"{endpoint_url}/moto-api/data.json", timeout=2) as response:  # noqa: S310  # nosec B310 - http(s) only, checked above
            return bool(response.status == 200)
    except OSError:
        return False


def running_endpoint(state_dir: Path = DEFAULT_STATE_DIR) -> str | None:
    """The URL of the local server recorded in ``state_dir`` if it still answers."""
    state_path = state_dir / STATE_FILE
    if not state_path.exists():
        return None
    try:
        state = json.loads(state_path.read_text())
        endpoint_url = str(state["endpoint_url"])
    except (json.JSONDecodeError, KeyError):
        return None
    return endpoint_url if is_serving(endpoint_url) else None


def ensure_local_aws(state_dir: Path = DEFAULT_STATE_DIR) -> str:
    """Return the URL of the shared local server, starting it detached if none answers."""
    override = os.environ.get("MLOPS_LOCAL_AWS_URL")
    if override:
        if not is_serving(override):
            raise UserError(
                f"MLOPS_LOCAL_AWS_URL={override} does not answer; unset it or start that server"
            )
        return override
    existing = running_endpoint(state_dir)
    if existing:
        return existing
    state_dir.mkdir(parents=True, exist_ok=True)
    port = _free_port()
    endpoint_url = f"http://127.0.0.1:{port}"
    log = (state_dir / "local-aws.log").open("ab")
    process = subprocess.Popen(  # noqa: S603 - our own interpreter and module
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=log,
        stderr=log,
        stdin=subprocess.DEVNULL,
        start_new_session=True,
    )
    deadline = time.monotonic() + _START_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise UserError(
                f"the local AWS server exited at start; see {state_dir / 'local-aws.log'}"
            )
        if is_serving(endpoint_url):
            (state_dir / STATE_FILE).write_text(
                json.dumps({"endpoint_url": endpoint_url, "pid": process.pid})
            )
            return endpoint_url
        time.sleep(0.1)
    process.kill()
    raise UserError(f"the local AWS server did not answer within {_START_TIMEOUT_SECONDS:.0f} s")


def stop_local_aws(state_dir: Path = DEFAULT_STATE_DIR) -> bool:
    """Stop the shared local server; returns whether one was running."""
    state_path = state_dir / STATE_FILE
    if not state_path.exists():
        return False
    try:
        pid = int(json.loads(state_path.read_text())["pid"])
    except (json.JSONDecodeError, KeyError, ValueError):
        state_path.unlink()
        return False
    state_path.unlink()
    try:
        os.kill(pid, 15)
    except ProcessLookupError:
        return False
    return True


def ensure_bucket(s3: Any, bucket: str) -> None:
    """Create ``bucket`` in the local server if it does not exist yet."""
    try:
        s3.head_bucket(Bucket=bucket)
    except s3.exceptions.ClientError:
        s3.create_bucket(Bucket=bucket)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])
