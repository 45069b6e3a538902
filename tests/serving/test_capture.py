"""Data capture: SageMaker's record shape and key layout, sampling, no loss under concurrency."""

from __future__ import annotations

import json
import re
import threading
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from mlops.local_runtime.serving import CaptureConfig, CaptureWriter, EndpointOptions, LocalEndpoint
from tests.serving.conftest import csv_body, runtime_client
from tests.serving.modelkit import BuiltModel

NAME = "capture-test"
KEY_LAYOUT = re.compile(
    rf"^{NAME}/AllTraffic/(\d{{4}})/(\d{{2}})/(\d{{2}})/(\d{{2}})/\d{{2}}-\d{{2}}-\d{{3}}-[0-9a-f-]{{36}}\.jsonl$"
)


def _key_tree(value: Any) -> Any:
    """The nested key structure of a JSON value (leaves become their JSON type)."""
    if isinstance(value, dict):
        return {key: _key_tree(item) for key, item in value.items()}
    return type(value).__name__


def _records(root: Path) -> list[tuple[str, dict[str, Any]]]:
    return [
        (path.relative_to(root).as_posix(), json.loads(line))
        for path in sorted(root.rglob("*.jsonl"))
        for line in path.read_text().splitlines()
    ]


def _invoke_many(url: str, rows: list[list[str]], threads: int, per_thread: int) -> int:
    """Send good and (every 5th) bad requests from ``threads`` threads; return the successes."""
    successes = []

    def worker(index: int) -> None:
        client = runtime_client(url)
        good = 0
        for number in range(per_thread):
            bad = number % 5 == 4
            try:
                client.invoke_endpoint(
                    EndpointName=NAME,
                    Body=b"not,a,row" if bad else csv_body([rows[(index + number) % len(rows)]]),
                    ContentType="text/csv",
                )
                good += 1
            except client.exceptions.ModelError:
                assert bad
        successes.append(good)

    workers = [threading.Thread(target=worker, args=(i,)) for i in range(threads)]
    for thread in workers:
        thread.start()
    for thread in workers:
        thread.join()
    return sum(successes)


@pytest.fixture(scope="module")
def captured_run(
    test_model: BuiltModel, sample_rows: list[list[str]], tmp_path_factory: pytest.TempPathFactory
) -> tuple[Path, int, LocalEndpoint]:
    root = tmp_path_factory.mktemp("capture")
    config = CaptureConfig(destination=str(root), endpoint_name=NAME, max_buffer_bytes=20_000)
    with LocalEndpoint(
        test_model.archive, EndpointOptions(endpoint_name=NAME, capture=config)
    ) as ep:
        successes = _invoke_many(ep.url, sample_rows, threads=8, per_thread=50)
    return root, successes, ep


def test_every_successful_invocation_is_captured_under_concurrency(
    captured_run: tuple[Path, int, LocalEndpoint],
) -> None:
    root, successes, endpoint = captured_run

    records = _records(root)

    assert successes == 8 * 40
    assert len(records) == successes == endpoint.stats.captured
    assert len({record["eventMetadata"]["eventId"] for _, record in records}) == successes


def test_failed_invocations_are_not_captured(captured_run: tuple[Path, int, LocalEndpoint]) -> None:
    root, _, endpoint = captured_run

    inputs = [record["captureData"]["endpointInput"]["data"] for _, record in _records(root)]

    assert endpoint.stats.client_errors == 8 * 10
    assert not any("not,a,row" in data for data in inputs)


def test_records_have_the_key_structure_of_sagemaker_capture(
    captured_run: tuple[Path, int, LocalEndpoint], model_monitor_fixtures: Path
) -> None:
    root, _, _ = captured_run
    reference = json.loads((model_monitor_fixtures / "capture.jsonl").read_text().splitlines()[0])

    for _, record in _records(root):
        assert _key_tree(record) == _key_tree(reference)


def test_record_values_follow_sagemaker_conventions(
    captured_run: tuple[Path, int, LocalEndpoint], sample_rows: list[list[str]]
) -> None:
    root, _, _ = captured_run
    sent = {",".join(row) + "\n" for row in sample_rows}

    for _, record in _records(root):
        data = record["captureData"]
        assert data["endpointInput"] | {"data": None} == {
            "observedContentType": "text/csv", "mode": "INPUT", "data": None, "encoding": "CSV",
        }  # fmt: skip
        assert data["endpointOutput"]["mode"] == "OUTPUT"
        assert data["endpointOutput"]["encoding"] == "JSON"
        assert data["endpointInput"]["data"] in sent
        assert json.loads(data["endpointOutput"]["data"])["predictions"][0]["probability"] >= 0
        assert record["eventVersion"] == "0"
        uuid.UUID(record["eventMetadata"]["eventId"])
        datetime.strptime(record["eventMetadata"]["inferenceTime"], "%Y-%m-%dT%H:%M:%SZ")


def test_files_follow_the_endpoint_variant_hour_layout(
    captured_run: tuple[Path, int, LocalEndpoint],
) -> None:
    root, _, _ = captured_run

    for key, record in _records(root):
        match = KEY_LAYOUT.match(key)
        assert match, key
        hour = datetime.strptime(record["eventMetadata"]["inferenceTime"], "%Y-%m-%dT%H:%M:%SZ")
        assert match.groups() == (f"{hour:%Y}", f"{hour:%m}", f"{hour:%d}", f"{hour:%H}")


def test_buffer_is_flushed_in_several_files_when_it_fills(
    captured_run: tuple[Path, int, LocalEndpoint],
) -> None:
    root, _, _ = captured_run

    assert len(list(root.rglob("*.jsonl"))) > 1


def test_zero_percent_sampling_writes_nothing(
    test_model: BuiltModel, sample_rows: list[list[str]], tmp_path: Path
) -> None:
    config = CaptureConfig(destination=str(tmp_path), endpoint_name=NAME, sampling_percentage=0)
    with LocalEndpoint(
        test_model.archive, EndpointOptions(endpoint_name=NAME, capture=config)
    ) as ep:
        successes = _invoke_many(ep.url, sample_rows, threads=2, per_thread=10)

    assert successes == 16
    assert list(tmp_path.rglob("*.jsonl")) == []


def test_partial_sampling_captures_a_fraction(tmp_path: Path) -> None:
    writer = CaptureWriter(CaptureConfig(destination=str(tmp_path), sampling_percentage=30))
    try:
        sampled = sum(writer.sampled() for _ in range(5000))
    finally:
        writer.close()

    assert 1200 < sampled < 1800


def test_s3_destination_gets_the_same_layout(
    test_model: BuiltModel, sample_rows: list[list[str]]
) -> None:
    with mock_aws():
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket="capture-bucket")
        config = CaptureConfig(
            destination="s3://capture-bucket/datacapture", endpoint_name=NAME, s3_client=s3
        )
        with LocalEndpoint(
            test_model.archive, EndpointOptions(endpoint_name=NAME, capture=config)
        ) as ep:
            client = runtime_client(ep.url)
            for row in sample_rows[:10]:
                client.invoke_endpoint(
                    EndpointName=NAME, Body=csv_body([row]), ContentType="text/csv"
                )
        listing = s3.list_objects_v2(Bucket="capture-bucket", Prefix="datacapture/")
        keys = [item["Key"] for item in listing["Contents"]]
        lines = [
            line
            for key in keys
            for line in s3.get_object(Bucket="capture-bucket", Key=key)["Body"].read().splitlines()
        ]

    assert all(KEY_LAYOUT.match(key.removeprefix("datacapture/")) for key in keys)
    assert len(lines) == 10


def test_time_based_flush_writes_without_stopping(tmp_path: Path) -> None:
    writer = CaptureWriter(
        CaptureConfig(destination=str(tmp_path), endpoint_name=NAME, flush_interval_seconds=0.05)
    )
    try:
        writer.record(
            input_body=b"1,2", input_content_type="text/csv",
            output_body=b"0.5", output_content_type="text/csv",
        )  # fmt: skip
        deadline = datetime.now(UTC).timestamp() + 5
        while writer.records_written == 0 and datetime.now(UTC).timestamp() < deadline:
            threading.Event().wait(0.02)
        assert writer.records_written == 1
    finally:
        writer.close()


def test_other_content_types_are_captured_as_base64(tmp_path: Path) -> None:
    writer = CaptureWriter(CaptureConfig(destination=str(tmp_path), endpoint_name=NAME))
    writer.record(
        input_body=b"\x00\x01", input_content_type="application/octet-stream",
        output_body=b'{"a": 1}', output_content_type="application/json",
    )  # fmt: skip
    writer.close()

    ((_, record),) = _records(tmp_path)
    assert record["captureData"]["endpointInput"]["encoding"] == "BASE64"
    assert record["captureData"]["endpointInput"]["data"] == "AAE="
    assert record["captureData"]["endpointOutput"]["encoding"] == "JSON"


def test_sampling_outside_0_to_100_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="0-100"):
        CaptureConfig(destination=str(tmp_path), sampling_percentage=101)


def test_the_callers_inference_id_is_recorded_in_the_event_metadata(
    test_model: BuiltModel, sample_rows: list[list[str]], tmp_path: Path
) -> None:
    config = CaptureConfig(destination=str(tmp_path), endpoint_name=NAME)
    with LocalEndpoint(
        test_model.archive, EndpointOptions(endpoint_name=NAME, capture=config)
    ) as ep:
        client = runtime_client(ep.url)
        client.invoke_endpoint(
            EndpointName=NAME, Body=csv_body(sample_rows[:1]), ContentType="text/csv",
            InferenceId="inf-123",
        )  # fmt: skip
        client.invoke_endpoint(
            EndpointName=NAME, Body=csv_body(sample_rows[:1]), ContentType="text/csv"
        )

    with_id, without_id = (record["eventMetadata"] for _, record in _records(tmp_path))
    assert list(with_id) == ["eventId", "inferenceId", "inferenceTime"]
    assert with_id["inferenceId"] == "inf-123"
    assert list(without_id) == ["eventId", "inferenceTime"]
