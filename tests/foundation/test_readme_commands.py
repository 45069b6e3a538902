"""Every command the README tells a user to type exists, with the flags it shows."""

from __future__ import annotations

import re
import shlex
from pathlib import Path
from typing import Any

import pytest
import typer

from mlops.cli.main import app

REPO = Path(__file__).resolve().parents[2]
README = (REPO / "README.md").read_text()


def _shell_lines() -> list[str]:
    """Commands in the README's ```bash blocks, continuation lines joined, comments dropped."""
    lines: list[str] = []
    for block in re.findall(r"```bash\n(.*?)```", README, flags=re.S):
        joined = block.replace("\\\n", " ")
        for line in joined.splitlines():
            command = line.split(" #", 1)[0].strip()
            if command and not command.startswith("#"):
                lines.append(command)
    return lines


def _words(line: str) -> list[str]:
    return shlex.split(line.replace("<", "'<").replace(">", ">'"))


def _is_group(command: Any) -> bool:
    """Typer vendors click, so duck-type: a group is what has subcommands."""
    return hasattr(command, "commands")


MLOPS_LINES = [line for line in _shell_lines() if re.match(r"(uv run )?mlops ", line)]
MAKE_LINES = [line for line in _shell_lines() if line.startswith("make ")]


def test_the_readme_shows_both_commands_and_the_cli() -> None:
    assert "make demo" in MAKE_LINES[0] or any(line.startswith("make demo") for line in MAKE_LINES)
    assert any(line.startswith("make test") for line in MAKE_LINES)
    assert len(MLOPS_LINES) >= 15


@pytest.mark.parametrize("line", MAKE_LINES)
def test_make_target_exists(line: str) -> None:
    makefile = (REPO / "Makefile").read_text()
    target = _words(line)[1]
    assert re.search(rf"^{re.escape(target)}:", makefile, flags=re.M), target


@pytest.mark.parametrize("line", MLOPS_LINES)
def test_mlops_command_and_flags_exist(line: str) -> None:
    words = _words(line)
    words = words[words.index("mlops") + 1 :]
    command: Any = typer.main.get_command(app)
    context_options = {opt for param in command.params for opt in getattr(param, "opts", [])}
    while words and _is_group(command):
        word = words.pop(0)
        if word.startswith("-"):
            assert word.split("=")[0] in context_options, f"root option {word}"
            if "=" not in word and words:
                words.pop(0)  # the option's value
            continue
        sub = command.commands.get(word)
        assert sub is not None, f"no command {word!r} in: {line}"
        command = sub
    assert not _is_group(command), f"incomplete command: {line}"
    options = {opt for param in command.params for opt in [*param.opts, *param.secondary_opts]}
    for word in words:
        if word.startswith("--"):
            assert word.split("=")[0] in options, f"{word} is not an option of: {line}"
