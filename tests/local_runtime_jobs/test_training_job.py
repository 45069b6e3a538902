"""run_training_job: the /opt/ml layout, the launcher's environment and command, artifacts and
failures (the comparison with the real launcher is tests/fidelity/test_training_contract.py)."""

from __future__ import annotations

import json
import sys
import tarfile
from pathlib import Path
from typing import Any

import pytest

from mlops.core.archive import pack_files
from mlops.local_runtime import JobFailed, TrainingJobSpec, run_training_job
from mlops.local_runtime.jobs.container import AwsChannel
from tests.local_runtime_jobs.conftest import BUCKET, s3_keys, write_script

# Records what the container would see, into the model dir, and writes some output data.
RECORDER = """
    import json, os, sys
    from pathlib import Path
    model = Path(os.environ["SM_MODEL_DIR"])
    seen = {
        "argv": sys.argv[1:],
        "program": sys.argv[0],
        "cwd": os.getcwd(),
        "all_env": dict(os.environ),
        "env": {k: v for k, v in os.environ.items() if k.startswith("SM_")},
        "config": {
            p.name: json.loads(p.read_text())
            for p in Path(os.environ["SM_INPUT_CONFIG_DIR"]).glob("*.json")
        },
        "train_files": sorted(
            str(p.relative_to(os.environ["SM_CHANNEL_TRAIN"]))
            for p in Path(os.environ["SM_CHANNEL_TRAIN"]).rglob("*") if p.is_file()
        ),
    }
    (model / "seen.json").write_text(json.dumps(seen, sort_keys=True))
    (model / "weights.bin").write_bytes(b"model-bytes")
    Path(os.environ["SM_OUTPUT_DATA_DIR"], "report.txt").write_text("done")
    print("[0]\\ttrain-auc:0.7\\tvalidation-auc:0.6")
    print("[1]\\ttrain-auc:0.8\\tvalidation-auc:0.75")
"""


def _spec(tmp_path: Path, script_body: str, **overrides: Any) -> TrainingJobSpec:
    code = write_script(tmp_path / "code", "entry.py", script_body)
    train = tmp_path / "data" / "train"
    (train / "part").mkdir(parents=True)
    (train / "a.csv").write_text("1,2\n")
    (train / "part" / "b.csv").write_text("0,3\n")
    fields: dict[str, Any] = {
        "name": "job-1",
        "channels": {"train": train},
        "output_path": tmp_path / "published",
        "work_dir": tmp_path / "work",
        "source_dir": code.parent,
        "entry_point": "entry.py",
        "hyperparameters": {"max_depth": "5", "eta": "0.1"},
    }
    fields.update(overrides)
    return TrainingJobSpec(**fields)


def _seen(result: Any) -> dict[str, Any]:
    return dict(json.loads((result.model_dir / "seen.json").read_text()))


def test_script_sees_the_sagemaker_training_environment(tmp_path: Path) -> None:
    result = run_training_job(_spec(tmp_path, RECORDER))
    seen = _seen(result)
    root = tmp_path / "work" / "job-1"
    env = seen["env"]
    assert env["SM_MODEL_DIR"] == str(root / "model")
    assert env["SM_CHANNEL_TRAIN"] == str(root / "input" / "data" / "train")
    assert json.loads(env["SM_CHANNELS"]) == ["train"]
    assert json.loads(env["SM_HPS"]) == {"max_depth": 5, "eta": 0.1}
    assert env["SM_HP_MAX_DEPTH"] == "5"
    assert env["SM_OUTPUT_DATA_DIR"] == str(root / "output" / "data")
    assert env["SM_OUTPUT_DIR"] == str(root / "output")
    assert env["SM_CURRENT_HOST"] == "algo-1"
    assert json.loads(env["SM_HOSTS"]) == ["algo-1"]
    assert env["SM_USER_ENTRY_POINT"] == "entry.py"
    assert env["SM_MODULE_NAME"] == "entry"
    assert int(env["SM_NUM_CPUS"]) >= 1
    assert json.loads(env["SM_TRAINING_ENV"])["hyperparameters"] == {"max_depth": 5, "eta": 0.1}
    hyperparameters = seen["config"]["hyperparameters.json"]
    assert {k: hyperparameters[k] for k in ("max_depth", "eta")} == {"max_depth": "5", "eta": "0.1"}
    assert seen["config"]["resourceconfig.json"]["current_host"] == "algo-1"
    assert set(seen["config"]["inputdataconfig.json"]) == {"train"}


def test_hyperparameters_arrive_as_sorted_key_value_arguments_to_a_module(tmp_path: Path) -> None:
    result = run_training_job(_spec(tmp_path, RECORDER))
    seen = _seen(result)
    assert seen["argv"] == ["--eta", "0.1", "--max_depth", "5"]
    code = tmp_path / "work" / "job-1" / "code"
    assert (seen["program"], seen["cwd"]) == (str(code / "entry.py"), str(code))
    assert (code / "setup.py").read_text().count('name="entry"') == 1


def test_the_job_sees_no_variable_of_the_caller(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "from-the-developer-shell")
    monkeypatch.setenv("MLOPS_SOMETHING", "1")
    env = _seen(run_training_job(_spec(tmp_path, RECORDER)))["all_env"]
    assert "AWS_SECRET_ACCESS_KEY" not in env
    assert not [name for name in env if name.startswith("MLOPS_")]
    assert env["TRAINING_JOB_NAME"] == "job-1"
    assert env["PATH"].split(":")[0] == str(Path(sys.executable).parent)


def test_the_local_aws_reaches_only_a_job_without_network_isolation(tmp_path: Path) -> None:
    channel = AwsChannel("http://127.0.0.1:5", "us-east-1", "testing", "testing")
    isolated = run_training_job(
        _spec(tmp_path / "a", RECORDER, aws=channel, network_isolation=True)
    )
    assert "AWS_ENDPOINT_URL" not in _seen(isolated)["all_env"]
    open_job = run_training_job(_spec(tmp_path / "b", RECORDER, aws=channel))
    assert _seen(open_job)["all_env"]["AWS_ENDPOINT_URL"] == "http://127.0.0.1:5"


def test_a_source_dir_the_image_would_pip_install_is_refused(tmp_path: Path) -> None:
    spec = _spec(tmp_path, RECORDER)
    assert spec.source_dir is not None
    (Path(spec.source_dir) / "requirements.txt").write_text("requests\n")
    with pytest.raises(JobFailed, match=r"not supported locally: requirements\.txt"):
        run_training_job(spec)


def test_channel_directory_is_staged_with_its_subdirectories(tmp_path: Path) -> None:
    result = run_training_job(_spec(tmp_path, RECORDER))
    assert _seen(result)["train_files"] == ["a.csv", "part/b.csv"]


def test_model_and_output_data_are_packed_and_published_like_sagemaker(tmp_path: Path) -> None:
    result = run_training_job(_spec(tmp_path, RECORDER))
    published = tmp_path / "published" / "job-1" / "output"
    assert result.model_artifact == str(published / "model.tar.gz")
    assert result.output_artifact == str(published / "output.tar.gz")
    with tarfile.open(published / "model.tar.gz") as tar:
        assert sorted(tar.getnames()) == ["seen.json", "weights.bin"]
    with tarfile.open(published / "output.tar.gz") as tar:
        assert tar.getnames() == ["report.txt"]
    assert result.local_model.read_bytes() == (published / "model.tar.gz").read_bytes()


def test_metric_definitions_yield_the_last_logged_value(tmp_path: Path) -> None:
    spec = _spec(
        tmp_path, RECORDER, metric_definitions={"validation:auc": r"validation-auc:([0-9.]+)"}
    )
    result = run_training_job(spec)
    assert result.metrics == {"validation:auc": 0.75}
    assert "validation-auc:0.75" in result.log_file.read_text()


def test_live_output_reaches_the_callback_line_by_line(tmp_path: Path) -> None:
    lines: list[tuple[str, str]] = []
    run_training_job(_spec(tmp_path, RECORDER), on_line=lambda s, ln: lines.append((s, ln)))
    assert ("stdout", "[1]\ttrain-auc:0.8\tvalidation-auc:0.75") in lines


def test_code_comes_from_an_s3_sourcedir_named_by_sagemaker_hyperparameters(
    tmp_path: Path, s3: Any
) -> None:
    script = write_script(tmp_path / "src", "train.py", RECORDER)
    tarball = pack_files({"train.py": script}, tmp_path / "sourcedir.tar.gz")
    s3.upload_file(str(tarball), BUCKET, "code/sourcedir.tar.gz")
    s3.put_object(Bucket=BUCKET, Key="data/train/x.csv", Body=b"1,2\n")
    spec = _spec(
        tmp_path,
        RECORDER,
        source_dir=None,
        entry_point=None,
        channels={"train": f"s3://{BUCKET}/data/train"},
        output_path=f"s3://{BUCKET}/models",
        hyperparameters={
            "sagemaker_program": json.dumps("train.py"),
            "sagemaker_submit_directory": json.dumps(f"s3://{BUCKET}/code/sourcedir.tar.gz"),
            "max_depth": "5",
        },
    )
    result = run_training_job(spec, s3_client=s3)
    seen = _seen(result)
    assert seen["argv"] == ["--max_depth", "5"]
    assert seen["env"]["SM_USER_ENTRY_POINT"] == "train.py"
    assert seen["env"]["SM_MODULE_DIR"] == f"s3://{BUCKET}/code/sourcedir.tar.gz"
    assert seen["train_files"] == ["x.csv"]
    assert result.model_artifact == f"s3://{BUCKET}/models/job-1/output/model.tar.gz"
    assert s3_keys(s3, "models/") == [
        "models/job-1/output/model.tar.gz",
        "models/job-1/output/output.tar.gz",
    ]


def test_a_failing_script_is_reported_as_the_launcher_reports_it(tmp_path: Path) -> None:
    """The launcher overwrites the script's own failure file with ExecuteUserScriptError."""
    failing = """
        import os, sys
        from pathlib import Path
        Path(os.environ["SM_OUTPUT_DIR"], "failure").write_text("eta must be positive")
        print("noise on stderr", file=sys.stderr)
        sys.exit(3)
    """
    with pytest.raises(JobFailed) as failure:
        run_training_job(_spec(tmp_path, failing))
    python = Path(sys.executable).parent / "python3"
    launcher_text = f'ExecuteUserScriptError:\nCommand "{python} -m entry --eta 0.1 --max_depth 5"'
    assert failure.value.job_name == "job-1"
    assert failure.value.reason == f"AlgorithmError: {launcher_text}"
    assert (tmp_path / "work" / "job-1" / "output" / "failure").read_text() == launcher_text
    assert "eta must be positive" not in failure.value.reason
    assert not (tmp_path / "published").exists()


def test_missing_input_fails_the_job_before_the_script_runs(tmp_path: Path, s3: Any) -> None:
    spec = _spec(tmp_path, RECORDER, channels={"train": f"s3://{BUCKET}/nothing/here"})
    with pytest.raises(JobFailed, match="no S3 objects found under s3://runtime-test/nothing"):
        run_training_job(spec, s3_client=s3)
    assert not (tmp_path / "work" / "job-1" / "job.log").exists()


def test_a_missing_entry_module_fails_like_python_m_in_the_container(tmp_path: Path) -> None:
    spec = _spec(tmp_path, RECORDER, entry_point="absent.py")
    with pytest.raises(JobFailed, match=r"Command \".* -m absent --eta 0.1 --max_depth 5\""):
        run_training_job(spec)
    assert "No module named absent" in (tmp_path / "work" / "job-1" / "job.log").read_text()


def test_timeout_stops_the_job(tmp_path: Path) -> None:
    spec = _spec(tmp_path, "import time\ntime.sleep(30)\n", timeout_seconds=0.5)
    with pytest.raises(JobFailed, match=r"exceeded its timeout of 0.5 s"):
        run_training_job(spec)


def test_rerunning_a_job_name_starts_from_a_clean_directory(tmp_path: Path) -> None:
    stale = tmp_path / "work" / "job-1" / "model" / "stale.txt"
    stale.parent.mkdir(parents=True)
    stale.write_text("from an earlier run")
    result = run_training_job(_spec(tmp_path, RECORDER))
    with tarfile.open(result.local_model) as tar:
        assert "stale.txt" not in tar.getnames()


def test_a_failing_progress_callback_does_not_break_the_job(tmp_path: Path) -> None:
    def explode(stream: str, line: str) -> None:
        raise RuntimeError("display closed")

    result = run_training_job(_spec(tmp_path, RECORDER), on_line=explode)
    assert "progress callback failed" in result.log_file.read_text()
    assert (result.model_dir / "weights.bin").read_bytes() == b"model-bytes"
