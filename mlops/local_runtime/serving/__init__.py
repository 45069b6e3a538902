"""The local endpoint: a ``model.tar.gz`` served like SageMaker, without Docker.

See ``server.LocalEndpoint`` (run it), ``app`` (the HTTP routes), ``container`` (the serving
container's answers, as the XGBoost image's toolkit gives them), ``runtime`` (the
sagemaker-runtime front end: validation, ``ModelError``) and ``capture`` (data capture in
SageMaker's format).
"""

from mlops.local_runtime.serving.app import (
    MAX_PAYLOAD_BYTES,
    UNSEEN_CATEGORIES_HEADER,
    InvocationStats,
    create_app,
)
from mlops.local_runtime.serving.artifact import ServedModel, load_served_model, unpack_model
from mlops.local_runtime.serving.capture import CaptureConfig, CaptureWriter
from mlops.local_runtime.serving.server import EndpointOptions, LocalEndpoint, fetch_artifact

__all__ = [
    "MAX_PAYLOAD_BYTES",
    "UNSEEN_CATEGORIES_HEADER",
    "CaptureConfig",
    "CaptureWriter",
    "EndpointOptions",
    "InvocationStats",
    "LocalEndpoint",
    "ServedModel",
    "create_app",
    "fetch_artifact",
    "load_served_model",
    "unpack_model",
]
