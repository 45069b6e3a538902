"""Which features get a drift alarm: the ones the dataset schema declares.

Model Monitor publishes one ``feature_baseline_drift_<feature>`` metric per column, so an
alarm needs the column names at synth. A schema with explicit ``numeric``/``categorical``
lists names them; the template's own example dataset (the generated customer table, whatever
its target) is described by ``mlops.dataset.example``. Any other schema without lists gets no
per-feature alarms and a synth warning that says what to declare.
"""

from __future__ import annotations

from mlops.core.settings import ProjectSettings
from mlops.dataset.example import FEATURES, is_example


def drift_features(settings: ProjectSettings) -> tuple[str, ...]:
    schema = settings.dataset
    declared = (*(schema.numeric or ()), *(schema.categorical or ()))
    if declared:
        return tuple(declared)
    if is_example(schema):
        return FEATURES
    return ()
