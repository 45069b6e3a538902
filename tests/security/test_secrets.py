"""No secrets in the repository: detect-secrets over every file git would commit.

The only secret-looking value allowed is moto's documented fake credential ``testing``
(tests/conftest.py and mlops/local_runtime/aws.py pass it to the local, in-memory AWS).
"""

from __future__ import annotations

import hashlib
import subprocess
from pathlib import Path

import pytest

ALLOWED_SECRETS = {
    hashlib.sha1(b"testing", usedforsecurity=False).hexdigest(): "moto's fake credential"
}
SKIPPED_SUFFIXES = (".lock", "package-lock.json")  # hashes of published packages, not secrets


def _repo_files(repo_root: Path) -> list[str]:
    """Tracked files plus untracked ones .gitignore does not exclude (what a commit can add)."""
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard"],
        cwd=repo_root,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.splitlines()
    return [
        name
        for name in listed
        if (repo_root / name).is_file() and not name.endswith(SKIPPED_SUFFIXES)
    ]


def _scan(paths: list[str]) -> list[tuple[str, int, str, str]]:
    from detect_secrets.core.secrets_collection import SecretsCollection
    from detect_secrets.settings import default_settings

    secrets = SecretsCollection()
    with default_settings():
        for path in paths:
            secrets.scan_file(path)
    return [
        (filename, secret.line_number or 0, secret.type, secret.secret_hash)
        for filename, secret in secrets
    ]


def test_no_secret_in_any_committable_file(
    repo_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(repo_root)
    files = _repo_files(repo_root)
    assert "mlops/local_runtime/aws.py" in files
    assert "pyproject.toml" in files
    found = [item for item in _scan(files) if item[3] not in ALLOWED_SECRETS]
    assert found == [], [f"{name}:{line} {kind}" for name, line, kind, _ in found]


def test_the_scanner_finds_a_planted_key(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # A fake key in AWS's documented example format: proves the scan above can fail.
    planted = tmp_path / "settings.py"
    key = "AKIA" + "IOSFODNN7EXAMPLE"  # split so this file itself holds no key
    planted.write_text(f'aws_access_key_id = "{key}"\n')
    monkeypatch.chdir(tmp_path)
    kinds = {kind for _, _, kind, _ in _scan(["settings.py"])}
    assert "AWS Access Key" in kinds
