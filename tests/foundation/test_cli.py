"""The `mlops` console script: help everywhere, user errors as one line without a traceback."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

GROUPS = ("data", "pipeline", "models", "endpoint", "monitor", "demo")


def _mlops(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    script = Path(sys.executable).parent / "mlops"
    return subprocess.run(
        [str(script), *args], capture_output=True, text=True, timeout=120, cwd=cwd, check=False
    )


def test_help_lists_every_group() -> None:
    result = _mlops("--help")
    assert result.returncode == 0
    for group in GROUPS:
        assert group in result.stdout


@pytest.mark.parametrize("group", GROUPS)
def test_each_group_has_help(group: str) -> None:
    result = _mlops(group, "--help")
    assert result.returncode == 0
    assert "Usage" in result.stdout


def test_generate_writes_the_requested_rows(tmp_path: Path) -> None:
    out = tmp_path / "d.csv"
    result = _mlops("data", "generate", "--rows", "25", "--seed", "1", "--out", str(out))
    assert result.returncode == 0, result.stderr
    assert len(out.read_text().splitlines()) == 26


def _assert_one_line_error(result: subprocess.CompletedProcess[str], *fragments: str) -> None:
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    error_lines = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(error_lines) == 1, result.stderr
    for fragment in fragments:
        assert fragment in error_lines[0]


def test_bad_setting_override_is_one_line(tmp_path: Path) -> None:
    result = _mlops(
        "--set", "project_name=Bad_Name", "data", "generate", "--out", str(tmp_path / "x.csv")
    )
    _assert_one_line_error(result, "project_name", "Bad_Name")


def test_malformed_set_option_is_one_line() -> None:
    result = _mlops("--set", "no-equals-sign", "data", "--help")
    _assert_one_line_error(result, "expected KEY=VALUE")


def test_directory_as_output_file_is_one_line(tmp_path: Path) -> None:
    result = _mlops("data", "generate", "--rows", "5", "--out", str(tmp_path))
    _assert_one_line_error(result, "is a directory")


def test_out_of_range_flag_is_rejected_without_traceback() -> None:
    result = _mlops("data", "generate", "--rows", "0")
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert "--rows" in result.stderr


def test_describe_of_a_missing_file_is_one_line(tmp_path: Path) -> None:
    result = _mlops("data", "describe", str(tmp_path / "nope.csv"))
    _assert_one_line_error(result, "no such file")
