"""Training and processing jobs run locally under SageMaker's container contracts."""

from mlops.local_runtime.jobs.errors import JobFailed
from mlops.local_runtime.jobs.process import LineCallback
from mlops.local_runtime.jobs.processing import (
    ProcessingJobResult,
    ProcessingJobSpec,
    run_processing_job,
)
from mlops.local_runtime.jobs.training import (
    TrainingJobResult,
    TrainingJobSpec,
    run_training_job,
)

__all__ = [
    "JobFailed",
    "LineCallback",
    "ProcessingJobResult",
    "ProcessingJobSpec",
    "TrainingJobResult",
    "TrainingJobSpec",
    "run_processing_job",
    "run_training_job",
]
