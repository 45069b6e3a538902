"""Copy what a user opens after a run (model, evaluation, plots, baseline) out of local S3.

Everything a local execution produces lives in the local S3 bucket under the execution's
prefix, as on AWS; these copies under ``--out`` are for people (open the plot, untar the model)
and for the summary's paths.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mlops.local_runtime.jobs.staging import split_s3_uri, stage_in
from sagemaker_pipelines.definition import (
    DATA_QUALITY,
    EVALUATE,
    TRAIN,
)
from sagemaker_pipelines.local.engine import ExecutionResult

_PLOT_SUFFIXES = (".png", ".svg", ".html", ".pdf")


@dataclass
class LocalArtifacts:
    """Local paths of the artifacts (None when the producing step did not run)."""

    model_data: Path | None = None
    evaluation: Path | None = None
    baseline_statistics: Path | None = None
    baseline_constraints: Path | None = None
    plots: list[Path] = field(default_factory=list)


def collect_artifacts(result: ExecutionResult, s3: Any, out_dir: Path) -> LocalArtifacts:
    """Download the artifacts of the steps that succeeded into ``out_dir``."""
    artifacts = LocalArtifacts()
    model_uri = result.properties(TRAIN).get("ModelArtifacts", {}).get("S3ModelArtifacts")
    if model_uri:
        artifacts.model_data = _download_object(s3, str(model_uri), out_dir / "model")
    outputs = result.properties(EVALUATE).get("ProcessingOutputConfig", {}).get("Outputs", [])
    for output in outputs:
        if output.get("OutputName") != "evaluation":
            continue
        files = stage_in(str(output["S3Output"]["S3Uri"]), out_dir / "evaluation", s3)
        for path in sorted(files):
            if path.name == "evaluation.json":
                artifacts.evaluation = path
            elif path.suffix.lower() in _PLOT_SUFFIXES:
                artifacts.plots.append(path)
    quality = result.properties(DATA_QUALITY)
    if quality.get("CalculatedBaselineStatistics"):
        artifacts.baseline_statistics = _download_object(
            s3, str(quality["CalculatedBaselineStatistics"]), out_dir / "baseline"
        )
        artifacts.baseline_constraints = _download_object(
            s3, str(quality["CalculatedBaselineConstraints"]), out_dir / "baseline"
        )
    return artifacts


def _download_object(s3: Any, uri: str, dest_dir: Path) -> Path:
    bucket, key = split_s3_uri(uri)
    dest_dir.mkdir(parents=True, exist_ok=True)
    target = dest_dir / key.rsplit("/", 1)[-1]
    s3.download_file(bucket, key, str(target))
    return target
