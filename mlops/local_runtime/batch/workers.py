"""The serving container a transform job sends its requests to, with its worker processes.

In the XGBoost image, script-mode serving is gunicorn with one model-server worker process per
vCPU, each of which loaded the model through the program's ``model_fn``; a transform job keeps
up to ``MaxConcurrentTransforms`` requests in flight against them. Here each concurrent request
likewise runs in a worker process of its own (the model loaded once per worker by
`mlops.local_runtime.serving.artifact`, answered by `mlops.local_runtime.serving.container`,
exactly as the local endpoint answers), so concurrent requests run in parallel as on an
instance instead of sharing one interpreter lock. With one concurrent request the model is
served in this process and no worker starts.

Workers come from a fork server that has imported the ML stack once (``forkserver`` start
method, preloaded): a worker starts in milliseconds, and no worker inherits OpenMP state from a
parent that already predicted (forking such a process can deadlock XGBoost's thread pool).
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Mapping
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

from mlops.local_runtime.serving import container
from mlops.local_runtime.serving.artifact import DEFAULT_PROGRAM, ServedModel, load_served_model

_PRELOAD = ["numpy", "xgboost", "mlops.local_runtime.serving.container"]
_worker_state: dict[str, Any] = {}


@dataclass(frozen=True)
class WorkerAnswer:
    """One answer of the container: status, body, Content-Type."""

    status: int
    body: bytes
    content_type: str


class ContainerWorkers:
    """``invoke(body)`` as ``POST /invocations`` with fixed headers; thread-safe; close() it."""

    def __init__(
        self,
        model_dir: Path,
        *,
        headers: Mapping[str, str],
        workers: int = 1,
        program: str = DEFAULT_PROGRAM,
        source: str | None = None,
    ) -> None:
        self.headers = dict(headers)
        self.workers = workers
        self._served: ServedModel | None = None
        self._pool: ProcessPoolExecutor | None = None
        # Load here first either way: a model that cannot load fails the job before any
        # request, with the same one-line error as the local endpoint.
        served = load_served_model(model_dir, program=program, source=source)
        if workers <= 1:
            self._served = served
            return
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload(_PRELOAD)
        self._pool = ProcessPoolExecutor(
            max_workers=workers,
            mp_context=context,
            initializer=_start_worker,
            initargs=(str(model_dir), program, source, self.headers),
        )
        # Every worker up and holding the model before the first request, as the container
        # is healthy (``/ping``) before a job sends anything.
        list(self._pool.map(_ready, range(workers)))

    def invoke(self, body: bytes) -> WorkerAnswer:
        if self._served is not None:
            answer = container.invoke(self._served, body, self.headers)
            return WorkerAnswer(answer.status, answer.body, answer.content_type)
        assert self._pool is not None
        status, payload, content_type = self._pool.submit(_answer_in_worker, body).result()
        return WorkerAnswer(status, payload, content_type)

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None

    def __enter__(self) -> ContainerWorkers:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.close()


def _start_worker(
    model_dir: str, program: str, source: str | None, headers: dict[str, str]
) -> None:
    _worker_state["served"] = load_served_model(Path(model_dir), program=program, source=source)
    _worker_state["headers"] = headers


def _ready(_: int) -> bool:
    return "served" in _worker_state


def _answer_in_worker(body: bytes) -> tuple[int, bytes, str]:
    answer = container.invoke(_worker_state["served"], body, _worker_state["headers"])
    return answer.status, answer.body, answer.content_type
