# The two commands of the README: `make demo` (the whole lifecycle locally) and `make test`.
# Both install what they need: uv (pinned) into .tools/ when it is not on PATH, the project
# environment .venv from uv.lock, the CDK CLI from package-lock.json. Afterwards the CLI is
# .venv/bin/mlops (README convention); nothing needs uv on the user's PATH.
SHELL := /bin/bash
UV_VERSION := 0.13.9
TOOLS := .tools
UV := $(shell command -v uv 2>/dev/null || echo $(TOOLS)/bin/uv)
RUN := $(UV) run --frozen

export CDK_DISABLE_CLI_TELEMETRY := true
export CDK_DISABLE_VERSION_CHECK := 1
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := 20
export NODE_NO_WARNINGS := 1
export AWS_DEFAULT_REGION ?= us-east-1
export SAGEMAKER_VALIDATE_ROLE := false

.PHONY: help install demo test lint typecheck unit synth bench clean

help:
	@echo "make demo      - run the whole lifecycle locally (pipeline, approval, endpoint, monitoring)"
	@echo "make test      - lint, typecheck, then the test suite"
	@echo "make install   - uv (if absent), .venv from uv.lock, the pinned CDK CLI"
	@echo "make lint      - ruff check, ruff format --check, import direction (lint-imports), workflows (actionlint)"
	@echo "make typecheck - mypy (strict, files from pyproject.toml)"
	@echo "make unit      - pytest on two workers"
	@echo "make synth     - synthesize the CDK app with the pinned CLI (offline)"
	@echo "make bench     - run the benchmarks under benchmarks/"
	@echo "afterwards: .venv/bin/mlops --help (or: source .venv/bin/activate; mlops --help)"

$(TOOLS)/bin/uv:
	python3 -m venv $(TOOLS)
	$(TOOLS)/bin/python -m pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)

install: $(if $(shell command -v uv 2>/dev/null),,$(TOOLS)/bin/uv)
	$(UV) sync --frozen
	npm ci --no-audit --no-fund --loglevel=error

lint: install
	$(RUN) ruff check .
	$(RUN) ruff format --check .
	$(RUN) lint-imports
	$(RUN) actionlint -no-color

typecheck: install
	$(RUN) mypy

unit: install
	$(RUN) pytest -n 2 --dist loadscope

test: lint typecheck unit

demo: install
	$(RUN) mlops demo run $(DEMO_ARGS)

synth: install
	npx cdk synth --quiet

bench: install
	$(RUN) python -m benchmarks $(BENCH_ARGS)

clean:
	rm -rf build cdk.out .mlops
