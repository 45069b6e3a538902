"""Docker-less local runtime: SageMaker's container contracts on this machine.

Jobs (training, processing) live in ``mlops.local_runtime.jobs`` and are re-exported here;
the serving side lives in ``mlops.local_runtime.serving`` and is imported from there, so
running a job never pays for the web server's imports.
"""

from mlops.local_runtime.jobs import (
    JobFailed,
    LineCallback,
    ProcessingJobResult,
    ProcessingJobSpec,
    TrainingJobResult,
    TrainingJobSpec,
    run_processing_job,
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
