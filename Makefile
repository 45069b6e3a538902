# The two commands of the README: `make demo` (the whole lifecycle locally) and `make test`.
# Both install what they need: uv (pinned) into .tools/, Python deps from uv.lock, the CDK CLI
# from package-lock.json.
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
# uv may live in .tools/ (installed by the Makefile): cdk.json runs the app with it.
export PATH := $(CURDIR)/$(TOOLS)/bin:$(PATH)
export SAGEMAKER_VALIDATE_ROLE := false

.PHONY: help install demo test lint typecheck unit synth bench clean

help:
	@echo "make demo   - run the whole lifecycle locally (pipeline, approval, endpoint, monitoring)"
	@echo "make test   - lint, type-check and run the test suite"
	@echo "make synth  - synthesize the CDK app with the pinned CLI (offline)"
	@echo "make bench  - run the benchmarks under benchmarks/"

$(TOOLS)/bin/uv:
	python3 -m venv $(TOOLS)
	$(TOOLS)/bin/python -m pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)

install: $(if $(shell command -v uv 2>/dev/null),,$(TOOLS)/bin/uv)
	$(UV) sync --frozen
	npm ci --no-audit --no-fund --loglevel=error

lint: install
	$(RUN) ruff check .
	$(RUN) ruff format --check .
	$(RUN) mypy

unit: install
	$(RUN) pytest -n 2 --dist loadscope

test: lint unit

demo: install
	$(RUN) mlops demo run $(DEMO_ARGS)

synth: install
	npx cdk synth --quiet

bench: install
	$(RUN) python -m benchmarks $(BENCH_ARGS)

clean:
	rm -rf build cdk.out .mlops
