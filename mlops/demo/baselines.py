"""The approved package's drift-check baselines, fetched the way a deployment gets them.

The serving stack's monitors on AWS are configured from the package's ``DriftCheckBaselines``
(the approval path reads them); the demo's monitors read the very same files from the local
registry and S3, so what it checks traffic against is what the package carries.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlops.core.s3uri import split_s3_uri


@dataclass(frozen=True)
class PackageBaselines:
    """Local copies of a package's baselines: one directory per monitor (None: not there)."""

    data_quality: Path
    model_quality: Path | None
    bias: Path | None
    explainability: Path | None


# DriftCheckBaselines entry → (local directory, file name) it is saved as.
_FILES = {
    ("ModelDataQuality", "Statistics"): ("data-quality", "statistics.json"),
    ("ModelDataQuality", "Constraints"): ("data-quality", "constraints.json"),
    ("ModelQuality", "Statistics"): ("model-quality", "statistics.json"),
    ("ModelQuality", "Constraints"): ("model-quality", "constraints.json"),
    ("Bias", "PostTrainingConstraints"): ("bias", "constraints.json"),
    ("Bias", "ConfigFile"): ("bias", "analysis_config.json"),
    ("Explainability", "Constraints"): ("explainability", "analysis.json"),
    ("Explainability", "ConfigFile"): ("explainability", "analysis_config.json"),
}


def fetch_baselines(sagemaker: Any, s3: Any, package_arn: str, dest: Path) -> PackageBaselines:
    """Download every baseline file the package names into ``dest/<monitor>/``."""
    package = sagemaker.describe_model_package(ModelPackageName=package_arn)
    baselines = package.get("DriftCheckBaselines", {})
    present: set[str] = set()
    for (section, entry), (monitor, name) in _FILES.items():
        uri = (baselines.get(section) or {}).get(entry, {}).get("S3Uri")
        if not uri:
            continue
        bucket, key = split_s3_uri(uri)
        target = dest / monitor / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(s3.get_object(Bucket=bucket, Key=key)["Body"].read())
        present.add(monitor)

    def folder(name: str) -> Path | None:
        return dest / name if name in present else None

    if "data-quality" not in present:
        raise ValueError(f"{package_arn} has no data-quality drift-check baseline")
    return PackageBaselines(
        data_quality=dest / "data-quality",
        model_quality=folder("model-quality"),
        bias=folder("bias"),
        explainability=folder("explainability"),
    )
