"""Hostile capture for `mlops monitor run`: a bad object or line is skipped, counted per file
with its reason, and the run goes on; nothing becomes a traceback.

The audit found a non-UTF-8 S3 capture object ending in a traceback and one bad JSON line
aborting the whole execution.
"""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from moto.server import ThreadedMotoServer
from typer.testing import CliRunner, Result

from mlops.cli.main import app
from mlops.local_runtime.aws import client
from monitoring.baseline import write_baseline
from tests.monitoring.helpers import (
    capture_record,
    csv_capture,
    features_table,
    hour_key,
    write_csv,
)

BUCKET = "capture"
PREFIX = "dc/churn-ep"


@pytest.fixture(scope="module")
def baseline(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("monitor-inputs")
    data = write_csv(features_table(2000, seed=7), root / "baseline.csv")
    return write_baseline(data, root / "baseline").statistics.parent


@pytest.fixture(scope="module")
def good_lines() -> list[bytes]:
    """100 capture lines of one CSV row each."""
    return [json.dumps(r).encode() for r in csv_capture(features_table(100, seed=8))]


@pytest.fixture(scope="module")
def s3_url() -> Iterator[str]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    url = f"http://{host}:{port}"
    client("s3", endpoint_url=url, region="us-east-1").create_bucket(Bucket=BUCKET)
    try:
        yield url
    finally:
        server.stop()


def _put(url: str, key: str, body: bytes) -> str:
    client("s3", endpoint_url=url, region="us-east-1").put_object(
        Bucket=BUCKET, Key=f"{key}/{hour_key('churn-ep', 10)}", Body=body
    )
    return f"s3://{BUCKET}/{key}/churn-ep"


def _run(baseline: Path, out: Path, capture: str, *extra: str) -> Result:
    return CliRunner().invoke(
        app,
        [
            "monitor",
            "run",
            "--capture",
            capture,
            "--baseline",
            str(baseline),
            "--out",
            str(out),
            "--no-report",
            *extra,
        ],
    )


def _lines(*parts: bytes) -> bytes:
    return b"".join(part + b"\n" for part in parts)


def test_a_non_utf8_s3_object_line_is_skipped_and_named(
    baseline: Path, good_lines: list[bytes], s3_url: str, tmp_path: Path
) -> None:
    broken = good_lines[2].replace(b"evt-", b"evt-\xff\xfe")
    capture = _put(s3_url, "latin", _lines(*good_lines[:2], broken, *good_lines[3:]))

    result = _run(baseline, tmp_path, capture, "--endpoint-url", s3_url)

    assert result.exit_code == 0, result.output
    assert "analysed 99 records" in result.output
    assert "skipped 1 capture/ground-truth lines" in result.output
    assert f"s3://{BUCKET}/latin/churn-ep/" in result.output
    assert "1 not UTF-8 (line 3)" in result.output


def test_a_gzipped_object_is_skipped_whole_and_the_others_analysed(
    baseline: Path, good_lines: list[bytes], s3_url: str, tmp_path: Path
) -> None:
    s3 = client("s3", endpoint_url=s3_url, region="us-east-1")
    s3.put_object(
        Bucket=BUCKET,
        Key=f"gz/{hour_key('churn-ep', 9)}",
        Body=gzip.compress(_lines(*good_lines), mtime=0),
    )
    capture = _put(s3_url, "gz", _lines(*good_lines[:50]))

    result = _run(baseline, tmp_path, capture, "--endpoint-url", s3_url)

    assert result.exit_code == 0, result.output
    assert "analysed 50 records" in result.output
    assert "09/capture-0.jsonl:" in result.output  # the gzip object, and only it
    assert "10/capture-0.jsonl:" not in result.output


def test_one_bad_json_line_is_counted_and_the_run_goes_on(
    baseline: Path, good_lines: list[bytes], tmp_path: Path
) -> None:
    capture = tmp_path / "capture" / hour_key("churn-ep", 10)
    capture.parent.mkdir(parents=True)
    capture.write_bytes(_lines(good_lines[0], b'{"captureData": {"endpointInput"', *good_lines[1:]))

    result = _run(baseline, tmp_path / "out", str(tmp_path / "capture"))

    assert result.exit_code == 0, result.output
    assert "analysed 100 records" in result.output
    assert f"{capture}: 1 not JSON (line 2)" in result.output


def test_hostile_lines_and_payloads_are_each_counted_with_their_reason(
    baseline: Path, good_lines: list[bytes], tmp_path: Path
) -> None:
    nested = capture_record("deep", "[" * 100_000, input_type="application/json", encoding="JSON")
    odd_metadata = json.loads(good_lines[1])
    odd_metadata["eventMetadata"] = "not an object"
    hostile = [
        b"[" * 100_000,  # JSON nested past the recursion limit
        b"9" * 5000,  # an integer longer than Python converts
        b"[1, 2, 3]",  # JSON, but not an object
        b'{"eventMetadata": {"eventId": "x"}}',  # no captureData
        json.dumps(nested).encode(),  # a request payload nested past the recursion limit
        json.dumps(odd_metadata).encode(),  # eventMetadata of the wrong type: still a record
    ]
    capture = tmp_path / "capture" / "c.jsonl"
    capture.parent.mkdir(parents=True)
    capture.write_bytes(_lines(good_lines[0], *hostile))

    result = _run(baseline, tmp_path / "out", str(capture))

    assert result.exit_code == 0, result.output
    assert "analysed 2 records" in result.output
    assert (
        f"{capture}: 2 not JSON (line 2, 3); 1 not a JSON object (line 4); "
        "1 no captureData (line 5); 1 request not decodable (line 6)"
    ) in result.output


def test_capture_with_no_readable_line_is_one_error_line(baseline: Path, tmp_path: Path) -> None:
    capture = tmp_path / "capture" / "c.jsonl"
    capture.parent.mkdir(parents=True)
    capture.write_bytes(b"\xff\xfe garbage\n{not json\n")

    result = subprocess.run(
        [
            str(Path(sys.executable).parent / "mlops"),
            "monitor",
            "run",
            "--capture",
            str(capture.parent),
            "--baseline",
            str(baseline),
            "--out",
            str(tmp_path / "out"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    assert result.returncode == 2
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: no records to analyse in")
    assert "2 left out" in lines[0]
    assert "1 not UTF-8 (line 1); 1 not JSON (line 2)" in lines[0]
