"""`mlops endpoint`: serve a model locally behind the sagemaker-runtime API, and invoke endpoints.

``serve --local`` runs the same handlers the SageMaker XGBoost container would run for the
model (``code/inference.py`` inside ``model.tar.gz``) and answers boto3's ``invoke_endpoint``.
``invoke`` sends a file through boto3 too (batched under the payload limit by the project's
application client), so it exercises exactly what an application does, locally or on AWS.
"""

from __future__ import annotations

import json
import signal
import sys
from pathlib import Path
from types import FrameType
from typing import Annotated, Any

import typer

from mlops.cli.context import aws_target, state
from mlops.core.errors import UserError
from mlops.core.media import BY_SUFFIX, REQUEST_TYPES, RESPONSE_TYPES
from mlops.local_runtime.aws import DEFAULT_STATE_DIR

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
) -> None:
    """Serve a model like a SageMaker endpoint on 127.0.0.1 until Ctrl-C."""
    if not local:
        raise UserError(
            "only --local serving is available here; the AWS endpoint is deployed by the CDK stack"
        )
    sources = [model is not None, model_package is not None, latest_approved]
    if sum(sources) != 1:
        raise UserError("give exactly one of --model PATH, --model-package ARN, --latest-approved")
    settings = state(ctx).settings()
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
    _log_like_the_container()
    record = DEFAULT_STATE_DIR / ENDPOINTS_DIR / f"{endpoint_name}.json"
    _stop_on_sigterm()
    try:
        endpoint.start()
        record.parent.mkdir(parents=True, exist_ok=True)
        record.write_text(json.dumps({"endpoint_name": endpoint_name, "url": endpoint.url}))
        typer.echo(f"serving endpoint {endpoint_name} at {endpoint.url} (Ctrl-C to stop)")
        typer.echo(
            f"  boto3.client('sagemaker-runtime', endpoint_url='{endpoint.url}')"
            f".invoke_endpoint(EndpointName='{endpoint_name}', ...)",
            err=True,
        )
        endpoint.wait()
    except KeyboardInterrupt:
        pass
    finally:
        endpoint.stop()
        record.unlink(missing_ok=True)
        if endpoint.capture is not None:
            typer.echo(
                f"captured {endpoint.capture.records_written} record(s) to {capture}", err=True
            )


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
) -> None:
    """Send a file through boto3 invoke_endpoint (batched) and print the predictions."""
    settings = state(ctx).settings()
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
    try:
        if media == "text/csv":
            lines = data.read_text(encoding="utf-8").splitlines()
            rows = [line for line in lines[1 if header else 0 :] if line.strip()]
            predictions = endpoint_client.predict_csv(rows)
        else:
            predictions = endpoint_client.predict_records(_json_instances(data, media))
    except EndpointClientError as error:
        raise UserError(f"{name}: {error}") from error
    if accept == "application/json":
        document = {
            "predictions": [{"probability": p.probability, "label": p.label} for p in predictions]
        }
        typer.echo(json.dumps(document, indent=2))
    else:
        typer.echo("\n".join(f"{p.probability:.6f},{p.label}" for p in predictions))
    typer.echo(
        f"{len(predictions)} prediction(s) from {name} in {endpoint_client.requests_sent} request(s)",
        err=True,
    )


def _json_instances(path: Path, media: str) -> list[Any]:
    text = path.read_text(encoding="utf-8")
    try:
        if media == "application/jsonlines":
            return [json.loads(line) for line in text.splitlines() if line.strip()]
        document = json.loads(text)
    except json.JSONDecodeError as error:
        raise UserError(f"{path}: invalid JSON ({error})") from error
    instances = document.get("instances") if isinstance(document, dict) else document
    if not isinstance(instances, list):
        raise UserError(f'{path}: expected {{"instances": [...]}} or a list of instances')
    return instances


def _running_local_url(name: str) -> str:
    record = DEFAULT_STATE_DIR / ENDPOINTS_DIR / f"{name}.json"
    if not record.exists():
        raise UserError(
            f"no local endpoint {name} is running: start `mlops endpoint serve --local ...` "
            "or pass --port / --endpoint-url"
        )
    return str(json.loads(record.read_text())["url"])


def _log_like_the_container() -> None:
    """The endpoint log on stderr, in the format the XGBoost image's serving module sets up
    (what CloudWatch shows on AWS): the handlers' warnings, e.g. unseen categories, land here."""
    import logging

    logging.basicConfig(
        format="%(asctime)s %(levelname)s - %(name)s - %(message)s", level=logging.INFO
    )


def _stop_on_sigterm() -> None:
    """SIGTERM ends ``serve`` like Ctrl-C, so captured records are flushed before exit."""

    def handler(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    if sys.platform != "win32":
        signal.signal(signal.SIGTERM, handler)
