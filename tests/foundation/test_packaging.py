"""The project's import roots come from the checkout and from nowhere else."""

from __future__ import annotations

import importlib
import importlib.metadata
import subprocess
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
IMPORT_ROOTS = ("mlops", "sagemaker_pipelines", "monitoring", "infra", "inference", "training")


@pytest.mark.parametrize("root", IMPORT_ROOTS)
def test_no_installed_distribution_ships_a_module_named_like_ours(root: str) -> None:
    # Generic names (infra, training, monitoring) would collide with another distribution's
    # module of that name; the project is installed editable only (no copy in site-packages),
    # so no distribution, ours included, may provide it.
    assert root not in importlib.metadata.packages_distributions()


@pytest.mark.parametrize("root", IMPORT_ROOTS)
def test_each_import_root_resolves_to_the_checkout(root: str) -> None:
    module = importlib.import_module(root)
    assert Path(str(module.__file__)).resolve().parent == REPO / root


def test_a_built_wheel_installs_no_top_level_package(tmp_path: Path) -> None:
    # The template is cloned and installed editable; a wheel built from it must not be a way to
    # drop `infra`, `training`, `monitoring`... into someone's site-packages.
    from mlops.local_runtime.images.environments import find_uv

    subprocess.run(
        [str(find_uv()), "build", "--wheel", "--out-dir", str(tmp_path), str(REPO)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    (wheel,) = tmp_path.glob("*.whl")
    with zipfile.ZipFile(wheel) as archive:
        tops = {name.split("/", 1)[0] for name in archive.namelist()}
    assert all(top.endswith(".dist-info") for top in tops), tops
