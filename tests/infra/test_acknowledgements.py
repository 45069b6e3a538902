"""Who acknowledges a cdk-nag finding: the component that owns the resource, nobody else.

An acknowledgement made from another file (by looking the construct up by id) breaks or, worse,
silently stops covering anything when that construct is renamed. So every acknowledgement must
be made by code of the component folder (``infra/<component>/``) of the construct it is
attached to or of a construct containing it; ``infra/app.py`` and ``infra/nag.py`` belong to no
component and may acknowledge nothing.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Any

import pytest

INFRA = Path(__file__).resolve().parents[2] / "infra"
HELPERS = INFRA / "shared" / "acknowledgements.py"


@dataclass(frozen=True)
class Made:
    path: str  # construct path of the acknowledged scope
    finding: str
    by: str  # the infra file that asked for it
    owners: frozenset[str]  # components of the scope and the constructs containing it


def _component(path: Path) -> str | None:
    """``infra/<component>/…`` → ``<component>``; ``infra/app.py`` etc. → None."""
    parts = path.relative_to(INFRA).parts
    return parts[0] if len(parts) > 1 else None


def _module_component(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if parts[0] == "infra" and len(parts) > 2 else None


def _acknowledging_file() -> Path:
    """The innermost infra file on the call stack, skipping the shared helpers themselves."""
    frame: FrameType | None = sys._getframe()
    while frame is not None:
        path = Path(frame.f_code.co_filename).resolve()
        if path.is_relative_to(INFRA) and path != HELPERS:
            return path
        frame = frame.f_back
    raise AssertionError("an acknowledgement was made from outside infra/")


def test_findings_are_acknowledged_only_by_the_component_owning_the_resource(
    synth_inputs_default: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    import aws_cdk as cdk

    from infra.app import build_app, cdk_json_context
    from mlops.core.settings import load_settings

    made: list[Made] = []
    of = cdk.Validations.of

    class Recording:
        def __init__(self, scope: Any) -> None:
            self._scope = scope
            self._validations = of(scope)

        def acknowledge(self, *rules: cdk.Acknowledgment) -> None:
            by = _acknowledging_file()
            owners = frozenset(
                component
                for construct in self._scope.node.scopes
                if (component := _module_component(type(construct).__module__)) is not None
            )
            made.extend(Made(self._scope.node.path, r.id, str(by), owners) for r in rules)
            self._validations.acknowledge(*rules)

        def __getattr__(self, name: str) -> Any:
            return getattr(self._validations, name)

    monkeypatch.setattr(cdk.Validations, "of", staticmethod(Recording))
    context = cdk_json_context()
    settings = load_settings(
        {"monitoring": {"retrain_on_drift": True}},  # every optional component, too
        context=context["mlops"],  # type: ignore[arg-type]
    )
    app = cdk.App(outdir=str(tmp_path), context=context)
    build_app(app, settings, synth_inputs_default)

    misplaced = [
        f"{m.path}: {m.finding} acknowledged by {Path(m.by).relative_to(INFRA.parent)}"
        for m in made
        if _component(Path(m.by)) not in m.owners
    ]
    assert misplaced == []
    # Every acknowledgement in the tree went through the recorder (none bypassed it).
    key = cdk.Validations.ACKNOWLEDGED_RULES_METADATA_KEY
    in_tree = sum(
        len(dict(entry.data))
        for node in app.node.find_all()
        for entry in node.node.metadata
        if entry.type == key
    )
    assert len(made) == in_tree > 30
