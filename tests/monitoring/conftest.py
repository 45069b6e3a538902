"""Shared, module-expensive inputs: one baseline on seed 7 and a traffic sample from seed 8."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pytest

from monitoring.baseline import BaselineResult, write_baseline
from tests.monitoring.helpers import features_table, write_csv

BASELINE_ROWS = 20_000
TRAFFIC_ROWS = 3_000


@pytest.fixture(scope="session")
def baseline(tmp_path_factory: pytest.TempPathFactory) -> BaselineResult:
    root = tmp_path_factory.mktemp("baseline")
    data = write_csv(features_table(BASELINE_ROWS, seed=7), root / "baseline.csv")
    return write_baseline(data, root / "out")


@pytest.fixture(scope="session")
def baseline_dir(baseline: BaselineResult) -> Path:
    return baseline.statistics.parent


@pytest.fixture(scope="session")
def traffic() -> pa.Table:
    """Clean traffic: the same generator, another seed."""
    return features_table(TRAFFIC_ROWS, seed=8)
