"""`mlops endpoint`: serve a model locally behind the sagemaker-runtime API, and invoke endpoints.

``serve --local`` runs the same handlers the SageMaker XGBoost container would run for the
model (``code/inference.py`` inside ``model.tar.gz``) and answers boto3's ``invoke_endpoint``.
``invoke`` sends a file through boto3 too (batched under the payload limit by the project's
application client), so it exercises exactly what an application does, locally or on AWS.

Stopping ``serve`` (SIGTERM or Ctrl-C) is graceful: the signal handler only asks the server to
stop; it stops accepting, answers every request it already accepted, flushes data capture and
exits 0. A second signal stops without waiting for requests. ``kill -9`` loses at most the last
second of capture (its flush interval). While serving, ``.mlops/endpoints/<name>.json`` names
the URL and the serving process, so ``invoke --local`` finds it and can tell a record left
behind by a killed server from a running one.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
from collections.abc import Iterator
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Annotated

import typer

from mlops.cli.context import aws_target
from mlops.cli.schema import (
    DropColumnsOption,
    IdColumnOption,
    PositiveLabelOption,
    ProblemTypeOption,
    SchemaFlags,
    TargetOption,
    model_schema_mismatch,
    schema_settings,
)
from mlops.core.errors import UserError
from mlops.core.media import BY_SUFFIX, REQUEST_TYPES, RESPONSE_TYPES
from mlops.local_runtime.aws import DEFAULT_STATE_DIR

if TYPE_CHECKING:
    from mlops.local_runtime.serving import LocalEndpoint

app = typer.Typer(
    help="Serve a model locally behind the sagemaker-runtime API and invoke endpoints.",
    no_args_is_help=True,
)

ENDPOINTS_DIR = "endpoints"


@app.command()
def serve(
    ctx: typer.Context,
    local: Annotated[
        bool, typer.Option("--local", help="Serve on this machine (required).")
    ] = False,
    model: Annotated[
        Path | None, typer.Option("--model", help="Path to a model.tar.gz.", dir_okay=False)
    ] = None,
    model_package: Annotated[
        str | None, typer.Option("--model-package", help="Model package ARN in the registry.")
    ] = None,
    latest_approved: Annotated[
        bool,
        typer.Option("--latest-approved", help="The newest Approved package of the project group."),
    ] = False,
    port: Annotated[
        int, typer.Option("--port", min=0, max=65535, help="0 picks a free port.")
    ] = 8080,
    capture: Annotated[
        str | None,
        typer.Option(
            "--capture", help="Data capture destination: a directory or s3://bucket/prefix."
        ),
    ] = None,
    sampling: Annotated[
        float | None,
        typer.Option(
            "--sampling",
            min=0,
            max=100,
            help="Capture sampling percentage (default from settings).",
        ),
    ] = None,
    name: Annotated[
        str | None, typer.Option("--name", help="Endpoint name (default from settings).")
    ] = None,
    target_column: TargetOption = None,
    problem_type: ProblemTypeOption = None,
    positive_label: PositiveLabelOption = None,
    drop_columns: DropColumnsOption = None,
    id_column: IdColumnOption = None,
) -> None:
    """Serve a model like a SageMaker endpoint on 127.0.0.1 until Ctrl-C (warns when the
    model was trained on another target or problem type than the schema names)."""
    if not local:
        raise UserError(
            "only --local serving is available here; the AWS endpoint is deployed by the CDK stack"
        )
    sources = [model is not None, model_package is not None, latest_approved]
    if sum(sources) != 1:
        raise UserError("give exactly one of --model PATH, --model-package ARN, --latest-approved")
    flags = SchemaFlags(target_column, problem_type, positive_label, drop_columns, id_column)
    settings = schema_settings(ctx, flags)
    endpoint_name = name or settings.names.endpoint

    from mlops.local_runtime.serving import CaptureConfig, EndpointOptions, LocalEndpoint
    from sagemaker_pipelines.registry import RegistryError, deployable_package
    from sagemaker_pipelines.registry import latest_approved as latest

    needs_aws = model is None or (capture or "").startswith("s3://")
    target = aws_target(ctx, local=True) if needs_aws else None
    s3 = target.client("s3") if target is not None else None
    artifact: str | Path
    if model is not None:
        artifact = model
    else:
        assert target is not None
        sagemaker = target.client("sagemaker")
        try:
            package = (
                deployable_package(sagemaker, model_package)
                if model_package
                else latest(sagemaker, settings.names.model_package_group)
            )
        except RegistryError as error:
            raise UserError(str(error)) from None
        typer.echo(f"model package {package.arn} ({package.approval_status})", err=True)
        artifact = package.model_data_url
    mismatch = model_schema_mismatch(settings.dataset, artifact, s3)
    if mismatch:
        typer.echo(f"warning: {mismatch}", err=True)
    capture_config = None
    if capture:
        capture_config = CaptureConfig(
            destination=capture,
            sampling_percentage=(
                sampling
                if sampling is not None
                else settings.monitoring.capture_sampling_percentage
            ),
            endpoint_name=endpoint_name,
            s3_client=s3,
        )
    stopper = _GracefulStop()
    with stopper.installed():
        try:
            endpoint = LocalEndpoint(
                artifact,
                EndpointOptions(
                    endpoint_name=endpoint_name,
                    port=port,
                    capture=capture_config,
                    region=settings.region,
                ),
                s3_client=s3,
            )
        except KeyboardInterrupt:  # a signal during the load; LocalEndpoint removed its files
            typer.echo("stopped while loading the model: nothing was served", err=True)
            raise  # typer exits 130
        stopper.endpoint = endpoint
        _log_like_the_container()
        record = DEFAULT_STATE_DIR / ENDPOINTS_DIR / f"{endpoint_name}.json"
        try:
            endpoint.start()
            record.parent.mkdir(parents=True, exist_ok=True)
            record.write_text(
                json.dumps(
                    {"endpoint_name": endpoint_name, "url": endpoint.url, "pid": os.getpid()}
                )
            )
            typer.echo(f"serving endpoint {endpoint_name} at {endpoint.url} (Ctrl-C to stop)")
            typer.echo(
                f"  boto3.client('sagemaker-runtime', endpoint_url='{endpoint.url}')"
                f".invoke_endpoint(EndpointName='{endpoint_name}', ...)",
                err=True,
            )
            endpoint.wait()  # returns once a signal has asked the server to stop and it drained
        finally:
            endpoint.stop()
            record.unlink(missing_ok=True)
            if endpoint.capture is not None:
                typer.echo(
                    f"captured {endpoint.capture.records_written} record(s) to {capture}",
                    err=True,
                )
        typer.echo(f"stopped endpoint {endpoint_name}", err=True)


class _GracefulStop:
    """The SIGTERM / SIGINT handler of ``serve``: ask the endpoint to drain, never raise.

    Raising from a signal handler (as ``KeyboardInterrupt`` does) interrupts whatever the main
    thread is doing, e.g. ``Thread.join`` in ``LocalEndpoint.wait``: the process then closed
    data capture while requests were still being answered (HTTP 500s). Here the first signal
    only sets the server's exit flag; uvicorn then stops accepting, answers what it accepted,
    and the app's shutdown flushes capture. A second signal forces the exit. Before the
    endpoint exists (the model is loading) there is nothing to drain, so the load is
    interrupted as Ctrl-C would.
    """

    SIGNALS = (signal.SIGTERM, signal.SIGINT)

    def __init__(self) -> None:
        self.endpoint: LocalEndpoint | None = None
        self.received = 0

    def __call__(self, signum: int, frame: FrameType | None) -> None:
        self.received += 1
        if self.endpoint is None:
            raise KeyboardInterrupt
        self.endpoint.request_stop(force=self.received > 1)

    @contextlib.contextmanager
    def installed(self) -> Iterator[None]:
        """This handler for SIGTERM and SIGINT within the block; the previous ones after."""
        try:
            previous = {number: signal.signal(number, self) for number in self.SIGNALS}
        except ValueError:  # not the main thread (an embedding application): leave signals
            yield
            return
        try:
            yield
        finally:
            for number, handler in previous.items():
                signal.signal(number, handler)


@app.command()
def invoke(
    ctx: typer.Context,
    data: Annotated[
        Path,
        typer.Option(
            "--data",
            help="CSV (no header unless --header), JSON or JSON Lines file.",
            exists=True,
            dir_okay=False,
        ),
    ],
    endpoint: Annotated[
        str | None, typer.Option("--endpoint", help="Endpoint name (default from settings).")
    ] = None,
    content_type: Annotated[
        str | None, typer.Option("--content-type", help="Default from the file extension.")
    ] = None,
    accept: Annotated[
        str, typer.Option("--accept", help="Output format: application/json or text/csv.")
    ] = "text/csv",
    header: Annotated[
        bool, typer.Option("--header", help="The CSV's first line is a header: skip it.")
    ] = False,
    local: Annotated[bool, typer.Option("--local", help="Call the local endpoint.")] = False,
    port: Annotated[
        int | None,
        typer.Option("--port", help="Port of the local endpoint (default: the running one)."),
    ] = None,
    endpoint_url: Annotated[
        str | None, typer.Option("--endpoint-url", help="Explicit runtime URL.")
    ] = None,
    target: TargetOption = None,
    problem_type: ProblemTypeOption = None,
    positive_label: PositiveLabelOption = None,
    drop_columns: DropColumnsOption = None,
    id_column: IdColumnOption = None,
) -> None:
    """Send a file through boto3 invoke_endpoint and print the predictions.

    With a CSV header (or JSON objects) the schema's id, target and drop columns are left out;
    rows that carry the id column go one per request with the id as InferenceId (what
    `monitor ground-truth` joins labels on), other rows in batches under the payload limit."""
    from mlops.cli.invoke_rows import read_rows

    flags = SchemaFlags(target, problem_type, positive_label, drop_columns, id_column)
    settings = schema_settings(ctx, flags)
    name = endpoint or settings.names.endpoint
    media = (content_type or BY_SUFFIX.get(data.suffix.lower(), "")).split(";")[0].strip()
    if media not in REQUEST_TYPES:
        raise UserError(
            f"cannot tell the content type of {data.name}: pass --content-type text/csv, "
            "application/json or application/jsonlines"
        )
    if accept not in RESPONSE_TYPES:
        raise UserError(f"--accept {accept!r}: use text/csv or application/json")

    import boto3
    from botocore.config import Config

    from inference.client import EndpointClient, EndpointClientError
    from mlops.local_runtime.aws import FAKE_CREDENTIALS

    url = endpoint_url
    if local and url is None:
        url = f"http://127.0.0.1:{port}" if port else _running_local_url(name)
    # The application client retries; botocore's own retries would multiply its attempts.
    no_retries = Config(retries={"total_max_attempts": 1, "mode": "standard"}, read_timeout=70)
    credentials = FAKE_CREDENTIALS if local else {}
    runtime = boto3.client(
        "sagemaker-runtime",
        region_name=settings.region,
        endpoint_url=url,
        config=no_retries,
        **credentials,
    )
    endpoint_client = EndpointClient(name, runtime_client=runtime)
    rows = read_rows(data, media, header=header, schema=settings.dataset)
    if rows.dropped:
        typer.echo(f"left out the schema's column(s) {', '.join(rows.dropped)}", err=True)
    try:
        if rows.inference_ids is not None:  # one request per row, named by its id
            predictions = [
                answer
                for inference_id, row in zip(
                    rows.inference_ids, rows.csv_lines or rows.records, strict=True
                )
                for answer in (
                    endpoint_client.predict_csv([row], inference_id=inference_id)
                    if media == "text/csv"
                    else endpoint_client.predict_records([row], inference_id=inference_id)
                )
            ]
        elif media == "text/csv":
            predictions = endpoint_client.predict_csv(rows.csv_lines)
        else:
            predictions = endpoint_client.predict_records(rows.records)
    except EndpointClientError as error:
        raise UserError(f"{name}: {error}") from error
    if accept == "application/json":
        document = {"predictions": [p.to_json() for p in predictions]}
        typer.echo(json.dumps(document, indent=2))
    else:
        typer.echo("\n".join(p.csv_row() for p in predictions))
    typer.echo(
        f"{len(predictions)} prediction(s) from {name} in {endpoint_client.requests_sent} request(s)",
        err=True,
    )


def _running_local_url(name: str) -> str:
    """The URL ``serve`` recorded for ``name``; a record whose process is gone is removed."""
    record = DEFAULT_STATE_DIR / ENDPOINTS_DIR / f"{name}.json"
    start = "start `mlops endpoint serve --local ...` or pass --port / --endpoint-url"
    if not record.exists():
        raise UserError(f"no local endpoint {name} is running: {start}")
    entry = json.loads(record.read_text())
    pid = entry.get("pid")
    if isinstance(pid, int) and not _process_alive(pid):
        record.unlink(missing_ok=True)
        raise UserError(
            f"the local endpoint {name} is not running (its server, process {pid}, was killed; "
            f"its stale {record} is removed now): {start}"
        )
    return str(entry["url"])


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)  # signal 0: existence check only
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True


def _log_like_the_container() -> None:
    """The endpoint log on stderr, in the format the XGBoost image's serving module sets up
    (what CloudWatch shows on AWS): the handlers' warnings, e.g. unseen categories, land here."""
    import logging

    logging.basicConfig(
        format="%(asctime)s %(levelname)s - %(name)s - %(message)s", level=logging.INFO
    )
