"""Captured traffic in every encoding and location reads as the same rows as the dataset."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pytest
from moto import mock_aws

from mlops.local_runtime.aws import client
from monitoring.analysis import analyze
from monitoring.capture import SkippedLine, input_rows, read_capture, read_ground_truth
from monitoring.errors import MonitoringInputError
from tests.monitoring.helpers import (
    capture_record,
    csv_capture,
    ground_truth_record,
    hour_key,
    write_jsonl,
)


def _by_name_json(
    table: pa.Table, rows_per_request: int, content_type: str = "application/json"
) -> list[dict[str, object]]:
    rows = table.to_pylist()
    records = []
    for start in range(0, len(rows), rows_per_request):
        batch = rows[start : start + rows_per_request]
        if content_type == "application/jsonlines":
            body = "\n".join(json.dumps(r) for r in batch)
        else:
            body = json.dumps({"instances": batch})
        records.append(
            capture_record(
                f"evt-{start}",
                body,
                input_type=content_type,
                output_data=json.dumps(
                    {"predictions": [{"probability": 0.2, "label": "not Yes"}] * len(batch)}
                ),
                output_type="application/json",
                encoding="JSON",
            )
        )
    return records


def _statistics_by_name(result_statistics: dict[str, object]) -> dict[str, object]:
    return {f["name"]: f for f in result_statistics["features"]}  # type: ignore[index, union-attr]


@pytest.mark.parametrize(
    "records",
    [
        pytest.param(lambda t: csv_capture(t, rows_per_request=5), id="csv"),
        pytest.param(lambda t: csv_capture(t, rows_per_request=5, encoding="BASE64"), id="base64"),
        pytest.param(lambda t: _by_name_json(t, 5), id="json"),
        pytest.param(lambda t: _by_name_json(t, 5, "application/jsonlines"), id="jsonlines"),
    ],
)
def test_every_encoding_reads_like_the_dataset(
    records: object, baseline_dir: Path, traffic: pa.Table, tmp_path: Path
) -> None:
    sample = traffic.slice(0, 500)
    make = records  # a callable building the capture lines
    write_jsonl(tmp_path / "capture" / hour_key("churn-endpoint", 10), make(sample))  # type: ignore[operator]
    result = analyze(baseline_dir, tmp_path / "out", capture=tmp_path / "capture")
    assert result.record_count == 500
    assert result.violations == []
    stats = _statistics_by_name(result.current_statistics)
    tenure = stats["tenure_months"]["numerical_statistics"]  # type: ignore[index]
    assert tenure["sum"] == pytest.approx(pa.compute.sum(sample.column("tenure_months")).as_py())
    assert stats["contract"]["inferred_type"] == "String"  # type: ignore[index]


def test_base64_payload_decodes_to_the_original_rows(tmp_path: Path) -> None:
    record = capture_record("e1", "1,2,x\n3,4,y", encoding="BASE64")
    assert record["captureData"]["endpointInput"]["data"] != "1,2,x\n3,4,y"
    write_jsonl(tmp_path / "c.jsonl", [record])
    (captured,) = read_capture(tmp_path / "c.jsonl")
    assert captured.endpoint_input is not None
    assert input_rows(captured.endpoint_input) == [["1", "2", "x"], ["3", "4", "y"]]


def test_the_callers_inference_id_is_read_and_names_the_record_for_ground_truth(
    tmp_path: Path,
) -> None:
    with_id = capture_record("e1", "1,2")
    with_id["eventMetadata"]["inferenceId"] = "order-17"
    write_jsonl(tmp_path / "c.jsonl", [with_id, capture_record("e2", "3,4")])

    first, second = read_capture(tmp_path / "c.jsonl")

    assert (first.event_id, first.inference_id, first.merge_id) == ("e1", "order-17", "order-17")
    assert (second.event_id, second.inference_id, second.merge_id) == ("e2", None, "e2")


def test_hour_partitions_are_read_across_hours_and_endpoints(
    baseline_dir: Path, traffic: pa.Table, tmp_path: Path
) -> None:
    root = tmp_path / "capture"
    write_jsonl(root / hour_key("churn-endpoint", 9), csv_capture(traffic.slice(0, 100)))
    write_jsonl(root / hour_key("churn-endpoint", 10, part=1), csv_capture(traffic.slice(100, 150)))
    (root / "churn-endpoint" / "README.txt").write_text("not capture")
    assert len(read_capture(root)) == 250
    assert (
        len(read_capture(root / "churn-endpoint" / "AllTraffic" / "2026" / "11" / "26" / "10"))
        == 150
    )


def test_s3_prefix_with_hour_partitions(
    baseline_dir: Path, traffic: pa.Table, tmp_path: Path
) -> None:
    with mock_aws():
        s3 = client("s3", endpoint_url=None, region="us-east-1")
        s3.create_bucket(Bucket="capture-bucket")
        for hour, (start, stop) in zip(
            (9, 10, 11), ((0, 200), (200, 400), (400, 600)), strict=True
        ):
            lines = "".join(
                json.dumps(r) + "\n" for r in csv_capture(traffic.slice(start, stop - start))
            )
            s3.put_object(
                Bucket="capture-bucket",
                Key=f"datacapture/{hour_key('churn-endpoint', hour)}",
                Body=lines,
            )
        s3.put_object(Bucket="capture-bucket", Key="other/ignored.jsonl", Body="{}\n")
        result = analyze(
            baseline_dir,
            tmp_path / "out",
            capture="s3://capture-bucket/datacapture/churn-endpoint",
            s3_client=s3,
        )
    assert result.record_count == 600
    assert result.violations == []


def test_undecodable_records_are_skipped_not_fatal(
    baseline_dir: Path, traffic: pa.Table, tmp_path: Path
) -> None:
    records = csv_capture(traffic.slice(0, 200))
    broken = capture_record("bad", "{not json", input_type="application/json", encoding="JSON")
    write_jsonl(tmp_path / "capture" / hour_key("e", 10), [*records, broken])
    result = analyze(baseline_dir, tmp_path / "out", capture=tmp_path / "capture")
    assert result.record_count == 200
    assert result.skipped_records == 1


def test_capture_without_records_is_an_input_error(baseline_dir: Path, tmp_path: Path) -> None:
    (tmp_path / "capture").mkdir()
    with pytest.raises(MonitoringInputError, match="no records"):
        analyze(baseline_dir, tmp_path / "out", capture=tmp_path / "capture")


def test_capture_shifted_by_name_reports_missing_and_extra_columns(
    baseline_dir: Path, traffic: pa.Table, tmp_path: Path
) -> None:
    renamed = traffic.slice(0, 300).rename_columns(
        ["region_code" if n == "region" else n for n in traffic.column_names]
    )
    write_jsonl(tmp_path / "capture" / hour_key("e", 10), _by_name_json(renamed, 10))
    result = analyze(baseline_dir, tmp_path / "out", capture=tmp_path / "capture")
    assert {(v.feature_name, v.constraint_check_type) for v in result.violations} == {
        ("region", "missing_column_check"),
        ("region_code", "extra_column_check"),
    }


def test_every_skipped_line_is_named_with_its_file_line_and_reason(tmp_path: Path) -> None:
    good = json.dumps(capture_record("e1", "1,2")).encode()
    path = tmp_path / "c.jsonl"
    path.write_bytes(b"\n".join([good, b"\xff{}", b"{oops", b"42", b'{"x": 1}', good]) + b"\n")
    skipped: list[SkippedLine] = []

    records = read_capture(path, skipped=skipped)

    assert [(r.event_id, r.line) for r in records] == [("e1", 1), ("e1", 6)]
    assert [(s.source, s.line, s.reason) for s in skipped] == [
        (str(path), 2, "not UTF-8"),
        (str(path), 3, "not JSON"),
        (str(path), 4, "not a JSON object"),
        (str(path), 5, "no captureData"),
    ]
    assert skipped[0].detail == "byte 0xff at column 1"


def test_ground_truth_lines_without_an_event_id_are_counted(tmp_path: Path) -> None:
    unlabelled = ground_truth_record("e2", "Yes")
    del unlabelled["eventMetadata"]["eventId"]
    write_jsonl(tmp_path / "g.jsonl", [ground_truth_record("e1", "No"), unlabelled])
    skipped: list[SkippedLine] = []

    labels = read_ground_truth(tmp_path / "g.jsonl", skipped=skipped)

    assert [label.event_id for label in labels] == ["e1"]
    assert [(s.line, s.reason) for s in skipped] == [(2, "no groundTruthData with an eventId")]


def test_a_line_separator_inside_a_json_string_does_not_split_the_record(tmp_path: Path) -> None:
    record = capture_record("e1", "1,caf\u00e9\u2028bar", encoding="CSV")
    (tmp_path / "c.jsonl").write_text(json.dumps(record, ensure_ascii=False) + "\n")
    skipped: list[SkippedLine] = []

    (captured,) = read_capture(tmp_path / "c.jsonl", skipped=skipped)

    assert skipped == []
    assert captured.endpoint_input is not None
    assert captured.endpoint_input.data == "1,caf\u00e9\u2028bar"


def test_a_byte_order_mark_does_not_cost_the_first_record(tmp_path: Path) -> None:
    lines = [json.dumps(capture_record(f"e{i}", "1,2")) for i in range(2)]
    (tmp_path / "c.jsonl").write_bytes(b"\xef\xbb\xbf" + "\n".join(lines).encode())
    assert [r.event_id for r in read_capture(tmp_path / "c.jsonl")] == ["e0", "e1"]


def test_an_undecodable_request_is_reported_with_its_file_and_line(
    baseline_dir: Path, traffic: pa.Table, tmp_path: Path
) -> None:
    broken = capture_record("bad", "{not json", input_type="application/json", encoding="JSON")
    path = write_jsonl(
        tmp_path / "capture" / hour_key("e", 10), [*csv_capture(traffic.slice(0, 5)), broken]
    )
    result = analyze(baseline_dir, tmp_path / "out", capture=tmp_path / "capture")
    (skipped,) = result.skipped
    assert (skipped.source, skipped.line, skipped.reason) == (
        str(path),
        6,
        "request not decodable",
    )
