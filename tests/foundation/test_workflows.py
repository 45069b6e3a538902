"""The GitHub Actions workflows that ship with the template: actionlint-clean, and every
`mlops` command they run exists with the options they pass."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
import typer

from mlops.cli.main import app

REPO = Path(__file__).resolve().parents[2]
WORKFLOWS = REPO / ".github" / "workflows"
ACTIONLINT = REPO / ".venv" / "bin" / "actionlint"


def _actionlint(cwd: Path, *files: str) -> subprocess.CompletedProcess[str]:
    binary = shutil.which("actionlint") or str(ACTIONLINT)
    return subprocess.run(
        [binary, "-no-color", *files],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_the_workflows_are_actionlint_clean() -> None:
    result = _actionlint(REPO)
    assert result.returncode == 0, result.stdout + result.stderr


def test_actionlint_catches_a_broken_workflow(tmp_path: Path) -> None:
    (tmp_path / ".github" / "workflows").mkdir(parents=True)
    (tmp_path / ".github" / "workflows" / "bad.yml").write_text(
        "on: push\njobs:\n  x:\n    runs-on: ubuntu-24.04\n"
        "    steps:\n      - run: echo ${{ inputs.missing }}\n"
    )
    result = _actionlint(tmp_path, ".github/workflows/bad.yml")
    assert result.returncode != 0
    assert "missing" in result.stdout


def _mlops_commands() -> list[list[str]]:
    commands = []
    for path in sorted(WORKFLOWS.glob("*.yml")):
        for line in path.read_text().splitlines():
            for match in re.finditer(r"\.venv/bin/mlops ((?:[a-z-]+ ?)+)(.*)", line):
                words = match.group(1).split()
                options = re.findall(r"(--[a-z-]+)", match.group(2))
                commands.append([*words, *options])
    return commands


@pytest.mark.parametrize("command", _mlops_commands(), ids=" ".join)
def test_every_mlops_command_of_the_workflows_exists(command: list[str]) -> None:
    group = typer.main.get_command(app)
    words = [word for word in command if not word.startswith("--")]
    for word in words:
        commands = getattr(group, "commands", {})
        if word not in commands:
            break  # an argument (a stage name)
        group = commands[word]
    known = {option for parameter in group.params for option in getattr(parameter, "opts", [])}
    assert {word for word in command if word.startswith("--")} <= known
    assert not hasattr(group, "commands"), f"{command}: names a group, not a command"
