"""End to end: `mlops pipeline run --local` executes the definition with real jobs.

S3 and the registry are a moto server on 127.0.0.1 (session fixture), shared with the CLI
subprocesses below the way the CLI shares one across invocations. Each run spawns real job
processes (seconds each), so runs are module-scoped and each test asserts on one of them.
"""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
import tarfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from mlops.cli.main import app
from mlops.core.errors import UserError
from mlops.local_runtime.aws import client

pytestmark = pytest.mark.slow

GROUP = "churn-mlops-models"


@dataclass(frozen=True)
class Run:
    exit_code: int
    summary: dict[str, Any]
    out: Path
    packages_before: int
    output: str


def _packages(url: str) -> list[dict[str, Any]]:
    sagemaker = client("sagemaker", endpoint_url=url, region="us-east-1")
    try:
        return list(
            sagemaker.list_model_packages(ModelPackageGroupName=GROUP)["ModelPackageSummaryList"]
        )
    except sagemaker.exceptions.ClientError:
        return []


def _run(url: str, out: Path, *arguments: str) -> Run:
    before = len(_packages(url))
    result = CliRunner().invoke(app, ["pipeline", "run", "--local", "--out", str(out), *arguments])
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    summary = json.loads((out / "summary.json").read_text())
    return Run(result.exit_code, summary, out, before, result.output)


@pytest.fixture(scope="module")
def succeeded(local_aws_url: str, churn_csv: Path, tmp_path_factory: pytest.TempPathFactory) -> Run:
    return _run(local_aws_url, tmp_path_factory.mktemp("ok"), "--data", str(churn_csv))


@pytest.fixture(scope="module")
def relabelled_csv(churn_csv: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The same data under another schema: target `label` with 1/0, id column `account`."""
    path = tmp_path_factory.mktemp("relabelled") / "accounts.csv"
    with churn_csv.open(newline="") as source, path.open("w", newline="") as target:
        reader, writer = csv.reader(source), csv.writer(target)
        header = next(reader)
        target_index, id_index = header.index("churn"), header.index("customer_id")
        header[target_index], header[id_index] = "label", "account"
        writer.writerow(header)
        for row in reader:
            row[target_index] = "1" if row[target_index] == "Yes" else "0"
            writer.writerow(row)
    return path


@pytest.fixture(scope="module")
def unreachable_threshold(
    local_aws_url: str, relabelled_csv: Path, tmp_path_factory: pytest.TempPathFactory
) -> Run:
    return _run(
        local_aws_url,
        tmp_path_factory.mktemp("threshold"),
        "--data",
        str(relabelled_csv),
        "--target",
        "label",
        "--positive-label",
        "1",
        "--drop-columns",
        "account",
        "--param",
        "AucThreshold=0.999",
        "--param",
        "NumRound=30",
    )


@pytest.fixture(scope="module")
def corrupt_input(
    local_aws_url: str, churn_csv: Path, tmp_path_factory: pytest.TempPathFactory
) -> Run:
    directory = tmp_path_factory.mktemp("corrupt")
    no_target = directory / "no_target.csv"
    with churn_csv.open(newline="") as source, no_target.open("w", newline="") as target:
        writer = csv.writer(target)
        for row in csv.reader(source):
            writer.writerow(row[:-1])  # drop the churn column
    return _run(local_aws_url, directory / "out", "--data", str(no_target))


def test_run_on_generated_data_succeeds_with_auc_above_the_threshold(succeeded: Run) -> None:
    assert succeeded.exit_code == 0, succeeded.output
    summary = succeeded.summary
    assert summary["status"] == "Succeeded"
    assert summary["failed_step"] is None
    assert summary["metrics"]["auc"] >= 0.75
    assert set(summary["metrics"]) == {"auc", "f1", "precision", "recall", "accuracy"}
    statuses = {step["name"]: step["status"] for step in summary["steps"]}
    assert statuses == {
        "Preprocess": "Succeeded",
        "DataQualityBaseline": "Succeeded",
        "Train": "Succeeded",
        "Evaluate": "Succeeded",
        "CheckMetric": "Succeeded",
        "Register": "Succeeded",
        "AucBelowThreshold": "NotExecuted",
    }
    assert all(step["seconds"] >= 0 for step in summary["steps"])


def test_summary_holds_exactly_the_documented_keys(succeeded: Run) -> None:
    # summary.json is an interface (README, docs/contracts.md §12): scripts read these keys.
    assert list(succeeded.summary) == [
        "status",
        "execution_id",
        "failed_step",
        "failure_reason",
        "input",
        "steps",
        "metrics",
        "model_package_arn",
        "model_data",
        "evaluation",
        "baseline_statistics",
        "baseline_constraints",
        "plots",
    ]
    assert succeeded.summary["input"].startswith("s3://churn-mlops-local-artifacts/input/")


def test_run_registers_a_package_with_metrics_and_drift_baselines(
    succeeded: Run, local_aws_url: str
) -> None:
    arn = succeeded.summary["model_package_arn"]
    package = client(
        "sagemaker", endpoint_url=local_aws_url, region="us-east-1"
    ).describe_model_package(ModelPackageName=arn)
    prefix = f"s3://churn-mlops-local-artifacts/churn-mlops-pipeline/{succeeded.summary['execution_id']}/"
    report_uri = package["ModelMetrics"]["ModelQuality"]["Statistics"]["S3Uri"]
    assert report_uri == prefix + "evaluate/evaluation.json"
    drift = package["DriftCheckBaselines"]["ModelDataQuality"]
    assert drift["Statistics"]["S3Uri"] == prefix + "data-quality/statistics.json"
    assert drift["Constraints"]["S3Uri"] == prefix + "data-quality/constraints.json"
    assert package["InferenceSpecification"]["Containers"][0]["ModelDataUrl"].startswith(
        prefix + "train/"
    )
    assert package["ModelApprovalStatus"] == "PendingManualApproval"
    bucket, _, key = report_uri.removeprefix("s3://").partition("/")
    body = client("s3", endpoint_url=local_aws_url, region="us-east-1").get_object(
        Bucket=bucket, Key=key
    )["Body"]
    report = json.loads(body.read())
    assert report["binary_classification_metrics"]["auc"]["value"] == pytest.approx(
        succeeded.summary["metrics"]["auc"]
    )


def test_run_copies_model_evaluation_plots_and_baseline_to_out(succeeded: Run) -> None:
    summary = succeeded.summary
    with tarfile.open(summary["model_data"]) as model:
        assert {"xgboost-model", "feature_spec.json", "code/inference.py"} <= set(model.getnames())
    assert json.loads(Path(summary["evaluation"]).read_text())["binary_classification_metrics"]
    statistics = json.loads(Path(summary["baseline_statistics"]).read_text())
    names = {feature["name"] for feature in statistics["features"]}
    assert "tenure_months" in names
    assert not names & {"churn", "customer_id"}
    assert Path(summary["baseline_constraints"]).is_file()
    assert summary["plots"]
    assert all(Path(plot).stat().st_size > 0 for plot in summary["plots"])
    assert all(
        Path(p).is_relative_to(succeeded.out) for p in [summary["model_data"], *summary["plots"]]
    )


def test_unreachable_threshold_fails_at_the_fail_step_and_registers_nothing(
    unreachable_threshold: Run, local_aws_url: str
) -> None:
    run = unreachable_threshold
    assert run.exit_code == 1
    assert run.summary["status"] == "Failed"
    assert run.summary["failed_step"] == "AucBelowThreshold"
    assert "is below the AucThreshold parameter 0.999" in run.summary["failure_reason"]
    assert run.summary["model_package_arn"] is None
    assert {s["name"]: s["status"] for s in run.summary["steps"]}["Register"] == "NotExecuted"
    assert len(_packages(local_aws_url)) == run.packages_before


def test_any_csv_matching_the_schema_flags_trains(unreachable_threshold: Run) -> None:
    # The relabelled dataset got through preprocess, train and evaluate under its own schema.
    statuses = {s["name"]: s["status"] for s in unreachable_threshold.summary["steps"]}
    assert statuses["Evaluate"] == "Succeeded"
    assert unreachable_threshold.summary["metrics"]["auc"] > 0.75
    with tarfile.open(unreachable_threshold.summary["model_data"]) as model:
        member = model.extractfile("feature_spec.json")
        assert member is not None
        spec = json.loads(member.read())
    assert (spec["target"], spec["positive_label"]) == ("label", "1")


def test_corrupt_input_fails_preprocess_with_a_reason_naming_the_problem(
    corrupt_input: Run, local_aws_url: str
) -> None:
    run = corrupt_input
    assert run.exit_code == 1
    assert run.summary["failed_step"] == "Preprocess"
    assert "'churn'" in run.summary["failure_reason"]
    assert "missing" in run.summary["failure_reason"]
    assert [s["status"] for s in run.summary["steps"]][1:] == ["NotExecuted"] * 6
    assert run.summary["model_data"] is None
    assert len(_packages(local_aws_url)) == run.packages_before


def test_unknown_parameter_is_a_user_error_before_anything_runs(
    local_aws_url: str, churn_csv: Path, tmp_path: Path
) -> None:
    result = CliRunner().invoke(
        app,
        [
            "pipeline",
            "run",
            "--local",
            "--data",
            str(churn_csv),
            "--out",
            str(tmp_path),
            "--param",
            "MaxDeph=3",
        ],
    )
    assert isinstance(result.exception, UserError)
    assert "unknown pipeline parameter 'MaxDeph'" in str(result.exception)
    assert "MaxDepth" in str(result.exception)


def _cli(*arguments: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mlops.cli.main", *arguments],
        capture_output=True,
        text=True,
        timeout=60,
        env=dict(os.environ),
        check=False,
    )


def test_approval_in_one_cli_process_is_seen_by_the_next(succeeded: Run) -> None:
    arn = succeeded.summary["model_package_arn"]
    approve = _cli("models", "approve", "--local", arn, "--reason", "AUC fine")
    assert approve.returncode == 0, approve.stderr
    listing = _cli("models", "list", "--local")
    assert listing.returncode == 0, listing.stderr
    row = next(line for line in listing.stdout.splitlines() if arn in line)
    assert "Approved" in row
    described = json.loads(_cli("models", "describe", "--local", arn).stdout)
    assert described["ApprovalDescription"] == "AUC fine"
    assert described["ModelMetrics"]["ModelQuality"]["Statistics"]["S3Uri"].endswith(
        "evaluation.json"
    )
    assert described["DriftCheckBaselines"]["ModelDataQuality"]["Statistics"]["S3Uri"]
