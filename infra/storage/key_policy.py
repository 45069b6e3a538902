"""The project key's policy: the account administers the key, named roles use it.

CDK's default key policy gives the account root ``kms:*``, which lets any IAM policy in the
account use the key for anything. This one follows the AWS KMS pattern of separating key
administrators from key users:

- ``AdministerTheKey``: the account (through IAM) may manage the key (policy, rotation, tags,
  aliases, enable/disable, deletion) but not use it. This statement keeps the key manageable:
  without it nobody could ever change the policy again.
- ``ProjectRolesUseTheKey``: the pipeline, model and monitor roles, named by ARN, may encrypt
  and decrypt with it.
- ``SageMakerVolumeGrants``: the roles that start SageMaker jobs or endpoints (the pipeline and
  monitor roles, the serving stack's CloudFormation role, the CDK deployment role) may create
  grants for AWS resources only (SageMaker encrypts the ML volumes through such grants).
- ``DeployersDescribeTheKey``: the two CloudFormation roles may read the key's metadata.
- ``AccountPrincipalsThroughS3``: principals of this account may decrypt and generate data keys
  only through S3 in this region, i.e. to read and write the project's SSE-KMS buckets. Who may
  read which object is then decided by IAM and the bucket policies, as for any bucket; nobody
  outside the named roles can call the key directly.
- ``Stage<account>DecryptsArtifactsThroughS3`` (only with deployment stages in other accounts):
  that account's serving roles, named by ARN, may decrypt objects of the artifact bucket
  through S3 (to read a model and its baselines), nothing else.

The roles are named with ``aws:PrincipalArn`` under the account principal: a key policy cannot
name a role that does not exist yet, and the storage stack is deployed before the others.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from aws_cdk import Aws
from aws_cdk import aws_iam as iam

# Key management, never use: no Encrypt/Decrypt/ReEncrypt/GenerateDataKey*/CreateGrant.
ADMIN_ACTIONS = (
    "kms:CancelKeyDeletion",
    "kms:CreateAlias",
    "kms:DeleteAlias",
    "kms:DescribeKey",
    "kms:DisableKey",
    "kms:DisableKeyRotation",
    "kms:EnableKey",
    "kms:EnableKeyRotation",
    "kms:GetKeyPolicy",
    "kms:GetKeyRotationStatus",
    "kms:ListGrants",
    "kms:ListKeyPolicies",
    "kms:ListKeyRotations",
    "kms:ListResourceTags",
    "kms:PutKeyPolicy",
    "kms:RevokeGrant",
    "kms:RotateKeyOnDemand",
    "kms:ScheduleKeyDeletion",
    "kms:TagResource",
    "kms:UntagResource",
    "kms:UpdateAlias",
    "kms:UpdateKeyDescription",
)
DATA_ACTIONS = ("kms:Decrypt", "kms:GenerateDataKey")


@dataclass(frozen=True)
class ForeignReader:
    """Roles of another account (a deployment stage there) that read the project's artifacts:
    ``s3:GetObject`` under ``prefix`` of the artifact bucket, and ``kms:Decrypt`` of those
    objects through S3 only. The account's principal with ``aws:PrincipalArn`` conditions, never
    ``*``: the roles may not exist yet when the storage stack is deployed."""

    account: str
    role_arns: Sequence[str]
    prefix: str


@dataclass(frozen=True)
class KeyUsers:
    """Role ARNs (CloudFormation expressions) the policy names, by what they do."""

    data_users: Sequence[str]  # encrypt/decrypt project data
    grant_creators: Sequence[str]  # start SageMaker jobs/endpoints with encrypted volumes
    deployers: Sequence[str]  # CloudFormation roles that create the encrypted resources


def project_key_policy(
    users: KeyUsers,
    *,
    region: str,
    foreign_readers: Sequence[ForeignReader] = (),
    artifact_bucket: str | None = None,
) -> iam.PolicyDocument:
    """The key policy described in the module docstring (plus ``foreign_readers``' decrypts of
    ``artifact_bucket`` objects through S3)."""
    account = iam.AccountRootPrincipal()

    def named(arns: Sequence[str]) -> dict[str, object]:
        return {"ArnEquals": {"aws:PrincipalArn": list(arns)}}

    foreign = [
        iam.PolicyStatement(
            sid=f"Stage{reader.account}DecryptsArtifactsThroughS3",
            principals=[iam.AccountPrincipal(reader.account)],
            actions=["kms:Decrypt"],
            resources=["*"],
            conditions={
                **named(reader.role_arns),
                "StringEquals": {
                    "kms:ViaService": f"s3.{region}.{Aws.URL_SUFFIX}",
                    "kms:EncryptionContext:aws:s3:arn": f"arn:{Aws.PARTITION}:s3:::{artifact_bucket}",
                },
            },
        )
        for reader in foreign_readers
    ]
    return iam.PolicyDocument(
        statements=[
            *foreign,
            iam.PolicyStatement(
                sid="AdministerTheKey",
                principals=[account],
                actions=list(ADMIN_ACTIONS),
                resources=["*"],
            ),
            iam.PolicyStatement(
                sid="ProjectRolesUseTheKey",
                principals=[account],
                actions=[*DATA_ACTIONS, "kms:DescribeKey"],
                resources=["*"],
                conditions=named(users.data_users),
            ),
            iam.PolicyStatement(
                sid="SageMakerVolumeGrants",
                principals=[account],
                actions=["kms:CreateGrant"],
                resources=["*"],
                conditions={
                    **named(users.grant_creators),
                    "Bool": {"kms:GrantIsForAWSResource": "true"},
                },
            ),
            iam.PolicyStatement(
                sid="DeployersDescribeTheKey",
                principals=[account],
                actions=["kms:DescribeKey"],
                resources=["*"],
                conditions=named(users.deployers),
            ),
            iam.PolicyStatement(
                sid="AccountPrincipalsThroughS3",
                principals=[account],
                actions=list(DATA_ACTIONS),
                resources=["*"],
                conditions={
                    "StringEquals": {
                        "kms:ViaService": f"s3.{region}.{Aws.URL_SUFFIX}",
                        "kms:CallerAccount": Aws.ACCOUNT_ID,
                    }
                },
            ),
        ]
    )
