"""Shared test configuration: never talk to real AWS, and keep fixtures' paths in one place."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
# Reference files the tests compare against live in the repository (tests/fixtures/*/SOURCE.md
# names where each comes from): a fresh clone has everything its tests need.
FIXTURES = REPO_ROOT / "tests" / "fixtures"

# Fake credentials and a region for every test: nothing may reach a real AWS account.
for _name, _value in {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SECURITY_TOKEN": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "SAGEMAKER_VALIDATE_ROLE": "false",
}.items():
    os.environ[_name] = _value
for _name in [name for name in os.environ if name.startswith("MLOPS_")]:
    del os.environ[_name]


@pytest.fixture(scope="session", autouse=True)
def warm_runtime(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The warm job runtime's servers of this test session (each worker its own), stopped at
    its end: no test leaves a server behind in the machine's cache."""
    from mlops.local_runtime.jobs.warm import WARM_RUNTIME_ENV, stop_warm_runtimes

    directory = tmp_path_factory.mktemp("warm-runtime")
    os.environ[WARM_RUNTIME_ENV] = str(directory)
    yield directory
    stop_warm_runtimes()


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO_ROOT


@pytest.fixture(scope="session")
def model_monitor_fixtures() -> Path:
    """Real Model Monitor artifacts (statistics, constraints, violations, capture, ground truth)."""
    return FIXTURES / "model-monitor"


@pytest.fixture(scope="session")
def moto_server_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A moto server in its own process on 127.0.0.1, shared by a test session.

    Not a ThreadedMotoServer: moto's backends are process-global, and any in-process
    ``mock_aws()`` block of another test module resets them on exit, which would wipe a
    session-long in-process server's buckets in the middle of a run.
    """
    from mlops.local_runtime.aws import ensure_local_aws, stop_local_aws

    state_dir = tmp_path_factory.mktemp("moto-server")
    pointed = os.environ.pop("MLOPS_LOCAL_AWS_URL", None)  # start our own, not a pointed-at one
    try:
        url = ensure_local_aws(state_dir)
    finally:
        if pointed is not None:
            os.environ["MLOPS_LOCAL_AWS_URL"] = pointed
    try:
        yield url
    finally:
        stop_local_aws(state_dir)


@pytest.fixture(scope="session")
def synth_inputs_default() -> Any:
    """The pipeline definition and code bundle for cdk.json's settings (built once)."""
    from infra.app import cdk_json_context, synth_inputs
    from mlops.core.settings import load_settings

    return synth_inputs(load_settings(context=cdk_json_context()["mlops"]))  # type: ignore[arg-type]


@pytest.fixture(scope="session")
def synthesized(tmp_path_factory: pytest.TempPathFactory, synth_inputs_default: Any) -> Any:
    """The app synthesized once per session, shared by tests/infra and tests/security."""
    from tests.infra.conftest import synthesize

    return synthesize(tmp_path_factory.mktemp("cdk.out"), inputs=synth_inputs_default)
