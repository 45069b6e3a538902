"""Copy what a user opens after a run (model, evaluation, plots, baseline, feature spec) out of
local S3.

Everything a local execution produces lives in the local S3 bucket under the execution's
prefix, as on AWS; these copies under ``--out`` are for people (open the plot, untar the model)
and for the summary's paths.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlops.core.s3uri import split_s3_uri
from mlops.local_runtime.executor.engine import SUCCEEDED, ExecutionResult
from mlops.local_runtime.jobs.staging import get_file, stage_in
from sagemaker_pipelines.definition import (
    DATA_QUALITY,
    EVALUATE,
    PREPROCESS,
    TRAIN,
)

_PLOT_SUFFIXES = (".png", ".svg", ".html", ".pdf")


@dataclass(frozen=True)
class LocalArtifacts:
    """Local paths of the artifacts (None when the producing step did not run)."""

    model_data: Path | None = None
    evaluation: Path | None = None
    baseline_statistics: Path | None = None
    baseline_constraints: Path | None = None
    plots: tuple[Path, ...] = ()
    feature_spec: Path | None = None  # preprocess's feature_spec.json (classes, warnings)
    training_log: Path | None = None  # the Train job's log in the run's work directory


def collect_artifacts(result: ExecutionResult, s3: Any, out_dir: Path) -> LocalArtifacts:
    """Download the artifacts of the steps that succeeded into ``out_dir``.

    The model of a failed execution stays in S3 (under the execution's prefix): a run folder
    never holds a ``model.tar.gz`` beside a Failed summary, where it would look deployable.
    The evaluation and plots are copied either way: they say why the gates refused it.
    """
    feature_spec = None
    for output in _outputs(result, PREPROCESS):
        if output.get("OutputName") == "spec":
            files = stage_in(str(output["S3Output"]["S3Uri"]), out_dir / "spec", s3)
            feature_spec = next((p for p in files if p.name == "feature_spec.json"), None)
    model_data = None
    model_uri = result.properties(TRAIN).get("ModelArtifacts", {}).get("S3ModelArtifacts")
    if model_uri and result.status == SUCCEEDED:
        model_data = _download_object(s3, str(model_uri), out_dir / "model")
    evaluation = None
    plots: list[Path] = []
    for output in _outputs(result, EVALUATE):
        if output.get("OutputName") != "evaluation":
            continue
        files = stage_in(str(output["S3Output"]["S3Uri"]), out_dir / "evaluation", s3)
        for path in sorted(files):
            if path.name == "evaluation.json":
                evaluation = path
            elif path.suffix.lower() in _PLOT_SUFFIXES:
                plots.append(path)
    statistics = constraints = None
    quality = result.properties(DATA_QUALITY)
    if quality.get("CalculatedBaselineStatistics"):
        statistics = _download_object(
            s3, str(quality["CalculatedBaselineStatistics"]), out_dir / "baseline"
        )
        constraints = _download_object(
            s3, str(quality["CalculatedBaselineConstraints"]), out_dir / "baseline"
        )
    return LocalArtifacts(
        model_data, evaluation, statistics, constraints, tuple(plots), feature_spec
    )


def _outputs(result: ExecutionResult, step: str) -> list[dict[str, Any]]:
    """The processing outputs a step that ran recorded (none when it did not)."""
    outputs = result.properties(step).get("ProcessingOutputConfig", {}).get("Outputs", [])
    return list(outputs)


def _download_object(s3: Any, uri: str, dest_dir: Path) -> Path:
    bucket, key = split_s3_uri(uri)
    dest_dir.mkdir(parents=True, exist_ok=True)
    target = dest_dir / key.rsplit("/", 1)[-1]
    return get_file(s3, bucket, key, target)
