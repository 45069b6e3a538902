"""Fixtures for the real-data lifecycles: one local AWS (moto) for the whole package.

Each dataset module runs its lifecycle once (module scope); under ``pytest -n 2 --dist
loadscope`` the three modules run on the two workers side by side.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest


@pytest.fixture(scope="module")
def local_aws_url(moto_server_url: str) -> Iterator[str]:
    """Point `mlops.local_runtime.aws` at the session's moto server for one module."""
    previous = os.environ.get("MLOPS_LOCAL_AWS_URL")
    os.environ["MLOPS_LOCAL_AWS_URL"] = moto_server_url
    try:
        yield moto_server_url
    finally:
        if previous is None:
            os.environ.pop("MLOPS_LOCAL_AWS_URL", None)
        else:
            os.environ["MLOPS_LOCAL_AWS_URL"] = previous
