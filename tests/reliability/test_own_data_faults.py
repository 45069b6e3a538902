"""What a user's own data and a process manager do to `pipeline run` and `data generate`.

A SIGTERM (systemd, CI, ``timeout``) stops a run like Ctrl-C: a Stopped summary, exit 130. A
reused run folder keeps nothing of the earlier run. A row with an extra field, a repeated column
name and a column blank in every row are named before anything trains (and by preprocess itself
when its input comes from S3). ``data generate`` answers a bad seed, a huge row count and a
destination that is not a regular file with one ``error:`` line, and a SIGTERM leaves no
partial file.
"""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from mlops.cli.main import app
from mlops.core.errors import UserError
from mlops.local_runtime.executor.history import RunFolderError, prepare_out_dir
from tests.reliability.faulty_steps import GO_FILE_ENV, PID_FILE_ENV, write_script

REPO_ROOT = Path(__file__).resolve().parents[2]
MLOPS = str(Path(sys.executable).parent / "mlops")


def _one_error_line(stderr: str) -> str:
    assert "Traceback" not in stderr
    lines = [line for line in stderr.splitlines() if line.startswith("error:")]
    assert len(lines) == 1, stderr
    return lines[0]


def _mlops(*arguments: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [MLOPS, *arguments], capture_output=True, text=True, timeout=120, cwd=cwd, check=False
    )


def _wait_for(path: Path, process: subprocess.Popen[str], seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while not path.exists():
        if process.poll() is not None:
            _, err = process.communicate()
            pytest.fail(f"the command ended early ({process.returncode}): {err[-2000:]}")
        if time.monotonic() > deadline:
            process.kill()
            pytest.fail(f"{path} did not appear within {seconds} s")
        time.sleep(0.05)


# --- pipeline run -----------------------------------------------------------------------------


@pytest.mark.slow
def test_sigterm_stops_a_run_like_ctrl_c_with_a_stopped_summary(
    moto_server_url: str, tmp_path: Path
) -> None:
    from mlops.dataset.generator import write_csv

    data = tmp_path / "churn.csv"
    write_csv(data, rows=600, seed=3)
    script = write_script(tmp_path / "scripts", "wait-then-succeed")
    pid_file, out = tmp_path / "job.pid", tmp_path / "out"
    process = subprocess.Popen(
        [
            *(sys.executable, "-m", "tests.reliability.faulty_steps", str(script), "--"),
            *("pipeline", "run", "--local", "--data", str(data), "--out", str(out)),
        ],
        cwd=REPO_ROOT,
        env={
            **os.environ,
            "MLOPS_LOCAL_AWS_URL": moto_server_url,
            PID_FILE_ENV: str(pid_file),
            GO_FILE_ENV: str(tmp_path / "never"),
        },
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    _wait_for(pid_file, process, seconds=90)
    process.send_signal(signal.SIGTERM)
    try:
        _, stderr = process.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        pytest.fail("the run did not stop within 30 s of SIGTERM")
    assert process.returncode == 130, stderr[-2000:]  # as Ctrl-C, not -15
    summary = json.loads((out / "summary.json").read_text())
    assert (summary["status"], summary["failed_step"]) == ("Stopped", "Preprocess")
    assert (out / "report.html").is_file()


def test_a_reused_run_folder_keeps_nothing_of_the_earlier_run(tmp_path: Path) -> None:
    earlier = tmp_path / "run"
    (earlier / "model").mkdir(parents=True)
    (earlier / "model" / "model.tar.gz").write_bytes(b"an earlier run's model")
    (earlier / "summary.json").write_text('{"status": "Succeeded"}')
    prepare_out_dir(earlier)
    assert list(earlier.iterdir()) == []


def test_a_folder_of_other_files_is_refused_as_a_run_folder(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(RunFolderError, match="holds no earlier pipeline run"):
        prepare_out_dir(tmp_path)
    assert (tmp_path / "notes.txt").read_text() == "mine"


def _refused(arguments: list[str]) -> str:
    started = time.perf_counter()
    result = CliRunner().invoke(app, ["pipeline", "run", "--local", *arguments])
    assert time.perf_counter() - started < 2.0
    assert isinstance(result.exception, UserError), result.output
    message = str(result.exception)
    assert "\n" not in message
    return message


def test_a_row_with_an_extra_field_is_refused_naming_its_line(tmp_path: Path) -> None:
    data = tmp_path / "rows.csv"
    data.write_text("a,b,y\n1,2,Yes\n3,4,No\n5,6,7,No\n")
    message = _refused(["--data", str(data), "--target", "y", "--out", str(tmp_path / "o")])
    assert message == (
        "rows.csv: line 4 has 4 fields, the header has 3 (an unquoted comma in a value? quote it)"
    )


def test_a_repeated_column_name_is_refused_naming_it(tmp_path: Path) -> None:
    data = tmp_path / "rows.csv"
    data.write_text("age,income,age,y\n30,1,31,Yes\n40,2,41,No\n")
    message = _refused(["--data", str(data), "--target", "y", "--out", str(tmp_path / "o")])
    assert message == (
        "rows.csv: duplicate column name 'age' (columns 1 and 3): rename one so each column "
        "has its own name"
    )


@pytest.mark.slow
def test_preprocess_names_a_column_blank_in_every_row_and_trains_on(tmp_path: Path) -> None:
    from mlops.local_runtime import ProcessingJobSpec, run_processing_job
    from sagemaker_pipelines import code as code_bundle
    from tests.container_scripts.conftest import PREPROCESS_OUTPUTS, sklearn_image

    source = tmp_path / "input" / "rows.csv"
    source.parent.mkdir()
    rows = [f"{i},{i % 7},,{'Yes' if i % 3 else 'No'}" for i in range(120)]
    source.write_text("x,z,never_filled,y\n" + "\n".join(rows) + "\n")
    result = run_processing_job(
        ProcessingJobSpec(
            name="blank-column",
            code=code_bundle.PREPROCESS_SCRIPT,
            work_dir=tmp_path / "work",
            arguments=["--target", "y"],
            inputs={"input": (source.parent, "/opt/ml/processing/input")},
            outputs={o: (f"/opt/ml/processing/{o}", tmp_path / o) for o in PREPROCESS_OUTPUTS},
            image=sklearn_image(),
        )
    )
    spec = json.loads((Path(result.outputs["spec"]) / "feature_spec.json").read_text())
    (warning,) = spec["warnings"]
    assert warning.startswith("feature 'never_filled' is blank in every row")
    assert f"warning: {warning}" in result.log_file.read_text()


# --- data generate ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("arguments", "fragment"),
    [
        (["--seed", "-1"], "--seed -1: must be between 0 and 4294967295"),
        (["--rows", "100000000000000000000"], "--rows 100,000,000,000,000,000,000: must be"),
        (["--problem-type", "ordinal"], "--problem-type 'ordinal': choose one of binary"),
    ],
)
def test_generate_refuses_a_bad_value_with_one_error_line(
    tmp_path: Path, arguments: list[str], fragment: str
) -> None:
    result = _mlops("data", "generate", *arguments, "--out", str(tmp_path / "d.csv"))
    assert result.returncode == 2
    assert fragment in _one_error_line(result.stderr)
    assert list(tmp_path.iterdir()) == []


def test_generate_never_replaces_something_that_is_not_a_regular_file(tmp_path: Path) -> None:
    # A FIFO stands in for /dev/full: renaming the finished file over it would replace it.
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    result = _mlops("data", "generate", "--rows", "5", "--out", str(fifo))
    assert result.returncode == 2
    assert "is not a regular file" in _one_error_line(result.stderr)
    assert stat.S_ISFIFO(fifo.stat().st_mode)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pipe"]


@pytest.mark.slow
def test_sigterm_during_generate_leaves_no_partial_file(tmp_path: Path) -> None:
    out = tmp_path / "big.csv"
    partial = tmp_path / ".big.csv.partial"
    process = subprocess.Popen(
        [MLOPS, "data", "generate", "--rows", "5000000", "--out", str(out)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    _wait_for(partial, process, seconds=60)
    process.send_signal(signal.SIGTERM)
    stdout, stderr = process.communicate(timeout=30)
    assert process.returncode == 130, (stdout, stderr)
    assert list(tmp_path.iterdir()) == []
