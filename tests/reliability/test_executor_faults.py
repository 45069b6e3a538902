"""Faults during a local pipeline execution: it ends Failed naming the step and the reason,
registers nothing, publishes no half-written output, and the next run succeeds.

Each fault is injected where a user would meet it: the Preprocess step's script dies (SIGKILL),
exits non-zero or hangs (via an edited definition: the executor runs JSON), the input URI
names nothing, the local AWS server stops, a write hits the file-size limit (RLIMIT_FSIZE, the
"disk full" a process actually sees), and Ctrl-C reaches ``mlops pipeline run --local``.
Failing runs stop at the first step, so they cost about a second each; one real run at the end
shows the same server and data still produce a registered model.
"""

from __future__ import annotations

import contextlib
import json
import os
import resource
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from mlops.core.errors import UserError
from mlops.core.settings import ProjectSettings, load_settings
from mlops.local_runtime.aws import client
from tests.reliability.faulty_steps import (
    GO_FILE_ENV,
    PID_FILE_ENV,
    edited_definitions,
    use_script,
    write_script,
)

pytestmark = pytest.mark.slow

ROWS = 1500
REPO_ROOT = Path(__file__).resolve().parents[2]


class MotoServer:
    """A moto server in its own process (as the CLI runs it) that a test can stop on purpose.

    Its own process, not a ThreadedMotoServer: moto's backends are process-global and an
    in-process ``mock_aws()`` elsewhere in the session would reset them.
    """

    def __init__(self, state_dir: Path) -> None:
        from mlops.local_runtime.aws import ensure_local_aws

        self._state_dir = state_dir
        pointed = os.environ.pop("MLOPS_LOCAL_AWS_URL", None)  # start our own
        try:
            self.url = ensure_local_aws(state_dir)
        finally:
            if pointed is not None:
                os.environ["MLOPS_LOCAL_AWS_URL"] = pointed

    def stop(self) -> None:
        """Stop it and return once it no longer answers (so the fault is really in place)."""
        from mlops.local_runtime.aws import is_serving, stop_local_aws

        stop_local_aws(self._state_dir)
        deadline = time.monotonic() + 10
        while is_serving(self.url) and time.monotonic() < deadline:
            time.sleep(0.05)


def unused_url() -> str:
    """The URL of a loopback port nothing listens on: a local AWS that is gone."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}"


@dataclass(frozen=True)
class Env:
    settings: ProjectSettings
    data: Path
    aws_url: str  # the session's moto server (tests/conftest.py), never stopped here
    scripts: Path


@pytest.fixture(scope="module")
def env(moto_server_url: str, tmp_path_factory: pytest.TempPathFactory) -> Env:
    from mlops.dataset.generator import write_csv

    data = tmp_path_factory.mktemp("faults-data") / "churn.csv"
    write_csv(data, rows=ROWS, seed=11)
    return Env(load_settings(), data, moto_server_url, tmp_path_factory.mktemp("fault-scripts"))


def packages(settings: ProjectSettings, url: str) -> list[str]:
    sagemaker = client("sagemaker", endpoint_url=url, region="us-east-1")
    try:
        listed = sagemaker.list_model_packages(
            ModelPackageGroupName=settings.names.model_package_group
        )
    except sagemaker.exceptions.ClientError:
        return []
    return [item["ModelPackageArn"] for item in listed["ModelPackageSummaryList"]]


def execution_objects(settings: ProjectSettings, url: str, execution_id: str) -> list[str]:
    """Every object the execution published under its own prefix."""

    s3 = client("s3", endpoint_url=url, region="us-east-1")
    listed = s3.list_objects_v2(
        Bucket=settings.names.local_artifact_bucket,
        Prefix=f"{settings.names.pipeline}/{execution_id}/",
    )
    return [item["Key"] for item in listed.get("Contents", [])]


def run(
    env: Env,
    out: Path,
    monkeypatch: pytest.MonkeyPatch,
    *,
    url: str | None = None,
    script: str | None = None,
    data: Path | str | None = None,
    **kwargs: Any,
) -> Any:
    from mlops.local_runtime.executor.run import run_local_pipeline

    monkeypatch.setenv("MLOPS_LOCAL_AWS_URL", url or env.aws_url)
    edit = contextlib.nullcontext()
    if script is not None:
        path = write_script(env.scripts, script)
        edit = edited_definitions(lambda document: use_script(document, path))  # type: ignore[assignment]
    with edit:
        return run_local_pipeline(
            env.settings, data=data or env.data, out_dir=out, state_dir=out / "state", **kwargs
        )


def assert_failed_at(outcome: Any, step: str, *reason_parts: str) -> dict[str, Any]:
    """Failed at ``step`` with every part in the reason, the same in summary.json."""
    summary = json.loads(outcome.summary_path.read_text())
    assert summary["status"] == "Failed"
    assert summary["failed_step"] == step
    for part in reason_parts:
        assert part in summary["failure_reason"], summary["failure_reason"]
    assert summary["model_package_arn"] is None
    statuses = {item["name"]: item["status"] for item in summary["steps"]}
    assert statuses[step] == "Failed"
    assert statuses["Register"] == "NotExecuted"
    return summary


def test_a_step_killed_mid_run_fails_the_execution_and_publishes_nothing(
    env: Env, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = packages(env.settings, env.aws_url)
    outcome = run(env, tmp_path, monkeypatch, script="sigkill")
    summary = assert_failed_at(outcome, "Preprocess", "killed by SIGKILL")
    assert execution_objects(env.settings, env.aws_url, summary["execution_id"]) == []
    assert packages(env.settings, env.aws_url) == before


def test_a_script_exiting_non_zero_fails_with_the_jobs_reason_and_exit_message(
    env: Env, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = packages(env.settings, env.aws_url)
    outcome = run(env, tmp_path, monkeypatch, script="exit3")
    assert_failed_at(
        outcome,
        "Preprocess",
        "AlgorithmError: See job logs for more information",
        "ExitMessage: preprocess: simulated failure: the input schema is not what was promised",
    )
    assert packages(env.settings, env.aws_url) == before


def test_an_input_uri_naming_nothing_fails_preprocess_before_it_runs(
    env: Env, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:

    before = packages(env.settings, env.aws_url)
    missing = f"s3://{env.settings.names.local_artifact_bucket}/input/never-uploaded/"
    outcome = run(env, tmp_path, monkeypatch, data=missing)
    assert_failed_at(outcome, "Preprocess", "ClientError", "never-uploaded")
    assert list((tmp_path / "work").rglob("job.log")) == []  # the script never started
    assert packages(env.settings, env.aws_url) == before


def test_the_local_aws_gone_before_the_run_is_one_user_error(
    env: Env, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(UserError, match="does not answer"):
        run(env, tmp_path, monkeypatch, url=unused_url())
    assert not (tmp_path / "summary.json").exists()


def test_the_local_aws_gone_mid_step_fails_that_step_with_the_connection_error(
    env: Env, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    server = MotoServer(tmp_path / "moto")
    go_file = tmp_path / "go"
    monkeypatch.setenv(GO_FILE_ENV, str(go_file))

    def on_line(stream: str, line: str) -> None:
        if line == "working":  # the script runs: take the server away, then let it finish
            server.stop()
            go_file.touch()

    try:
        outcome = run(
            env, tmp_path, monkeypatch, url=server.url, script="wait-then-succeed", on_line=on_line
        )
    finally:
        server.stop()
    assert_failed_at(outcome, "Preprocess", "Could not connect to the endpoint URL")


def test_the_local_aws_gone_after_a_step_succeeded_still_ends_failed_with_a_summary(
    env: Env, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    server = MotoServer(tmp_path / "moto")

    class StopAfterPreprocess:
        def step_started(self, name: str, step_type: str) -> None:
            return None

        def step_finished(self, record: Any) -> None:
            if record.name == "Preprocess":  # before the two steps that read its outputs start
                server.stop()

    try:
        outcome = run(
            env,
            tmp_path,
            monkeypatch,
            url=server.url,
            script="tiny-preprocess",
            observer=StopAfterPreprocess(),
        )
    finally:
        server.stop()
    # DataQualityBaseline and Train run at the same time: both fail, the first in definition
    # order is the execution's failed step.
    summary = assert_failed_at(
        outcome, "DataQualityBaseline", "Could not connect to the endpoint URL"
    )
    statuses = {item["name"]: item["status"] for item in summary["steps"]}
    assert statuses["Preprocess"] == "Succeeded"
    assert statuses["Train"] == "Failed"


@contextlib.contextmanager
def file_size_limit(limit_bytes: int) -> Iterator[None]:
    """RLIMIT_FSIZE for this process and the jobs it starts: a write past it fails (EFBIG)
    instead of killing the process, as a full disk fails a write (SIGXFSZ ignored)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    previous = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit_bytes, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
        signal.signal(signal.SIGXFSZ, previous)


def test_a_write_past_the_file_size_limit_fails_the_step_and_publishes_nothing(
    env: Env, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = packages(env.settings, env.aws_url)
    # Big enough for the code bundle and the definition, too small for the staged input CSV
    # or preprocess's outputs: the Preprocess step is where the "disk" fills.
    size = env.data.stat().st_size
    assert size > 64 * 1024
    with file_size_limit(64 * 1024):
        outcome = run(env, tmp_path, monkeypatch)
    summary = assert_failed_at(outcome, "Preprocess", "File too large")
    assert execution_objects(env.settings, env.aws_url, summary["execution_id"]) == []
    assert packages(env.settings, env.aws_url) == before


def _wait_for(path: Path, process: subprocess.Popen[str], seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while not path.exists():
        if process.poll() is not None:
            _out, err = process.communicate()
            pytest.fail(f"CLI ended early ({process.returncode}): {err[-2000:]}")
        if time.monotonic() > deadline:
            process.kill()
            pytest.fail(f"{path} did not appear within {seconds} s")
        time.sleep(0.1)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie is dead for our purposes
    with contextlib.suppress(OSError):
        if "State:\tZ" in Path(f"/proc/{pid}/status").read_text():
            return False
    return True


def test_ctrl_c_stops_the_run_kills_the_job_and_registers_nothing(env: Env, tmp_path: Path) -> None:
    before = packages(env.settings, env.aws_url)
    script = write_script(env.scripts, "wait-then-succeed")
    pid_file = tmp_path / "job.pid"
    out = tmp_path / "out"
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tests.reliability.faulty_steps",
            str(script),
            "--",
            "pipeline",
            "run",
            "--local",
            "--data",
            str(env.data),
            "--out",
            str(out),
        ],
        cwd=REPO_ROOT,
        env={
            **os.environ,
            "MLOPS_LOCAL_AWS_URL": env.aws_url,
            PID_FILE_ENV: str(pid_file),
            GO_FILE_ENV: str(tmp_path / "never"),
        },
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    _wait_for(pid_file, process, seconds=90)
    job_pid = int(pid_file.read_text())
    process.send_signal(signal.SIGINT)
    try:
        _, stderr = process.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        pytest.fail("the CLI did not stop within 30 s of Ctrl-C")
    assert process.returncode == 130, stderr[-2000:]
    deadline = time.monotonic() + 5
    while _alive(job_pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not _alive(job_pid), "the job's process outlived the interrupted run"
    summary = json.loads((out / "summary.json").read_text())
    assert summary["status"] in {"Stopped", "Failed"}
    assert summary["failed_step"] == "Preprocess"
    assert summary["failure_reason"]
    assert packages(env.settings, env.aws_url) == before


def test_a_run_after_the_faults_succeeds_and_registers_one_package(
    env: Env, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = packages(env.settings, env.aws_url)
    outcome = run(env, tmp_path, monkeypatch)
    assert outcome.summary.succeeded, outcome.summary.failure_reason
    after = packages(env.settings, env.aws_url)
    assert len(after) == len(before) + 1
    assert outcome.summary.model_package_arn in after
