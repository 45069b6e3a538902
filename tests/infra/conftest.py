"""Synthesis of the real app for the CDK tests.

The default synthesis (``synthesized``, ``synth_inputs_default``) lives in tests/conftest.py so
that tests/infra and tests/security share one per session (the SDK import and synth take
~15 s).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

Template = dict[str, Any]


@dataclass(frozen=True)
class Synthesized:
    outdir: Path
    templates: dict[str, Template]  # by stack id: Storage, Pipeline, Serving, Deploy
    stacks: Any  # infra.app.Stacks

    def resources(self, stack: str, type_: str) -> dict[str, dict[str, Any]]:
        return {
            logical: resource
            for logical, resource in self.templates[stack]["Resources"].items()
            if resource["Type"] == type_
        }

    def one(self, stack: str, type_: str) -> dict[str, Any]:
        found = list(self.resources(stack, type_).values())
        assert len(found) == 1, f"{stack}: expected one {type_}, found {len(found)}"
        return found[0]


def synthesize(
    outdir: Path, overrides: dict[str, Any] | None = None, inputs: Any = None
) -> Synthesized:
    """Build and synthesize the app exactly as app.py does, with cdk.json's context."""
    import aws_cdk as cdk

    from infra.app import build_app, cdk_json_context, synth_inputs
    from mlops.core.settings import load_settings

    context = cdk_json_context()
    settings = load_settings(overrides, context=context["mlops"])  # type: ignore[arg-type]
    app = cdk.App(outdir=str(outdir), context=context)
    stacks = build_app(app, settings, inputs or synth_inputs(settings))
    app.synth()
    templates = {
        path.name.removesuffix(".template.json"): json.loads(path.read_text())
        for path in outdir.glob("*.template.json")
    }
    return Synthesized(outdir=outdir, templates=templates, stacks=stacks)


@pytest.fixture(scope="session")
def synthesize_with(
    tmp_path_factory: pytest.TempPathFactory, synth_inputs_default: Any
) -> Callable[[dict[str, Any]], Synthesized]:
    """Synthesize with settings overrides (reusing the default pipeline definition)."""

    def run(overrides: dict[str, Any]) -> Synthesized:
        return synthesize(tmp_path_factory.mktemp("cdk.out"), overrides, synth_inputs_default)

    return run
