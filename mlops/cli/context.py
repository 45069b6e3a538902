"""State shared by every subcommand: the settings overrides given on the command line."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from mlops.core.errors import UserError
from mlops.core.settings import ProjectSettings, load_settings

if TYPE_CHECKING:
    from mlops.local_runtime.aws import AwsTarget


@dataclass(frozen=True)
class CliState:
    overrides: dict[str, Any] = field(default_factory=dict)
    config: Path | None = None  # --config: the settings file (default cdk.json)

    def settings(self, extra: dict[str, Any] | None = None) -> ProjectSettings:
        """Settings with CLI overrides applied (``extra`` from command flags wins)."""
        merged = _deep_merge(self.overrides, extra or {})
        return load_settings(merged, cdk_json=self.config)


def aws_target(ctx: typer.Context, *, local: bool, endpoint_url: str | None = None) -> AwsTarget:
    """The one place a command decides where its AWS calls go: ``--endpoint-url``, else the
    embedded AWS with ``--local``, else real AWS; always in the settings' region."""
    from mlops.local_runtime.aws import resolve_target

    return resolve_target(state(ctx).settings().region, local=local, endpoint_url=endpoint_url)


def state(ctx: typer.Context) -> CliState:
    """The root command's state (a default one when a group is invoked directly in tests)."""
    root = ctx.find_root()
    return root.obj if isinstance(root.obj, CliState) else CliState()


def parse_assignments(assignments: list[str], *, option: str) -> dict[str, Any]:
    """``["a.b=1", "c=x"]`` → ``{"a": {"b": "1"}, "c": "x"}``; pydantic converts the types."""
    result: dict[str, Any] = {}
    for assignment in assignments:
        key, separator, value = assignment.partition("=")
        if not separator or not key.strip():
            raise UserError(f"{option} {assignment!r}: expected KEY=VALUE")
        node = result
        *parents, leaf = key.strip().split(".")
        for part in parents:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise UserError(
                    f"{option} {assignment!r}: {part} is set both as a value and a group"
                )
        node[leaf] = value
    return result


def _deep_merge(base: dict[str, Any], top: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in top.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged
