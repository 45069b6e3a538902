"""Step names of the batch pipeline: its readers (the local executor, the CLI summary, the
batch stack) address the steps by them."""

from __future__ import annotations

CREATE_MODEL = "CreateModel"
TRANSFORM = "Transform"
