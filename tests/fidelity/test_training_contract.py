"""The training job against the real launcher of the XGBoost 3.2-0 image.

The image runs script mode through sagemaker-containers 2.8.6.post2 (its pin in
aws/deep-learning-containers docker/xgboost/pyproject.toml). Each check stages one job with the
local runtime, copies the staged ``/opt/ml`` inputs to a second tree and runs the real
launcher on it (``xgboost_launcher/run_launcher.py`` in ``envs/training-toolkit``), then
requires what the script saw — environment, argv, module launch, working directory, code
directory — and the failure text to be equal.

Allowed differences, and only these: paths under each job's root (both normalised to
``/opt/ml``) and each side's interpreter (``<env>``); the reference alone has
``SAGEMAKER_BASE_DIR`` (how it is re-rooted) and ``PIP_*`` (its pip install goes to a scratch
directory, not into the reference environment), and pip's ``build/`` and ``train.egg-info`` in
the code directory (the local runtime does not pip-install the code dir into the shared image
environment; ``python -m`` from the code dir imports the same file).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import tarfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from mlops.local_runtime import JobFailed, TrainingJobSpec, run_training_job
from mlops.local_runtime.images import ImageEnvironment, image_environment, image_for_uri
from mlops.local_runtime.jobs.container import Rerooting
from mlops.local_runtime.jobs.training import training_container_environment
from sagemaker_pipelines import code as code_bundle
from tests.fidelity.reference_env import ReferenceEnv, ensure_env

XGBOOST_IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:3.2-0"
LAUNCHER = Path(__file__).resolve().parent / "xgboost_launcher"
SUBMIT_DIRECTORY = "/opt/ml/input/data/code/sourcedir.tar.gz"  # as the pipeline's Train step
HYPERPARAMETERS = {
    "max_depth": "5",
    "eta": "0.1",
    "objective": "binary:logistic",
    "sagemaker_program": "train.py",
    "sagemaker_submit_directory": SUBMIT_DIRECTORY,
}
# What the script saw, written next to the staged tree (outside model/ and output/).
RECORDER = """
import json, os, sys
from pathlib import Path
root = Path(os.environ["SM_MODEL_DIR"]).parent
(root / "seen.json").write_text(json.dumps({
    "env": dict(os.environ),
    "argv": sys.argv,
    "name": __name__,
    "file": __file__,
    "cwd": os.getcwd(),
    "path0": sys.path[0],
    "code": sorted(os.listdir(os.getcwd())),
}))
"""
REFERENCE_ONLY_VARIABLES = ("SAGEMAKER_BASE_DIR",)
REFERENCE_ONLY_CODE_FILES = ("build", "train.egg-info")


@dataclass(frozen=True)
class Run:
    """One job run by both: the local runtime's tree and the reference launcher's."""

    local_root: Path
    reference_root: Path
    local_failure: JobFailed | None
    reference_exit: int
    image: ImageEnvironment
    toolkit: ReferenceEnv

    def normalise(self, text: str, *, reference: bool) -> str:
        """Each side's job root → /opt/ml, its interpreter environment → <env>."""
        if reference:
            text = text.replace(str(LAUNCHER), "<env>/bin")
            return text.replace(str(self.reference_root), "/opt/ml").replace(
                str(self.toolkit.root), "<env>"
            )
        return text.replace(str(self.local_root), "/opt/ml").replace(str(self.image.root), "<env>")

    def seen(self, *, reference: bool) -> dict[str, Any]:
        root = self.reference_root if reference else self.local_root
        return dict(
            json.loads(self.normalise((root / "seen.json").read_text(), reference=reference))
        )

    def failure_file(self, *, reference: bool) -> str:
        root = self.reference_root if reference else self.local_root
        return self.normalise((root / "output" / "failure").read_text(), reference=reference)


@pytest.fixture(scope="module")
def toolkit() -> ReferenceEnv:
    return ensure_env("training-toolkit", "3.12")


@pytest.fixture(scope="module")
def xgboost_image() -> ImageEnvironment:
    return image_environment(image_for_uri(XGBOOST_IMAGE))


def _run_both(
    work: Path, train_py: str, hyperparameters: dict[str, str], toolkit: ReferenceEnv, image: Any
) -> Run:
    source = work / "source"
    source.mkdir(parents=True)
    (source / "train.py").write_text(train_py)
    code_channel = work / "channels" / "code"
    code_channel.mkdir(parents=True)
    with tarfile.open(code_channel / "sourcedir.tar.gz", "w:gz") as tar:
        tar.add(source / "train.py", arcname="train.py")
    train = work / "channels" / "train"
    train.mkdir()
    (train / "train.csv").write_text("1,0.5\n0,0.25\n")
    spec = TrainingJobSpec(
        name="contract",
        channels={"train": train, "code": code_channel},
        output_path=work / "published",
        work_dir=work / "local",
        hyperparameters=hyperparameters,
        image=image,
        network_isolation=True,
    )
    failure = None
    try:
        run_training_job(spec)
    except JobFailed as error:
        failure = error
    local_root = work / "local" / "contract"

    reference_root = work / "reference"
    shutil.copytree(local_root / "input", reference_root / "input")
    for folder in ("model", "output/data", "output/intermediate", "code"):
        (reference_root / folder).mkdir(parents=True, exist_ok=True)
    rerooting = Rerooting(reference_root)
    config = reference_root / "input" / "config" / "hyperparameters.json"
    staged = json.loads(config.read_text())
    # The reference cannot read /opt/ml: its code path re-rooted like every other path.
    staged["sagemaker_submit_directory"] = rerooting.text(staged["sagemaker_submit_directory"])
    config.write_text(json.dumps(staged))
    environment = training_container_environment(spec, rerooting)
    environment["PATH"] = ":".join(
        [str(toolkit.bin("")).rstrip("/"), *environment["PATH"].split(":")[1:]]
    )
    environment.update(
        SAGEMAKER_BASE_DIR=str(reference_root),
        PIP_TARGET=str(work / "pip-target"),
        PIP_NO_INDEX="1",
        PIP_NO_BUILD_ISOLATION="0",  # pip's inverted spelling: build with the env's setuptools
        PIP_DISABLE_PIP_VERSION_CHECK="1",
    )
    done = subprocess.run(
        [str(toolkit.bin("python3")), str(LAUNCHER / "run_launcher.py")],
        env=environment,
        cwd=reference_root,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    (work / "reference.log").write_text(done.stdout + done.stderr)
    return Run(local_root, reference_root, failure, done.returncode, image, toolkit)


@pytest.fixture(scope="module")
def recorded(
    tmp_path_factory: pytest.TempPathFactory, toolkit: ReferenceEnv, xgboost_image: Any
) -> Run:
    run = _run_both(
        tmp_path_factory.mktemp("recorded"), RECORDER, HYPERPARAMETERS, toolkit, xgboost_image
    )
    assert run.local_failure is None, run.local_failure
    assert run.reference_exit == 0, (run.reference_root.parent / "reference.log").read_text()[
        -3000:
    ]
    return run


@pytest.fixture(scope="module")
def bad_eta(
    tmp_path_factory: pytest.TempPathFactory, toolkit: ReferenceEnv, xgboost_image: Any
) -> Run:
    """The real train.py with eta=5 (outside (0, 1]), as the Train step would run it."""
    return _run_both(
        tmp_path_factory.mktemp("bad-eta"),
        code_bundle.TRAIN_SCRIPT.read_text(),
        {**HYPERPARAMETERS, "eta": "5"},
        toolkit,
        xgboost_image,
    )


def test_the_script_sees_the_environment_the_launcher_exports(recorded: Run) -> None:
    local = recorded.seen(reference=False)["env"]
    reference = recorded.seen(reference=True)["env"]
    reference = {
        key: value
        for key, value in reference.items()
        if key not in REFERENCE_ONLY_VARIABLES and not key.startswith("PIP_")
    }
    assert sorted(local) == sorted(reference)
    assert {k: v for k, v in local.items() if local[k] != reference[k]} == {}


def test_sm_training_env_has_every_key_and_value_of_the_launcher(recorded: Run) -> None:
    local = json.loads(recorded.seen(reference=False)["env"]["SM_TRAINING_ENV"])
    reference = json.loads(recorded.seen(reference=True)["env"]["SM_TRAINING_ENV"])
    assert local == reference
    assert len(reference) == 24  # sagemaker-containers 2.8.6 (sagemaker-training has more)


def test_the_script_runs_as_a_module_from_the_code_dir_with_sorted_arguments(
    recorded: Run,
) -> None:
    local, reference = recorded.seen(reference=False), recorded.seen(reference=True)
    for key in ("argv", "name", "file", "cwd", "path0"):
        assert local[key] == reference[key], key
    assert local["argv"] == [
        "/opt/ml/code/train.py",
        "--eta",
        "0.1",
        "--max_depth",
        "5",
        "--objective",
        "binary:logistic",
    ]
    assert local["name"] == "__main__"


def test_the_code_dir_holds_what_the_launcher_writes_before_installing_it(recorded: Run) -> None:
    local = recorded.seen(reference=False)["code"]
    reference = recorded.seen(reference=True)["code"]
    assert local == [name for name in reference if name not in REFERENCE_ONLY_CODE_FILES]
    for generated in ("setup.py", "setup.cfg", "MANIFEST.in"):
        assert (recorded.local_root / "code" / generated).read_text() == (
            recorded.reference_root / "code" / generated
        ).read_text()


def test_a_bad_hyperparameter_fails_with_the_launchers_failure_text(bad_eta: Run) -> None:
    assert bad_eta.reference_exit == 1
    assert bad_eta.local_failure is not None
    reference_text = bad_eta.failure_file(reference=True)
    assert reference_text.startswith('ExecuteUserScriptError:\nCommand "<env>/bin/python3 -m train')
    assert " --eta 5 " in reference_text
    assert bad_eta.failure_file(reference=False) == reference_text
    assert bad_eta.normalise(bad_eta.local_failure.reason, reference=False) == (
        f"AlgorithmError: {reference_text}"
    )
    # train.py's own reason is in the log, as in CloudWatch; the launcher's text replaced it.
    assert (
        "hyperparameter eta must be in (0, 1], got 5.0"
        in (bad_eta.local_root / "job.log").read_text()
    )
