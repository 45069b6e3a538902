"""Data-quality monitoring of a transform job's batch, as the batch stack's schedule does it.

On AWS a ``DataQualityJobDefinition`` with ``BatchTransformInput`` reads the capture under
``DataCapturedDestinationS3Uri``: the input manifests of the jobs in its window, which name the
input objects. It reads those objects as ``DatasetFormat`` says (CSV without a header: columns
by position), skips the columns in ``ExcludeFeaturesAttribute`` (here the batch row's leading
id columns, `sagemaker_pipelines.batch.parameters.excluded_feature_indexes`) and checks the rest
against the baseline the model package carries as its drift-check baseline
(``DriftCheckBaselines.ModelDataQuality``). Locally the same: this job's input manifest → its
objects → the feature columns, streamed into one headerless CSV → ``monitoring.analysis``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mlops.core.s3uri import split_s3_uri
from mlops.core.settings import ProjectSettings
from mlops.local_runtime.batch.capture import read_captured_batches
from mlops.local_runtime.batch.dataprocessing import CSV_RECORDS, input_kind
from mlops.local_runtime.batch.objects import InputObject, open_input
from mlops.local_runtime.batch.records import csv_fields, csv_row, iter_line_blocks
from mlops.local_runtime.jobs.staging import get_file
from sagemaker_pipelines.batch.parameters import excluded_feature_indexes
from sagemaker_pipelines.registry import describe_package

CURRENT_DATA_FILE = "batch-features.csv"


@dataclass(frozen=True)
class BatchMonitoring:
    """What the monitoring execution found (or why it did not run)."""

    skipped: str | None = None
    records: int = 0
    violations: list[dict[str, str]] = field(default_factory=list)
    statistics: str | None = None
    violations_file: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "skipped": self.skipped,
            "records": self.records,
            "violations": self.violations,
            "statistics": self.statistics,
            "violations_file": self.violations_file,
        }


def monitor_batch(
    settings: ProjectSettings,
    *,
    sagemaker: Any,
    s3: Any,
    package_arn: str,
    request: dict[str, Any],
    job_name: str,
    out_dir: Path,
) -> BatchMonitoring:
    """Check the batch of transform job ``job_name`` (its CreateTransformJob ``request``)."""
    from monitoring.analysis import analyze
    from monitoring.errors import MonitoringInputError

    baseline = _baseline(sagemaker, s3, package_arn, out_dir / "baseline")
    if baseline is None:
        return BatchMonitoring(
            skipped=f"model package {package_arn} has no drift-check baseline "
            "(DriftCheckBaselines.ModelDataQuality)"
        )
    content_type = request.get("TransformInput", {}).get("ContentType")
    if input_kind(content_type) != CSV_RECORDS:
        return BatchMonitoring(
            skipped=f"the batch monitor reads CSV (DatasetFormat Csv); the input is {content_type}"
        )
    capture = request["DataCaptureConfig"]["DestinationS3Uri"]
    batches = [b for b in read_captured_batches(capture, s3) if b.job_name == job_name]
    inputs = [uri for batch in batches for uri in batch.inputs]
    excluded = {
        int(index) for index in excluded_feature_indexes(settings.dataset).split(",") if index
    }
    current = out_dir / CURRENT_DATA_FILE
    out_dir.mkdir(parents=True, exist_ok=True)
    with current.open("w", encoding="utf-8") as handle:
        for uri in inputs:
            item = InputObject(uri, uri.rsplit("/", 1)[-1], uri, 0)
            with open_input(item, s3) as stream:
                for block in iter_line_blocks(stream):
                    for row in block:
                        fields = csv_fields(row)
                        kept = [value for i, value in enumerate(fields) if i not in excluded]
                        handle.write(csv_row(kept) + "\n")
    try:
        result = analyze(baseline, out_dir, data=current, header=False)
    except MonitoringInputError as error:
        return BatchMonitoring(skipped=f"the monitoring job could not read the batch: {error}")
    return BatchMonitoring(
        records=result.record_count,
        violations=[
            {
                "feature": violation.feature_name,
                "check": violation.constraint_check_type,
                "description": violation.description,
            }
            for violation in result.violations
        ],
        statistics=str(result.statistics),
        violations_file=str(result.violations_file),
    )


def _baseline(sagemaker: Any, s3: Any, package_arn: str, target: Path) -> Path | None:
    """The package's drift-check statistics and constraints, downloaded into ``target``."""
    package = describe_package(sagemaker, package_arn)
    quality = (package.get("DriftCheckBaselines") or {}).get("ModelDataQuality") or {}
    statistics = (quality.get("Statistics") or {}).get("S3Uri")
    constraints = (quality.get("Constraints") or {}).get("S3Uri")
    if not statistics or not constraints:
        return None
    target.mkdir(parents=True, exist_ok=True)
    for uri, name in ((statistics, "statistics.json"), (constraints, "constraints.json")):
        bucket, key = split_s3_uri(str(uri))
        get_file(s3, bucket, key, target / name)
    return target
