"""Deterministic names derived from the settings: stacks, SSM parameters, SageMaker resources.

The CLI reads the SSM parameters named here to find what `cdk deploy` created, so these names
are a contract (docs/deploy.md lists them). Nothing here depends on time or randomness.
"""

from __future__ import annotations

from dataclasses import dataclass

from mlops.settings import ProjectSettings


@dataclass(frozen=True)
class ProjectNames:
    """Every name the infrastructure gives out, from one project name."""

    project: str
    pipeline: str
    model_package_group: str
    endpoint: str

    @classmethod
    def of(cls, settings: ProjectSettings) -> ProjectNames:
        return cls(
            project=settings.project_name,
            pipeline=settings.pipeline_name,
            model_package_group=settings.model_package_group,
            endpoint=settings.endpoint_name,
        )

    # Stacks -------------------------------------------------------------------------------
    @property
    def storage_stack(self) -> str:
        return f"{self.project}-storage"

    @property
    def pipeline_stack(self) -> str:
        return f"{self.project}-pipeline"

    @property
    def serving_stack(self) -> str:
        return f"{self.project}-serving"

    @property
    def deploy_stack(self) -> str:
        return f"{self.project}-deploy"

    # SageMaker monitoring -----------------------------------------------------------------
    @property
    def monitoring_schedule(self) -> str:
        return f"{self.project}-data-quality"

    @property
    def data_quality_job_definition_prefix(self) -> str:
        """The job definition name is this prefix + the model package version (see monitoring)."""
        return f"{self.project}-dq-v"

    @property
    def drift_alarm(self) -> str:
        return f"{self.project}-data-drift"

    # SSM parameters the CLI reads -----------------------------------------------------------
    def parameter(self, leaf: str) -> str:
        """``/<project>/<leaf>``, e.g. ``/churn-mlops/pipeline-name``."""
        return f"/{self.project}/{leaf}"
