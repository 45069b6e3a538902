"""The local endpoint: a ``model.tar.gz`` served like SageMaker, without Docker.

See ``server.LocalEndpoint`` (run it), ``app`` (the HTTP routes and error mapping),
``capture`` (data capture in SageMaker's format) and ``registry`` (resolve a model package).
"""

from mlops.local_runtime.serving.app import MAX_PAYLOAD_BYTES, InvocationStats, create_app
from mlops.local_runtime.serving.artifact import ServedModel, load_served_model, unpack_model
from mlops.local_runtime.serving.capture import CaptureConfig, CaptureWriter
from mlops.local_runtime.serving.server import EndpointOptions, LocalEndpoint, fetch_artifact

__all__ = [
    "MAX_PAYLOAD_BYTES",
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
