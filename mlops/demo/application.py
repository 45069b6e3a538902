"""The application side of the demo: a traffic window sent through boto3 ``invoke_endpoint``.

The deployed model is served for the window with data capture into the window's own prefix,
and the rows go through `inference.client.EndpointClient` exactly as an application sends
them: half the requests as CSV, half as JSON records, like a mix of applications would.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from mlops.demo.results import TrafficResult
from mlops.demo.traffic import TrafficBatch
from mlops.local_runtime.deploy import LocalDeployment, serve_deployment


def send_window(
    batch: TrafficBatch,
    deployment: LocalDeployment,
    *,
    capture_uri: str,
    s3: Any,
    region: str,
    rows_per_request: int,
    work_dir: Path,
) -> TrafficResult:
    """Serve the deployment capturing into ``capture_uri``, send ``batch``, count what happened."""
    import boto3

    from inference.client import EndpointClient

    endpoint = serve_deployment(
        deployment, s3_client=s3, work_dir=work_dir, capture_destination=capture_uri
    )
    predictions = 0
    with endpoint:
        runtime = boto3.client(
            "sagemaker-runtime",
            endpoint_url=endpoint.url,
            region_name=region,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",  # noqa: S106 - the local endpoint checks nothing
        )
        app = EndpointClient(deployment.endpoint_name, runtime_client=runtime)
        for index, chunk in enumerate(_chunks(batch.rows, rows_per_request)):
            if index % 2 == 0:
                answers = app.predict_csv(",".join(row) for row in chunk)
            else:
                answers = app.predict_records(_record(batch.features, row) for row in chunk)
            predictions += len(answers)
    return TrafficResult(
        capture_uri=capture_uri,
        invocations=endpoint.stats.invocations,
        captured_records=endpoint.capture.records_written if endpoint.capture else 0,
        predictions=predictions,
    )


def _chunks(rows: Sequence[list[str]], size: int) -> Iterator[Sequence[list[str]]]:
    for start in range(0, len(rows), size):
        yield rows[start : start + size]


def _record(features: Sequence[str], row: Sequence[str]) -> dict[str, Any]:
    """A JSON instance as an application builds it: numbers as numbers, blanks as null."""
    record: dict[str, Any] = {}
    for name, text in zip(features, row, strict=True):
        if text == "":
            record[name] = None
            continue
        try:
            number = float(text)
        except ValueError:
            record[name] = text
        else:
            record[name] = int(number) if number.is_integer() and "." not in text else number
    return record
