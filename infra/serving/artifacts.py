"""Reading a deployed version's artifacts (``model.tar.gz``, baselines) from a stage.

Every version's artifacts live in the project's artifact bucket, in the tooling account, under
the pipeline's prefix (``<pipeline>/<execution id>/…``), encrypted with the project key. A stage
in the same account reads them with ``StorageRefs.grant_read``. A stage in another account
cannot name the project key (its id is known only once the storage stack exists in the other
account), so its roles get:

- ``s3:GetObject`` on exactly that prefix of that bucket (the bucket policy in the tooling
  account names the same roles: ``infra.storage``'s ``ForeignReaders``);
- ``kms:Decrypt`` on the tooling account's keys of the stage's region, only through S3 and only
  for objects of that bucket (``kms:ViaService``, ``kms:EncryptionContext:aws:s3:arn``: S3
  asks KMS with the bucket's ARN as context, the bucket using an S3 Bucket Key). The key policy
  names the same roles.
"""

from __future__ import annotations

from dataclasses import dataclass

from aws_cdk import Aws
from aws_cdk import aws_iam as iam
from constructs import IConstruct

from infra.shared.acknowledgements import acknowledge_bucket_objects, acknowledge_wildcard
from infra.storage.buckets import StorageRefs


@dataclass(frozen=True)
class ArtifactSource:
    """The artifact bucket and prefix a stage's roles read, and from which account."""

    bucket: str
    prefix: str
    storage: StorageRefs  # the stage's own storage (same account: it holds the bucket too)
    tooling_account: str | None = None  # set when the bucket is in another account
    region: str | None = None

    @property
    def cross_account(self) -> bool:
        return self.tooling_account is not None

    def grant_read(self, scope: IConstruct, grantee: iam.IGrantable, reason: str) -> None:
        """Let ``grantee`` read the artifacts; ``scope`` carries the acknowledgement."""
        if not self.cross_account:
            self.storage.grant_read(grantee, self.bucket, self.prefix)
            acknowledge_bucket_objects(scope, self.bucket, self.prefix, reason)
            return
        principal = grantee.grant_principal
        principal.add_to_principal_policy(
            iam.PolicyStatement(
                sid="ReadProjectArtifacts",
                actions=["s3:GetObject"],
                resources=[f"arn:{Aws.PARTITION}:s3:::{self.bucket}/{self.prefix}*"],
            )
        )
        principal.add_to_principal_policy(
            iam.PolicyStatement(
                sid="DecryptProjectArtifactsThroughS3",
                actions=["kms:Decrypt"],
                resources=[self.tooling_keys],
                conditions={
                    "StringEquals": {
                        "kms:ViaService": f"s3.{self.region}.{Aws.URL_SUFFIX}",
                        "kms:EncryptionContext:aws:s3:arn": (
                            f"arn:{Aws.PARTITION}:s3:::{self.bucket}"
                        ),
                    }
                },
            )
        )
        acknowledge_bucket_objects(scope, self.bucket, self.prefix, reason)
        acknowledge_wildcard(
            scope,
            f"arn:<AWS::Partition>:kms:{self.region}:{self.tooling_account}:key/*",
            "The project key lives in the tooling account and its id is not known here; Decrypt "
            "is allowed only through S3 and only for objects of the project's artifact bucket "
            "(kms:ViaService, kms:EncryptionContext:aws:s3:arn), and the key policy names this "
            "role.",
        )

    @property
    def tooling_keys(self) -> str:
        return f"arn:{Aws.PARTITION}:kms:{self.region}:{self.tooling_account}:key/*"
