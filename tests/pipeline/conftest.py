"""Fixtures for the pipeline tests: one offline build per session, one local AWS server.

The SDK import costs ~10 s, so the definition is built once (under the no-network,
no-credentials guard the offline test asserts on) and shared; the local executor tests run in
this same process so they reuse that import.
"""

from __future__ import annotations

import json
import os
import socket
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from mlops.core.settings import ProjectSettings, load_settings

PLACEHOLDERS = {
    "role_arn": "${Token[TOKEN.101]}",
    "artifact_bucket": "${Token[TOKEN.102]}",
    "default_input_uri": "s3://${Token[TOKEN.103]}/input/",
    "preprocess": "s3://${Token[TOKEN.104]}/${Token[TOKEN.105]}",
    "evaluate": "s3://${Token[TOKEN.104]}/${Token[TOKEN.106]}",
    "training_source": "s3://${Token[TOKEN.104]}/${Token[TOKEN.107]}",
    "clarify": "s3://${Token[TOKEN.104]}/${Token[TOKEN.108]}",
}
_CREDENTIAL_VARIABLES = (
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SECURITY_TOKEN",
    "AWS_SESSION_TOKEN",
    "AWS_PROFILE",
)


@dataclass
class NetworkLog:
    """Every outbound connection or name lookup attempted while guarded (all refused)."""

    attempts: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class OfflineBuilds:
    first: str
    second: str
    network: NetworkLog
    credentials_seen: dict[str, str | None]


def build_with_placeholders(settings: ProjectSettings) -> str:
    from sagemaker_pipelines.definition import CodeLocations, build_definition

    return build_definition(
        settings,
        role_arn=PLACEHOLDERS["role_arn"],
        artifact_bucket=PLACEHOLDERS["artifact_bucket"],
        default_input_uri=PLACEHOLDERS["default_input_uri"],
        code=CodeLocations(
            preprocess=PLACEHOLDERS["preprocess"],
            evaluate=PLACEHOLDERS["evaluate"],
            training_source=PLACEHOLDERS["training_source"],
            clarify=PLACEHOLDERS["clarify"],
        ),
    )


@pytest.fixture(scope="session")
def settings() -> ProjectSettings:
    return load_settings()


@pytest.fixture(scope="session")
def offline_builds(
    settings: ProjectSettings, tmp_path_factory: pytest.TempPathFactory
) -> OfflineBuilds:
    """Two builds with every socket refused and no AWS credentials anywhere."""
    log = NetworkLog()
    empty = tmp_path_factory.mktemp("no-aws-config")
    with pytest.MonkeyPatch.context() as patch:
        for name in _CREDENTIAL_VARIABLES:
            patch.delenv(name, raising=False)
        patch.setenv("AWS_DEFAULT_REGION", settings.region)
        patch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(empty / "credentials"))
        patch.setenv("AWS_CONFIG_FILE", str(empty / "config"))
        patch.setenv("AWS_EC2_METADATA_DISABLED", "true")

        def refuse_connect(self: socket.socket, address: Any) -> None:
            log.attempts.append(f"connect {address!r}")
            raise OSError("network access refused by the offline-build test")

        def refuse_lookup(host: Any, *args: Any, **kwargs: Any) -> Any:
            log.attempts.append(f"getaddrinfo {host!r}")
            raise OSError("name lookup refused by the offline-build test")

        patch.setattr(socket.socket, "connect", refuse_connect)
        patch.setattr(socket.socket, "connect_ex", refuse_connect)
        patch.setattr(socket, "getaddrinfo", refuse_lookup)
        first = build_with_placeholders(settings)
        second = build_with_placeholders(settings)
        seen = {name: os.environ.get(name) for name in _CREDENTIAL_VARIABLES}
    return OfflineBuilds(first, second, log, seen)


@pytest.fixture(scope="session")
def definition(offline_builds: OfflineBuilds) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(offline_builds.first)
    return document


def all_steps(document: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Every step by name, branch steps of Condition steps included."""
    found: dict[str, dict[str, Any]] = {}

    def collect(steps: list[dict[str, Any]]) -> None:
        for step in steps:
            found[step["Name"]] = step
            arguments = step.get("Arguments", {})
            if step["Type"] == "Condition":
                collect(arguments.get("IfSteps", []))
                collect(arguments.get("ElseSteps", []))

    collect(document["Steps"])
    return found


@pytest.fixture(scope="session")
def local_aws_server(moto_server_url: str) -> str:
    """A moto server on 127.0.0.1 (its own process) for the executor and CLI-subprocess tests."""
    return moto_server_url


@pytest.fixture(scope="module")
def local_aws_url(local_aws_server: str) -> Iterator[str]:
    """Point `mlops.local_runtime.aws` (this process and CLI subprocesses) at the test server, for
    one module only, so other test modules keep their own local AWS."""
    previous = os.environ.get("MLOPS_LOCAL_AWS_URL")
    os.environ["MLOPS_LOCAL_AWS_URL"] = local_aws_server
    try:
        yield local_aws_server
    finally:
        if previous is None:
            os.environ.pop("MLOPS_LOCAL_AWS_URL", None)
        else:
            os.environ["MLOPS_LOCAL_AWS_URL"] = previous


@pytest.fixture(scope="session")
def churn_csv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """3000 rows of the embedded dataset: enough for AUC well above the default threshold."""
    from mlops.dataset.generator import write_csv

    path = tmp_path_factory.mktemp("data") / "churn.csv"
    write_csv(path, rows=3000, seed=7)
    return path
