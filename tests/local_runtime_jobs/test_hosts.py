"""Multi-instance jobs: N simulated hosts, each with its own ``/opt/ml``, its own
``resourceconfig.json`` and its part of every ``ShardedByS3Key`` input.

The quality check runs the real chain: preprocess.py in the scikit-learn image's environment,
then train.py in the XGBoost image's on one host and on two (the image's distributed mode:
XGBoost's collective over 127.0.0.1), each split in part files as a sharded channel needs.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest

from mlops.dataset.generator import write_csv
from mlops.local_runtime import (
    JobFailed,
    ProcessingJobSpec,
    TrainingJobSpec,
    run_processing_job,
    run_training_job,
)
from mlops.local_runtime.images import image_environment, image_for_uri
from mlops.local_runtime.jobs.hosts import LOCAL_ADDRESS
from sagemaker_pipelines import code as code_bundle
from tests.local_runtime_jobs.conftest import write_script

SCHEMA_ARGS = ["--target", "churn", "--positive-label", "Yes", "--drop-columns", "customer_id"]
SHARDED = {"input": "ShardedByS3Key"}
SKLEARN_IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.9-0-cpu-py3"
XGBOOST_IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:3.2-0"
# What each host saw and wrote: its resourceconfig, its input files, one output file per host.
HOST_PROBE = """
import json, os
from pathlib import Path
root = Path(os.environ["SM_PROCESSING_ROOT"])
config = json.loads((root.parent / "config" / "resourceconfig.json").read_text())
files = sorted(p.name for p in (root / "data").rglob("*") if p.is_file())
host = config["current_host"]
(root / "out" / f"{host}.json").write_text(json.dumps({
    "hosts": config["hosts"], "files": files, "map": os.environ.get("MLOPS_LOCAL_HOSTS"),
}))
"""
# algo-2 fails at once with a message; algo-1 would work for a minute.
ONE_HOST_FAILS = """
import json, os, sys, time
from pathlib import Path
root = Path(os.environ["SM_PROCESSING_ROOT"]).parent
if json.loads((root / "config" / "resourceconfig.json").read_text())["current_host"] == "algo-2":
    (root / "output" / "message").write_text("algo-2 gave up")
    sys.exit(3)
time.sleep(60)
"""


def _probe_job(tmp_path: Path, count: int, script: str = HOST_PROBE) -> ProcessingJobSpec:
    data = tmp_path / "data"
    data.mkdir(exist_ok=True)
    for index in range(3):
        (data / f"part-{index}.csv").write_text(f"{index}\n")
    code = write_script(tmp_path / "code", "probe.py", script)
    return ProcessingJobSpec(
        name="probe",
        code=code,
        work_dir=tmp_path / "work",
        inputs={"input": (data, "/opt/ml/processing/data")},
        outputs={"out": ("/opt/ml/processing/out", tmp_path / "published")},
        instance_count=count,
        input_distribution=SHARDED,
    )


def test_each_of_two_hosts_runs_with_its_own_shard_and_the_outputs_are_united(
    tmp_path: Path,
) -> None:
    result = run_processing_job(_probe_job(tmp_path, 2))
    seen = {
        path.stem: json.loads(path.read_text())
        for path in sorted((tmp_path / "published").glob("*.json"))
    }
    assert sorted(seen) == ["algo-1", "algo-2"]
    assert seen["algo-1"]["files"] == ["part-0.csv", "part-2.csv"]
    assert seen["algo-2"]["files"] == ["part-1.csv"]
    assert {tuple(entry["hosts"]) for entry in seen.values()} == {("algo-1", "algo-2")}
    assert seen["algo-1"]["map"] == seen["algo-2"]["map"]
    assert seen["algo-1"]["map"].startswith(f"algo-1={LOCAL_ADDRESS}:")
    log = result.log_file.read_text()
    assert log.index("==> algo-1 <==") < log.index("==> algo-2 <==")


def test_one_host_keeps_the_single_instance_layout(tmp_path: Path) -> None:
    run_processing_job(_probe_job(tmp_path, 1))
    seen = json.loads((tmp_path / "published" / "algo-1.json").read_text())
    assert seen == {
        "hosts": ["algo-1"],
        "files": ["part-0.csv", "part-1.csv", "part-2.csv"],
        "map": None,
    }


def test_two_hosts_writing_the_same_output_file_fail_the_job(tmp_path: Path) -> None:
    clash = 'import os\nopen(os.environ["SM_PROCESSING_ROOT"] + "/out/same.txt", "w").write("x")\n'
    with pytest.raises(JobFailed) as failure:
        run_processing_job(_probe_job(tmp_path, 2, clash))
    assert "algo-1 and algo-2 both wrote same.txt" in str(failure.value.exit_message)


def test_a_failing_host_fails_the_job_with_its_message_and_stops_the_other(
    tmp_path: Path,
) -> None:
    started = time.monotonic()
    with pytest.raises(JobFailed) as failure:
        run_processing_job(_probe_job(tmp_path, 2, ONE_HOST_FAILS))
    assert failure.value.exit_message == "algo-2 gave up"
    assert failure.value.reason.startswith("AlgorithmError")
    assert time.monotonic() - started < 30  # algo-1 was killed, not waited for


@pytest.fixture(scope="module")
def splits(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """preprocess.py's outputs for 6,000 generated rows, train and validation each written
    as two part files (``--parts 2``: what a sharded channel splits between two hosts)."""
    work = tmp_path_factory.mktemp("hosts-chain")
    raw = work / "raw"
    raw.mkdir()
    write_csv(raw / "churn.csv", rows=6000, seed=3)
    out = work / "splits"
    run_processing_job(
        ProcessingJobSpec(
            name="preprocess",
            code=code_bundle.PREPROCESS_SCRIPT,
            work_dir=work / "jobs",
            arguments=[*SCHEMA_ARGS, "--parts", "2"],
            inputs={"input": (raw, "/opt/ml/processing/input")},
            outputs={
                name: (f"/opt/ml/processing/{name}", out / name)
                for name in ("train", "validation", "test", "baseline", "spec")
            },
            image=image_environment(image_for_uri(SKLEARN_IMAGE)),
        )
    )
    for name in ("train", "validation"):
        assert sorted(path.name for path in (out / name).iterdir()) == [
            f"{name}-part-1.csv",
            f"{name}-part-2.csv",
        ]
    code = work / "code"
    code.mkdir()
    code_bundle.write_sourcedir_tarball(code / "sourcedir.tar.gz")
    return out


def test_preprocessing_on_two_hosts_fails_saying_it_runs_on_one(
    splits: Path, tmp_path: Path
) -> None:
    raw = splits.parent / "raw"
    with pytest.raises(JobFailed) as failure:
        run_processing_job(
            ProcessingJobSpec(
                name="preprocess",
                code=code_bundle.PREPROCESS_SCRIPT,
                work_dir=tmp_path,
                arguments=SCHEMA_ARGS,
                inputs={"input": (raw, "/opt/ml/processing/input")},
                input_distribution=SHARDED,
                instance_count=2,
                image=image_environment(image_for_uri(SKLEARN_IMAGE)),
            )
        )
    assert str(failure.value.exit_message).startswith(
        "preprocess failed: preprocessing runs on one instance, this job has 2 (algo-1, algo-2)"
    )


def _train(splits: Path, work: Path, count: int) -> dict[str, float]:
    sharded = {"S3DataDistributionType": "ShardedByS3Key"}
    result = run_training_job(
        TrainingJobSpec(
            name=f"train-{count}",
            channels={
                "train": splits / "train",
                "validation": splits / "validation",
                "spec": splits / "spec",
                "code": splits.parent / "code",
            },
            output_path=work / "models",
            work_dir=work / "jobs",
            hyperparameters={
                "max_depth": "5",
                "eta": "0.1",
                "num_round": "200",
                "early_stopping_rounds": "20",
                "sagemaker_program": json.dumps("train.py"),
                "sagemaker_submit_directory": json.dumps(
                    "/opt/ml/input/data/code/sourcedir.tar.gz"
                ),
            },
            metric_definitions=code_bundle.training_metric_definitions("binary"),
            channel_settings={"train": sharded, "validation": sharded},
            image=image_environment(image_for_uri(XGBOOST_IMAGE)),
            instance_count=count,
        )
    )
    assert result.local_model.is_file()
    return result.metrics


@pytest.mark.skipif((os.cpu_count() or 1) < 2, reason="two hosts need two cores")
def test_two_hosts_train_a_model_as_good_as_one_host(splits: Path, tmp_path: Path) -> None:
    one = _train(splits, tmp_path / "one", 1)
    two = _train(splits, tmp_path / "two", 2)
    # Both see every validation row (the collective sums the metric over the shards) and
    # grow trees on the same rows: the same quality within the noise of subsampled splits.
    assert two["validation:auc"] == pytest.approx(one["validation:auc"], abs=0.01)
    assert two["validation:logloss"] == pytest.approx(one["validation:logloss"], abs=0.02)
