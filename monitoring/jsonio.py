"""Reading and writing the analyzer's JSON files.

The managed analyzer writes NaN-free JSON; Python's json would emit bare ``NaN`` tokens that
other readers reject, so writing refuses non-finite numbers (callers substitute first).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from monitoring.errors import MonitoringInputError


def write_json(path: Path, document: dict[str, Any], *, compact: bool = False) -> Path:
    """Write ``document`` atomically (readers never see half a file).

    Indented for people by default; ``compact`` for statistics.json, whose KLL sketches hold
    thousands of numbers per feature: indenting them makes the file ten times longer, and
    Python's indenting encoder is pure Python, which made it the slowest step of a baseline.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.partial")
    text = json.dumps(document, indent=None if compact else 2, allow_nan=False)
    partial.write_text(text + "\n")
    os.replace(partial, path)
    return path


def read_json(path: Path, *, what: str) -> dict[str, Any]:
    """Parse a JSON object file, turning every failure into one line naming the file."""
    try:
        document = json.loads(Path(path).read_text())
    except FileNotFoundError:
        raise MonitoringInputError(f"{what} not found: {path}") from None
    except (OSError, UnicodeDecodeError) as error:
        raise MonitoringInputError(f"cannot read {what} {path}: {error}") from None
    except json.JSONDecodeError as error:
        raise MonitoringInputError(f"{what} {path} is not valid JSON: {error}") from None
    if not isinstance(document, dict):
        raise MonitoringInputError(f"{what} {path} must hold a JSON object")
    return document
