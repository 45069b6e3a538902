"""One project's whole lifecycle on a real table, as a data scientist runs it from the CLI.

``mlops init`` (a project of its own: its schema and names in its own settings file) →
``pipeline run --local`` → ``models approve --latest`` → the approved package served locally
with data capture → ``endpoint invoke`` (boto3, the rows with their id and target columns, as a
team has them) → ``monitor ground-truth`` (labels by id) → ``monitor run`` on the capture (data
quality and model quality) and on the raw rows (data quality). Each CLI call runs in this
process (typer's CliRunner), so the ML imports are paid once per worker.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pandas as pd
from typer.testing import CliRunner

from mlops.cli.main import app

ID_COLUMN = "row_id"
TRAFFIC_SHARE = 0.2


@dataclass(frozen=True)
class Lifecycle:
    """What each stage left behind."""

    project: str
    config: Path
    init_output: str
    run: dict[str, Any]
    run_dir: Path
    models_list: str
    raw_answer: dict[str, Any]  # one invoke_endpoint answer through boto3, parsed
    invoke_output: str
    traffic: pd.DataFrame
    ground_truth: Path
    quality: dict[str, Any]  # model_quality/statistics.json
    quality_violations: dict[str, Any]
    capture_violations: dict[str, Any]
    data_violations: dict[str, Any]
    captured_ids: set[str]


def cli(config: Path, *arguments: str) -> str:
    """``mlops --config CONFIG …`` in this process; its output, or the error it raised."""
    result = CliRunner().invoke(app, ["--config", str(config), *arguments])
    if result.exit_code != 0:
        if result.exception is not None and not isinstance(result.exception, SystemExit):
            raise result.exception
        raise AssertionError(
            f"mlops {' '.join(arguments)} exited {result.exit_code}: {result.output}"
        )
    return result.output


def run_lifecycle(
    project: str, table: pd.DataFrame, folder: Path, *, init_flags: tuple[str, ...] = ()
) -> Lifecycle:
    """The lifecycle of ``table`` (its target column named ``target``) as project ``project``."""
    table = table.copy()
    table.insert(0, ID_COLUMN, [f"{project}-{i:04d}" for i in range(len(table))])
    traffic = table.sample(frac=TRAFFIC_SHARE, random_state=7).sort_index()
    training = table.drop(index=traffic.index)
    data, rows = folder / "train.csv", folder / "new-rows.csv"
    training.to_csv(data, index=False)
    traffic.to_csv(rows, index=False)
    config = folder / "project.json"

    init_output = cli(
        config,
        *("init", "--project-name", project, "--data", str(data), "--target", "target"),
        *("--id-column", ID_COLUMN, *init_flags),
    )
    run_dir = folder / "run"
    cli(config, "pipeline", "run", "--local", "--data", str(data), "--out", str(run_dir))
    summary = json.loads((run_dir / "summary.json").read_text())
    cli(config, "models", "approve", "--local", "--latest", "--reason", "real-data test")
    models_list = cli(config, "models", "list", "--local")

    capture = folder / "capture"
    with _Served(config, capture) as url:
        raw_answer = _invoke_one(url, project, traffic)
        invoke_output = cli(
            config,
            *("endpoint", "invoke", "--local", "--endpoint-url", url, "--data", str(rows)),
            *("--header", "--accept", "application/json"),
        )
    ground_truth = folder / "ground-truth.jsonl"
    cli(
        config,
        *("monitor", "ground-truth", "--labels", str(rows), "--capture", str(capture)),
        *("--out", str(ground_truth)),
    )
    monitored = folder / "monitor-capture"
    cli(
        config,
        *("monitor", "run", "--capture", str(capture), "--baseline", str(run_dir / "baseline")),
        *("--out", str(monitored), "--ground-truth", str(ground_truth)),
        *("--model-quality-baseline", summary["evaluation"]),
    )
    checked = folder / "monitor-data"
    cli(
        config,
        *("monitor", "run", "--data", str(rows), "--baseline", str(run_dir / "baseline")),
        *("--out", str(checked), "--no-report"),
    )
    from monitoring.capture import read_capture

    return Lifecycle(
        project=project,
        config=config,
        init_output=init_output,
        run=summary,
        run_dir=run_dir,
        models_list=models_list,
        raw_answer=raw_answer,
        invoke_output=invoke_output,
        traffic=traffic,
        ground_truth=ground_truth,
        quality=_json(monitored / "model_quality" / "statistics.json"),
        quality_violations=_json(monitored / "model_quality" / "constraint_violations.json"),
        capture_violations=_json(monitored / "constraint_violations.json"),
        data_violations=_json(checked / "constraint_violations.json"),
        captured_ids={r.inference_id or "" for r in read_capture(capture)},
    )


class _Served:
    """The project's newest approved package served on 127.0.0.1, capturing into a folder."""

    def __init__(self, config: Path, capture: Path) -> None:
        from mlops.core.settings import load_settings
        from mlops.local_runtime.aws import client, ensure_local_aws
        from mlops.local_runtime.serving import CaptureConfig, EndpointOptions, LocalEndpoint
        from sagemaker_pipelines.registry import latest_approved

        settings = load_settings(cdk_json=config)
        url = ensure_local_aws()
        s3 = client("s3", endpoint_url=url, region=settings.region)
        sagemaker = client("sagemaker", endpoint_url=url, region=settings.region)
        package = latest_approved(sagemaker, settings.names.model_package_group)
        name = settings.names.endpoint
        self.endpoint = LocalEndpoint(
            package.model_data_url,
            EndpointOptions(
                endpoint_name=name,
                capture=CaptureConfig(destination=str(capture), endpoint_name=name),
            ),
            s3_client=s3,
        )

    def __enter__(self) -> str:
        self.endpoint.start()
        return str(self.endpoint.url)

    def __exit__(self, *exc: object) -> None:
        self.endpoint.stop()


def _invoke_one(url: str, project: str, traffic: pd.DataFrame) -> dict[str, Any]:
    """One row through plain boto3, as an application calls the endpoint (JSON answer)."""
    runtime = boto3.client(
        "sagemaker-runtime",
        endpoint_url=url,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    features = traffic.drop(columns=[ID_COLUMN, "target"]).iloc[0]
    body = ",".join("" if pd.isna(v) else str(v) for v in features.tolist())
    response = runtime.invoke_endpoint(
        EndpointName=f"{project}-endpoint",
        ContentType="text/csv",
        Accept="application/json",
        Body=body,
    )
    document: dict[str, Any] = json.loads(response["Body"].read())
    return document


def _json(path: Path) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(path.read_text())
    return document
