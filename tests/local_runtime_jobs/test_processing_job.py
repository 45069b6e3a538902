"""run_processing_job: inputs staged at their LocalPath, exactly the entry point run, the config
files, outputs, and failures as DescribeProcessingJob reports them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from mlops.local_runtime import JobFailed, ProcessingJobSpec, run_processing_job
from tests.local_runtime_jobs.conftest import BUCKET, s3_keys, write_script

# Copies every input file to the "out" output, upper-cased, and records what it saw.
COPIER = """
    import json, os, sys
    from pathlib import Path
    root = Path(os.environ["SM_PROCESSING_ROOT"])
    args = sys.argv[1:]
    source, target = Path(args[1]), Path(args[3])
    for path in sorted(source.rglob("*")):
        if path.is_file():
            dest = target / path.relative_to(source)
            dest.parent.mkdir(parents=True, exist_ok=True)
            dest.write_text(path.read_text().upper())
    (root / "meta" / "seen.json").write_text(json.dumps({"args": args, "root": str(root)}))
"""


def _spec(tmp_path: Path, body: str, source: Any, **overrides: Any) -> ProcessingJobSpec:
    fields: dict[str, Any] = {
        "name": "proc-1",
        "code": write_script(tmp_path / "code", "copier.py", body),
        "work_dir": tmp_path / "work",
        "arguments": [
            "--input",
            "/opt/ml/processing/input/data",
            "--output",
            "/opt/ml/processing/out",
        ],
        "inputs": {"data": (source, "/opt/ml/processing/input/data")},
        "outputs": {
            "out": ("/opt/ml/processing/out", tmp_path / "published" / "out"),
            "meta": ("/opt/ml/processing/meta", tmp_path / "published" / "meta"),
        },
    }
    fields.update(overrides)
    return ProcessingJobSpec(**fields)


def _local_source(tmp_path: Path) -> Path:
    source = tmp_path / "raw"
    (source / "nested").mkdir(parents=True)
    (source / "a.csv").write_text("a\n")
    (source / "nested" / "b.csv").write_text("b\n")
    return source


def test_container_path_arguments_point_at_the_staged_root(tmp_path: Path) -> None:
    result = run_processing_job(_spec(tmp_path, COPIER, _local_source(tmp_path)))
    seen = json.loads((result.local_outputs["meta"] / "seen.json").read_text())
    root = tmp_path / "work" / "proc-1" / "processing"
    assert seen["root"] == str(root)
    assert seen["args"] == ["--input", f"{root}/input/data", "--output", f"{root}/out"]


def test_a_relative_work_dir_still_runs_the_script(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`mlops demo` and `pipeline run` default to build/…: relative to the caller's cwd."""
    monkeypatch.chdir(tmp_path)
    spec = _spec(tmp_path, COPIER, _local_source(tmp_path), work_dir=Path("build") / "work")
    result = run_processing_job(spec)
    assert (tmp_path / "published" / "out" / "a.csv").read_text() == "A\n"
    seen = json.loads((result.local_outputs["meta"] / "seen.json").read_text())
    assert seen["root"] == str(tmp_path / "build" / "work" / "proc-1" / "processing")


def test_outputs_are_published_to_local_destinations(tmp_path: Path) -> None:
    result = run_processing_job(_spec(tmp_path, COPIER, _local_source(tmp_path)))
    out = tmp_path / "published" / "out"
    assert result.outputs["out"] == str(out)
    assert (out / "a.csv").read_text() == "A\n"
    assert (out / "nested" / "b.csv").read_text() == "B\n"
    assert (result.local_outputs["out"] / "a.csv").read_text() == "A\n"


def test_inputs_and_outputs_can_be_s3_prefixes(tmp_path: Path, s3: Any) -> None:
    s3.put_object(Bucket=BUCKET, Key="raw/2026/a.csv", Body=b"a\n")
    s3.put_object(Bucket=BUCKET, Key="raw/2026/deep/b.csv", Body=b"b\n")
    s3.put_object(Bucket=BUCKET, Key="raw/2026-other/c.csv", Body=b"c\n")
    spec = _spec(
        tmp_path,
        COPIER,
        f"s3://{BUCKET}/raw/2026",
        outputs={
            "out": ("/opt/ml/processing/out", f"s3://{BUCKET}/results/out"),
            "meta": ("/opt/ml/processing/meta", tmp_path / "meta"),
        },
    )
    result = run_processing_job(spec, s3_client=s3)
    assert result.outputs["out"] == f"s3://{BUCKET}/results/out"
    assert s3_keys(s3, "results/") == ["results/out/a.csv", "results/out/deep/b.csv"]
    body = s3.get_object(Bucket=BUCKET, Key="results/out/deep/b.csv")["Body"].read()
    assert body == b"B\n"


def test_an_s3_uri_naming_one_object_stages_that_file(tmp_path: Path, s3: Any) -> None:
    s3.put_object(Bucket=BUCKET, Key="models/model.tar.gz", Body=b"m")
    s3.upload_file(str(write_script(tmp_path, "code.py", COPIER)), BUCKET, "code/copier.py")
    spec = _spec(
        tmp_path, COPIER, f"s3://{BUCKET}/models/model.tar.gz", code=f"s3://{BUCKET}/code/copier.py"
    )
    result = run_processing_job(spec, s3_client=s3)
    assert (result.local_outputs["out"] / "model.tar.gz").read_text() == "M"


def test_failed_job_publishes_nothing_and_reports_failure_reason_and_exit_message(
    tmp_path: Path,
) -> None:
    failing = """
        import os, sys
        from pathlib import Path
        Path(os.environ["SM_PROCESSING_ROOT"], "out", "half.csv").write_text("partial")
        # /opt/ml/output/message, re-rooted like /opt/ml/processing
        message = Path(os.environ["SM_PROCESSING_ROOT"]).parent / "output" / "message"
        message.write_text("column 'age', row 7: value 'x' is not a number")
        print("column 'age', row 7: value 'x' is not a number", file=sys.stderr)
        sys.exit(1)
    """
    with pytest.raises(JobFailed) as failure:
        run_processing_job(_spec(tmp_path, failing, _local_source(tmp_path)))
    assert failure.value.reason == "AlgorithmError: See job logs for more information"
    assert failure.value.exit_message == "column 'age', row 7: value 'x' is not a number"
    assert not (tmp_path / "published").exists()


def test_a_failure_without_a_message_file_has_no_exit_message(tmp_path: Path) -> None:
    with pytest.raises(JobFailed) as failure:
        run_processing_job(_spec(tmp_path, "raise SystemExit(1)\n", _local_source(tmp_path)))
    assert failure.value.reason == "AlgorithmError: See job logs for more information"
    assert failure.value.exit_message is None


def test_a_wrong_entry_point_fails_with_the_error_python_gives(tmp_path: Path) -> None:
    spec = _spec(
        tmp_path,
        COPIER,
        _local_source(tmp_path),
        entrypoint=["python3", "/opt/ml/processing/input/code/WRONG_NAME.py"],
    )
    with pytest.raises(JobFailed) as failure:
        run_processing_job(spec)
    assert failure.value.reason == "AlgorithmError: See job logs for more information"
    code = tmp_path / "work" / "proc-1" / "processing" / "input" / "code"
    log = (tmp_path / "work" / "proc-1" / "job.log").read_text()
    assert f"python3: can't open file '{code}/WRONG_NAME.py': [Errno 2]" in log


def test_the_config_files_hold_the_request_and_the_cluster(tmp_path: Path) -> None:
    run_processing_job(
        _spec(tmp_path, COPIER, _local_source(tmp_path), instance_type="ml.c5.xlarge")
    )
    config = tmp_path / "work" / "proc-1" / "config"
    job = json.loads((config / "processingjobconfig.json").read_text())
    assert job["ProcessingJobName"] == "proc-1"
    assert job["AppSpecification"]["ContainerEntrypoint"] == [
        "python3",
        "/opt/ml/processing/input/code/copier.py",
    ]
    assert {item["InputName"] for item in job["ProcessingInputs"]} == {"data", "code"}
    resources = json.loads((config / "resourceconfig.json").read_text())
    assert (resources["current_host"], resources["hosts"]) == ("algo-1", ["algo-1"])
    assert resources["current_instance_type"] == "ml.c5.xlarge"


def test_the_job_sees_no_variable_of_the_caller(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "from-the-developer-shell")
    monkeypatch.setenv("MLOPS_SOMETHING", "1")
    dump = """
        import json, os
        from pathlib import Path
        Path(os.environ["SM_PROCESSING_ROOT"], "out", "env.json").write_text(json.dumps(dict(os.environ)))
    """
    result = run_processing_job(_spec(tmp_path, dump, _local_source(tmp_path)))
    env = json.loads((result.local_outputs["out"] / "env.json").read_text())
    assert "AWS_ACCESS_KEY_ID" not in env
    assert not [name for name in env if name.startswith("MLOPS_")]


def test_a_killed_process_fails_the_job(tmp_path: Path) -> None:
    killer = "import os, signal\nos.kill(os.getpid(), signal.SIGKILL)\n"
    with pytest.raises(JobFailed, match="killed by SIGKILL"):
        run_processing_job(_spec(tmp_path, killer, _local_source(tmp_path)))


def test_timeout_fails_the_job(tmp_path: Path) -> None:
    sleeper = "import time\ntime.sleep(30)\n"
    spec = _spec(tmp_path, sleeper, _local_source(tmp_path), timeout_seconds=0.5)
    with pytest.raises(JobFailed, match="timeout"):
        run_processing_job(spec)
    assert not (tmp_path / "published").exists()


def test_missing_local_input_is_a_job_failure(tmp_path: Path) -> None:
    with pytest.raises(JobFailed, match="no file or directory"):
        run_processing_job(_spec(tmp_path, COPIER, tmp_path / "absent"))


def test_container_paths_outside_opt_ml_processing_are_rejected(tmp_path: Path) -> None:
    spec = _spec(
        tmp_path, COPIER, _local_source(tmp_path), outputs={"x": ("/tmp/out", tmp_path / "x")}
    )
    with pytest.raises(ValueError, match="must be under /opt/ml/processing"):
        run_processing_job(spec)


def test_environment_reaches_the_script(tmp_path: Path) -> None:
    echo = """
        import os
        from pathlib import Path
        Path(os.environ["SM_PROCESSING_ROOT"], "out", "env.txt").write_text(os.environ["MODE"])
    """
    spec = _spec(tmp_path, echo, _local_source(tmp_path), environment={"MODE": "strict"})
    result = run_processing_job(spec)
    assert (result.local_outputs["out"] / "env.txt").read_text() == "strict"
