"""cdk-nag: the rule packs the app is checked against, and every acknowledged finding.

Each acknowledgement names one finding (rule + the exact wildcard) on one construct, with the
reason a security reviewer would accept. Anything new fails the synth (``ValidationFailed``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import aws_cdk as cdk
from cdk_nag import AwsSolutionsChecks, NIST80053R5Checks
from constructs import IConstruct

from infra.storage import DATA_CAPTURE_PREFIX, DATASET_PREFIX, MONITORING_REPORTS_PREFIX

if TYPE_CHECKING:
    from infra.app import Stacks

ACCOUNT = "<AWS::AccountId>"
PARTITION = "<AWS::Partition>"


def add_compliance_checks(app: cdk.App, *, nist: bool = True) -> None:
    """AwsSolutions always; NIST 800-53 rev 5 too (it checks endpoint-config KMS and more)."""
    cdk.Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    if nist:
        cdk.Validations.of(app).add_plugins(NIST80053R5Checks(app))


def acknowledge(scope: IConstruct, finding: str, reason: str) -> None:
    cdk.Validations.of(scope).acknowledge(cdk.Acknowledgment(id=finding, reason=reason))


def _wildcard(scope: IConstruct, resource: str, reason: str) -> None:
    acknowledge(scope, f"AwsSolutions::AwsSolutions-IAM5[Resource::{resource}]", reason)


def _sagemaker_container_basics(scope: IConstruct, region: str) -> None:
    """What every SageMakerRole carries (infra/roles.py)."""
    _wildcard(
        scope,
        f"arn:{PARTITION}:ecr:<AWS::Region>:*:repository/sagemaker-*",
        "SageMaker's prebuilt images (XGBoost, scikit-learn, model-monitor-analyzer) live in "
        "AWS-owned accounts that differ per region; pull-only actions, limited to repositories "
        "named sagemaker-* in this region.",
    )
    _wildcard(
        scope,
        "*",
        "Only ecr:GetAuthorizationToken and cloudwatch:PutMetricData, which support no "
        "resource-level permissions; PutMetricData is restricted by a cloudwatch:namespace "
        "condition to SageMaker's namespaces.",
    )
    _wildcard(
        scope,
        f"arn:aws:logs:{region}:{ACCOUNT}:log-group:/aws/sagemaker/*",
        "SageMaker writes job and endpoint logs to /aws/sagemaker/<kind> groups with streams "
        "named per job at run time; limited to SageMaker's log groups in this account/region.",
    )


def _bucket_objects(scope: IConstruct, bucket: str, prefix: str, why: str) -> None:
    _wildcard(scope, f"arn:{PARTITION}:s3:::{bucket}/{prefix}*", why)


def acknowledge_findings(stacks: Stacks) -> None:
    """All acknowledgements of the app, by stack."""
    region = stacks.storage.region
    data = stacks.storage.storage.refs.data_bucket.replace(cdk.Aws.ACCOUNT_ID, ACCOUNT)
    artifacts = stacks.storage.storage.refs.artifact_bucket.replace(cdk.Aws.ACCOUNT_ID, ACCOUNT)
    artifacts_why = (
        "Objects of the project's own artifact bucket, whose keys are per pipeline execution "
        "(execution id prefixes created at run time); no other bucket."
    )

    # Pipeline: the execution role used by the pipeline and every job it starts.
    pipeline_role = stacks.pipeline.node.find_child("ExecutionRole")
    group = stacks.pipeline.registry.group_name
    _sagemaker_container_basics(pipeline_role, region)
    for kind in ("processing-job", "training-job"):
        _wildcard(
            pipeline_role,
            f"arn:aws:sagemaker:{region}:{ACCOUNT}:{kind}/pipelines-*",
            "SageMaker Pipelines names step jobs pipelines-<execution id>-<step>-<hash> at run "
            "time; the prefix is fixed by the service and the actions are create/describe/stop.",
        )
    _wildcard(
        pipeline_role,
        f"arn:aws:sagemaker:{region}:{ACCOUNT}:model-package/{group}/*",
        "Model package versions are numbered at registration; scoped to this project's group.",
    )
    _bucket_objects(pipeline_role, artifacts, "", artifacts_why)
    _bucket_objects(
        pipeline_role,
        data,
        f"{DATASET_PREFIX}/",
        "The preprocessing job reads whichever dataset files are uploaded under the input "
        "prefix; read-only and limited to that prefix.",
    )

    # Serving: the hosted model's role and the monitor's role.
    serving = stacks.serving
    model_role = serving.node.find_child("ModelRole")
    monitor_role = serving.node.find_child("MonitorRole")
    for role in (model_role, monitor_role):
        _sagemaker_container_basics(role, region)
        _bucket_objects(
            role,
            artifacts,
            "",
            "Read-only: the model artifact and baselines of whichever version is approved "
            "live under that execution's prefix in the project's artifact bucket.",
        )
    _bucket_objects(
        monitor_role,
        data,
        f"{DATA_CAPTURE_PREFIX}/",
        "Read-only: captured traffic is partitioned by endpoint/variant/yyyy/mm/dd/hh.",
    )
    _bucket_objects(
        model_role,
        data,
        f"{DATA_CAPTURE_PREFIX}/",
        "Write-only (put/abort multipart): SageMaker writes data capture with the model's "
        "role, one object per endpoint/variant/yyyy/mm/dd/hh batch.",
    )
    _bucket_objects(
        monitor_role,
        data,
        f"{MONITORING_REPORTS_PREFIX}/",
        "Write-only (put/abort multipart): each monitoring run writes under its own prefix.",
    )

    # Deploy: the approval Lambda.
    deployer = stacks.deploy.deployer
    _wildcard(
        deployer,
        f"arn:aws:sagemaker:{region}:{ACCOUNT}:model-package/{group}/*",
        "DescribeModelPackage only, on versions of this project's group (numbered at "
        "registration).",
    )
    _wildcard(
        deployer,
        f"arn:aws:cloudformation:{region}:{ACCOUNT}:stack/{serving.stack_name}/*",
        "A stack ARN ends in an id generated at creation; the name pins the serving stack.",
    )
    _bucket_objects(
        deployer,
        artifacts,
        "",
        "GetObject (HEAD) to check that an approved version's baselines exist before "
        "deploying; their keys are per pipeline execution.",
    )
    acknowledge(
        deployer.function,
        "AwsSolutions::AwsSolutions-L1",
        "Pinned to python3.12, the runtime the handler is tested against (boto3 + stdlib); "
        "moving it is a deliberate, tested change rather than an automatic one.",
    )
    _acknowledge_nist(stacks)


def _nist(scope: IConstruct, rule: str, reason: str) -> None:
    acknowledge(scope, f"NIST.800.53.R5::NIST.800.53.R5-{rule}", reason)


def _acknowledge_nist(stacks: Stacks) -> None:
    """NIST 800-53 rev 5 findings that are design decisions of a single-region template."""
    storage = stacks.storage.storage
    for bucket in (storage.logs_bucket, storage.data_bucket, storage.artifact_bucket):
        _nist(
            bucket,
            "S3BucketReplicationEnabled",
            "Single-region template: versioning plus RETAIN protect against deletion and "
            "overwrite; cross-region replication (a second region's bucket and key) is an "
            "organisation's disaster-recovery decision, documented in docs/deploy.md.",
        )
    _nist(
        storage.logs_bucket,
        "S3DefaultEncryptionKMS",
        "S3 server access logging delivers only to SSE-S3 buckets; this bucket holds access "
        "logs, never project data (which is SSE-KMS with the project key).",
    )
    roles = [
        stacks.pipeline.node.find_child("ExecutionRole"),
        stacks.serving.node.find_child("ModelRole"),
        stacks.serving.node.find_child("MonitorRole"),
        stacks.deploy.deployer,
    ]
    for role in roles:
        _nist(
            role,
            "IAMNoInlinePolicy",
            "Each role's policy is specific to that role (ARNs of this project only) and lives "
            "and dies with it; a managed policy would invite reuse by other principals.",
        )
    _nist(
        stacks.serving,
        "CloudWatchAlarmAction",
        "The 5XX and latency alarms act through the endpoint's auto-rollback configuration; "
        "per-feature drift alarms feed the composite drift alarm (which optionally starts "
        "retraining). Paging targets are organisation-specific and added by the adopting team.",
    )
    retrain = stacks.serving.node.try_find_child("RetrainOnDrift")
    if retrain is not None:
        _nist(
            retrain,
            "IAMNoInlinePolicy",
            "EventBridge's role may only start this project's pipeline; the policy is specific "
            "to the rule and lives and dies with it.",
        )
    deployer = stacks.deploy.deployer
    _nist(
        deployer.log_group,
        "CloudWatchLogGroupEncrypted",
        "The log holds one line per deployment decision (ARNs and stack names, no data); "
        "CloudWatch Logs encrypts it at rest with service-managed keys.",
    )
    _nist(
        deployer.function,
        "LambdaDLQ",
        "EventBridge retries a failed invocation twice; a failed deployment stays visible in "
        "the Lambda Errors metric and the serving stack's events, and re-approving the "
        "version re-sends the event. A DLQ would hold nothing actionable.",
    )
    _nist(
        deployer.function,
        "LambdaInsideVPC",
        "The function calls only AWS control-plane APIs (SageMaker, CloudFormation, S3 HEAD); "
        "the template creates no VPC and a VPC would add NAT cost without reducing exposure.",
    )
