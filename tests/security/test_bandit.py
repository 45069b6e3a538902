"""bandit over the project's code: no medium or high finding, and every ``# nosec`` says why."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

TARGETS = ("mlops", "sagemaker_pipelines", "monitoring", "infra", "inference", "training", "app.py")
# "# nosec B603 - reason" / "# nosec B310: reason": test ids, then a separator and words.
NOSEC_WITH_REASON = re.compile(r"#\s*nosec(?:\s+B\d{3}(?:\s*,\s*B\d{3})*)?\s*[-–:]\s*\w+")


def _python_files(repo_root: Path) -> list[Path]:
    files: list[Path] = []
    for target in TARGETS:
        path = repo_root / target
        files.extend(sorted(path.rglob("*.py")) if path.is_dir() else [path])
    return files


def test_bandit_reports_no_medium_or_high_finding(repo_root: Path) -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "bandit",
            "-c",
            "pyproject.toml",
            "-r",
            *TARGETS,
            "-f",
            "json",
            "-q",
        ],
        cwd=repo_root,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    report = json.loads(result.stdout)
    assert report["errors"] == []
    scanned = {Path(name).as_posix() for name in report["metrics"] if name != "_totals"}
    assert "inference/inference.py" in scanned
    assert "infra/shared/roles.py" in scanned
    serious = [
        f"{item['filename']}:{item['line_number']} {item['test_id']} "
        f"{item['issue_severity']}/{item['issue_confidence']}: {item['issue_text']}"
        for item in report["results"]
        if item["issue_severity"] in {"MEDIUM", "HIGH"}
    ]
    assert serious == []


def test_every_nosec_comment_names_its_reason(repo_root: Path) -> None:
    unexplained = []
    found = 0
    for path in _python_files(repo_root):
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            if "nosec" not in line.split("#", 1)[-1] or "#" not in line:
                continue
            found += 1
            if not NOSEC_WITH_REASON.search(line):
                unexplained.append(f"{path.relative_to(repo_root)}:{number}: {line.strip()}")
    assert found > 0  # the scan sees the project's known suppressions
    assert unexplained == []
