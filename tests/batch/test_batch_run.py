"""`mlops batch run --local` end to end: the batch pipeline's definition executed with the local
Batch Transform on a multi-file input, against the approved package of the local registry.

The parity test is the contract that matters to a user: a row scored in batch gets exactly the
answer the real-time endpoint gives for that row.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from mlops.cli.main import app
from mlops.local_runtime.batch.capture import read_captured_batches
from mlops.local_runtime.batch.run import LocalBatchRun, run_local_batch
from tests.batch.conftest import Package, batch_rows, write_rows
from tests.serving.conftest import ENDPOINT_NAME, runtime_client
from tests.serving.modelkit import BuiltModel

FILES = {"first.csv": (0, 40), "day2/second.csv": (40, 60)}
FILTERS = {"InputFilter": "$[1:]", "JoinSource": "Input", "OutputFilter": "$[0,-2,-1]"}


@pytest.fixture(scope="module")
def scored(
    approved_package: Package, test_model: BuiltModel, tmp_path_factory: pytest.TempPathFactory
) -> LocalBatchRun:
    data = tmp_path_factory.mktemp("batch-input")
    for name, (start, stop) in FILES.items():
        write_rows(data / name, batch_rows(test_model, start, stop))
    return run_local_batch(
        approved_package.settings,
        data=data,
        out_dir=tmp_path_factory.mktemp("batch-out"),
        overrides={**FILTERS, "MaxConcurrentTransforms": "1"},
    )


def _outputs(run: LocalBatchRun) -> dict[str, list[list[str]]]:
    predictions = Path(run.summary_path).parent / "predictions"
    return {
        path.relative_to(predictions).as_posix(): [
            line.split(",") for line in path.read_text().splitlines()
        ]
        for path in sorted(predictions.rglob("*.out"))
    }


def test_the_newest_approved_package_scores_every_object(
    scored: LocalBatchRun, approved_package: Package
) -> None:
    summary = scored.summary

    assert summary["status"] == "Succeeded"
    assert summary["model_package_arn"] == approved_package.arn
    assert [step["name"] for step in summary["steps"]] == ["CreateModel", "Transform"]
    assert summary["records"] == 60
    assert sorted(_outputs(scored)) == ["day2/second.csv.out", "first.csv.out"]


def test_batch_rows_get_what_the_real_time_endpoint_answers_row_by_row(
    scored: LocalBatchRun, endpoint: Any, test_model: BuiltModel
) -> None:
    runtime = runtime_client(endpoint.url)
    outputs = _outputs(scored)
    for name, (start, stop) in FILES.items():
        rows = outputs[f"{name}.out"]
        assert [row[0] for row in rows] == [f"C{i:05d}" for i in range(start, stop)]
        for row, features in zip(
            rows, test_model.raw.iloc[start:stop].to_numpy().tolist(), strict=True
        ):
            answer = (
                runtime.invoke_endpoint(
                    EndpointName=ENDPOINT_NAME,
                    Body=",".join(features),
                    ContentType="text/csv",
                    Accept="text/csv",
                )["Body"]
                .read()
                .decode()
            )
            assert ",".join(row[1:3]) == answer.strip()


def test_the_capture_manifests_pair_the_input_and_output_objects(
    scored: LocalBatchRun, approved_package: Package
) -> None:
    bucket = approved_package.settings.names.local_data_bucket
    capture = f"s3://{bucket}/batch/data-capture"
    job = f"transform-{scored.summary['execution_id']}"
    (batch,) = [b for b in read_captured_batches(capture, approved_package.s3) if b.job_name == job]

    assert [uri.removeprefix(scored.summary["input"]) for uri in batch.inputs] == [
        "day2/second.csv",
        "first.csv",
    ]
    assert [uri.removeprefix(scored.summary["output"]) for uri in batch.outputs] == [
        "day2/second.csv.out",
        "first.csv.out",
    ]
    assert scored.summary["capture"][0].startswith(f"{capture}/input/")


def test_the_batch_is_checked_against_the_packages_drift_baseline(scored: LocalBatchRun) -> None:
    monitoring = scored.summary["monitoring"]

    assert monitoring["skipped"] is None
    assert monitoring["records"] == 60
    written = json.loads(Path(monitoring["violations_file"]).read_text())["violations"]
    assert [(v["feature_name"], v["constraint_check_type"]) for v in written] == [
        (v["feature"], v["check"]) for v in monitoring["violations"]
    ]
    assert Path(monitoring["statistics"]).is_file()


def test_a_bad_object_fails_the_run_with_its_record_and_the_rest_is_scored(
    approved_package: Package, test_model: BuiltModel, tmp_path: Path
) -> None:
    data = tmp_path / "input"
    write_rows(data / "good.csv", batch_rows(test_model, 0, 10))
    rows = batch_rows(test_model, 10, 20)
    rows[3] = rows[3].replace(rows[3].split(",")[1], "forty", 1)
    write_rows(data / "bad.csv", rows)
    out = tmp_path / "out"

    result = CliRunner().invoke(
        app,
        [
            "--set",
            "dataset.id_column=customer_id",
            "batch",
            "run",
            "--local",
            "--data",
            str(data),
            "--out",
            str(out),
            "--param",
            "MaxConcurrentTransforms=1",
        ],
    )

    assert result.exit_code == 1, result.output
    summary = json.loads((out / "summary.json").read_text())
    assert summary["failed_step"] == "Transform"
    failures = {item["source"].rsplit("/", 1)[-1]: item["failure"] for item in summary["objects"]}
    assert failures == {
        "bad.csv": "record 4: row 1, column 'age': value 'forty' is not a number (ClientError 400)",
        "good.csv": None,
    }
    assert [Path(p).name for p in summary["predictions"]] == ["good.csv.out"]
    shown = " ".join(result.output.split())  # the console wraps long lines
    assert "failed bad.csv: record 4: row 1, column 'age': value 'forty'" in shown.replace(
        summary["input"].removeprefix("s3://"), ""
    )


def test_run_needs_local_and_existing_data(tmp_path: Path) -> None:
    runner = CliRunner()

    without_local = runner.invoke(app, ["batch", "run", "--data", str(tmp_path)])
    missing = runner.invoke(app, ["batch", "run", "--local", "--data", str(tmp_path / "none")])

    assert without_local.exit_code != 0
    assert "needs --local" in str(without_local.exception)
    assert missing.exit_code != 0
    assert "no such file or directory" in str(missing.exception)
