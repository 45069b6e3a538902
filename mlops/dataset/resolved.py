"""What resolving a dataset schema against a CSV found: the target's profile, each column's role.

Plain data, free of pandas, so a resolution read back from the cache
(`mlops.dataset.resolved_cache`) costs the CLI no pandas import; `mlops.dataset.schema`
computes it.
"""

from __future__ import annotations

from dataclasses import dataclass

from mlops.core.problem_types import ProblemType
from mlops.core.settings import DatasetSchema


@dataclass(frozen=True)
class TargetProfile:
    """What the target column holds and what it says about the problem."""

    problem_type: ProblemType
    problem_type_reason: str | None  # why it was inferred; None when configured
    positive_label: str | None  # binary only
    positive_label_reason: str | None  # why it was inferred; None when configured
    classes: tuple[tuple[str, int], ...]  # (label, rows) in class order; empty for regression
    rows: int


@dataclass(frozen=True)
class ResolvedSchema:
    """A schema with every column assigned a role, in the CSV's column order."""

    target: str
    profile: TargetProfile
    id_column: str | None
    features: tuple[str, ...]
    numeric: tuple[str, ...]
    categorical: tuple[str, ...]
    dropped: tuple[str, ...]
    blank_features: tuple[str, ...]  # features without a single value in the sample

    @property
    def problem_type(self) -> ProblemType:
        return self.profile.problem_type

    @property
    def positive_label(self) -> str | None:
        return self.profile.positive_label

    def explicit(self, schema: DatasetSchema) -> DatasetSchema:
        """``schema`` with what was inferred (problem type, positive label) made explicit."""
        return schema.model_copy(
            update={"problem_type": self.problem_type, "positive_label": self.positive_label}
        )

    def inference_notes(self) -> list[str]:
        """One line per value that was inferred rather than configured, saying why."""
        profile = self.profile
        notes = []
        if profile.problem_type_reason:
            notes.append(
                f"problem type {profile.problem_type} (inferred: {profile.problem_type_reason}; "
                "set dataset.problem_type or pass --problem-type to choose)"
            )
        if profile.positive_label_reason:
            notes.append(
                f"positive label {profile.positive_label!r} (inferred: "
                f"{profile.positive_label_reason}; pass --positive-label to choose)"
            )
        return notes
