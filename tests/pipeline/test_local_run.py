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
import time
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
        "--id-column",
        "account",
        "--param",
        "MetricThreshold=0.999",
        "--param",
        "NumRound=30",
    )


@pytest.fixture(scope="module")
def constant_model(
    local_aws_url: str, churn_csv: Path, tmp_path_factory: pytest.TempPathFactory
) -> Run:
    # No split can gather this much hessian weight: every tree is a single leaf, every row
    # gets the base score, every answer is "No".
    return _run(
        local_aws_url,
        tmp_path_factory.mktemp("constant"),
        "--data",
        str(churn_csv),
        "--param",
        "MinChildWeight=1000000",
        "--param",
        "NumRound=5",
    )


def test_run_on_generated_data_succeeds_with_auc_above_the_threshold(succeeded: Run) -> None:
    assert succeeded.exit_code == 0, succeeded.output
    summary = succeeded.summary
    assert summary["status"] == "Succeeded"
    assert summary["failed_step"] is None
    assert summary["metrics"]["auc"] >= 0.75
    assert set(summary["metrics"]) == {"auc", "f1", "precision", "recall", "accuracy"}
    assert set(summary["standard_deviations"]) == set(summary["metrics"])
    statuses = {step["name"]: step["status"] for step in summary["steps"]}
    assert statuses == {
        "Preprocess": "Succeeded",
        "DataQualityBaseline": "Succeeded",
        "Train": "Succeeded",
        "Evaluate": "Succeeded",
        "ModelQualityBaseline": "Succeeded",
        "ModelBiasBaseline": "Succeeded",
        "ModelExplainabilityBaseline": "Succeeded",
        "CheckMetric": "Succeeded",
        "Register": "Succeeded",
        "CheckPredictions": "NotExecuted",
        "MetricBelowThreshold": "NotExecuted",
        "ConstantPredictions": "NotExecuted",
    }
    assert all(step["seconds"] >= 0 for step in summary["steps"])
    assert summary["gate"] == {
        "metric": "auc",
        "comparison": ">=",
        "threshold": 0.75,
        "value": summary["metrics"]["auc"],
        "passed": True,
    }


def test_summary_holds_exactly_the_documented_keys(succeeded: Run) -> None:
    # summary.json is an interface (README, docs/contracts.md §12): scripts read these keys.
    assert list(succeeded.summary) == [
        "status",
        "execution_id",
        "started",
        "failed_step",
        "failure_reason",
        "input",
        "dataset",
        "parameters",
        "overrides",
        "gate",
        "steps",
        "metrics",
        "standard_deviations",
        "warnings",
        "model_package_arn",
        "model_data",
        "evaluation",
        "baseline_statistics",
        "baseline_constraints",
        "feature_spec",
        "training_log",
        "plots",
        "report",
    ]
    assert succeeded.summary["input"].startswith("s3://churn-mlops-local-artifacts/input/")
    assert succeeded.summary["dataset"] == {
        "target": "churn",
        "problem_type": "binary",
        "positive_label": "Yes",
    }
    assert succeeded.summary["parameters"]["MaxDepth"] == 5


def test_every_run_writes_a_report_with_metrics_steps_and_the_training_log(
    succeeded: Run,
) -> None:
    report = Path(succeeded.summary["report"])
    assert report == succeeded.out / "report.html"
    html = report.read_text()
    for fragment in ('id="metrics"', "standard deviation", 'id="steps"', "CheckMetric"):
        assert fragment in html
    assert "<th>No</th><th>Yes</th>" in html  # the confusion matrix names the classes
    log = Path(succeeded.summary["training_log"])
    assert "[best]" in log.read_text()
    assert f'href="{log.relative_to(succeeded.out)}"' in html


def test_run_registers_a_package_with_metrics_baselines_and_its_dataset_and_gate(
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
    metadata = package["CustomerMetadataProperties"]
    assert metadata == {
        "problem-type": "binary",
        "target": "churn",
        "gate-metric": "auc",
        "gate-value": metadata["gate-value"],
        "gate-threshold": "0.75",
        "input-data": succeeded.summary["input"],
    }
    assert float(metadata["gate-value"]) == pytest.approx(succeeded.summary["metrics"]["auc"])
    bucket, _, key = report_uri.removeprefix("s3://").partition("/")
    body = client("s3", endpoint_url=local_aws_url, region="us-east-1").get_object(
        Bucket=bucket, Key=key
    )["Body"]
    report = json.loads(body.read())
    assert report["binary_classification_metrics"]["auc"]["value"] == pytest.approx(
        succeeded.summary["metrics"]["auc"]
    )


def test_run_copies_model_evaluation_plots_and_baseline_to_its_folder(succeeded: Run) -> None:
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


def test_two_training_instances_each_train_on_their_part_of_the_split(
    local_aws_url: str, churn_csv: Path, tmp_path: Path
) -> None:
    run = _run(
        local_aws_url, tmp_path, "--data", str(churn_csv), "--param", "TrainingInstanceCount=2"
    )

    assert run.exit_code == 0, run.output
    assert run.summary["metrics"]["auc"] >= 0.75
    (train_job,) = (tmp_path / "work").glob("train-*")
    shards = {
        host.name: sorted(path.name for path in (host / "input" / "data" / "train").iterdir())
        for host in sorted(train_job.glob("algo-*"))
    }
    assert shards == {"algo-1": ["train-part-1.csv"], "algo-2": ["train-part-2.csv"]}


def test_unreachable_threshold_fails_at_the_fail_step_and_registers_nothing(
    unreachable_threshold: Run, local_aws_url: str
) -> None:
    run = unreachable_threshold
    assert run.exit_code == 1
    assert run.summary["status"] == "Failed"
    assert run.summary["failed_step"] == "MetricBelowThreshold"
    assert "Test auc" in run.summary["failure_reason"]
    assert "is below the MetricThreshold parameter 0.999" in run.summary["failure_reason"]
    assert run.summary["gate"]["passed"] is False
    assert run.summary["overrides"] == {"MetricThreshold": "0.999", "NumRound": "30"}
    assert run.summary["model_package_arn"] is None
    assert {s["name"]: s["status"] for s in run.summary["steps"]}["Register"] == "NotExecuted"
    assert len(_packages(local_aws_url)) == run.packages_before


def test_a_failed_run_keeps_its_evaluation_but_no_model_archive(
    unreachable_threshold: Run,
) -> None:
    # A model.tar.gz beside a Failed summary would look deployable (work/ is the jobs' scratch:
    # each job's /opt/ml, kept for its log).
    summary = unreachable_threshold.summary
    assert summary["model_data"] is None
    out = unreachable_threshold.out
    assert not [p for p in out.rglob("model.tar.gz") if not p.is_relative_to(out / "work")]
    assert Path(summary["evaluation"]).is_file()
    assert "MetricBelowThreshold" in Path(summary["report"]).read_text()


def test_any_csv_matching_the_schema_flags_trains(unreachable_threshold: Run) -> None:
    # The relabelled dataset got through preprocess, train and evaluate under its own schema.
    statuses = {s["name"]: s["status"] for s in unreachable_threshold.summary["steps"]}
    assert statuses["Evaluate"] == "Succeeded"
    assert unreachable_threshold.summary["metrics"]["auc"] > 0.75
    spec = json.loads(Path(unreachable_threshold.summary["feature_spec"]).read_text())
    assert (spec["target"], spec["positive_label"], spec["negative_label"]) == ("label", "1", "0")
    assert "account" not in {feature["name"] for feature in spec["features"]}


def test_a_constant_model_fails_the_prediction_gate_with_its_reason(
    constant_model: Run, local_aws_url: str
) -> None:
    run = constant_model
    assert run.exit_code == 1
    assert run.summary["failed_step"] == "ConstantPredictions"
    assert run.summary["failure_reason"].startswith(
        "Constant predictions: the model predicts 'No' for all"
    )
    statuses = {s["name"]: s["status"] for s in run.summary["steps"]}
    assert (statuses["Register"], statuses["MetricBelowThreshold"]) == ("NotExecuted",) * 2
    assert run.summary["gate"]["passed"] is False
    assert len(_packages(local_aws_url)) == run.packages_before


def test_a_csv_without_the_target_is_refused_before_any_step_runs(
    local_aws_url: str, churn_csv: Path, tmp_path: Path
) -> None:
    no_target = tmp_path / "no_target.csv"
    with churn_csv.open(newline="") as source, no_target.open("w", newline="") as target:
        writer = csv.writer(target)
        for row in csv.reader(source):
            writer.writerow(row[:-1])  # drop the churn column
    started = time.perf_counter()
    result = CliRunner().invoke(
        app, ["pipeline", "run", "--local", "--data", str(no_target), "--out", str(tmp_path / "o")]
    )
    assert time.perf_counter() - started < 2.0
    assert isinstance(result.exception, UserError)
    assert "['churn'] are named in the dataset schema but not in the data" in str(result.exception)
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize(
    ("param", "message"),
    [
        ("MaxDeph=3", "unknown pipeline parameter 'MaxDeph'"),
        ("max_depth=6", "unknown pipeline parameter 'max_depth' (did you mean MaxDepth?)"),
        ("Eta=2", "pipeline parameter Eta: setting hyperparameters.eta = 2.0"),
        ("MetricThreshold=1.5", "pipeline parameter MetricThreshold: setting gate.threshold"),
        ("NumRound=many", "pipeline parameter NumRound is Integer, got 'many'"),
    ],
)
def test_a_bad_parameter_is_refused_within_two_seconds_before_anything_runs(
    local_aws_url: str, churn_csv: Path, tmp_path: Path, param: str, message: str
) -> None:
    started = time.perf_counter()
    result = CliRunner().invoke(
        app,
        [
            *("pipeline", "run", "--local", "--data", str(churn_csv)),
            *("--out", str(tmp_path / "o"), "--param", param),
        ],
    )
    assert time.perf_counter() - started < 2.0
    assert isinstance(result.exception, UserError)
    assert message in str(result.exception)
    assert not (tmp_path / "o").exists()


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
    row = next((line for line in listing.stdout.splitlines() if arn in line), None)
    assert row is not None, (arn, listing.stdout)
    assert "Approved" in row
    described = json.loads(_cli("models", "describe", "--local", arn).stdout)
    assert described["ApprovalDescription"] == "AUC fine"
    assert described["ModelMetrics"]["ModelQuality"]["Statistics"]["S3Uri"].endswith(
        "evaluation.json"
    )
    assert described["DriftCheckBaselines"]["ModelDataQuality"]["Statistics"]["S3Uri"]
