"""A CreateTransformJob request run locally: the named model resolved, served, transformed.

The model is what ``CreateModel`` recorded (the local SageMaker, moto): a container with
``Image`` + ``ModelDataUrl`` + ``Environment``, or a ``ModelPackageName`` whose package's
first inference container gives those three, as SageMaker resolves it. The image must be the
XGBoost serving image whose stack `mlops.local_runtime.serving.container` reproduces; the
environment may only select the program in ``/opt/ml/model/code`` (what the registered model
sets); anything else is refused (``not supported locally``). The ``model.tar.gz`` is downloaded
and unpacked into the job's directory and served by `workers.ContainerWorkers`.

Every job also leaves ``<work dir>/<job>/outcome.json`` (status and each object's outcome), the
record a local batch run summarises from.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from mlops.local_runtime.batch.job import TransformJobResult, TransformJobSpec, run_transform_job
from mlops.local_runtime.batch.settings import TransformRequestError, TransformSettings
from mlops.local_runtime.batch.workers import ContainerWorkers
from mlops.local_runtime.images import UnknownImageError, image_for_uri
from sagemaker_pipelines.registry import RegistryError, describe_package

SERVING_REPOSITORY = "sagemaker-xgboost"
MODEL_CODE_DIR = "/opt/ml/model/code"
PROGRAM_ENV = "SAGEMAKER_PROGRAM"
SUBMIT_DIRECTORY_ENV = "SAGEMAKER_SUBMIT_DIRECTORY"
OUTCOME_FILE = "outcome.json"
INFERENCE_TIME_FORMAT = "%Y-%m-%dT%H:%M:%SZ"


@dataclass(frozen=True)
class ServingModel:
    """The one container a transform job's model runs."""

    image: str
    model_data_url: str
    program: str
    source: str  # the model (and package) the container came from, for messages


def resolve_model(sagemaker: Any, model_name: str) -> ServingModel:
    """The container of model ``model_name`` as the local transform can serve it."""
    try:
        model = sagemaker.describe_model(ModelName=model_name)
    except sagemaker.exceptions.ClientError as error:
        raise TransformRequestError(
            f'ClientError: Could not find model "{model_name}": {_message(error)}'
        ) from None
    containers = list(model.get("Containers") or [])
    primary = model.get("PrimaryContainer") or {}
    if primary:
        containers.insert(0, primary)
    if len(containers) != 1:
        raise TransformRequestError(
            f"not supported locally: model {model_name} has {len(containers)} containers "
            "(an inference pipeline); the local transform serves one"
        )
    container = dict(containers[0])
    source = f"model {model_name}"
    package_name = container.pop("ModelPackageName", None)
    if package_name:
        container = {**_package_container(sagemaker, str(package_name)), **container}
        source = f"model {model_name} (package {package_name})"
    image = str(container.get("Image") or "")
    url = str(container.get("ModelDataUrl") or "")
    if not image or not url:
        raise TransformRequestError(
            f"not supported locally: {source} has no Image and ModelDataUrl to serve"
        )
    try:
        repository = image_for_uri(image).repository
    except UnknownImageError:
        repository = ""
    if repository != SERVING_REPOSITORY:
        raise TransformRequestError(
            f"not supported locally: Image={image} (the local transform serves with the "
            f"{SERVING_REPOSITORY} image's serving stack)"
        )
    return ServingModel(
        image, url, _program(dict(container.get("Environment") or {}), source), source
    )


def run_transform_request(
    request: Mapping[str, Any],
    *,
    model: ServingModel,
    s3: Any,
    work_dir: Path,
    on_line: Callable[[str, str], None] | None = None,
) -> TransformJobResult:
    """Run a validated CreateTransformJob request whose model is ``model``."""
    from mlops.local_runtime.serving import fetch_artifact, unpack_model

    name = str(request["TransformJobName"])
    started = datetime.now(UTC).replace(microsecond=0)
    settings = TransformSettings.from_request(
        request, inference_time=started.strftime(INFERENCE_TIME_FORMAT)
    )
    source = request["TransformInput"]["DataSource"]["S3DataSource"]["S3Uri"]
    output = request["TransformOutput"]["S3OutputPath"]
    capture = request.get("DataCaptureConfig", {}).get("DestinationS3Uri")
    root = work_dir / name
    model_dir = unpack_model(
        fetch_artifact(model.model_data_url, root, s3_client=s3), root / "model"
    )
    headers = {
        key: value
        for key, value in (("content-type", settings.content_type), ("accept", settings.accept))
        if value
    }
    spec = TransformJobSpec(
        name=name,
        source=str(source),
        destination=str(output),
        settings=settings,
        work_dir=work_dir / "jobs",
        started=started,
        capture=str(capture) if capture else None,
    )
    with ContainerWorkers(
        model_dir,
        headers=headers,
        workers=settings.max_concurrent,
        program=model.program,
        source=model.model_data_url,
    ) as container:
        result = run_transform_job(spec, container.invoke, s3_client=s3, on_line=on_line)
    write_outcome(result, request, root / OUTCOME_FILE)
    return result


def write_outcome(result: TransformJobResult, request: Mapping[str, Any], path: Path) -> Path:
    """``outcome.json``: the request, the job's status, data log, capture and each object."""
    document = {
        "request": dict(request),
        "name": result.name,
        "status": result.status,
        "failure_reason": result.failure_reason,
        "records": result.records,
        "seconds": result.seconds,
        "data_log": str(result.data_log),
        "capture": list(result.capture_files),
        "objects": [
            {
                "source": item.source,
                "output": item.output,
                "records": item.records,
                "failure": item.failure,
            }
            for item in result.objects
        ],
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document, indent=2) + "\n")
    return path


def _package_container(sagemaker: Any, name: str) -> dict[str, Any]:
    try:
        package = describe_package(sagemaker, name)
    except RegistryError as error:
        raise TransformRequestError(f"ClientError: {error}") from None
    containers = (package.get("InferenceSpecification") or {}).get("Containers") or []
    if not containers:
        raise TransformRequestError(
            f"ClientError: model package {name} has no InferenceSpecification.Containers"
        )
    return dict(containers[0])


def _program(environment: dict[str, str], source: str) -> str:
    program = environment.pop(PROGRAM_ENV, None)
    directory = environment.pop(SUBMIT_DIRECTORY_ENV, MODEL_CODE_DIR)
    if directory.rstrip("/") != MODEL_CODE_DIR or not program or environment:
        shown = {PROGRAM_ENV: program, SUBMIT_DIRECTORY_ENV: directory, **environment}
        raise TransformRequestError(
            f"not supported locally: {source} Environment={shown} (the local transform serves "
            f"{PROGRAM_ENV} from {MODEL_CODE_DIR} inside model.tar.gz, and nothing else)"
        )
    return program


def _message(error: Any) -> str:
    return str(error.response.get("Error", {}).get("Message") or error)
