"""Stopping `mlops endpoint serve` under load: SIGTERM drains, SIGKILL loses ≤ 1 s of capture.

The same driver as ``python -m benchmarks.shutdown`` (which docs/reliability.md quotes), one
run per signal: the CLI in its own process, 8 keep-alive clients, the signal after 2 s of load.
Every request carries a unique InferenceId, so answers and capture records match one to one.
"""

from __future__ import annotations

import http.client
import os
import signal
import subprocess
import sys
import tarfile
import threading
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from benchmarks.load import ENDPOINT_NAME
from benchmarks.shutdown import FLUSH_SLACK_SECONDS, ShutdownReport, run_shutdown
from mlops.cli.main import app
from mlops.core.errors import UserError
from mlops.local_runtime.serving import CaptureConfig, EndpointOptions, LocalEndpoint
from tests.serving.modelkit import FEATURES, BuiltModel

pytestmark = pytest.mark.slow

LOAD_SECONDS = 2.0


def _run(
    signal_number: int,
    model: BuiltModel,
    rows: list[list[str]],
    factory: pytest.TempPathFactory,
) -> tuple[ShutdownReport, Path]:
    work_dir = factory.mktemp(f"shutdown-{signal.Signals(signal_number).name}")
    report = run_shutdown(
        model.archive,
        rows,
        list(FEATURES),
        signal_number=signal_number,
        work_dir=work_dir,
        load_seconds=LOAD_SECONDS,
    )
    return report, work_dir


@pytest.fixture(scope="module")
def sigterm(
    reliability_model: BuiltModel,
    raw_rows: list[list[str]],
    tmp_path_factory: pytest.TempPathFactory,
) -> ShutdownReport:
    return _run(signal.SIGTERM, reliability_model, raw_rows, tmp_path_factory)[0]


@pytest.fixture(scope="module")
def sigkill(
    reliability_model: BuiltModel,
    raw_rows: list[list[str]],
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[ShutdownReport, Path]:
    return _run(signal.SIGKILL, reliability_model, raw_rows, tmp_path_factory)


def test_sigterm_answers_every_accepted_request_with_2xx(sigterm: ShutdownReport) -> None:
    assert sigterm.answered_before_signal > 0
    assert sum(sigterm.non_2xx.values()) == 0, sigterm.non_2xx_samples


def test_sigterm_exits_0_without_a_traceback(sigterm: ShutdownReport) -> None:
    assert sigterm.exit_code == 0, sigterm.stderr
    assert not sigterm.traceback_printed, sigterm.stderr
    assert "stopped endpoint" in sigterm.stderr


def test_sigterm_capture_holds_exactly_the_requests_answered_2xx(sigterm: ShutdownReport) -> None:
    assert (sigterm.lost, sigterm.extra) == (0, 0)
    assert sigterm.captured == sigterm.answered
    assert f"captured {sigterm.captured} record(s)" in sigterm.stderr


def test_sigkill_loses_only_records_of_the_last_second(
    sigkill: tuple[ShutdownReport, Path],
) -> None:
    report, _ = sigkill
    assert report.answered_before_signal > 0
    assert report.extra == 0
    assert report.lost_window_seconds <= 1.0 + FLUSH_SLACK_SECONDS, report.lost_window_seconds


def test_invoke_reports_and_removes_the_record_a_killed_server_left(
    sigkill: tuple[ShutdownReport, Path], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    _, work_dir = sigkill
    record = work_dir / ".mlops" / "endpoints" / f"{ENDPOINT_NAME}.json"
    assert record.exists()  # SIGKILL gives serve no chance to remove it
    data = tmp_path / "rows.csv"
    data.write_text("1,2\n")
    monkeypatch.chdir(work_dir)

    with pytest.raises(UserError, match=r"is not running \(its server, process \d+, was killed"):
        CliRunner().invoke(
            app,
            ["endpoint", "invoke", "--endpoint", ENDPOINT_NAME, "--data", str(data), "--local"],
            catch_exceptions=False,
        )
    assert not record.exists()


def _slow_model(directory: Path) -> Path:
    """Handlers that mark the model directory when a request starts, then take 1 s."""
    code = directory / "code"
    code.mkdir(parents=True)
    (code / "inference.py").write_text(
        "import pathlib\nimport time\n\n\n"
        "def model_fn(model_dir):\n    return pathlib.Path(model_dir)\n\n\n"
        "def transform_fn(model, body, content_type, accept):\n"
        "    (model / 'started').touch()\n    time.sleep(1.0)\n    return '0.5', 'text/csv'\n"
    )
    archive = directory / "model.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(code / "inference.py", arcname="code/inference.py")
    return archive


def test_stop_answers_the_request_in_flight_before_closing_capture(tmp_path: Path) -> None:
    capture = CaptureConfig(destination=str(tmp_path / "capture"), endpoint_name="slow")
    endpoint = LocalEndpoint(
        _slow_model(tmp_path), EndpointOptions(endpoint_name="slow", capture=capture)
    ).start()
    answers: list[int] = []

    def call() -> None:
        host, port = endpoint.url.removeprefix("http://").split(":")
        connection = http.client.HTTPConnection(host, int(port), timeout=30)
        connection.request("POST", "/invocations", body=b"1", headers={"Content-Type": "text/csv"})
        answers.append(connection.getresponse().status)

    client = threading.Thread(target=call)
    client.start()
    started = endpoint.served.model_dir / "started"
    while not started.exists() and client.is_alive():
        time.sleep(0.01)
    endpoint.stop()
    client.join(timeout=10)

    assert answers == [200]
    assert endpoint.capture is not None
    assert endpoint.capture.records_written == 1


def test_sigterm_while_the_model_loads_leaves_no_work_directory(
    reliability_model: BuiltModel, tmp_path: Path, repo_root: Path
) -> None:
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    process = subprocess.Popen(
        [sys.executable, "-m", "mlops.cli.main", "endpoint", "serve", "--local",
         "--model", str(reliability_model.archive), "--port", "0"],
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(repo_root), "TMPDIR": str(scratch)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    while not list(scratch.glob("mlops-endpoint-*")):  # the work directory exists: loading
        assert process.poll() is None, process.communicate()
        time.sleep(0.01)
    process.send_signal(signal.SIGTERM)
    _, stderr = process.communicate(timeout=60)

    assert process.returncode == 130, stderr
    assert stderr.strip() == "stopped while loading the model: nothing was served"
    assert list(scratch.iterdir()) == []
