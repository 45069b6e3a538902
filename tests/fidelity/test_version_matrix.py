"""The container-side scripts run on the images' library versions, and the README says which.

Each image environment (``mlops/local_runtime/images/<image>/``) pins the image's own versions
(from the image's requirements in aws/deep-learning-containers, cited in the file); the
environment created from its lock must hold exactly those, and the README's version matrix
must be the one generated from the locks.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from mlops.local_runtime.images import ImageSpec, image_environment, known_images
from mlops.local_runtime.images.matrix import BEGIN, END, SCRIPT_LIBRARIES, render

REPO_ROOT = Path(__file__).resolve().parents[2]


def test_the_readme_version_matrix_is_the_generated_one() -> None:
    readme = (REPO_ROOT / "README.md").read_text()
    section = readme[readme.index(BEGIN) : readme.index(END) + len(END)]
    assert section == render(), "run: .venv/bin/python -m mlops.local_runtime.images.matrix"


def test_every_script_of_the_pipeline_has_an_image_environment() -> None:
    scripts = {script for image in known_images() for script in image.scripts}
    assert scripts == {"training/preprocess.py", "training/train.py", "training/evaluate.py"}


@pytest.mark.parametrize("image", known_images(), ids=lambda image: image.name)
def test_the_image_environment_holds_the_locked_versions(image: ImageSpec) -> None:
    environment = image_environment(image)
    locked = image.locked_versions()
    wanted = [name for name in SCRIPT_LIBRARIES if name in locked]
    probe = (
        "import json, sys, importlib.metadata as m\n"
        "names = {d.metadata['Name'].lower() for d in m.distributions()}\n"
        "print(json.dumps({n: m.version(n) for n in sys.argv[1:] if n in names}))"
    )
    found = subprocess.run(
        [str(environment.python), "-c", probe, *wanted],
        capture_output=True,
        text=True,
        check=True,
        env={"PATH": "/usr/bin:/bin"},
    )
    installed = json.loads(found.stdout)
    assert installed == {name: locked[name] for name in installed}
    assert {"pandas", "numpy"} <= set(installed)
    assert image.python == (
        subprocess.run(
            [str(environment.python), "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    )
