"""The local Batch Transform: a transform job run against the serving container, no Docker.

`job.run_transform_job` runs one job under the service's contract (splitting, mini-batches,
concurrency, DataProcessing filters and joins, ``.out`` objects, per-object failures, the data
log); `settings.TransformSettings` reads a CreateTransformJob request; `capture` writes and
reads the job's data-capture manifests; `workers.ContainerWorkers` serves a ``model.tar.gz``
through its own handlers, as the local endpoint does; `model.run_transform_request` runs a
request against the model it names; `run.run_local_batch` runs the batch pipeline end to end
and `monitor` checks a batch's data quality as the batch stack's schedule does.
"""

from mlops.local_runtime.batch.job import (
    COMPLETED,
    FAILED,
    ObjectOutcome,
    TransformJobResult,
    TransformJobSpec,
    run_transform_job,
)
from mlops.local_runtime.batch.settings import TransformRequestError, TransformSettings

__all__ = [
    "COMPLETED",
    "FAILED",
    "ObjectOutcome",
    "TransformJobResult",
    "TransformJobSpec",
    "TransformRequestError",
    "TransformSettings",
    "run_transform_job",
]
