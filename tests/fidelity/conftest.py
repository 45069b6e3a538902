"""The real serving stack of the XGBoost 3.2-0 image, running next to the local endpoint.

``reference_container`` serves the session's test model (``tests/serving``'s ``test_model``,
packed per contracts §4 with the repository's ``inference.py``) through sagemaker-containers'
``Transformer`` + ``Worker`` under gunicorn with gevent workers, from the isolated environment
of ``envs/xgboost-serving`` — the command line ``sagemaker_containers._server.start`` runs in
the image, minus nginx (which proxies ``/ping`` and ``/invocations`` unchanged) and bound to
127.0.0.1. The local endpoint is ``tests/serving``'s ``endpoint``, serving the same archive.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import tarfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fidelity.reference_env import (
    ENVS,
    ReferenceEnv,
    ReferenceEnvError,
    ensure_env,
    site_packages,
)
from tests.serving.conftest import (  # the shared session fixtures, and a helper
    endpoint,  # noqa: F401
    http_request,
    test_model,  # noqa: F401
)
from tests.serving.modelkit import BuiltModel

IMAGE_PYTHON = "3.12"  # the XGBoost 3.2-0 image's Python (requirements of the 3.2.0 upgrade)
GLUE = ENVS / "xgboost-serving"  # xgboost_serving_glue.py: the image's serving.py, single model
_START_TIMEOUT_SECONDS = 90.0


def patch_like_the_image(root: Path) -> None:
    """The image's fix-up after installing sagemaker-containers on Python ≥ 3.10, from its
    Dockerfile (aws/deep-learning-containers ``docker/xgboost/Dockerfile``):
    ``sed -i 's/collections\\.Mapping/collections.abc.Mapping/g' …/sagemaker_containers/_mapping.py``.
    """
    mapping = site_packages(root) / "sagemaker_containers" / "_mapping.py"
    source = mapping.read_text()
    mapping.write_text(source.replace("collections.Mapping", "collections.abc.Mapping"))


@pytest.fixture(scope="session")
def serving_env() -> ReferenceEnv:
    try:
        return ensure_env("xgboost-serving", IMAGE_PYTHON, after_sync=patch_like_the_image)
    except ReferenceEnvError as error:
        pytest.fail(str(error))


@pytest.fixture(scope="session")
def awscli_env() -> ReferenceEnv:
    try:
        return ensure_env("awscli", f"{sys.version_info.major}.{sys.version_info.minor}")
    except ReferenceEnvError as error:
        pytest.fail(str(error))


@pytest.fixture(scope="session")
def reference_container(
    serving_env: ReferenceEnv,
    test_model: BuiltModel,  # noqa: F811 - the shared fixture imported above
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[str]:
    """``http://127.0.0.1:<port>`` of the real stack serving the test model."""
    with serve_for_real(serving_env, test_model.archive, tmp_path_factory.mktemp("opt-ml")) as url:
        yield url


@contextlib.contextmanager
def serve_for_real(serving_env: ReferenceEnv, archive: Path, base: Path) -> Iterator[str]:
    """The real stack serving ``archive`` from ``base`` (SAGEMAKER_BASE_DIR: /opt/ml)."""
    model_dir = base / "model"
    model_dir.mkdir()
    with tarfile.open(archive) as tar:
        tar.extractall(model_dir, filter="data")
    code = model_dir / "code"
    environment = {
        key: value
        for key, value in os.environ.items()
        if key not in ("VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME")
    }
    environment.update(
        SAGEMAKER_BASE_DIR=str(base),
        SAGEMAKER_PROGRAM="inference.py",
        SAGEMAKER_SUBMIT_DIRECTORY=str(code),
        OMP_NUM_THREADS="1",  # serving_entrypoint's default
        PYTHONNOUSERSITE="1",
        PYTHONDONTWRITEBYTECODE="1",
    )
    log = base / "gunicorn.log"
    command = [
        str(serving_env.bin("gunicorn")),
        "--timeout", "60",
        "-k", "gevent",
        "--pythonpath", f"{GLUE},{code}",  # the image pip-installs the code dir instead
        "-b", "127.0.0.1:0",
        "--worker-connections", "1000",
        "-w", "1",
        "--log-level", "info",
        "--no-control-socket",  # gunicorn 25's admin socket in $HOME: not part of serving
        "xgboost_serving_glue:main",
    ]  # fmt: skip
    with open(log, "wb") as output:
        process = subprocess.Popen(
            command, env=environment, stdout=output, stderr=subprocess.STDOUT, cwd=base
        )
    try:
        url = _wait_until_serving(process, log)
        yield url
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _wait_until_serving(process: subprocess.Popen[bytes], log: Path) -> str:
    """The URL once gunicorn listens and ``/ping`` (which loads the model) answers 200."""
    deadline = time.monotonic() + _START_TIMEOUT_SECONDS
    url = None
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the reference stack exited:\n{log.read_text()[-3000:]}")
        text = log.read_text(errors="replace")
        if url is None and "Listening at: http://127.0.0.1:" in text:
            port = text.split("Listening at: http://127.0.0.1:", 1)[1].split()[0]
            url = f"http://127.0.0.1:{port}"
        if url is not None:
            try:
                if http_request(url, "GET", "/ping").status == 200:
                    return url
            except OSError:
                pass
        time.sleep(0.1)
    raise RuntimeError(f"the reference stack did not start:\n{log.read_text()[-3000:]}")
