"""Shared reliability fixtures: one real model artifact (the serving tests' kit) per session."""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest

from tests.serving.modelkit import BuiltModel, build_model


@pytest.fixture(scope="session")
def reliability_model(tmp_path_factory: pytest.TempPathFactory) -> BuiltModel:
    """A small booster packed per contracts §4, with the repo's ``inference.py`` inside."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        return build_model(tmp_path_factory.mktemp("reliability-model"))


@pytest.fixture(scope="session")
def raw_rows(reliability_model: BuiltModel) -> list[list[str]]:
    """Generated feature rows as the endpoint receives them (text, blanks for missing)."""
    return [list(map(str, row)) for row in reliability_model.raw.to_numpy().tolist()]


@pytest.fixture(scope="session")
def model_dir(reliability_model: BuiltModel) -> Path:
    """The unpacked model directory ``model_fn`` loads (xgboost-model + feature_spec.json)."""
    return reliability_model.archive.parent / "model"
