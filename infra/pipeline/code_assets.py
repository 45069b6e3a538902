"""The container-side code of the pipeline, uploaded as content-addressed CDK assets.

A CDK file asset's S3 key is the hash of its bytes, so the code URIs in the pipeline
definition change exactly when the code changes: two synths of the same tree give the same
template, and an execution always runs the code its definition names.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from aws_cdk import Aws
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3_assets as s3_assets
from constructs import Construct


@dataclass(frozen=True)
class CodeFiles:
    """Local files to upload: three processing scripts and the training source tarball."""

    preprocess: Path
    evaluate: Path
    clarify: Path
    sourcedir_tarball: Path


class PipelineCode(Construct):
    """One file asset per code location the pipeline definition references."""

    def __init__(self, scope: Construct, construct_id: str, *, files: CodeFiles) -> None:
        super().__init__(scope, construct_id)
        self.preprocess = s3_assets.Asset(self, "Preprocess", path=str(files.preprocess))
        self.evaluate = s3_assets.Asset(self, "Evaluate", path=str(files.evaluate))
        self.clarify = s3_assets.Asset(self, "Clarify", path=str(files.clarify))
        # A single-file asset (not a directory) so the tarball is uploaded as built,
        # byte-for-byte, and its URI is stable across synths.
        self.training_source = s3_assets.Asset(
            self, "TrainingSource", path=str(files.sourcedir_tarball)
        )

    def grant_read(self, grantee: iam.IGrantable) -> None:
        """Jobs download exactly these four objects from the CDK asset bucket, nothing else."""
        grantee.grant_principal.add_to_principal_policy(
            iam.PolicyStatement(
                sid="ReadPipelineCode",
                actions=["s3:GetObject"],
                resources=[
                    f"arn:{Aws.PARTITION}:s3:::{asset.s3_bucket_name}/{asset.s3_object_key}"
                    for asset in (
                        self.preprocess,
                        self.evaluate,
                        self.clarify,
                        self.training_source,
                    )
                ],
            )
        )
