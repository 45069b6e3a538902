"""The main job end to end at small size: what `make demo` promises, checked on its summary."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from mlops.local_runtime.aws import client, running_endpoint, stop_local_aws


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, dict[str, Any], str]]:
    # Relative paths from the working directory, as `make demo` runs it.
    workdir = tmp_path_factory.mktemp("demo")
    out = workdir / "build" / "demo"
    state_dir = workdir / ".mlops"
    script = Path(sys.executable).parent / "mlops"
    result = subprocess.run(
        [
            str(script),
            "demo",
            "run",
            "--rows",
            "3000",
            "--traffic-rows",
            "300",
            "--out",
            "build/demo",
            "--state-dir",
            ".mlops",
        ],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
        cwd=workdir,
    )
    try:
        assert result.returncode == 0, result.stderr[-3000:]
        summary = json.loads((out / "summary.json").read_text())
        endpoint_url = running_endpoint(state_dir)
        assert endpoint_url is not None
        yield out, summary, endpoint_url
    finally:
        stop_local_aws(state_dir)


def test_model_is_registered_approved_and_good_enough(
    demo: tuple[Path, dict[str, Any], str],
) -> None:
    _, summary, endpoint_url = demo
    assert summary["auc"] >= 0.8
    assert summary["approval_status"] == "Approved"
    sagemaker = client("sagemaker", endpoint_url=endpoint_url, region="us-east-1")
    package = sagemaker.describe_model_package(ModelPackageName=summary["model_package_arn"])
    assert package["ModelApprovalStatus"] == "Approved"
    assert package["DriftCheckBaselines"]["ModelDataQuality"]["Statistics"]["S3Uri"].startswith(
        "s3://"
    )


def test_endpoint_is_recorded_in_the_local_registry(demo: tuple[Path, dict[str, Any], str]) -> None:
    _, summary, endpoint_url = demo
    sagemaker = client("sagemaker", endpoint_url=endpoint_url, region="us-east-1")
    endpoint = sagemaker.describe_endpoint(EndpointName=summary["endpoint"])
    config = sagemaker.describe_endpoint_config(EndpointConfigName=endpoint["EndpointConfigName"])
    assert config["DataCaptureConfig"]["InitialSamplingPercentage"] == 100


def test_every_invocation_is_captured_at_full_sampling(
    demo: tuple[Path, dict[str, Any], str],
) -> None:
    _, summary, _ = demo
    assert summary["invocations"] == 30  # 2 windows x 300 rows / 20 rows per request
    assert summary["captured_records"] == summary["invocations"]
    assert summary["predictions"] == 600


def test_a_version_reaches_production_only_through_staging_checks_and_a_promotion(
    demo: tuple[Path, dict[str, Any], str],
) -> None:
    _, summary, _ = demo
    first = [
        (move["stage"], move["status"])
        for move in summary["promotion"]["moves"]
        if move["version"] == 1
    ]
    assert first[:4] == [
        ("staging", "InService"),
        ("staging", "ChecksPassed"),
        ("prod", "Deploying"),
        ("prod", "InService"),
    ]


def test_rollback_returns_production_to_the_version_it_served_before(
    demo: tuple[Path, dict[str, Any], str],
) -> None:
    _, summary, endpoint_url = demo
    sagemaker = client("sagemaker", endpoint_url=endpoint_url, region="us-east-1")
    first, second = summary["model_package_arn"], summary["promotion"]["rolled_back"]
    assert second.endswith("/2")
    lifecycle = {
        arn: sagemaker.describe_model_package(ModelPackageName=arn)["ModelLifeCycle"]
        for arn in (first, second)
    }
    assert (lifecycle[first]["Stage"], lifecycle[first]["StageStatus"]) == ("prod", "InService")
    assert (lifecycle[second]["Stage"], lifecycle[second]["StageStatus"]) == ("prod", "RolledBack")
    assert summary["promotion"]["serving"] == {"staging": second, "prod": first}
    # The production endpoint's records serve the first version's model again.
    endpoint = sagemaker.describe_endpoint(EndpointName=summary["endpoint"])
    config = sagemaker.describe_endpoint_config(EndpointConfigName=endpoint["EndpointConfigName"])
    model = sagemaker.describe_model(ModelName=config["ProductionVariants"][0]["ModelName"])
    package = sagemaker.describe_model_package(ModelPackageName=first)
    served = package["InferenceSpecification"]["Containers"][0]["ModelDataUrl"]
    assert model["PrimaryContainer"]["ModelDataUrl"] == served


def test_clean_traffic_has_no_violations(demo: tuple[Path, dict[str, Any], str]) -> None:
    _, summary, _ = demo
    assert summary["violations_clean"] == 0
    assert summary["model_quality_violations_clean"] == 0


def test_drifted_traffic_is_flagged_on_the_drifted_features(
    demo: tuple[Path, dict[str, Any], str],
) -> None:
    _, summary, _ = demo
    assert summary["violations_drifted"] > 0
    flagged = {(f["feature"], f["check"]) for f in summary["drifted_findings"]}
    assert ("monthly_charges", "baseline_drift_check") in flagged
    assert ("total_charges", "completeness_check") in flagged
    untouched = {"age", "region", "payment_method"}
    assert not {feature for feature, _ in flagged} & untouched


def test_bias_drift_is_reported_on_the_drifted_window_only(
    demo: tuple[Path, dict[str, Any], str],
) -> None:
    # The drifted window makes half the customers seniors (the example's facet), nine in ten
    # of whom churn: the labels' disparity across the facet moves far past the baseline's.
    _, summary, _ = demo
    assert summary["bias_violations_clean"] == 0
    assert summary["bias_violations_drifted"] > 0
    flagged = {(v["facet"], v["metric"]) for v in summary["windows"]["drifted"]["bias_violations"]}
    assert ("senior_citizen", "DPL") in flagged


def test_attribution_drift_is_reported_on_the_drifted_window_only(
    demo: tuple[Path, dict[str, Any], str],
) -> None:
    # The drifted window reorders what drives the predictions (support calls and logins above
    # the contract): Clarify's NDCG falls below 0.9 there and stays near 1 on clean traffic.
    _, summary, _ = demo
    clean, drifted = summary["windows"]["clean"], summary["windows"]["drifted"]
    assert summary["attribution_violations_clean"] == 0
    assert summary["attribution_violations_drifted"] == 1
    assert clean["attribution"]["label0"] > 0.95
    assert drifted["attribution"]["label0"] < 0.9


def test_the_package_carries_every_monitor_baseline(
    demo: tuple[Path, dict[str, Any], str],
) -> None:
    _, summary, endpoint_url = demo
    sagemaker = client("sagemaker", endpoint_url=endpoint_url, region="us-east-1")
    package = sagemaker.describe_model_package(ModelPackageName=summary["model_package_arn"])
    baselines = package["DriftCheckBaselines"]
    assert set(baselines) == {"ModelDataQuality", "ModelQuality", "Bias", "Explainability"}
    assert baselines["Bias"]["ConfigFile"]["S3Uri"].endswith("/bias/analysis_config.json")
    assert baselines["Explainability"]["Constraints"]["S3Uri"].endswith(
        "/explainability/analysis.json"
    )
    assert package["ModelMetrics"]["ModelQuality"]["Constraints"]["S3Uri"].endswith(
        "constraints.json"
    )


def test_each_monitor_publishes_under_its_own_schedule(
    demo: tuple[Path, dict[str, Any], str],
) -> None:
    _, _, endpoint_url = demo
    cloudwatch = client("cloudwatch", endpoint_url=endpoint_url, region="us-east-1")
    schedules = {
        m["Namespace"]: {d["Value"] for d in m["Dimensions"] if d["Name"] == "MonitoringSchedule"}
        for page in cloudwatch.get_paginator("list_metrics").paginate()
        for m in page["Metrics"]
    }
    assert schedules["aws/sagemaker/Endpoints/data-metrics"] == {"churn-mlops-data-quality"}
    assert schedules["aws/sagemaker/Endpoints/model-metrics"] == {"churn-mlops-model-quality"}
    assert schedules["aws/sagemaker/Endpoints/bias-metrics"] == {"churn-mlops-bias-drift"}
    assert schedules["aws/sagemaker/Endpoints/explainability-metrics"] == {
        "churn-mlops-attribution-drift"
    }


def test_report_shows_metrics_plots_and_findings(demo: tuple[Path, dict[str, Any], str]) -> None:
    out, summary, _ = demo
    html = (out / "report.html").read_text()
    assert summary["model_package_arn"] in html
    assert html.count("data:image/png;base64,") >= 4
    assert "baseline_drift_check" in html
    assert (out / "monitoring" / "drifted" / "report.html").exists()


def test_summary_holds_exactly_the_documented_keys(demo: tuple[Path, dict[str, Any], str]) -> None:
    # summary.json is an interface (README, docs/contracts.md §12): scripts read these keys.
    _, summary, _ = demo
    assert list(summary) == [
        "rows",
        "problem_type",
        "auc",
        "metrics",
        "model_package_arn",
        "approval_status",
        "endpoint",
        "invocations",
        "captured_records",
        "predictions",
        "violations_clean",
        "violations_drifted",
        "drifted_findings",
        "model_quality_violations_clean",
        "model_quality_violations_drifted",
        "windows",
        "pipeline",
        "stage_seconds",
        "wall_seconds",
        "bias_violations_clean",
        "bias_violations_drifted",
        "attribution_violations_clean",
        "attribution_violations_drifted",
        "promotion",
    ]
    assert list(summary["promotion"]) == ["moves", "serving", "rolled_back"]
    assert list(summary["windows"]) == ["clean", "drifted"]
    assert list(summary["windows"]["drifted"]) == [
        "capture",
        "invocations",
        "captured_records",
        "records",
        "violations",
        "model_quality",
        "model_quality_violations",
        "drift",
        "metrics_published",
        "violations_file",
        "report",
        "bias_violations",
        "attribution",
        "attribution_violations",
    ]
    assert list(summary["pipeline"]) == [
        "steps",
        "summary",
        "model_data",
        "evaluation",
        "baseline_statistics",
        "baseline_constraints",
        "plots",
    ]


def test_published_drift_metrics_are_the_ones_the_stack_alarms_on(
    demo: tuple[Path, dict[str, Any], str], synthesized: Any
) -> None:
    # What the demo publishes locally must be what the deployed drift alarms watch: same
    # namespace, metric names and dimensions (Endpoint, MonitoringSchedule).
    _, _, endpoint_url = demo
    cloudwatch = client("cloudwatch", endpoint_url=endpoint_url, region="us-east-1")
    published = {
        (
            m["Namespace"],
            m["MetricName"],
            frozenset((d["Name"], d["Value"]) for d in m["Dimensions"]),
        )
        for page in cloudwatch.get_paginator("list_metrics").paginate()
        for m in page["Metrics"]
    }
    alarms = [
        alarm["Properties"]
        for alarm in synthesized.templates["Serving"]["Resources"].values()
        if alarm["Type"] == "AWS::CloudWatch::Alarm"
        # the data-quality drift alarms (the attribution alarm's name is a parameter: Fn::Join)
        and str(alarm["Properties"].get("MetricName", "")).startswith("feature_baseline_drift_")
    ]
    watched = {
        (
            a["Namespace"],
            a["MetricName"],
            frozenset((d["Name"], d["Value"]) for d in a["Dimensions"]),
        )
        for a in alarms
    }
    assert alarms
    assert watched <= published
