"""Script mode as the XGBoost 3.2-0 image's launcher runs it (sagemaker-containers 2.8.6.post2).

In the image, ``SAGEMAKER_TRAINING_MODULE=sagemaker_xgboost_container.training:main`` runs
under sagemaker-containers' trainer: it reads ``/opt/ml/input/config/*.json`` into a training
environment, extracts ``sagemaker_submit_directory`` into ``/opt/ml/code``, writes a
``setup.py``/``setup.cfg``/``MANIFEST.in`` there and pip-installs it, exports the ``SM_*``
variables, and runs ``python -m <module> --key value …`` (keys sorted) with ``/opt/ml/code``
as working directory. When the script exits non-zero it overwrites ``/opt/ml/output/failure``
with ``ExecuteUserScriptError:\\nCommand "<command>"``, which SageMaker reports as
``FailureReason: AlgorithmError: <that text>``.

This module derives the same values from the same staged tree;
``tests/fidelity/test_training_contract.py`` runs the real launcher on a copy of the tree and
requires equality (paths re-rooted, the interpreter path aside). The one step not reproduced
is the pip install of the code directory into the image's Python: the cached image
environment is shared and stays read-only. ``python -m <module>`` from ``/opt/ml/code``
imports the same file either way; a source dir with its own ``setup.py`` or a
``requirements.txt`` (which the launcher would install) is refused as not supported locally.
"""

from __future__ import annotations

import functools
import json
import logging
import multiprocessing
import subprocess  # nosec B404 - asks an interpreter for its sys.path
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlops.local_runtime.jobs.container import Rerooting

PROGRAM_HP = "sagemaker_program"
SUBMIT_DIRECTORY_HP = "sagemaker_submit_directory"
FRAMEWORK_MODULE_ENV = "SAGEMAKER_TRAINING_MODULE"
# sagemaker-containers' _params.SAGEMAKER_HYPERPARAMETERS: hidden from the script's arguments.
SAGEMAKER_HYPERPARAMETERS = (
    PROGRAM_HP,
    SUBMIT_DIRECTORY_HP,
    "sagemaker_enable_cloudwatch_metrics",
    "sagemaker_region",
    "sagemaker_container_log_level",
    "sagemaker_job_name",
    "default_user_module_name",
    "_tuning_objective_metric",
    "sagemaker_s3_output",
)
_PREFIX = "sagemaker_"
FAILURE_PREFIX = "AlgorithmError: "

# What the launcher writes into the code directory when it has no setup.py (modules.prepare).
_SETUP_PY = """
from setuptools import setup
setup(packages=[''],
      name="{name}",
      version='1.0.0',
      include_package_data=True)
"""
_SETUP_CFG = """
[wheel]
universal = 1
"""
_MANIFEST_IN = """
recursive-include . *
recursive-exclude . __pycache__*
recursive-exclude . *.pyc
recursive-exclude . *.pyo
"""


class UnsupportedSourceError(ValueError):
    """A source dir the launcher would pip-install (setup.py, requirements.txt)."""


@dataclass(frozen=True)
class LaunchPlan:
    """What the launcher runs: the command, its environment additions and the module dir."""

    command: list[str]
    environment: dict[str, str]
    module_dir: str
    module_name: str


def read_hyperparameters(config_dir: Path) -> dict[str, Any]:
    """``hyperparameters.json`` with every value JSON-decoded when it parses (else the text)."""
    raw = json.loads((config_dir / "hyperparameters.json").read_text())
    decoded: dict[str, Any] = {}
    for key, value in raw.items():
        try:
            decoded[key] = json.loads(value)
        except (ValueError, TypeError):
            decoded[key] = value
    return decoded


def plan_launch(
    *,
    rerooting: Rerooting,
    container_env: Mapping[str, str],
    python: str,
    launcher_path: Sequence[str] = (),
) -> LaunchPlan:
    """The training environment the launcher derives from the staged ``/opt/ml`` tree."""
    base = rerooting.root
    config_dir = base / "input" / "config"
    resource = json.loads((config_dir / "resourceconfig.json").read_text())
    input_data = json.loads((config_dir / "inputdataconfig.json").read_text())
    everything = read_hyperparameters(config_dir)
    sagemaker = {
        k: v
        for k, v in everything.items()
        if k in SAGEMAKER_HYPERPARAMETERS or k.startswith(_PREFIX)
    }
    hyperparameters = {k: v for k, v in everything.items() if k not in sagemaker}
    framework_parameters = {
        k: v for k, v in sagemaker.items() if k not in SAGEMAKER_HYPERPARAMETERS
    }
    hosts = list(resource["hosts"])
    current_host = str(resource["current_host"])
    program = sagemaker.get(PROGRAM_HP)
    module_name = container_env.get("SAGEMAKER_PROGRAM") or str(program)
    module_name = module_name[:-3] if module_name.endswith(".py") else module_name
    submit = sagemaker.get(SUBMIT_DIRECTORY_HP)
    module_dir = rerooting.text(str(submit)) if submit is not None else str(base / "code")
    input_dir = base / "input"
    output_dir = base / "output"
    channels = {channel: str(input_dir / "data" / channel) for channel in input_data}
    arguments = to_cmd_args(hyperparameters)
    training_env = {
        "additional_framework_parameters": framework_parameters,
        "channel_input_dirs": channels,
        "current_host": current_host,
        "framework_module": container_env.get(FRAMEWORK_MODULE_ENV),
        "hosts": hosts,
        "hyperparameters": hyperparameters,
        "input_config_dir": str(config_dir),
        "input_data_config": input_data,
        "input_dir": str(input_dir),
        "is_master": current_host == hosts[0],
        "job_name": container_env.get("TRAINING_JOB_NAME"),
        "log_level": sagemaker.get("sagemaker_container_log_level", logging.INFO),
        "master_hostname": hosts[0],
        "model_dir": str(base / "model"),
        "module_dir": module_dir,
        "module_name": module_name,
        "network_interface_name": resource.get("network_interface_name", "eth0"),
        "num_cpus": multiprocessing.cpu_count(),
        "num_gpus": 0,
        "output_data_dir": str(output_dir / "data"),
        "output_dir": str(output_dir),
        "output_intermediate_dir": str(output_dir / "intermediate"),
        "resource_config": resource,
        "user_entry_point": container_env.get("SAGEMAKER_PROGRAM") or program,
    }
    exported: dict[str, Any] = {
        "hosts": hosts,
        "network_interface_name": training_env["network_interface_name"],
        "hps": hyperparameters,
        "user_entry_point": training_env["user_entry_point"],
        "framework_params": framework_parameters,
        "resource_config": resource,
        "input_data_config": input_data,
        "output_data_dir": training_env["output_data_dir"],
        "channels": sorted(channels),
        "current_host": current_host,
        "module_name": module_name,
        "log_level": training_env["log_level"],
        "framework_module": training_env["framework_module"],
        "input_dir": training_env["input_dir"],
        "input_config_dir": training_env["input_config_dir"],
        "output_dir": training_env["output_dir"],
        "num_cpus": training_env["num_cpus"],
        "num_gpus": training_env["num_gpus"],
        "model_dir": training_env["model_dir"],
        "module_dir": module_dir,
        "training_env": training_env,
        "user_args": arguments,
        "output_intermediate_dir": training_env["output_intermediate_dir"],
    }
    for channel, path in channels.items():
        exported[f"channel_{channel}"] = path
    for key, value in hyperparameters.items():
        exported[f"hp_{key}"] = value
    environment = {f"SM_{key.upper()}": _env_value(value) for key, value in exported.items()}
    # Set on os.environ by the training environment itself, inherited by the script.
    environment["SAGEMAKER_JOB_NAME"] = str(sagemaker.get("sagemaker_job_name", ""))
    environment["CURRENT_HOST"] = current_host
    environment["SAGEMAKER_REGION"] = str(
        sagemaker.get("sagemaker_region", container_env.get("AWS_DEFAULT_REGION", ""))
    )
    # write_env_vars exports the launcher's own sys.path as PYTHONPATH.
    environment["PYTHONPATH"] = ":".join(launcher_path)
    return LaunchPlan(
        command=[python, "-m", module_name, *arguments],
        environment=environment,
        module_dir=module_dir,
        module_name=module_name,
    )


def launcher_sys_path(python: str) -> list[str]:
    """``sys.path`` of the image's ``train`` console script: its bin dir, the interpreter's
    own path, and setuptools' ``_vendor`` dir that importing ``pkg_resources`` (setuptools
    < 81, as in the images) appends."""
    interpreter = Path(python)
    entries = [str(interpreter.parent), *_interpreter_path(str(interpreter))]
    site = next((entry for entry in reversed(entries) if entry.endswith("site-packages")), None)
    if site is not None:
        entries.append(f"{site}/setuptools/_vendor")
    return entries


@functools.cache
def _interpreter_path(python: str) -> tuple[str, ...]:
    """The interpreter's sys.path without the script directory (asked once per interpreter,
    with an empty environment so no caller's PYTHONPATH leaks in)."""
    result = subprocess.run(  # noqa: S603  # nosec B603 - a local interpreter, fixed code
        [python, "-c", "import json, sys; print(json.dumps(sys.path[1:]))"],
        env={"PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return tuple(str(entry) for entry in json.loads(result.stdout))


def prepare_code_dir(code_dir: Path, module_name: str) -> None:
    """The files the launcher writes before installing the code dir (modules.prepare)."""
    if (code_dir / "setup.py").exists():
        raise UnsupportedSourceError(
            "not supported locally: a setup.py in sagemaker_submit_directory (the image "
            "pip-installs it into its Python; the local image environment is shared)"
        )
    if (code_dir / "requirements.txt").exists():
        raise UnsupportedSourceError(
            "not supported locally: requirements.txt in sagemaker_submit_directory (the image "
            "pip-installs it; pin the libraries in the image environment instead)"
        )
    (code_dir / "setup.py").write_text(_SETUP_PY.format(name=module_name))
    (code_dir / "setup.cfg").write_text(_SETUP_CFG)
    (code_dir / "MANIFEST.in").write_text(_MANIFEST_IN)


def failure_text(command: list[str]) -> str:
    """What the launcher writes to ``/opt/ml/output/failure`` when the script fails."""
    return f'ExecuteUserScriptError:\nCommand "{" ".join(command)}"'


def to_cmd_args(hyperparameters: Mapping[str, Any]) -> list[str]:
    """``--key value`` pairs, keys sorted; one-letter keys get a single dash (mapping rule)."""
    arguments: list[str] = []
    for key in sorted(hyperparameters):
        name = str(key)
        arguments.append(f"--{name}" if len(name) > 1 else f"-{name}")
        value = hyperparameters[key]
        if hasattr(value, "items"):
            arguments.append(",".join(f"{k}={v}" for k, v in sorted(value.items())))
        else:
            arguments.append("" if value is None else str(value))
    return arguments


def _env_value(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
