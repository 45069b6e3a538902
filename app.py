#!/usr/bin/env python3
"""CDK app entry point (`npx cdk synth` / `cdk deploy`): see docs/deploy.md.

Settings come from cdk.json's ``mlops`` context (plus ``MLOPS_*`` environment overrides) and
are validated before anything is built: a bad value stops the synth with one line per problem.
"""

from __future__ import annotations

import sys

import aws_cdk as cdk

from infra.app import build_app, synth_inputs
from mlops.core.settings import SettingsError, load_settings


def main() -> None:
    app = cdk.App()
    try:
        settings = load_settings(context=app.node.try_get_context("mlops"))
    except SettingsError as error:
        sys.exit(f"cdk.json: invalid settings\n{error}")
    build_app(app, settings, synth_inputs(settings))
    app.synth()


if __name__ == "__main__":
    main()
