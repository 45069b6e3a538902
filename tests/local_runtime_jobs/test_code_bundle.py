"""sagemaker_pipelines.code: what SageMaker's sourcedir holds, byte-deterministically."""

from __future__ import annotations

import gzip
import tarfile
import time
from pathlib import Path

from sagemaker_pipelines import code as code_bundle


def test_sourcedir_tarball_is_byte_identical_across_builds(tmp_path: Path) -> None:
    first = code_bundle.write_sourcedir_tarball(tmp_path / "a" / "sourcedir.tar.gz")
    time.sleep(1.1)  # a build that leaked mtimes would differ after a second
    second = code_bundle.write_sourcedir_tarball(tmp_path / "b" / "sourcedir.tar.gz")
    assert first.read_bytes() == second.read_bytes()


def test_sourcedir_holds_train_and_inference_side_by_side(tmp_path: Path) -> None:
    tarball = code_bundle.write_sourcedir_tarball(tmp_path / "sourcedir.tar.gz")
    with tarfile.open(tarball) as tar:
        members = {m.name: m for m in tar.getmembers()}
        assert sorted(members) == ["inference.py", "train.py"]
        assert {(m.mtime, m.uid, m.gid) for m in members.values()} == {(0, 0, 0)}
        extracted = tar.extractfile("inference.py")
        assert extracted is not None
        assert extracted.read() == code_bundle.INFERENCE_SCRIPT.read_bytes()
    with gzip.open(tarball) as unzipped:
        unzipped.read()
    assert tarball.read_bytes()[4:8] == b"\x00\x00\x00\x00"  # gzip header mtime


def test_training_source_dir_has_what_train_py_needs(tmp_path: Path) -> None:
    source = code_bundle.write_training_source_dir(tmp_path / "src")
    assert sorted(p.name for p in source.iterdir()) == ["inference.py", "train.py"]
    assert (source / "train.py").read_bytes() == code_bundle.TRAIN_SCRIPT.read_bytes()


def test_processing_scripts_exist_as_single_files() -> None:
    scripts = code_bundle.processing_scripts()
    assert sorted(scripts) == ["clarify", "evaluate", "preprocess"]
    assert all(path.is_file() for path in scripts.values())
