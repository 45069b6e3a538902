"""Bounded load on the local endpoint: 8 concurrent clients x 100 mixed requests.

The long run (8 x 2,000) is ``python -m benchmarks.load``; this is the same driver, small
enough for every test run, so a regression in capture accounting or concurrency shows here.
"""

from __future__ import annotations

import pytest

from benchmarks.load import LoadReport, run_load
from tests.serving.modelkit import FEATURES, BuiltModel

pytestmark = pytest.mark.slow

CLIENTS = 8
REQUESTS_PER_CLIENT = 100


@pytest.fixture(scope="module")
def report(
    reliability_model: BuiltModel,
    raw_rows: list[list[str]],
    tmp_path_factory: pytest.TempPathFactory,
) -> LoadReport:
    return run_load(
        reliability_model.archive,
        raw_rows,
        list(FEATURES),
        clients=CLIENTS,
        requests_per_client=REQUESTS_PER_CLIENT,
        capture_dir=tmp_path_factory.mktemp("load-capture"),
        max_seconds=60,
        warmup=0,
    )


def test_every_concurrent_request_is_answered_correctly(report: LoadReport) -> None:
    assert report.sent == CLIENTS * REQUESTS_PER_CLIENT
    assert report.errors == 0, report.error_samples
    assert report.succeeded == CLIENTS * REQUESTS_PER_CLIENT
    assert all(
        len(values) == REQUESTS_PER_CLIENT * CLIENTS // 4 for values in report.latencies_ms.values()
    )


def test_capture_holds_exactly_one_record_per_answered_request(report: LoadReport) -> None:
    assert report.captured_records == report.succeeded
    assert report.missing_bodies == 0
    assert report.extra_bodies == 0


def test_capture_event_ids_are_unique(report: LoadReport) -> None:
    assert report.unique_event_ids == report.captured_records


def test_run_stays_within_its_time_bound(report: LoadReport) -> None:
    assert report.problems == []
    assert report.seconds < 60
