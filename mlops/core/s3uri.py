"""``s3://bucket/key`` URIs: the one parser every layer uses (jobs, endpoint, monitoring)."""

from __future__ import annotations

from pathlib import Path

Location = str | Path
"""An S3 URI (str) or a local path standing in for one, as the local runtime accepts."""


def is_s3(location: Location) -> bool:
    """True for an ``s3://`` URI (a str); local paths may be str or Path."""
    return isinstance(location, str) and location.startswith("s3://")


def split_s3_uri(uri: str) -> tuple[str, str]:
    """``s3://bucket/key`` → ``(bucket, key)``; raises ValueError for anything else."""
    if not is_s3(uri):
        raise ValueError(f"not an S3 URI: {uri}")
    bucket, _, key = uri[len("s3://") :].partition("/")
    if not bucket:
        raise ValueError(f"S3 URI has no bucket: {uri}")
    return bucket, key
