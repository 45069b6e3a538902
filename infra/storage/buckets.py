"""Encrypted storage for the project: one customer-managed key, data and artifact buckets.

The key's policy (``key_policy``) names the roles that use it; nobody else can call it directly.

Data (raw datasets, endpoint data capture, monitoring reports) and artifacts (pipeline outputs,
models, baselines) live in separate buckets so that access can be granted per purpose: the
endpoint's monitor reads captures but never writes models, the pipeline writes artifacts.
Everything is retained on stack deletion: models in the registry and baselines point here.
The buckets' cdk-nag acknowledgements (single-region design, SSE-S3 access logs) sit beside them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from aws_cdk import Aws, Duration, RemovalPolicy
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from constructs import Construct

from infra.network.placement import NetworkRefs
from infra.shared.acknowledgements import acknowledge_nist
from infra.storage.key_policy import ForeignReader, KeyUsers, project_key_policy
from mlops.core.names import ProjectNames

_SINGLE_REGION = (
    "Single-region template: versioning plus RETAIN protect against deletion and "
    "overwrite; cross-region replication (a second region's bucket and key) is an "
    "organisation's disaster-recovery decision, documented in docs/deploy.md."
)


@dataclass(frozen=True)
class StorageRefs:
    """What other stacks need from storage, with explicit least-privilege grants.

    Grants list exact actions (no ``s3:*Object*`` families) on exact prefixes.
    """

    data_bucket: str
    artifact_bucket: str
    key_arn: str
    # The VPC the stacks place their jobs, models and functions in (``network`` setting).
    network: NetworkRefs | None = None

    def grant_read(self, grantee: iam.IGrantable, bucket: str, prefix: str = "") -> None:
        principal = grantee.grant_principal
        principal.add_to_principal_policy(
            iam.PolicyStatement(
                actions=["s3:GetObject"],
                resources=[f"arn:{Aws.PARTITION}:s3:::{bucket}/{prefix}*"],
            )
        )
        principal.add_to_principal_policy(
            iam.PolicyStatement(
                actions=["s3:ListBucket", "s3:GetBucketLocation"],
                resources=[f"arn:{Aws.PARTITION}:s3:::{bucket}"],
            )
        )
        principal.add_to_principal_policy(
            iam.PolicyStatement(actions=["kms:Decrypt"], resources=[self.key_arn])
        )

    def grant_write(self, grantee: iam.IGrantable, bucket: str, prefix: str = "") -> None:
        principal = grantee.grant_principal
        principal.add_to_principal_policy(
            iam.PolicyStatement(
                actions=["s3:PutObject", "s3:AbortMultipartUpload"],
                resources=[f"arn:{Aws.PARTITION}:s3:::{bucket}/{prefix}*"],
            )
        )
        # Multipart uploads to SSE-KMS buckets need Decrypt as well as GenerateDataKey.
        principal.add_to_principal_policy(
            iam.PolicyStatement(
                actions=["kms:GenerateDataKey", "kms:Decrypt"], resources=[self.key_arn]
            )
        )

    def grant_volume_encryption(self, grantee: iam.IGrantable) -> None:
        """Let SageMaker encrypt the ML volumes of what ``grantee`` starts with the key.

        SageMaker creates a grant for the volume on the caller's behalf; the condition limits
        the grants to AWS resources. The key policy must name the role as well.
        """
        principal = grantee.grant_principal
        principal.add_to_principal_policy(
            iam.PolicyStatement(
                actions=["kms:CreateGrant"],
                resources=[self.key_arn],
                conditions={"Bool": {"kms:GrantIsForAWSResource": "true"}},
            )
        )
        principal.add_to_principal_policy(
            iam.PolicyStatement(actions=["kms:DescribeKey"], resources=[self.key_arn])
        )


class Storage(Construct):
    """A rotating KMS key plus SSL-only, versioned, access-logged, private buckets."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        names: ProjectNames,
        region: str,
        key_users: KeyUsers,
        account: str | None = None,
        foreign_readers: Sequence[ForeignReader] = (),
        network: NetworkRefs | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        self._names = {
            purpose: names.bucket(purpose, region=region, account=account or Aws.ACCOUNT_ID)
            for purpose in ("data", "artifacts", "access-logs")
        }

        self.key = kms.Key(
            self,
            "Key",
            alias=names.kms_alias,
            description=f"Encrypts {names.project} data, artifacts, endpoint volumes and captures",
            enable_key_rotation=True,
            removal_policy=RemovalPolicy.RETAIN,
            policy=project_key_policy(
                key_users,
                region=region,
                foreign_readers=foreign_readers,
                artifact_bucket=self._names["artifacts"],
            ),
        )

        # S3 server access logging delivers only to SSE-S3 buckets, so this one bucket cannot use
        # the customer-managed key; it holds access logs, never project data.
        self.logs_bucket = s3.Bucket(
            self,
            "AccessLogs",
            bucket_name=self._names["access-logs"],
            encryption=s3.BucketEncryption.S3_MANAGED,
            enforce_ssl=True,
            versioned=True,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            removal_policy=RemovalPolicy.RETAIN,
            lifecycle_rules=[s3.LifecycleRule(expiration=Duration.days(365))],
        )
        acknowledge_nist(self.logs_bucket, "S3BucketReplicationEnabled", _SINGLE_REGION)
        acknowledge_nist(
            self.logs_bucket,
            "S3DefaultEncryptionKMS",
            "S3 server access logging delivers only to SSE-S3 buckets; this bucket holds access "
            "logs, never project data (which is SSE-KMS with the project key).",
        )

        self.data_bucket = self._project_bucket("Data", "data")
        # S3 sends the data bucket's object events to EventBridge (the batch stack's new-data
        # trigger matches them). Set on the bucket itself: CDK's ``event_bridge_enabled`` would
        # add a Lambda-backed custom resource to do the same.
        data = self.data_bucket.node.default_child
        assert isinstance(data, s3.CfnBucket)
        data.add_property_override(
            "NotificationConfiguration.EventBridgeConfiguration.EventBridgeEnabled", True
        )
        self.artifact_bucket = self._project_bucket("Artifacts", "artifacts")
        # Deployment stages in other accounts read their model and baselines from here.
        for reader in foreign_readers:
            self.artifact_bucket.add_to_resource_policy(
                iam.PolicyStatement(
                    sid=f"Stage{reader.account}ReadsArtifacts",
                    principals=[iam.AccountPrincipal(reader.account)],
                    actions=["s3:GetObject"],
                    resources=[self.artifact_bucket.arn_for_objects(f"{reader.prefix}*")],
                    conditions={"ArnEquals": {"aws:PrincipalArn": list(reader.role_arns)}},
                )
            )
        self.refs = StorageRefs(
            data_bucket=self._names["data"],
            artifact_bucket=self._names["artifacts"],
            key_arn=self.key.key_arn,
            network=network,
        )

    def _project_bucket(self, construct_id: str, purpose: str) -> s3.Bucket:
        bucket = s3.Bucket(
            self,
            construct_id,
            bucket_name=self._names[purpose],
            encryption=s3.BucketEncryption.KMS,
            encryption_key=self.key,
            bucket_key_enabled=True,
            enforce_ssl=True,
            versioned=True,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            server_access_logs_bucket=self.logs_bucket,
            server_access_logs_prefix=f"{purpose}/",
            removal_policy=RemovalPolicy.RETAIN,
            lifecycle_rules=[
                s3.LifecycleRule(
                    abort_incomplete_multipart_upload_after=Duration.days(7),
                    noncurrent_version_expiration=Duration.days(90),
                )
            ],
        )
        acknowledge_nist(bucket, "S3BucketReplicationEnabled", _SINGLE_REGION)
        return bucket
