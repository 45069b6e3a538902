"""A category the model never saw is scored as missing, counted, and reported by Model Monitor."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from mlops.local_runtime.serving import (
    UNSEEN_CATEGORIES_HEADER,
    CaptureConfig,
    EndpointOptions,
    LocalEndpoint,
)
from monitoring.analysis import analyze
from monitoring.baseline import write_baseline
from tests.serving.conftest import csv_body, http_request, runtime_client
from tests.serving.modelkit import FEATURES, BuiltModel

CONTRACT = FEATURES.index("contract")


def _batch(test_model: BuiltModel, rows: int) -> list[list[str]]:
    raw = test_model.raw
    return [list(map(str, raw.iloc[i % len(raw)])) for i in range(rows)]


def _probabilities(body: bytes) -> np.ndarray:
    return np.array([float(line.split(",")[0]) for line in body.decode().splitlines()])


def test_one_unseen_value_does_not_fail_a_1000_row_batch_and_scores_as_missing(
    endpoint: Any, test_model: BuiltModel, caplog: pytest.LogCaptureFixture
) -> None:
    rows = _batch(test_model, 1000)
    rows[417][CONTRACT] = "Three year"
    as_missing = [list(row) for row in rows]
    as_missing[417][CONTRACT] = ""
    before = endpoint.stats.unseen_categories
    headers = {"Content-Type": "text/csv", "Accept": "text/csv"}

    with caplog.at_level(logging.WARNING, logger="inference"):
        answer = http_request(endpoint.url, "POST", "/invocations", csv_body(rows), headers)
    reference = http_request(endpoint.url, "POST", "/invocations", csv_body(as_missing), headers)

    assert answer.status == 200
    np.testing.assert_array_equal(_probabilities(answer.body), _probabilities(reference.body))
    assert answer.headers[UNSEEN_CATEGORIES_HEADER.lower()] == "1"
    assert reference.headers[UNSEEN_CATEGORIES_HEADER.lower()] == "0"
    assert endpoint.stats.unseen_categories == before + 1
    assert "scored 1 unseen category as missing: contract='Three year'" in caplog.text


def test_model_monitor_reports_the_unseen_value_from_data_capture(
    test_model: BuiltModel, tmp_path: Path
) -> None:
    baseline_csv = tmp_path / "baseline.csv"
    test_model.raw.to_csv(baseline_csv, index=False)
    write_baseline(baseline_csv, tmp_path / "baseline")
    rows = _batch(test_model, 200)
    rows[5][CONTRACT] = "Three year"
    capture = CaptureConfig(destination=str(tmp_path / "capture"), endpoint_name="unseen")
    with LocalEndpoint(
        test_model.archive, EndpointOptions(endpoint_name="unseen", capture=capture)
    ) as served:
        response = runtime_client(served.url).invoke_endpoint(
            EndpointName="unseen", Body=csv_body(rows), ContentType="text/csv"
        )
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 200

    result = analyze(tmp_path / "baseline", tmp_path / "monitor", capture=tmp_path / "capture")

    categorical = [
        v for v in result.violations if v.constraint_check_type == "categorical_values_check"
    ]
    assert [v.feature_name for v in categorical] == ["contract"]
