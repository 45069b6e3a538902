"""Run the local endpoint: in a background thread (tests, the demo) or blocking (the CLI).

uvicorn serves the Starlette app on 127.0.0.1; port 0 picks a free port, read back once the
socket is bound.

Stopping is uvicorn's graceful shutdown, in this order: stop accepting connections, close the
idle keep-alive ones, let every request already accepted finish and answer (up to
``GRACEFUL_SHUTDOWN_SECONDS``), then the app's shutdown flushes and closes data capture, then
the serving thread ends. So a stopped endpoint has answered everything it accepted and written
every captured record. ``request_stop()`` only *asks* for that (a flag uvicorn's loop polls
every 0.1 s), which is all a signal handler may do: raising from the handler instead
interrupts whatever the main thread is in (``Thread.join``), and the process would close
capture while requests were still being answered.

A model that cannot be loaded is one ``UserError`` and leaves no work directory behind.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

import uvicorn

from mlops.core.errors import UserError
from mlops.core.names import VARIANT_NAME
from mlops.core.s3uri import split_s3_uri
from mlops.local_runtime.jobs.staging import get_file
from mlops.local_runtime.serving.app import MAX_PAYLOAD_BYTES, InvocationStats, create_app
from mlops.local_runtime.serving.artifact import ServedModel, load_served_model, unpack_model
from mlops.local_runtime.serving.capture import CaptureConfig, CaptureWriter

_START_TIMEOUT_SECONDS = 30.0
GRACEFUL_SHUTDOWN_SECONDS = 10  # in-flight requests still running after this are cancelled
_STOP_MARGIN_SECONDS = 5.0  # beyond the graceful timeout, for capture's final flush


@dataclass(frozen=True)
class EndpointOptions:
    """How to serve: name, address and optional data capture."""

    endpoint_name: str = "local-endpoint"
    variant_name: str = VARIANT_NAME
    region: str = "us-east-1"  # named in ModelError's LogStreamArn, as the service does
    host: str = "127.0.0.1"
    port: int = 0
    capture: CaptureConfig | None = None
    max_payload_bytes: int = MAX_PAYLOAD_BYTES
    # Inference threads. One per CPU, like the container's one model worker per CPU: more
    # threads only contend for the GIL (measured: 8 threads halved 1000-row throughput at
    # concurrency 8 on 2 cores; see benchmarks/serving.py).
    worker_threads: int = field(default_factory=lambda: os.cpu_count() or 2)


def fetch_artifact(source: str | Path, work_dir: Path, *, s3_client: Any = None) -> Path:
    """A local path to ``model.tar.gz``: the path itself, or a download of an ``s3://`` URI."""
    text = str(source)
    if not text.startswith("s3://"):
        return Path(text)
    if s3_client is None:
        raise UserError(f"{text}: an S3 model artifact needs an S3 client")
    bucket, key = split_s3_uri(text)
    target = work_dir / "model.tar.gz"
    work_dir.mkdir(parents=True, exist_ok=True)
    try:
        get_file(s3_client, bucket, key, target)
    except Exception as error:
        raise UserError(f"cannot download the model artifact {text}: {error}") from error
    return target


class LocalEndpoint:
    """A served ``model.tar.gz``; ``start()`` returns once ``/ping`` would answer 200.

    >>> with LocalEndpoint("model.tar.gz", EndpointOptions(endpoint_name="churn")) as endpoint:
    ...     boto3.client("sagemaker-runtime", endpoint_url=endpoint.url).invoke_endpoint(...)
    """

    def __init__(
        self,
        model: str | Path,
        options: EndpointOptions | None = None,
        *,
        s3_client: Any = None,
        work_dir: Path | None = None,
    ) -> None:
        self.options = options or EndpointOptions()
        self._owned_dir = work_dir is None
        self.work_dir = work_dir or Path(tempfile.mkdtemp(prefix="mlops-endpoint-"))
        try:
            archive = fetch_artifact(model, self.work_dir / "download", s3_client=s3_client)
            model_dir = unpack_model(archive, self.work_dir / "model")
            self.served: ServedModel = load_served_model(model_dir, source=str(model))
        except BaseException:  # a failed load (or Ctrl-C during it) leaves no directory behind
            self._remove_work_dir()
            raise
        self.stats = InvocationStats()
        self.capture = CaptureWriter(self.options.capture) if self.options.capture else None
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._port: int | None = None
        self._stop_requested = False  # a stop asked for before the server existed still counts

    @property
    def url(self) -> str:
        """``http://127.0.0.1:<port>``: the ``endpoint_url`` for a sagemaker-runtime client."""
        if self._port is None:
            raise RuntimeError("endpoint not started")
        return f"http://{self.options.host}:{self._port}"

    def start(self) -> LocalEndpoint:
        """Serve in a daemon thread; raise ``UserError`` if the server cannot start."""
        if self._thread is not None:
            return self
        self._server = uvicorn.Server(self._config())
        self._server.should_exit = self._stop_requested
        self._thread = threading.Thread(target=self._server.run, daemon=True, name="local-endpoint")
        self._thread.start()
        deadline = time.monotonic() + _START_TIMEOUT_SECONDS
        while not self._server.started:
            if not self._thread.is_alive():
                raise UserError(
                    f"the local endpoint could not start on {self.options.host}:{self.options.port}"
                )
            if time.monotonic() > deadline:
                raise UserError("the local endpoint did not start in time")
            time.sleep(0.01)
        self._port = int(self._server.servers[0].sockets[0].getsockname()[1])
        return self

    def wait(self) -> None:
        """Block until the server has stopped (the CLI's foreground mode).

        Returns after ``request_stop()`` (e.g. from a signal handler) once the server has
        drained; pair it with ``stop()`` to flush capture and remove the work directory.
        """
        while self._thread is not None and self._thread.is_alive():
            self._thread.join(timeout=0.5)

    def request_stop(self, *, force: bool = False) -> None:
        """Ask the server to shut down gracefully (``force``: without waiting for requests).

        Safe to call from a signal handler: it only sets uvicorn's flags.
        """
        self._stop_requested = True
        if self._server is not None:
            self._server.should_exit = True
            if force:
                self._server.force_exit = True

    def stop(self) -> None:
        """Stop serving (draining in-flight requests), flush data capture; idempotent."""
        if self._server is not None and self._thread is not None:
            self.request_stop()
            self._thread.join(timeout=GRACEFUL_SHUTDOWN_SECONDS + _STOP_MARGIN_SECONDS)
            if self._thread.is_alive():  # a request outlived the graceful timeout: give up on it
                self.request_stop(force=True)
                self._thread.join(timeout=_STOP_MARGIN_SECONDS)
            self._thread = None
        self._cleanup()

    def __enter__(self) -> LocalEndpoint:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    def _config(self) -> uvicorn.Config:
        app = create_app(
            self.served,
            endpoint_name=self.options.endpoint_name,
            variant_name=self.options.variant_name,
            region=self.options.region,
            capture=self.capture,
            max_payload_bytes=self.options.max_payload_bytes,
            worker_threads=self.options.worker_threads,
            stats=self.stats,
        )
        return uvicorn.Config(
            app,
            host=self.options.host,
            port=self.options.port,
            # The C parser and loop (pyproject pins both): the pure-Python h11 parser costs
            # 1-2 ms per 100 KB request body; "auto" would fall back to it silently.
            http="httptools",
            loop="uvloop" if sys.platform != "win32" else "asyncio",
            log_level="warning",
            access_log=False,
            lifespan="on",
            timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_SECONDS,
        )

    def _cleanup(self) -> None:
        if self.capture is not None:
            self.capture.close()
        self._remove_work_dir()

    def _remove_work_dir(self) -> None:
        if self._owned_dir:
            shutil.rmtree(self.work_dir, ignore_errors=True)
