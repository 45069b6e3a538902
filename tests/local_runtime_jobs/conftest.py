"""Tiny stand-in container scripts (plain Python, no ML imports) so each job costs only an
interpreter start, and an in-process moto S3 for staging."""

from __future__ import annotations

import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

BUCKET = "runtime-test"


@pytest.fixture
def s3() -> Iterator[Any]:
    with mock_aws():
        client = boto3.client("s3", region_name="us-east-1")
        client.create_bucket(Bucket=BUCKET)
        yield client


def write_script(directory: Path, name: str, body: str) -> Path:
    """Write a dedented script and return its path."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / name
    path.write_text(textwrap.dedent(body))
    return path


def s3_keys(s3: Any, prefix: str = "") -> list[str]:
    """Every key in the test bucket under ``prefix``."""
    pages = s3.get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix=prefix)
    return sorted(item["Key"] for page in pages for item in page.get("Contents", []))
