"""The dataset-schema flags every data-facing command takes, and how they override the project's.

``--target``, ``--problem-type``, ``--positive-label``, ``--drop-columns`` and ``--id-column``
mean the same on ``data describe``, ``pipeline run|definition|start``, ``endpoint
serve|invoke`` and ``monitor baseline|run|ground-truth``: they override the project's schema
(``dataset`` in cdk.json, written by ``mlops init``) for one command.

A ``--target`` other than the configured one names another dataset (or another question about
the same table), so nothing configured for the old target carries over: its problem type,
positive label, id and drop columns and column types are left to this command's flags and to
inference. Changing only ``--problem-type`` drops the configured positive label unless the new
type is binary.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import typer

from mlops.cli.context import state
from mlops.core.settings import DatasetSchema, ProjectSettings

_TARGET_HELP = "Label column (overrides the project's schema for this command)."
TargetOption = Annotated[str | None, typer.Option("--target", help=_TARGET_HELP)]
ProblemTypeOption = Annotated[
    str | None,
    typer.Option(
        "--problem-type", help="binary, multiclass or regression (default: configured or inferred)."
    ),
]
PositiveLabelOption = Annotated[
    str | None,
    typer.Option("--positive-label", help="Binary: the target value meaning the positive class."),
]
DropColumnsOption = Annotated[
    str | None,
    typer.Option("--drop-columns", help="Comma-separated columns that are not features."),
]
IdColumnOption = Annotated[
    str | None,
    typer.Option("--id-column", help="The column naming a row (never a feature)."),
]


@dataclass(frozen=True)
class SchemaFlags:
    """The schema flags of one command (None = not given)."""

    target: str | None = None
    problem_type: str | None = None
    positive_label: str | None = None
    drop_columns: str | None = None
    id_column: str | None = None

    def overrides(self, configured: DatasetSchema) -> dict[str, Any]:
        """The ``dataset`` settings these flags change (module docstring for the rules)."""
        update: dict[str, Any] = {}
        if self.target is not None and self.target != configured.target:
            update = {
                "target": self.target,
                "problem_type": None,
                "positive_label": None,
                "id_column": None,
                "drop_columns": (),
                "categorical": None,
                "numeric": None,
            }
        if self.problem_type is not None:
            update["problem_type"] = self.problem_type
            if self.problem_type != "binary":
                update["positive_label"] = None
        if self.positive_label is not None:
            update["positive_label"] = self.positive_label
        if self.drop_columns is not None:
            update["drop_columns"] = self.drop_columns
        if self.id_column is not None:
            update["id_column"] = self.id_column or None
        return update


def schema_settings(ctx: typer.Context, flags: SchemaFlags) -> ProjectSettings:
    """The project's settings with this command's schema flags applied (validated)."""
    cli = state(ctx)
    configured = cli.settings()
    update = flags.overrides(configured.dataset)
    return cli.settings({"dataset": update}) if update else configured


def with_dataset(ctx: typer.Context, dataset: DatasetSchema) -> ProjectSettings:
    """The settings with ``dataset`` as the whole schema (e.g. with its inferred values made
    explicit), validated as if configured so: every key is given, so nothing of the configured
    schema merges back in."""
    return state(ctx).settings({"dataset": dataset.model_dump()})


def model_schema_mismatch(schema: DatasetSchema, artifact: str | Path, s3: Any) -> str | None:
    """Why the model at ``artifact`` (a model.tar.gz path or s3:// URI) does not fit the
    schema's target and problem type; None when it fits or cannot be read (serving reports
    an unreadable model itself)."""
    spec = _model_spec(artifact, s3)
    if spec is None:
        return None
    trained = (str(spec.get("target")), str(spec.get("problem_type", "binary")))
    wanted = (schema.target, schema.problem_type)
    if wanted[0] is not None and trained[0] != wanted[0]:
        return (
            f"the model was trained on target {trained[0]!r} ({trained[1]}), the project's "
            f"schema names {wanted[0]!r}: is this the project's model?"
        )
    if wanted[1] is not None and trained[1] != wanted[1]:
        return f"the model is a {trained[1]} model, the project's schema says {wanted[1]}"
    return None


def _model_spec(artifact: str | Path, s3: Any) -> dict[str, Any] | None:
    import io
    import json
    import tarfile
    import zlib

    from mlops.core.s3uri import split_s3_uri

    try:
        if isinstance(artifact, str) and artifact.startswith("s3://"):
            if s3 is None:
                return None
            bucket, key = split_s3_uri(artifact)
            source: Any = io.BytesIO(s3.get_object(Bucket=bucket, Key=key)["Body"].read())
        else:
            source = Path(artifact).open("rb")  # noqa: SIM115 - closed below
        with source, tarfile.open(fileobj=source, mode="r:gz") as archive:
            member = archive.extractfile("feature_spec.json")
            document = json.loads(member.read()) if member is not None else None
    except (OSError, EOFError, KeyError, ValueError, tarfile.TarError, zlib.error):
        return None
    except Exception as error:  # an S3 error: the endpoint reports it when it loads
        if type(error).__name__ in ("ClientError", "BotoCoreError", "EndpointConnectionError"):
            return None
        raise
    return document if isinstance(document, dict) else None
