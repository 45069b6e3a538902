"""The warm runtime: a job forked from a process that has imported its image's libraries must
be indistinguishable from the same job started as a new interpreter — except that the
preloaded modules are already imported, which is the point (and how these tests tell that a
job ran warm).

One server for the module (the scikit-learn image's, which preloads numpy and pandas), in a
directory of its own, stopped at the end.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from mlops.local_runtime import (
    JobFailed,
    ProcessingJobSpec,
    TrainingJobSpec,
    run_processing_job,
    run_training_job,
)
from mlops.local_runtime.images import ImageEnvironment, image_environment, image_for_uri
from mlops.local_runtime.jobs.layout import LOG_NAME
from mlops.local_runtime.jobs.warm import WarmRuntime
from tests.local_runtime_jobs.conftest import write_script

XGBOOST_IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:3.2-0"
SKLEARN_IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.9-0-cpu-py3"
# Everything a script can observe of how its process started.
PROBE = """
import json, os, signal, sys, tempfile, threading
from pathlib import Path
preloaded = "numpy" in sys.modules
import numpy
root = Path(os.environ["SM_PROCESSING_ROOT"])
(root / "out" / "seen.json").write_text(json.dumps({
    "preloaded": preloaded,
    "argv": sys.argv,
    "orig_argv": sys.orig_argv[1:],
    "name": __name__,
    "file": __file__,
    "path": sys.path,
    "cwd": os.getcwd(),
    "env": dict(os.environ),
    "umask": os.umask(0o022),
    "session_leader": os.getsid(0) == os.getpid(),
    "fds": sorted(int(fd) for fd in os.listdir("/proc/self/fd")),
    "sigint": signal.getsignal(signal.SIGINT) is signal.default_int_handler,
    "sigpipe": signal.getsignal(signal.SIGPIPE) == signal.SIG_IGN,
    "sigterm": signal.getsignal(signal.SIGTERM) == signal.SIG_DFL,
    "tempdir": tempfile.gettempdir(),
    "threads": threading.active_count(),
    "stdin": sys.stdin.read(),
    "random": float(numpy.random.random()),
}))
"""


@pytest.fixture(scope="module")
def image() -> ImageEnvironment:
    return image_environment(image_for_uri(SKLEARN_IMAGE))


@pytest.fixture(scope="module")
def warm(
    tmp_path_factory: pytest.TempPathFactory, image: ImageEnvironment
) -> Iterator[WarmRuntime]:
    runtime = WarmRuntime(tmp_path_factory.mktemp("warm"), idle_seconds=120)
    try:
        yield runtime
    finally:
        runtime.stop()


def _run(
    work: Path,
    image: ImageEnvironment,
    warm: WarmRuntime | None,
    script: str = PROBE,
    environment: dict[str, str] | None = None,
) -> Any:
    """The probe's report (JSON), the work directory written as ``<work>``."""
    code = write_script(work / "code", "probe.py", script)
    result = run_processing_job(
        ProcessingJobSpec(
            name="probe",
            code=code,
            work_dir=work / "jobs",
            outputs={"out": ("/opt/ml/processing/out", work / "published")},
            image=image,
            environment=environment or {},
        ),
        warm=warm,
    )
    text = (result.local_outputs["out"] / "seen.json").read_text()
    return json.loads(text.replace(str(work), "<work>"))


def test_a_warm_job_sees_what_a_new_interpreter_sees(
    tmp_path: Path, image: ImageEnvironment, warm: WarmRuntime
) -> None:
    cold = _run(tmp_path / "a", image, None)
    forked = _run(tmp_path / "a", image, warm)
    assert (cold.pop("preloaded"), forked.pop("preloaded")) == (False, True)
    assert cold.pop("random") != forked.pop("random")  # each seeded from the OS, as at import
    assert forked == cold


def test_a_job_whose_environment_differs_at_import_runs_as_a_new_process(
    tmp_path: Path, image: ImageEnvironment, warm: WarmRuntime
) -> None:
    seen = _run(tmp_path, image, warm, environment={"OMP_NUM_THREADS": "1"})
    assert seen["preloaded"] is False
    assert seen["env"]["OMP_NUM_THREADS"] == "1"


def test_a_job_whose_path_shadows_a_preloaded_module_runs_as_a_new_process(
    tmp_path: Path, image: ImageEnvironment, warm: WarmRuntime
) -> None:
    write_script(tmp_path / "code", "numpy.py", "SHADOW = True\nrandom = None\n")
    script = (
        "import os, sys\nfrom pathlib import Path\npreloaded = 'numpy' in sys.modules\n"
        "import numpy\nroot = Path(os.environ['SM_PROCESSING_ROOT'])\n"
        "(root / 'out' / 'seen.json').write_text("
        "str(preloaded or not getattr(numpy, 'SHADOW', False)).lower())\n"
    )
    shadowing = {"PYTHONPATH": str(tmp_path / "code")}
    assert _run(tmp_path, image, warm, script, shadowing) is False


@pytest.mark.parametrize(
    "script",
    [
        pytest.param("import sys\nsys.exit(5)\n", id="sys.exit"),
        pytest.param("raise ValueError('bad row 7')\n", id="uncaught exception"),
        pytest.param("import os, signal\nos.kill(os.getpid(), signal.SIGTERM)\n", id="signal"),
    ],
)
def test_a_warm_job_ends_as_a_new_interpreter_would(
    tmp_path: Path, image: ImageEnvironment, warm: WarmRuntime, script: str
) -> None:
    ended = []
    for label, runtime in (("cold", None), ("warm", warm)):
        with pytest.raises(JobFailed) as failure:
            _run(tmp_path / label, image, runtime, script)
        log = (tmp_path / label / "jobs" / "probe" / LOG_NAME).read_text()
        ended.append((failure.value.reason, log.replace(str(tmp_path / label), "<work>")))
    assert ended[0] == ended[1]


def test_a_training_job_through_the_images_launcher_runs_warm(
    tmp_path: Path, warm: WarmRuntime
) -> None:
    """The launcher's ``python3 -m <module>`` with the toolkit's PYTHONPATH forks from the
    XGBoost image's server (its PYTHONPATH names the image's own site-packages)."""
    code = write_script(
        tmp_path / "code",
        "entry.py",
        "import json, os, sys\n"
        "seen = {'preloaded': 'xgboost' in sys.modules, 'argv': sys.argv[1:]}\n"
        "open(os.path.join(os.environ['SM_MODEL_DIR'], 'seen.json'), 'w').write(json.dumps(seen))\n",
    )
    result = run_training_job(
        TrainingJobSpec(
            name="warm-train",
            channels={},
            output_path=tmp_path / "published",
            work_dir=tmp_path / "work",
            source_dir=code.parent,
            entry_point="entry.py",
            hyperparameters={"eta": "0.1"},
            image=image_environment(image_for_uri(XGBOOST_IMAGE)),
        ),
        warm=warm,
    )
    seen = json.loads((result.model_dir / "seen.json").read_text())
    assert seen == {"preloaded": True, "argv": ["--eta", "0.1"]}


def test_a_runtime_whose_directory_is_too_long_for_a_socket_address_still_runs_jobs_warm(
    tmp_path: Path, image: ImageEnvironment
) -> None:
    # A clone (or a test's temp dir) deep enough that <dir>/zygote.sock exceeds what a Unix
    # socket address holds: client and server must agree on the short path instead.
    deep = tmp_path / ("d" * 60) / ("e" * 40)
    runtime = WarmRuntime(deep, idle_seconds=60)
    try:
        assert _run(tmp_path / "job", image, runtime)["preloaded"] is True
    finally:
        assert runtime.stop() == 1
