"""The monitor's CloudWatch metrics land where the managed monitor puts them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
from moto import mock_aws

from mlops.core.names import DATA_METRICS_NAMESPACE
from mlops.local_runtime.aws import client
from monitoring.analysis import analyze
from monitoring.metrics import publish
from tests.monitoring.helpers import write_csv


def test_published_metrics_are_queryable_by_endpoint_and_schedule(
    baseline_dir: Path, traffic: pa.Table, tmp_path: Path
) -> None:
    index = traffic.schema.get_field_index("monthly_charges")
    shifted = traffic.set_column(
        index, "monthly_charges", pc.add(traffic.column("monthly_charges"), 25.0)
    )
    result = analyze(baseline_dir, tmp_path / "out", data=write_csv(shifted, tmp_path / "c.csv"))
    drift = result.metric_values["feature_baseline_drift_monthly_charges"]
    assert drift > 0.1
    dimensions = [
        {"Name": "Endpoint", "Value": "churn-endpoint"},
        {"Name": "MonitoringSchedule", "Value": "churn-data-quality"},
    ]
    with mock_aws():
        cloudwatch = client("cloudwatch", endpoint_url=None, region="us-east-1")
        sent = publish(
            cloudwatch, result.metrics, endpoint="churn-endpoint", schedule="churn-data-quality"
        )
        assert sent == len(result.metrics)
        listed = cloudwatch.list_metrics(Namespace=DATA_METRICS_NAMESPACE)["Metrics"]
        assert {m["MetricName"] for m in listed} >= {
            "feature_baseline_drift_monthly_charges",
            "feature_non_null_total_charges",
            "feature_data_age",
        }
        now = datetime.now(UTC)
        stats = cloudwatch.get_metric_statistics(
            Namespace=DATA_METRICS_NAMESPACE,
            MetricName="feature_baseline_drift_monthly_charges",
            Dimensions=dimensions,
            StartTime=now - timedelta(hours=1),
            EndTime=now + timedelta(minutes=5),
            Period=3600,
            Statistics=["Maximum"],
        )["Datapoints"]
        assert stats[0]["Maximum"] == drift
