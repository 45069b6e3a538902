"""The whole lifecycle on the embedded default, as a newcomer's first run.

data → the pipeline definition executed locally → approval in the registry → a local
endpoint recorded in the registry like a real one → application traffic through boto3
``invoke_endpoint`` (a clean window, then a drifted one) → Model Monitor on each window's
captured data → ``summary.json`` and ``report.html``.

Every stage uses the same code a team uses on its own: the CLI's pipeline runner, the
registry helpers, the local endpoint, the application client and the monitoring package. The
demo only sequences them and keeps score.
"""

from __future__ import annotations

import contextlib
import json
import tarfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from rich.console import Console

from mlops.demo.traffic import TrafficBatch, clean_batch, drifted_batch
from mlops.errors import UserError
from mlops.local_aws import DEFAULT_STATE_DIR, client, ensure_bucket, ensure_local_aws
from mlops.settings import ProjectSettings

SUMMARY_FILE = "summary.json"
REPORT_FILE = "report.html"
_T = TypeVar("_T")


@dataclass(frozen=True)
class DemoOptions:
    """What a demo run does; the defaults finish in a few minutes on 2 cores."""

    rows: int = 20_000
    seed: int = 42
    traffic_rows: int = 1_000
    rows_per_request: int = 20
    out_dir: Path = Path("build/demo")
    state_dir: Path = DEFAULT_STATE_DIR


@dataclass
class _Window:
    """One monitoring window: the traffic sent and what the endpoint counted."""

    batch: TrafficBatch
    capture_uri: str
    invocations: int = 0
    captured_records: int = 0
    predictions: int = 0


class Stages:
    """Prints each stage as it starts and ends, and keeps the durations for the summary."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self.seconds: dict[str, float] = {}

    @contextmanager
    def stage(self, name: str, what: str) -> Iterator[None]:
        self.console.print(f"[bold cyan]▶ {name}[/] {what}")
        started = time.perf_counter()
        yield
        self.seconds[name] = round(time.perf_counter() - started, 2)
        self.console.print(f"[green]✔ {name}[/] {self.seconds[name]:.1f} s")


def run_demo(settings: ProjectSettings, options: DemoOptions, console: Console) -> dict[str, Any]:
    """Run every stage; return the summary (also written to ``out_dir/summary.json``)."""
    from mlops.datagen import write_csv

    started = time.perf_counter()
    out = options.out_dir
    out.mkdir(parents=True, exist_ok=True)
    stages = Stages(console)

    with stages.stage("local-aws", "starting (or reusing) the embedded AWS on 127.0.0.1"):
        endpoint_url = ensure_local_aws(options.state_dir)
        s3 = client("s3", endpoint_url=endpoint_url, region=settings.region)
        sagemaker = client("sagemaker", endpoint_url=endpoint_url, region=settings.region)
        console.print(f"  embedded AWS at {endpoint_url}")

    data = out / "data" / "churn.csv"
    with stages.stage("data", f"generating {options.rows:,} customers (seed {options.seed})"):
        write_csv(data, rows=options.rows, seed=options.seed)

    with stages.stage("pipeline", "executing the pipeline definition locally"):
        run = _run_pipeline(settings, data, out / "pipeline", options.state_dir, console)

    package_arn = str(run["model_package_arn"])
    with stages.stage("approve", f"approving {package_arn}"):
        approval_status = _approve(sagemaker, package_arn)

    with stages.stage("deploy", f"recording endpoint {settings.endpoint_name} in the registry"):
        model_data_url = _record_endpoint(sagemaker, settings, package_arn, endpoint_url)
        features = _feature_order(Path(str(run["model_data"])))

    scratch = out / "traffic"
    scratch.mkdir(parents=True, exist_ok=True)
    bucket = _capture_bucket(settings)
    ensure_bucket(s3, bucket)
    capture_root = f"s3://{bucket}/datacapture"
    target = settings.dataset.target
    windows = {
        "clean": _Window(
            clean_batch(features, target, options.traffic_rows, options.seed + 1, scratch),
            f"{capture_root}/clean",
        ),
        "drifted": _Window(
            drifted_batch(features, target, options.traffic_rows, options.seed + 2, scratch),
            f"{capture_root}/drifted",
        ),
    }
    for name, window in windows.items():
        with stages.stage(
            f"traffic-{name}", f"{options.traffic_rows:,} rows via boto3 invoke_endpoint"
        ):
            _serve_window(settings, window, model_data_url, s3, options.rows_per_request, scratch)
            console.print(
                f"  {window.invocations} invocations, {window.captured_records} captured records"
            )

    baseline_dir = Path(str(run["baseline_statistics"])).parent
    monitoring: dict[str, Any] = {}
    for name, window in windows.items():
        with stages.stage(f"monitor-{name}", f"Model Monitor on {window.capture_uri}"):
            monitoring[name] = _monitor_window(
                settings,
                name,
                window,
                baseline_dir,
                Path(str(run["evaluation"])),
                out / "monitoring" / name,
                s3,
                endpoint_url,
            )
            console.print(f"  {monitoring[name]['violations']} violation(s)")

    summary = _summary(
        settings, options, run, package_arn, approval_status, windows, monitoring, stages
    )
    summary["wall_seconds"] = round(time.perf_counter() - started, 1)
    (out / SUMMARY_FILE).write_text(json.dumps(summary, indent=2) + "\n")

    from mlops.demo.report import write_demo_report

    write_demo_report(out / REPORT_FILE, summary=summary, run=run, monitoring=monitoring)
    return summary


def _run_pipeline(
    settings: ProjectSettings, data: Path, out_dir: Path, state_dir: Path, console: Console
) -> dict[str, Any]:
    from sagemaker_pipelines.local.progress import RichProgress
    from sagemaker_pipelines.local.run import run_local_pipeline

    progress = RichProgress(console)
    local = run_local_pipeline(
        settings,
        data=data,
        out_dir=out_dir,
        state_dir=state_dir,
        observer=progress,
        on_line=progress.on_line,
    )
    summary = local.summary
    if summary["status"] != "Succeeded":
        raise UserError(
            f"the pipeline failed at step {summary['failed_step']}: {summary['failure_reason']} "
            f"(details in {local.summary_path})"
        )
    summary["summary_path"] = str(local.summary_path)
    return summary


def _approve(sagemaker: Any, package_arn: str) -> str:
    from sagemaker_pipelines.registry import set_approval

    after = set_approval(sagemaker, package_arn, "Approved", "approved by the local demo")
    return str(after.get("ModelApprovalStatus"))


def _record_endpoint(
    sagemaker: Any, settings: ProjectSettings, package_arn: str, endpoint_url: str
) -> str:
    """Create Model → EndpointConfig → Endpoint in the local registry, as CloudFormation would
    on AWS, so ``describe_endpoint`` answers for the local endpoint too."""
    from sagemaker_pipelines.registry import describe_package

    package = describe_package(sagemaker, package_arn)
    container = package["InferenceSpecification"]["Containers"][0]
    name = settings.endpoint_name
    version = package_arn.rsplit("/", 1)[-1]
    model_name = f"{name}-model-{version}"
    config_name = f"{name}-config-{version}"
    for delete in (
        lambda: sagemaker.delete_endpoint(EndpointName=name),
        lambda: sagemaker.delete_endpoint_config(EndpointConfigName=config_name),
        lambda: sagemaker.delete_model(ModelName=model_name),
    ):
        _ignore_missing(sagemaker, delete)
    sagemaker.create_model(
        ModelName=model_name,
        PrimaryContainer={
            "Image": container["Image"],
            "ModelDataUrl": container["ModelDataUrl"],
            "Environment": container.get("Environment", {}),
        },
        ExecutionRoleArn=f"arn:aws:iam::000000000000:role/{settings.project_name}-endpoint",
        EnableNetworkIsolation=True,
    )
    sagemaker.create_endpoint_config(
        EndpointConfigName=config_name,
        ProductionVariants=[
            {
                "VariantName": "AllTraffic",
                "ModelName": model_name,
                "InstanceType": settings.instances.endpoint_type,
                "InitialInstanceCount": settings.instances.endpoint_initial_count,
            }
        ],
        DataCaptureConfig={
            "EnableCapture": True,
            "InitialSamplingPercentage": settings.monitoring.capture_sampling_percentage,
            "DestinationS3Uri": f"s3://{_capture_bucket(settings)}/datacapture",
            "CaptureOptions": [{"CaptureMode": "Input"}, {"CaptureMode": "Output"}],
        },
    )
    sagemaker.create_endpoint(EndpointName=name, EndpointConfigName=config_name)
    return str(container["ModelDataUrl"])


def _ignore_missing(sagemaker: Any, call: Callable[[], _T]) -> None:
    with contextlib.suppress(sagemaker.exceptions.ClientError):  # not there yet: nothing to replace
        call()


def _feature_order(model_archive: Path) -> tuple[str, ...]:
    """The raw feature order the endpoint accepts, from the model's own feature spec."""
    with tarfile.open(model_archive) as archive:
        member = archive.extractfile("feature_spec.json")
        if member is None:
            raise UserError(f"{model_archive} has no feature_spec.json")
        spec = json.loads(member.read())
    return tuple(str(feature["name"]) for feature in spec["features"])


def _capture_bucket(settings: ProjectSettings) -> str:
    return f"{settings.project_name}-local-data"


def _serve_window(
    settings: ProjectSettings,
    window: _Window,
    model_data_url: str,
    s3: Any,
    rows_per_request: int,
    scratch: Path,
) -> None:
    """Serve the model with capture into this window's prefix and send its traffic: half the
    requests as CSV, half as JSON records, like a mix of applications would."""
    import boto3

    from inference.client import EndpointClient
    from mlops.local_runtime.serving import CaptureConfig, EndpointOptions, LocalEndpoint

    name = settings.endpoint_name
    options = EndpointOptions(
        endpoint_name=name,
        capture=CaptureConfig(
            destination=window.capture_uri,
            sampling_percentage=settings.monitoring.capture_sampling_percentage,
            endpoint_name=name,
            s3_client=s3,
        ),
    )
    endpoint = LocalEndpoint(
        model_data_url, options, s3_client=s3, work_dir=scratch / window.batch.name
    )
    with endpoint:
        runtime = boto3.client(
            "sagemaker-runtime",
            endpoint_url=endpoint.url,
            region_name=settings.region,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",  # noqa: S106 - the local endpoint checks nothing
        )
        app = EndpointClient(name, runtime_client=runtime)
        features = window.batch.features
        for index, chunk in enumerate(_chunks(window.batch.rows, rows_per_request)):
            if index % 2 == 0:
                answers = app.predict_csv(",".join(row) for row in chunk)
            else:
                answers = app.predict_records(_record(features, row) for row in chunk)
            window.predictions += len(answers)
    window.invocations = endpoint.stats.invocations
    window.captured_records = endpoint.capture.records_written if endpoint.capture else 0


def _chunks(rows: Sequence[list[str]], size: int) -> Iterator[Sequence[list[str]]]:
    for start in range(0, len(rows), size):
        yield rows[start : start + size]


def _record(features: Sequence[str], row: Sequence[str]) -> dict[str, Any]:
    """A JSON instance as an application builds it: numbers as numbers, blanks as null."""
    record: dict[str, Any] = {}
    for name, text in zip(features, row, strict=True):
        if text == "":
            record[name] = None
            continue
        try:
            number = float(text)
        except ValueError:
            record[name] = text
        else:
            record[name] = int(number) if number.is_integer() and "." not in text else number
    return record


def _monitor_window(
    settings: ProjectSettings,
    name: str,
    window: _Window,
    baseline_dir: Path,
    evaluation: Path,
    out_dir: Path,
    s3: Any,
    endpoint_url: str,
) -> dict[str, Any]:
    from monitoring.analysis import analyze
    from monitoring.metrics import publish
    from monitoring.report import write_analysis_report

    ground_truth = _write_ground_truth(window, s3, out_dir / "ground_truth.jsonl")
    result = analyze(
        baseline_dir,
        out_dir,
        capture=window.capture_uri,
        s3_client=s3,
        ground_truth=ground_truth,
        model_quality_baseline=evaluation,
        positive_label=settings.dataset.positive_label,
        prediction_threshold=settings.prediction_threshold,
    )
    cloudwatch = client("cloudwatch", endpoint_url=endpoint_url, region=settings.region)
    published = publish(
        cloudwatch,
        result.metrics,
        endpoint=settings.endpoint_name,
        schedule=f"{settings.endpoint_name}-data-quality",
    )
    report = write_analysis_report(
        result, out_dir / REPORT_FILE, title=f"Model Monitor: {name} window"
    )
    quality = result.model_quality
    return {
        "records": result.record_count,
        "violations": len(result.violations),
        "findings": [
            {
                "feature": violation.feature_name,
                "check": violation.constraint_check_type,
                "description": violation.description,
            }
            for violation in result.violations
        ],
        "model_quality": (
            {key: round(float(value), 4) for key, value in quality.metrics.items()}
            if quality is not None
            else None
        ),
        "model_quality_violations": [
            {"metric": v.metric_name, "description": v.description}
            for v in (quality.violations if quality is not None else [])
        ],
        "drift": {
            key.removeprefix("feature_baseline_drift_"): round(value, 4)
            for key, value in result.metric_values.items()
            if key.startswith("feature_baseline_drift_")
        },
        "metrics_published": published,
        "violations_file": str(result.violations_file),
        "report": str(report),
    }


def _write_ground_truth(window: _Window, s3: Any, path: Path) -> Path:
    """Ground truth as a labelling process would upload it: one record per captured
    inference, joined by eventId, the labels of its rows in order."""
    from monitoring.capture import input_rows, read_capture

    labels_by_row = {
        _row_key(row): label
        for row, label in zip(window.batch.rows, window.batch.labels, strict=True)
    }
    features = window.batch.features
    lines = []
    for record in read_capture(window.capture_uri, s3_client=s3):
        if record.endpoint_input is None:
            continue
        rows = input_rows(record.endpoint_input)
        keys = [
            _row_key([row.get(name) for name in features] if isinstance(row, dict) else row)
            for row in rows
        ]
        if not all(key in labels_by_row for key in keys):
            continue
        lines.append(
            json.dumps(
                {
                    "groundTruthData": {
                        "data": ",".join(labels_by_row[key] for key in keys),
                        "encoding": "CSV",
                    },
                    "eventMetadata": {
                        "eventId": record.event_id,
                        "inferenceTime": record.inference_time,
                    },
                    "eventVersion": "0",
                }
            )
        )
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n")
    return path


def _row_key(row: Sequence[Any]) -> tuple[str, ...]:
    """Rows compare equal whether they travelled as CSV text or as JSON numbers."""
    key = []
    for value in row:
        if value is None or value == "":
            key.append("")
            continue
        try:
            key.append(repr(float(value)))
        except (TypeError, ValueError):
            key.append(str(value))
    return tuple(key)


def _summary(
    settings: ProjectSettings,
    options: DemoOptions,
    run: dict[str, Any],
    package_arn: str,
    approval_status: str,
    windows: dict[str, _Window],
    monitoring: dict[str, Any],
    stages: Stages,
) -> dict[str, Any]:
    metrics = run.get("metrics", {})
    return {
        "rows": options.rows,
        "auc": metrics.get("auc"),
        "metrics": metrics,
        "model_package_arn": package_arn,
        "approval_status": approval_status,
        "endpoint": settings.endpoint_name,
        "invocations": sum(window.invocations for window in windows.values()),
        "captured_records": sum(window.captured_records for window in windows.values()),
        "predictions": sum(window.predictions for window in windows.values()),
        "violations_clean": monitoring["clean"]["violations"],
        "violations_drifted": monitoring["drifted"]["violations"],
        "drifted_findings": monitoring["drifted"]["findings"],
        "model_quality_violations_clean": len(monitoring["clean"]["model_quality_violations"]),
        "model_quality_violations_drifted": len(monitoring["drifted"]["model_quality_violations"]),
        "windows": {
            name: {
                "capture": window.capture_uri,
                "invocations": window.invocations,
                "captured_records": window.captured_records,
                **{k: v for k, v in monitoring[name].items() if k != "findings"},
            }
            for name, window in windows.items()
        },
        "pipeline": {
            "steps": run.get("steps", []),
            "summary": run.get("summary_path"),
            "model_data": run.get("model_data"),
            "evaluation": run.get("evaluation"),
            "baseline_statistics": run.get("baseline_statistics"),
            "baseline_constraints": run.get("baseline_constraints"),
            "plots": run.get("plots", []),
        },
        "stage_seconds": stages.seconds,
    }
