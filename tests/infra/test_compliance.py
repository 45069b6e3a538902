"""cdk-nag, cfn-lint, determinism, settings validation and the pinned CLI."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.infra.conftest import Synthesized, synthesize


def test_cdk_nag_packs_report_no_unacknowledged_finding(synthesized: Synthesized) -> None:
    # An unacknowledged finding makes app.synth() raise; the report shows which packs ran.
    report = json.loads((synthesized.outdir / "validation-report.json").read_text())
    conclusions = {p["pluginName"]: p["conclusion"] for p in report["pluginReports"]}
    assert conclusions["AwsSolutions"] == "success"
    assert conclusions["NIST.800.53.R5"] == "success"
    assert all(not p["violations"] for p in report["pluginReports"])


def test_every_acknowledgement_states_a_reason(synthesized: Synthesized) -> None:
    import aws_cdk as cdk

    key = cdk.Validations.ACKNOWLEDGED_RULES_METADATA_KEY
    found = 0
    for stack in synthesized.stacks.all():
        for node in stack.node.find_all():
            for entry in node.node.metadata:
                if entry.type == key:
                    for rule, reason in dict(entry.data).items():
                        found += 1
                        assert len(str(reason)) > 40, rule
    assert found > 10


def test_cfn_lint_finds_no_error_or_warning(synthesized: Synthesized) -> None:
    from cfnlint.api import lint

    problems = []
    for path in sorted(synthesized.outdir.glob("*.template.json")):
        # The CLI's defaults: every error (E) and warning (W) rule, all regions of the template.
        problems += [f"{path.name}: {m}" for m in lint(path.read_text())]
    assert problems == []


def test_two_synths_give_identical_templates(
    synthesized: Synthesized, synth_inputs_default: Any, tmp_path: Path
) -> None:
    again = synthesize(tmp_path / "again", inputs=synth_inputs_default)
    assert again.templates == synthesized.templates
    assert set(again.templates) == {
        "Storage",
        "Pipeline",
        "StagingServing",
        "Serving",
        "Deploy",
        "Batch",
    }


def _cli_env(**extra: str) -> dict[str, str]:
    env = {
        **os.environ,
        "CDK_DISABLE_CLI_TELEMETRY": "true",
        "CDK_DISABLE_VERSION_CHECK": "1",
        "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20",
        "NODE_NO_WARNINGS": "1",
    }
    env.update(extra)
    return env


def test_a_bad_setting_stops_the_synth_with_its_message(repo_root: Path) -> None:
    result = subprocess.run(
        [sys.executable, "app.py"],
        cwd=repo_root,
        env=_cli_env(MLOPS_INSTANCES__ENDPOINT_TYPE="m5.large", CDK_OUTDIR="/nonexistent"),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode != 0
    assert "setting instances.endpoint_type = 'm5.large'" in result.stderr
    assert "SageMaker instance type" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.slow
def test_pinned_cdk_cli_synthesizes_offline(
    repo_root: Path, tmp_path: Path, synthesized: Synthesized
) -> None:
    npx = shutil.which("npx")
    if npx is None:
        pytest.fail("npx is missing: install Node.js (see docs/deploy.md)")
    # cdk.json's "app" runs `uv run …`; where uv is not on PATH (make installs it under .tools)
    # run the same app with this interpreter.
    app = [] if shutil.which("uv") else ["--app", f"{sys.executable} app.py"]
    result = subprocess.run(
        [npx, "--no-install", "cdk", "synth", "--quiet", *app, "-o", str(tmp_path / "out")],
        cwd=repo_root,
        env=_cli_env(),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    templates = {
        p.name.removesuffix(".template.json"): _without_cdk_metadata(json.loads(p.read_text()))
        for p in (tmp_path / "out").glob("*.template.json")
    }
    # A separate process (fresh definition build and tarball) gives the same templates.
    assert templates == {
        name: _without_cdk_metadata(template) for name, template in synthesized.templates.items()
    }


def _without_cdk_metadata(template: dict[str, Any]) -> dict[str, Any]:
    """Drop what only the CLI adds: the CDKMetadata resource/condition and path metadata."""
    resources = {
        logical: {key: value for key, value in resource.items() if key != "Metadata"}
        for logical, resource in template["Resources"].items()
        if resource["Type"] != "AWS::CDK::Metadata"
    }
    conditions = {
        name: value
        for name, value in template.get("Conditions", {}).items()
        if name != "CDKMetadataAvailable"
    }
    return {**template, "Resources": resources, "Conditions": conditions}
