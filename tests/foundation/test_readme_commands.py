"""Every command the README tells a user to type exists, with the flags it shows, as written.

The README's convention: after `make demo` / `make test` the project environment is `.venv`, and
CLI commands are written `.venv/bin/mlops …`, so they work in a shell that has no `uv` on PATH.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import typer

from mlops.cli.main import app

REPO = Path(__file__).resolve().parents[2]
README = (REPO / "README.md").read_text()
CLI = ".venv/bin/mlops"


def readme_shell_lines() -> list[str]:
    """Commands in the README's ```bash blocks, continuation lines joined, comments dropped."""
    lines: list[str] = []
    for block in re.findall(r"```bash\n(.*?)```", README, flags=re.S):
        joined = block.replace("\\\n", " ")
        for line in joined.splitlines():
            command = line.split(" #", 1)[0].strip()
            if command and not command.startswith("#"):
                lines.append(command)
    return lines


def words(line: str) -> list[str]:
    """Shell words of a README line; `<arn>`-style placeholders stay one word."""
    return shlex.split(line.replace("<", "'<").replace(">", ">'"))


def path_without_uv() -> str:
    """This process's PATH minus every directory holding a `uv` (a new user's shell)."""
    kept = [
        d for d in os.environ.get("PATH", "").split(os.pathsep) if d and not Path(d, "uv").exists()
    ]
    return os.pathsep.join(kept or ["/usr/bin", "/bin"])


def _is_group(command: Any) -> bool:
    """Typer vendors click, so duck-type: a group is what has subcommands."""
    return hasattr(command, "commands")


SHELL_LINES = readme_shell_lines()
MLOPS_LINES = [line for line in SHELL_LINES if line.startswith(f"{CLI} ")]
MAKE_LINES = [line for line in SHELL_LINES if line.startswith("make ")]


def test_the_readme_shows_both_commands_and_the_cli() -> None:
    assert any(line.startswith("make demo") for line in MAKE_LINES)
    assert any(line.startswith("make test") for line in MAKE_LINES)
    assert len(MLOPS_LINES) >= 15


def test_no_readme_command_needs_uv_on_path() -> None:
    needs_uv = [line for line in SHELL_LINES if words(line)[0] in {"uv", "uvx"}]
    assert needs_uv == [], f"README commands that fail where uv is not on PATH: {needs_uv}"


def test_cli_lines_use_the_venv_prefix() -> None:
    """A bare `mlops …` works only in an activated venv; the README writes `.venv/bin/mlops …`."""
    other = [
        line
        for line in SHELL_LINES
        if "mlops" in Path(words(line)[0]).name and not line.startswith(f"{CLI} ")
    ]
    assert other == [], f"CLI commands not written as `{CLI} …`: {other}"


def test_the_venv_cli_runs_without_uv_on_path() -> None:
    """After the README's set-up, `.venv/bin/mlops` is there and runs in a shell without uv."""
    script = REPO / CLI
    assert script.is_file(), f"{script} missing: `make install` creates it"
    assert os.access(script, os.X_OK), f"{script} is not executable"
    path = path_without_uv()
    assert shutil.which("uv", path=path) is None
    result = subprocess.run(
        [str(script), "--help"],
        cwd=REPO,
        env={**os.environ, "PATH": path},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    for group in ("data", "pipeline", "models", "endpoint", "monitor", "demo"):
        assert group in result.stdout


@pytest.mark.parametrize("line", MAKE_LINES)
def test_make_target_exists(line: str) -> None:
    makefile = (REPO / "Makefile").read_text()
    target = words(line)[1]
    assert re.search(rf"^{re.escape(target)}:", makefile, flags=re.M), target


@pytest.mark.parametrize("line", MLOPS_LINES)
def test_mlops_command_and_flags_exist(line: str) -> None:
    args = words(line)[1:]
    command: Any = typer.main.get_command(app)
    context_options = {opt for param in command.params for opt in getattr(param, "opts", [])}
    while args and _is_group(command):
        word = args.pop(0)
        if word.startswith("-"):
            assert word.split("=")[0] in context_options, f"root option {word}"
            if "=" not in word and args:
                args.pop(0)  # the option's value
            continue
        sub = command.commands.get(word)
        assert sub is not None, f"no command {word!r} in: {line}"
        command = sub
    assert not _is_group(command), f"incomplete command: {line}"
    options = {opt for param in command.params for opt in [*param.opts, *param.secondary_opts]}
    for word in args:
        if word.startswith("--"):
            assert word.split("=")[0] in options, f"{word} is not an option of: {line}"
