"""Fault injection for the local executor: step scripts that misbehave, and a definition edit.

The executor runs the definition JSON, so a fault is injected the way a user would hit it:
the ``Preprocess`` step's code input points at a script (uploaded to the local S3, as a code
asset is) that dies, exits non-zero, hangs or fills the disk. A job sees only its own
``Environment``, so the test's control variables (pid file, go file) reach the script there.
``edited_definitions`` wraps the real (cached) definition build so everything else (parameters,
outputs, later steps) stays the project's own definition.

Run as a module it is ``mlops`` with that edit applied, for the Ctrl-C test's subprocess:
``python -m tests.reliability.faulty_steps SCRIPT -- pipeline run --local …``.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

PID_FILE_ENV = "RELIABILITY_PID_FILE"
GO_FILE_ENV = "RELIABILITY_GO_FILE"

_PREAMBLE = """\
import os, pathlib, signal, sys, time
root = pathlib.Path(os.environ["SM_PROCESSING_ROOT"])
"""

SCRIPTS = {
    # writes half an output, then dies the way the OOM killer ends a process
    "sigkill": _PREAMBLE
    + """
(root / "train").mkdir(parents=True, exist_ok=True)
(root / "train" / "train.csv").write_text("1,0.5\\n0,")
print("half of train.csv written; dying", flush=True)
os.kill(os.getpid(), signal.SIGKILL)
""",
    "exit3": _PREAMBLE
    + """
print("starting", flush=True)
reason = "preprocess: simulated failure: the input schema is not what was promised"
sys.stderr.write(reason + "\\n")
(root.parent / "output").mkdir(parents=True, exist_ok=True)
(root.parent / "output" / "message").write_text(reason)  # /opt/ml/output/message
sys.exit(3)
""",
    # records its pid, says it is working, waits for the go file (or 60 s), then succeeds
    "wait-then-succeed": _PREAMBLE
    + """
pid_file = os.environ.get("RELIABILITY_PID_FILE")
if pid_file:
    pathlib.Path(pid_file).write_text(str(os.getpid()))
print("working", flush=True)
go = os.environ.get("RELIABILITY_GO_FILE")
deadline = time.monotonic() + 60
while go and not pathlib.Path(go).exists() and time.monotonic() < deadline:
    time.sleep(0.05)
for name in ("train", "validation", "test", "baseline", "spec"):
    (root / name).mkdir(parents=True, exist_ok=True)
    (root / name / f"{name}.csv").write_text("a\\n1\\n")
print("done", flush=True)
""",
    # a fast stand-in for preprocess: tiny but well-formed outputs, so later steps can start
    "tiny-preprocess": _PREAMBLE
    + """
rows = ["age,contract", "30,Month-to-month", "41,One year", "52,Two year", "63,One year"]
outputs = {
    "train": ("train.csv", "1,30\\n0,41\\n"),
    "validation": ("validation.csv", "1,52\\n"),
    "test": ("test.csv", "0,63\\n"),
    "baseline": ("baseline.csv", "\\n".join(rows) + "\\n"),
    "spec": ("feature_spec.json", "{}"),
}
for name, (file, text) in outputs.items():
    (root / name).mkdir(parents=True, exist_ok=True)
    (root / name / file).write_text(text)
""",
}


def write_script(directory: Path, name: str) -> Path:
    """Write one of ``SCRIPTS`` as ``<directory>/<name>.py`` and return its path."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{name.replace('-', '_')}.py"
    path.write_text(textwrap.dedent(SCRIPTS[name]))
    return path


def use_script(document: dict[str, Any], script: Path, step: str = "Preprocess") -> dict[str, Any]:
    """Point ``step``'s ``code`` input at ``script``, uploaded next to the real code asset in
    the local S3 (``$MLOPS_LOCAL_AWS_URL``), and pass the test's control variables to the job
    through the step's ``Environment``."""
    from mlops.core.s3uri import split_s3_uri
    from mlops.local_runtime.aws import client

    for candidate in document["Steps"]:
        if candidate["Name"] != step:
            continue
        arguments = candidate["Arguments"]
        for item in arguments["ProcessingInputs"]:
            if item["InputName"] == "code":
                bucket, _ = split_s3_uri(item["S3Input"]["S3Uri"])
                key = f"fault-scripts/{script.name}"
                s3 = client(
                    "s3", endpoint_url=os.environ["MLOPS_LOCAL_AWS_URL"], region="us-east-1"
                )
                s3.upload_file(str(script), bucket, key)
                item["S3Input"]["S3Uri"] = f"s3://{bucket}/{key}"
        entry = arguments["AppSpecification"]["ContainerEntrypoint"]
        entry[-1] = f"/opt/ml/processing/input/code/{script.name}"
        controls = {
            name: os.environ[name] for name in (PID_FILE_ENV, GO_FILE_ENV) if name in os.environ
        }
        if controls:
            arguments["Environment"] = {**arguments.get("Environment", {}), **controls}
        return document
    raise KeyError(f"no step {step} in the definition")


@contextlib.contextmanager
def edited_definitions(edit: Callable[[dict[str, Any]], dict[str, Any]]) -> Iterator[None]:
    """While active, ``run_local_pipeline`` executes ``edit(real definition)``."""
    from mlops.local_runtime.executor import run

    real = run.cached_definition

    def build(*args: Any, **kwargs: Any) -> str:
        return json.dumps(edit(json.loads(real(*args, **kwargs))))

    run.cached_definition = build
    try:
        yield
    finally:
        run.cached_definition = real


def main(argv: list[str]) -> None:
    """``SCRIPT -- mlops arguments…``: the mlops CLI with Preprocess running SCRIPT."""
    separator = argv.index("--")
    script = Path(argv[0])
    sys.argv = ["mlops", *argv[separator + 1 :]]
    from mlops.cli.main import main as mlops_main

    with edited_definitions(lambda document: use_script(document, script)):
        mlops_main()


if __name__ == "__main__":
    main(sys.argv[1:])
