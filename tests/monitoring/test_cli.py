"""`mlops monitor baseline|run`: findings exit 0 with a summary; bad input is one error line."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pytest
from moto.server import ThreadedMotoServer
from typer.testing import CliRunner

from mlops.cli.main import app
from mlops.core.errors import UserError
from mlops.local_runtime.aws import client
from tests.monitoring.helpers import csv_capture, features_table, hour_key, write_csv

runner = CliRunner()


def _mlops(*args: str) -> subprocess.CompletedProcess[str]:
    script = Path(sys.executable).parent / "mlops"
    return subprocess.run(
        [str(script), *args], capture_output=True, text=True, timeout=120, check=False
    )


def _one_error_line(result: subprocess.CompletedProcess[str], fragment: str) -> None:
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error:")
    assert fragment in lines[0]


@pytest.fixture(scope="module")
def cli_baseline(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("cli")
    data = write_csv(features_table(5000, seed=7), root / "baseline.csv")
    result = runner.invoke(
        app, ["monitor", "baseline", "--data", str(data), "--out", str(root / "baseline")]
    )
    assert result.exit_code == 0, result.output
    assert "baselined 5,000 records" in result.output
    return root / "baseline"


def test_headerless_baseline_names_columns_like_the_analyzer(tmp_path: Path) -> None:
    data = write_csv(features_table(200, seed=1), tmp_path / "b.csv", header=False)
    result = runner.invoke(
        app,
        ["monitor", "baseline", "--data", str(data), "--out", str(tmp_path / "b"), "--no-header"],
    )
    assert result.exit_code == 0, result.output
    names = [
        f["name"] for f in json.loads((tmp_path / "b" / "statistics.json").read_text())["features"]
    ]
    assert names[:3] == ["_c0", "_c1", "_c2"]


def test_run_with_findings_exits_zero_and_summarises(cli_baseline: Path, tmp_path: Path) -> None:
    traffic = features_table(1000, seed=8)
    index = traffic.schema.get_field_index("age")
    shifted = traffic.set_column(index, "age", pc.add(traffic.column("age"), 30))
    data = write_csv(shifted, tmp_path / "current.csv")
    out = tmp_path / "out"
    result = runner.invoke(
        app,
        ["monitor", "run", "--data", str(data), "--baseline", str(cli_baseline), "--out", str(out)],
    )
    assert result.exit_code == 0, result.output
    assert "1 violation(s):" in result.output
    assert "age" in result.output
    assert "baseline_drift_check" in result.output
    assert (out / "constraint_violations.json").is_file()
    assert (out / "statistics.json").is_file()
    assert (out / "report.html").is_file()


def test_run_on_s3_capture_publishes_metrics(cli_baseline: Path, tmp_path: Path) -> None:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        url = f"http://{host}:{port}"
        s3 = client("s3", endpoint_url=url, region="us-east-1")
        s3.create_bucket(Bucket="capture")
        lines = "".join(
            json.dumps(r) + "\n"
            for r in csv_capture(features_table(300, seed=8), rows_per_request=3)
        )
        s3.put_object(Bucket="capture", Key=f"dc/{hour_key('churn-ep', 10)}", Body=lines)
        result = runner.invoke(
            app,
            [
                "monitor",
                "run",
                "--capture",
                "s3://capture/dc/churn-ep",
                "--baseline",
                str(cli_baseline),
                "--out",
                str(tmp_path / "out"),
                "--no-report",
                "--publish-metrics",
                "--endpoint",
                "churn-ep",
                "--endpoint-url",
                url,
            ],
        )
        assert result.exit_code == 0, result.output
        assert "analysed 300 records" in result.output
        assert "no violations" in result.output
        listed = client("cloudwatch", endpoint_url=url, region="us-east-1").list_metrics(
            Namespace="aws/sagemaker/Endpoints/data-metrics",
            Dimensions=[{"Name": "MonitoringSchedule", "Value": "churn-mlops-data-quality"}],
        )["Metrics"]
        assert any(m["MetricName"] == "feature_baseline_drift_age" for m in listed)
    finally:
        server.stop()


def test_publish_without_endpoint_is_a_user_error(cli_baseline: Path, tmp_path: Path) -> None:
    result = runner.invoke(
        app,
        [
            "monitor",
            "run",
            "--data",
            str(tmp_path / "x.csv"),
            "--baseline",
            str(cli_baseline),
            "--out",
            str(tmp_path),
            "--publish-metrics",
        ],
    )
    assert isinstance(result.exception, UserError)
    assert "--endpoint" in str(result.exception)


def test_no_records_is_one_error_line(cli_baseline: Path, tmp_path: Path) -> None:
    (tmp_path / "capture").mkdir()
    result = _mlops(
        "monitor",
        "run",
        "--capture",
        str(tmp_path / "capture"),
        "--baseline",
        str(cli_baseline),
        "--out",
        str(tmp_path / "out"),
    )
    _one_error_line(result, "no records")


def test_unreadable_baseline_is_one_error_line(tmp_path: Path) -> None:
    data = write_csv(pa.table({"a": [1, 2]}), tmp_path / "d.csv")
    result = _mlops(
        "monitor",
        "run",
        "--data",
        str(data),
        "--baseline",
        str(tmp_path / "nowhere"),
        "--out",
        str(tmp_path / "out"),
    )
    _one_error_line(result, "baseline directory not found")


def test_unreadable_data_is_one_error_line(tmp_path: Path) -> None:
    data = tmp_path / "data.parquet"
    data.write_text("not parquet")
    result = runner.invoke(
        app, ["monitor", "baseline", "--data", str(data), "--out", str(tmp_path / "b")]
    )
    assert isinstance(result.exception, UserError)
    assert "cannot read" in str(result.exception)
    assert "parquet" in str(result.exception)
