"""ECR repository ARNs of the SageMaker images the project runs, known at synth.

The prebuilt images (scikit-learn, XGBoost, model-monitor-analyzer) live in AWS-owned accounts
that differ per region and per framework; the SDK's ``image_uris.retrieve`` names them offline.
Pull permissions name exactly those repositories rather than every account's ``sagemaker-*``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

# <account>.dkr.ecr.<region>.<dns suffix>/<repository>[:tag | @digest]
_IMAGE_URI = re.compile(
    r"^(?P<account>\d{12})\.dkr\.ecr\.(?P<region>[a-z0-9-]+)\.(?P<suffix>amazonaws\.com(?:\.cn)?)"
    r"/(?P<repository>[a-z0-9][a-z0-9._/-]*?)(?::[\w.-]+|@sha256:[0-9a-f]{64})?$"
)
_PARTITIONS = {"amazonaws.com": "aws", "amazonaws.com.cn": "aws-cn"}


def ecr_repository_arn(image_uri: str) -> str:
    """``<account>.dkr.ecr.<region>.amazonaws.com/<repo>:<tag>`` → the repository's ARN."""
    match = _IMAGE_URI.match(image_uri)
    if match is None:
        raise ValueError(f"not an ECR image URI: {image_uri!r}")
    partition = _PARTITIONS[match["suffix"]]
    return (
        f"arn:{partition}:ecr:{match['region']}:{match['account']}:repository/{match['repository']}"
    )


def ecr_repository_arns(image_uris: Iterable[str]) -> list[str]:
    """The distinct repositories of ``image_uris``, sorted (stable templates)."""
    return sorted({ecr_repository_arn(uri) for uri in image_uris})
