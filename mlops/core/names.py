"""Every name the project gives out, on AWS and locally, derived from one project name.

The CDK stacks, the pipeline definition, the local runtime, the demo and the CLI all read names
from here, so what the demo publishes locally is what the stack's alarms watch on AWS, and a
renamed project renames everything at once. The SSM parameters named here are how the CLI finds
what ``cdk deploy`` created (docs/deploy.md lists them). Nothing depends on time or randomness.
"""

from __future__ import annotations

from dataclasses import dataclass

# Key prefixes inside the project's buckets (the same on AWS and in the local S3).
DATASET_PREFIX = "datasets/input"
DATA_CAPTURE_PREFIX = "data-capture"
MONITORING_REPORTS_PREFIX = "monitoring/reports"
# Batch inference in the data bucket: what to score, the predictions (one prefix per
# execution under it), and the transform jobs' data capture (one prefix for every job, so the
# batch monitoring schedule reads them by capture hour).
BATCH_INPUT_PREFIX = "batch/input"
BATCH_OUTPUT_PREFIX = "batch/output"
BATCH_CAPTURE_PREFIX = "batch/data-capture"
BATCH_MONITORING_REPORTS_PREFIX = "batch/monitoring/reports"

# S3 bucket names are at most 63 characters, IAM role names 64.
MAX_BUCKET_NAME = 63
MAX_ROLE_NAME = 64
# The one production variant every endpoint config of the project declares.
VARIANT_NAME = "AllTraffic"
# Model Monitor's CloudWatch metrics: namespaces and names as SageMaker publishes them.
DATA_METRICS_NAMESPACE = "aws/sagemaker/Endpoints/data-metrics"
MODEL_METRICS_NAMESPACE = "aws/sagemaker/Endpoints/model-metrics"
BIAS_METRICS_NAMESPACE = "aws/sagemaker/Endpoints/bias-metrics"
EXPLAINABILITY_METRICS_NAMESPACE = "aws/sagemaker/Endpoints/explainability-metrics"
# Ground truth for model quality and bias drift, in the data bucket: one object per upload under
# <prefix>/<endpoint>/yyyy/mm/dd/hh/ (the hour it was labelled), as Model Monitor reads it.
GROUND_TRUTH_PREFIX = "ground-truth"
# The four Model Monitor types, as the CLI and the names below call them, and the CloudWatch
# namespace each publishes to (real-time endpoints).
MONITOR_TYPES = ("data-quality", "model-quality", "bias", "explainability")
MONITOR_NAMESPACES = {
    "data-quality": DATA_METRICS_NAMESPACE,
    "model-quality": MODEL_METRICS_NAMESPACE,
    "bias": BIAS_METRICS_NAMESPACE,
    "explainability": EXPLAINABILITY_METRICS_NAMESPACE,
}


def feature_drift_metric(feature: str) -> str:
    """The data-quality monitor's drift distance of one feature (what drift alarms watch)."""
    return f"feature_baseline_drift_{feature}"


def bias_metric(metric: str) -> str:
    """A bias drift monitor's metric (``bias_metric_DPPL``), per stage, facet and label."""
    return f"bias_metric_{metric}"


def feature_attribution_metric(feature: str) -> str:
    """An explainability monitor's global SHAP value of one feature (``feature_age``)."""
    return f"feature_{feature}"


# The ``role`` purpose of a stage account's role that the tooling account assumes.
TOOLING_ACCESS_ROLE = "access"

# moto's default account: what the embedded AWS answers for GetCallerIdentity.
LOCAL_ACCOUNT = "123456789012"


@dataclass(frozen=True)
class ProjectNames:
    """Names of one project: SageMaker resources, stacks, alarms, SSM parameters, local stand-ins."""

    project: str

    # SageMaker resources ---------------------------------------------------------------------
    @property
    def pipeline(self) -> str:
        return f"{self.project}-pipeline"

    @property
    def model_package_group(self) -> str:
        return f"{self.project}-models"

    @property
    def endpoint(self) -> str:
        return f"{self.project}-endpoint"

    def job_prefix(self, step: str) -> str:
        """``base_job_name`` of a pipeline step's job (``<project>-preprocess``, …)."""
        return f"{self.project}-{step}"

    # Batch inference -------------------------------------------------------------------------
    @property
    def batch_pipeline(self) -> str:
        """The batch pipeline: CreateModel from a package version, then a transform job."""
        return f"{self.project}-batch"

    @property
    def batch_stack(self) -> str:
        return f"{self.project}-batch"

    @property
    def batch_schedule(self) -> str:
        """The EventBridge Scheduler schedule that starts the batch pipeline."""
        return f"{self.project}-batch-schedule"

    @property
    def batch_new_data_rule(self) -> str:
        """The EventBridge rule that starts the batch pipeline when input data lands."""
        return f"{self.project}-batch-on-new-data"

    @property
    def batch_starter_function(self) -> str:
        """The Lambda that resolves the approved package and starts the batch pipeline."""
        return f"{self.project}-batch-starter"

    @property
    def batch_monitoring_schedule(self) -> str:
        """The data-quality schedule over the transform jobs' capture."""
        return f"{self.project}-batch-data-quality"

    @property
    def batch_data_quality_job_definition(self) -> str:
        return f"{self.project}-batch-dq"

    # Deployment stages and CI/CD -------------------------------------------------------------
    def stage(self, name: str, *, production: bool) -> StageNames:
        """The names of deployment stage ``name`` (``mlops.core.stages``); the production stage
        (the last) keeps this project's own names."""
        return StageNames(project=self, stage=name, production=production)

    @property
    def deployer_function(self) -> str:
        """The Lambda that deploys a version to a stage (approval → first stage, promotions)."""
        return f"{self.project}-deployer"

    @property
    def cicd_stack(self) -> str:
        """The CI/CD bootstrap stack: GitHub Actions OIDC roles, one per stage."""
        return f"{self.project}-cicd"

    def ci_role_purpose(self, stage: str) -> str:
        """``role`` purpose of the CI/CD role that deploys and promotes into ``stage``."""
        return f"github-{stage}"

    # Stacks ----------------------------------------------------------------------------------
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

    @property
    def kms_alias(self) -> str:
        return f"alias/{self.project}"

    def bucket(self, purpose: str, *, account: str, region: str) -> str:
        """``<project>-<purpose>-<account>-<region>``: globally unique, the same on every synth.

        Fixed names let other stacks and the CLI address the buckets without cross-stack
        exports (and keep IAM resource ARNs readable in reviews and cdk-nag acknowledgements).
        ``account`` may be a CDK token; the length is checked for a 12-digit account id.
        """
        longest = len(f"{self.project}-{purpose}-{'0' * 12}-{region}")
        if longest > MAX_BUCKET_NAME:
            raise ValueError(
                f"project_name {self.project!r} is too long for the S3 bucket names "
                f"({longest} > {MAX_BUCKET_NAME} characters); shorten it by "
                f"{longest - MAX_BUCKET_NAME}"
            )
        return f"{self.project}-{purpose}-{account}-{region}"

    def role(self, purpose: str, *, region: str) -> str:
        """An IAM role name, ``<project>-<purpose>-<region>``, fixed at synth.

        Fixed because the storage stack's key policy and the PassRole statements name roles
        that later stacks create; the region keeps two regional deployments apart (IAM names
        are global to the account). ``purpose``: pipeline, model, monitor, retrain,
        cfn-serving, deployer (``infra.shared.role_names``).
        """
        name = f"{self.project}-{purpose}-{region}"
        if len(name) > MAX_ROLE_NAME:
            raise ValueError(
                f"IAM role name {name!r} is longer than {MAX_ROLE_NAME} characters; shorten "
                f"project_name by {len(name) - MAX_ROLE_NAME}"
            )
        return name

    # Monitoring and alarms -------------------------------------------------------------------
    @property
    def monitoring_schedule(self) -> str:
        """The data-quality schedule: the ``MonitoringSchedule`` dimension of its metrics."""
        return f"{self.project}-data-quality"

    @property
    def data_quality_job_definition_prefix(self) -> str:
        """The job definition name is this prefix + the model package version (see monitoring)."""
        return f"{self.project}-dq-v"

    @property
    def model_quality_schedule(self) -> str:
        """The model-quality schedule (captured predictions joined with ground truth)."""
        return f"{self.project}-model-quality"

    @property
    def bias_schedule(self) -> str:
        """The bias drift schedule (Clarify: facets, captured predictions, ground truth)."""
        return f"{self.project}-bias-drift"

    @property
    def explainability_schedule(self) -> str:
        """The feature-attribution drift schedule (Clarify SHAP on captured rows)."""
        return f"{self.project}-attribution-drift"

    def schedule(self, monitor: str) -> str:
        """The ``MonitoringSchedule`` of a monitor type (`MONITOR_TYPES`): its metrics'
        dimension, on AWS and in the local CloudWatch."""
        schedules = {
            "data-quality": self.monitoring_schedule,
            "model-quality": self.model_quality_schedule,
            "bias": self.bias_schedule,
            "explainability": self.explainability_schedule,
        }
        if monitor not in schedules:
            raise ValueError(f"unknown monitor {monitor!r}; one of {', '.join(MONITOR_TYPES)}")
        return schedules[monitor]

    @property
    def model_quality_job_definition_prefix(self) -> str:
        """+ the model package version, like the data-quality job definition."""
        return f"{self.project}-mq-v"

    @property
    def bias_job_definition_prefix(self) -> str:
        return f"{self.project}-bias-v"

    @property
    def explainability_job_definition_prefix(self) -> str:
        return f"{self.project}-explain-v"

    def served_model_prefix(self, revision: str) -> str:
        """The serving stack's ``Model`` of a package version is this prefix + the version
        (``churn-mlops-m1a2b3c-v7``), so the explainability monitor's config, written at
        deploy time, can name it. ``revision`` (6 characters) changes with the template's own
        model properties, so a template change can replace the model of the version being
        served. At most 43 + 10 characters: versions up to 10 digits fit SageMaker's 63.
        ``served_model_prefix("*") + "*"`` matches every revision and version."""
        return f"{self.project}-m{revision}-v"

    @property
    def model_quality_alarm(self) -> str:
        """Fires when the gate metric (``gate.metric``) crosses its baseline constraint."""
        return f"{self.project}-model-quality"

    @property
    def bias_drift_alarm(self) -> str:
        """Fires on a post-training bias metric beyond its baseline constraint."""
        return f"{self.project}-bias-drift"

    @property
    def attribution_drift_alarm(self) -> str:
        """Fires when a feature's global SHAP value leaves its baseline band."""
        return f"{self.project}-attribution-drift"

    @property
    def drift_alarm(self) -> str:
        return f"{self.project}-data-drift"

    def feature_drift_alarm(self, feature: str) -> str:
        return f"{self.drift_alarm}-{feature}"

    @property
    def errors_alarm(self) -> str:
        return f"{self.endpoint}-5xx-errors"

    @property
    def latency_alarm(self) -> str:
        return f"{self.endpoint}-model-latency"

    @property
    def scaling_policy(self) -> str:
        return f"{self.endpoint}-invocations-per-instance"

    # SSM parameters the CLI reads ------------------------------------------------------------
    def parameter(self, leaf: str) -> str:
        """``/<project>/<leaf>``, e.g. ``/churn-mlops/pipeline-name``."""
        return f"/{self.project}/{leaf}"

    # Local stand-ins for what the stacks create on AWS ---------------------------------------
    @property
    def local_artifact_bucket(self) -> str:
        """The local stand-in for the storage stack's artifact bucket."""
        return f"{self.project}-local-artifacts"

    @property
    def local_data_bucket(self) -> str:
        """The local stand-in for the storage stack's data bucket (data capture lands here)."""
        return f"{self.project}-local-data"

    @property
    def local_pipeline_role_arn(self) -> str:
        """The execution role the local definition names: moto records it, nothing assumes it."""
        return f"arn:aws:iam::{LOCAL_ACCOUNT}:role/{self.project}-pipeline-execution"

    @property
    def local_endpoint_role_arn(self) -> str:
        """The locally recorded Model's execution role (recorded, never assumed)."""
        return f"arn:aws:iam::{LOCAL_ACCOUNT}:role/{self.project}-endpoint"

    def endpoint_model(self, version: str) -> str:
        """The SageMaker Model of one deployed package version."""
        return f"{self.endpoint}-model-{version}"

    def endpoint_config(self, version: str) -> str:
        """The EndpointConfig of one deployed package version."""
        return f"{self.endpoint}-config-{version}"


@dataclass(frozen=True)
class StageNames:
    """Names of one deployment stage's resources (``mlops.core.stages``).

    A stage's endpoint, its alarms and monitor, its serving stack, its roles and (in another
    account) its storage are named as ``ProjectNames`` would name them for a project called
    ``<project>`` (the production stage: the names every deployment had before stages existed,
    so an existing endpoint stays the production one) or ``<project>-<stage>`` (every other
    stage: ``churn-mlops-staging-endpoint``). The registry, the pipeline and the SSM parameters
    stay the project's.
    """

    project: ProjectNames
    stage: str
    production: bool

    @property
    def resources(self) -> ProjectNames:
        """The names of this stage's own resources (``endpoint``, ``serving_stack``,
        ``errors_alarm``, ``monitoring_schedule``, ``role(…)``, ``bucket(…)``, …)."""
        if self.production:
            return self.project
        return ProjectNames(f"{self.project.project}-{self.stage}")

    @property
    def endpoint(self) -> str:
        return self.resources.endpoint

    @property
    def serving_stack(self) -> str:
        return self.resources.serving_stack

    @property
    def stage_stack(self) -> str:
        """A stage in another account: its storage, CloudFormation and tooling-access roles."""
        return f"{self.resources.project}-stage"

    def role(self, purpose: str, *, region: str) -> str:
        return self.resources.role(purpose, region=region)

    def tooling_access_role(self, *, region: str) -> str:
        """In a stage's own account: the role the tooling account's deployer and CI assume."""
        return self.role(TOOLING_ACCESS_ROLE, region=region)
