"""Data-quality monitoring of the batches: a job definition with ``BatchTransformInput``.

The transform jobs capture to ``s3://<data bucket>/batch/data-capture`` (manifests of the
objects they read and wrote, filed by hour); the schedule's job reads the input manifests of its
window, the objects they name (CSV without a header: features by position, the leading id
columns excluded by ``ExcludeFeaturesAttribute``), and compares them with the baseline the
stack's parameters name: the drift-check baseline of the version the batches score with
(``DriftCheckBaselines.ModelDataQuality`` of the package; `mlops models describe` shows it).
Violations and statistics go to ``s3://<data bucket>/batch/monitoring/reports``; the job runs
network-isolated (in the VPC with the ``network`` setting) and encrypts with the project key. The local twin is
`mlops.local_runtime.batch.monitor`.
"""

from __future__ import annotations

from dataclasses import dataclass

from aws_cdk import aws_sagemaker as sagemaker
from constructs import Construct

from infra.network.placement import NetworkRefs
from mlops.core.names import ProjectNames

LOCAL_PATH = "/opt/ml/processing/input/batch"


@dataclass(frozen=True)
class BatchMonitorSpec:
    """Where the capture and the reports are, what to exclude, how often to run."""

    capture_uri: str
    reports_uri: str
    statistics_uri: str
    constraints_uri: str
    excluded_features: str  # ExcludeFeaturesAttribute: indexes of the leading id columns
    schedule_expression: str
    image_uri: str
    instance_type: str


class BatchMonitor(Construct):
    """The job definition and its schedule (no endpoint: the input is the batch capture)."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        names: ProjectNames,
        spec: BatchMonitorSpec,
        role_arn: str,
        key_arn: str,
        network: NetworkRefs | None = None,
    ) -> None:
        """``network``: the job attaches to the VPC with the jobs' groups (``network``)."""
        super().__init__(scope, construct_id)
        job = sagemaker.CfnDataQualityJobDefinition
        vpc_config = (
            job.VpcConfigProperty(
                security_group_ids=network.job_security_group_ids, subnets=network.subnet_ids
            )
            if network is not None
            else None
        )
        batch_input = job.BatchTransformInputProperty(
            data_captured_destination_s3_uri=spec.capture_uri,
            dataset_format=job.DatasetFormatProperty(csv=job.CsvProperty(header=False)),
            local_path=LOCAL_PATH,
            s3_input_mode="File",
            s3_data_distribution_type="FullyReplicated",
            exclude_features_attribute=spec.excluded_features or None,
        )
        self.job_definition = job(
            self,
            "JobDefinition",
            job_definition_name=names.batch_data_quality_job_definition,
            data_quality_app_specification=job.DataQualityAppSpecificationProperty(
                image_uri=spec.image_uri,
            ),
            data_quality_baseline_config=job.DataQualityBaselineConfigProperty(
                constraints_resource=job.ConstraintsResourceProperty(s3_uri=spec.constraints_uri),
                statistics_resource=job.StatisticsResourceProperty(s3_uri=spec.statistics_uri),
            ),
            data_quality_job_input=job.DataQualityJobInputProperty(
                batch_transform_input=batch_input
            ),
            data_quality_job_output_config=job.MonitoringOutputConfigProperty(
                kms_key_id=key_arn,
                monitoring_outputs=[
                    job.MonitoringOutputProperty(
                        s3_output=job.S3OutputProperty(
                            local_path="/opt/ml/processing/output",
                            s3_uri=spec.reports_uri,
                            s3_upload_mode="EndOfJob",
                        )
                    )
                ],
            ),
            job_resources=job.MonitoringResourcesProperty(
                cluster_config=job.ClusterConfigProperty(
                    instance_count=1,
                    instance_type=spec.instance_type,
                    volume_size_in_gb=20,
                    volume_kms_key_id=key_arn,
                )
            ),
            role_arn=role_arn,
            network_config=job.NetworkConfigProperty(
                enable_network_isolation=True, vpc_config=vpc_config
            ),
            stopping_condition=job.StoppingConditionProperty(max_runtime_in_seconds=1800),
        )
        schedule = sagemaker.CfnMonitoringSchedule
        self.schedule = schedule(
            self,
            "Schedule",
            monitoring_schedule_name=names.batch_monitoring_schedule,
            monitoring_schedule_config=schedule.MonitoringScheduleConfigProperty(
                monitoring_job_definition_name=names.batch_data_quality_job_definition,
                monitoring_type="DataQuality",
                schedule_config=schedule.ScheduleConfigProperty(
                    schedule_expression=spec.schedule_expression
                ),
            ),
        )
        self.schedule.add_resource_dependency(self.job_definition)
