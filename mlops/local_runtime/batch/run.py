"""One local batch execution end to end: stage the input, build, execute, collect, monitor.

What happens on AWS, here: the batch pipeline's definition (the JSON the batch stack deploys)
runs on the executor with the model package version given or the newest approved one; the
input lands under ``s3://<data bucket>/batch/input/<execution id>/``; predictions under
``batch/output/<execution id>/``; the job's capture manifests under ``batch/data-capture/``.
Afterwards the batch's data quality is checked against the package's drift-check baseline, as
the batch stack's monitoring schedule does on AWS (`monitor`). ``<out>/summary.json`` says
what happened, object by object.
"""

from __future__ import annotations

import json
import shutil
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from mlops.core.names import BATCH_INPUT_PREFIX, LOCAL_ACCOUNT
from mlops.core.s3uri import is_s3, split_s3_uri
from mlops.core.settings import ProjectSettings
from mlops.local_runtime.aws import DEFAULT_STATE_DIR, client, ensure_bucket, ensure_local_aws
from mlops.local_runtime.batch.model import OUTCOME_FILE
from mlops.local_runtime.batch.monitor import BatchMonitoring, monitor_batch
from mlops.local_runtime.executor.engine import ExecutionObserver, ExecutionResult, execute
from mlops.local_runtime.executor.handlers import LocalServices, default_handlers, job_name_for
from mlops.local_runtime.jobs.staging import get_file, put_file
from sagemaker_pipelines.batch import parameters as p
from sagemaker_pipelines.batch.definition import build_batch_definition, predictions_uri
from sagemaker_pipelines.batch.names import TRANSFORM
from sagemaker_pipelines.registry import latest_approved

SUMMARY_FILE = "summary.json"
DEFINITION_FILE = "definition.json"
PREDICTIONS_DIR = "predictions"
DATA_LOG_FILE = "data-log.txt"


@dataclass(frozen=True)
class LocalBatchRun:
    """The execution's result, its summary document and where it was written."""

    result: ExecutionResult
    summary: dict[str, Any]
    summary_path: Path

    @property
    def succeeded(self) -> bool:
        return self.result.status == "Succeeded"


def run_local_batch(
    settings: ProjectSettings,
    *,
    data: Path | str,
    out_dir: Path,
    model_package_arn: str | None = None,
    overrides: dict[str, str] | None = None,
    state_dir: Path = DEFAULT_STATE_DIR,
    observer: ExecutionObserver | None = None,
    on_line: Callable[[str, str], None] | None = None,
) -> LocalBatchRun:
    """Score ``data`` (a local file or directory, or an ``s3://`` prefix in the local S3).

    Raises ``sagemaker_pipelines.registry.RegistryError`` when no package is given and none is
    approved, ``FileNotFoundError`` for missing data, ``ParameterError`` for a bad override.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    endpoint = ensure_local_aws(state_dir)
    s3 = client("s3", endpoint_url=endpoint, region=settings.region)
    sagemaker = client("sagemaker", endpoint_url=endpoint, region=settings.region)
    bucket = settings.names.local_data_bucket
    ensure_bucket(s3, bucket)
    package = (
        model_package_arn or latest_approved(sagemaker, settings.names.model_package_group).arn
    )
    execution_id = uuid.uuid4().hex[:12]
    input_uri = upload_batch_input(s3, bucket, data, execution_id)
    definition = build_batch_definition(
        settings, role_arn=settings.names.local_pipeline_role_arn, data_bucket=bucket
    )
    (out_dir / DEFINITION_FILE).write_text(definition)
    work_dir = out_dir / "work"
    result = execute(
        definition,
        handlers=default_handlers(
            LocalServices(s3=s3, sagemaker=sagemaker, work_dir=work_dir, on_line=on_line)
        ),
        execution_id=execution_id,
        pipeline_name=settings.names.batch_pipeline,
        overrides={
            **(overrides or {}),
            p.MODEL_PACKAGE_ARN: package,
            p.INPUT_DATA_URL: input_uri,
        },
        observer=observer,
        account=LOCAL_ACCOUNT,
        region=settings.region,
    )
    outcome = _read_outcome(work_dir / job_name_for(TRANSFORM, execution_id) / OUTCOME_FILE)
    output_prefix = predictions_uri(bucket, execution_id) + "/"
    predictions = _collect_predictions(s3, outcome, output_prefix, out_dir / PREDICTIONS_DIR)
    if outcome.get("data_log"):
        shutil.copyfile(outcome["data_log"], out_dir / DATA_LOG_FILE)
    monitoring: BatchMonitoring | None = None
    if outcome.get("capture"):  # what the schedule would find: the objects that completed
        monitoring = monitor_batch(
            settings,
            sagemaker=sagemaker,
            s3=s3,
            package_arn=package,
            request=outcome["request"],
            job_name=str(outcome["name"]),
            out_dir=out_dir / "monitor",
        )
    summary = {
        "status": result.status,
        "execution_id": execution_id,
        "failed_step": result.failed_step,
        "failure_reason": result.failure_reason,
        "model_package_arn": package,
        "input": input_uri,
        "output": output_prefix,
        "parameters": {
            name: value
            for name, value in result.context.parameters.items()
            if name != p.MODEL_PACKAGE_ARN
        },
        "steps": [
            {"name": r.name, "type": r.type, "status": r.status, "seconds": r.seconds}
            for r in result.steps
        ],
        "records": outcome.get("records", 0),
        "objects": outcome.get("objects", []),
        "predictions": [str(path) for path in predictions],
        "data_log": str(out_dir / DATA_LOG_FILE) if outcome.get("data_log") else None,
        "capture": outcome.get("capture", []),
        "monitoring": monitoring.to_json() if monitoring is not None else None,
    }
    summary_path = out_dir / SUMMARY_FILE
    summary_path.write_text(json.dumps(summary, indent=2, default=str) + "\n")
    return LocalBatchRun(result, summary, summary_path)


def upload_batch_input(s3: Any, bucket: str, data: Path | str, execution_id: str) -> str:
    """The input prefix: an ``s3://`` URI as given, or a local file or directory uploaded under
    ``batch/input/<execution id>/`` (a directory keeps its layout, so outputs mirror it)."""
    if isinstance(data, str) and is_s3(data):
        return data
    path = Path(data)
    prefix = f"{BATCH_INPUT_PREFIX}/{execution_id}"
    if path.is_file():
        put_file(s3, path, bucket, f"{prefix}/{path.name}")
    elif path.is_dir():
        files = [item for item in sorted(path.rglob("*")) if item.is_file()]
        if not files:
            raise FileNotFoundError(f"no file under {path}")
        for item in files:
            put_file(s3, item, bucket, f"{prefix}/{item.relative_to(path).as_posix()}")
    else:
        raise FileNotFoundError(f"no data file or directory at {path}")
    return f"s3://{bucket}/{prefix}/"


def _read_outcome(path: Path) -> dict[str, Any]:
    """The transform job's outcome (empty when the job never started)."""
    if not path.is_file():
        return {}
    document: dict[str, Any] = json.loads(path.read_text())
    return document


def _collect_predictions(
    s3: Any, outcome: dict[str, Any], output_prefix: str, target: Path
) -> list[Path]:
    """Local copies of every published ``.out`` object, at its path under the output prefix."""
    outputs = [str(item["output"]) for item in outcome.get("objects", []) if item.get("output")]
    copies: list[Path] = []
    for uri in outputs:
        bucket, key = split_s3_uri(uri)
        local = target / uri.removeprefix(output_prefix)
        local.parent.mkdir(parents=True, exist_ok=True)
        try:
            get_file(s3, bucket, key, local)
        except (BotoCoreError, ClientError):
            continue
        copies.append(local)
    return copies
