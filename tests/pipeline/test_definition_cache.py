"""The definition cache: a local run reads the definition back instead of importing the SDK to
build it again, and what it reads is exactly what a build returns for the same inputs."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from mlops.core.settings import ProjectSettings
from mlops.local_runtime.executor.definition_cache import cached_definition, definition_key
from sagemaker_pipelines.definition import CodeLocations
from tests.pipeline.conftest import PLACEHOLDERS, OfflineBuilds

CODE = CodeLocations(
    preprocess=PLACEHOLDERS["preprocess"],
    evaluate=PLACEHOLDERS["evaluate"],
    training_source=PLACEHOLDERS["training_source"],
    clarify=PLACEHOLDERS["clarify"],
)
ARGUMENTS = {
    "role_arn": PLACEHOLDERS["role_arn"],
    "artifact_bucket": PLACEHOLDERS["artifact_bucket"],
    "default_input_uri": PLACEHOLDERS["default_input_uri"],
}


def test_the_cached_definition_is_byte_for_byte_the_built_one(
    tmp_path: Path, settings: ProjectSettings, offline_builds: OfflineBuilds
) -> None:
    built = cached_definition(settings, cache_dir=tmp_path, code=CODE, **ARGUMENTS)
    (entry,) = tmp_path.glob("*.json")
    read_back = cached_definition(settings, cache_dir=tmp_path, code=CODE, **ARGUMENTS)
    assert built == read_back == offline_builds.first
    assert entry.read_text(encoding="utf-8") == offline_builds.first


def test_a_changed_setting_or_code_asset_gives_another_definition(
    settings: ProjectSettings,
) -> None:
    key = definition_key(settings, code=CODE, **ARGUMENTS)
    deeper = settings.model_copy(
        update={
            "hyperparameters": settings.hyperparameters.model_copy(
                update={"max_depth": settings.hyperparameters.max_depth + 1}
            )
        }
    )
    edited_script = dataclasses.replace(CODE, preprocess="s3://bucket/code/0123abcd/preprocess.py")
    assert definition_key(settings, code=CODE, **ARGUMENTS) == key
    assert definition_key(deeper, code=CODE, **ARGUMENTS) != key
    assert definition_key(settings, code=edited_script, **ARGUMENTS) != key
    assert definition_key(settings, code=CODE, **{**ARGUMENTS, "artifact_bucket": "other"}) != key
