"""The README's version matrix, generated from the locks (``python -m
mlops.local_runtime.images.matrix`` prints it; a test keeps the README equal to it).

One row per image: the scripts that run in it, its Python, the versions of the libraries the
scripts import as its environment's ``uv.lock`` holds them, and where those pins come from (the
image's own requirements in the public container repository). Then the project's own pins that
matter for SageMaker compatibility, from the project's ``uv.lock`` and ``package-lock.json``.
"""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

from mlops.local_runtime.images.catalog import ImageSpec, known_images

REPO_ROOT = Path(__file__).resolve().parents[3]
BEGIN = "<!-- version-matrix:begin (generated: python -m mlops.local_runtime.images.matrix) -->"
END = "<!-- version-matrix:end -->"
# The libraries the scripts import, in the order the matrix lists them.
SCRIPT_LIBRARIES = (
    "xgboost",
    "xgboost-cpu",
    "scikit-learn",
    "pandas",
    "numpy",
    "scipy",
    "matplotlib",
)
# The project's pins that must agree with SageMaker: (what, packages in uv.lock).
PROJECT_ROWS = (
    (
        "pipeline definition (SageMaker SDK v3)",
        ("sagemaker-core", "sagemaker-mlops", "sagemaker-train"),
    ),
    ("request contract (botocore's service models)", ("boto3", "botocore")),
    ("infrastructure", ("aws-cdk-lib", "constructs", "cdk-nag")),
    ("local AWS", ("moto",)),
)


def render(repo_root: Path = REPO_ROOT) -> str:
    """The matrix as Markdown, between its markers."""
    lines = [
        BEGIN,
        "| scripts | SageMaker image | Python | libraries (locked as the image pins them) "
        "| source of the pins |",
        "|---|---|---|---|---|",
    ]
    lines += [_image_row(image) for image in known_images()]
    lines += [
        "",
        "| project part | pins (`uv.lock`, `package-lock.json`) |",
        "|---|---|",
    ]
    project = _lock_versions(repo_root / "uv.lock")
    for what, packages in PROJECT_ROWS:
        pins = ", ".join(f"{name} {project[name]}" for name in packages if name in project)
        lines.append(f"| {what} | {pins} |")
    cli = _npm_version(repo_root / "package-lock.json", "aws-cdk")
    lines.append(f"| CDK CLI | aws-cdk {cli} |")
    lines.append(END)
    return "\n".join(lines)


def _image_row(image: ImageSpec) -> str:
    versions = image.locked_versions()
    shown: dict[str, str] = {}  # xgboost and its CPU-only wheel (Linux) are one library
    for name in SCRIPT_LIBRARIES:
        if name in versions:
            shown.setdefault(name.removesuffix("-cpu"), versions[name])
    libraries = ", ".join(f"{name} {version}" for name, version in shown.items())
    scripts = ", ".join(f"`{script}`" for script in image.scripts)
    return (
        f"| {scripts} | `{image.repository}:{image.tags[0]}` | {image.python} | {libraries} "
        f"| {_short_commit(image.requirements_source)} |"
    )


def _short_commit(source: str) -> str:
    """``owner/repo@<40 hex> path`` shown with a 12-character commit."""
    head, _, rest = source.partition(" ")
    repository, _, commit = head.partition("@")
    return f"`{repository}@{commit[:12]}` {rest}" if commit else source


def _lock_versions(lock: Path) -> dict[str, str]:
    document = tomllib.loads(lock.read_text())
    return {
        str(package["name"]): str(package["version"])
        for package in document.get("package", [])
        if "version" in package
    }


def _npm_version(lock: Path, package: str) -> str:
    document = json.loads(lock.read_text())
    return str(document["packages"][f"node_modules/{package}"]["version"])


if __name__ == "__main__":
    print(render())
