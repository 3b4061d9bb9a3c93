# hostpulse: `make up` runs it, `make test` tests it (`make test-all`: every test, as CI). Both install what they need first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed

.PHONY: install up down status test test-all test-unit lint format bench bench-fleet localstack-lock \
	lambda-lock terraform-tools terraform-apply terraform-destroy images image-locks clean

$(INSTALLED): pyproject.toml agent/pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "hostpulse needs Python 3.11 or newer as $(PYTHON); run: make PYTHON=/path/to/python3.11")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check uv
	$(BIN)/uv pip install --quiet --python $(BIN)/python -e '.[server,dev]' -e ./agent
	@touch $@

install: $(INSTALLED)

# `make up RUNTIME=processes`: the functions as processes, for a fleet (see the README).
up: install
	$(BIN)/hostpulse up --detach $(if $(RUNTIME),--runtime $(RUNTIME))
	$(BIN)/hostpulse status

down: install
	$(BIN)/hostpulse down

status: install
	$(BIN)/hostpulse status

# `make test`: the unit tests and the integration tests that share the session's local cloud
# (what is not marked slow). `make test-all`: everything, fault scenarios and own clouds too.
# Both in two workers (the groups of tests/conftest.py stay together; each worker has its own
# session cloud): while one waits on a server or an outage it staged, the other has the cores.
test: install
	sh scripts/test-tools.sh
	$(BIN)/pytest -m "not slow" -n 2

test-all: install terraform-tools
	sh scripts/test-tools.sh
	$(BIN)/pytest -n 2

# The AWS provider from a verified mirror, and checkov in its own environment.
terraform-tools: install
	PYTHON=$(BIN)/python sh scripts/terraform-tools.sh

# terraform/ against the running local cloud (`make up`), beside its stack, as hostpulse-tf-*.
terraform-apply: terraform-tools
	$(BIN)/hostpulse terraform apply

terraform-destroy: terraform-tools
	$(BIN)/hostpulse terraform destroy

# The server and agent images for Kubernetes (images/*.Containerfile), built with podman.
images: install
	PYTHON=$(BIN)/python UV=$(BIN)/uv sh scripts/build-images.sh

# The images' hashed pins, for the Python of their Debian 12 base (3.11.2).
image-locks: install
	$(BIN)/uv pip compile --quiet --python-version 3.11.2 --python-platform linux \
		--custom-compile-command "make image-locks" \
		--generate-hashes --extra container pyproject.toml -o images/server.lock
	$(BIN)/uv pip compile --quiet --python-version 3.11.2 --python-platform linux \
		--custom-compile-command "make image-locks" \
		--generate-hashes agent/pyproject.toml -o images/agent.lock

test-unit: install
	$(BIN)/pytest tests/unit

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy hostpulse functions api tests bench agent
	$(BIN)/lint-imports --no-cache

bench: install
	$(BIN)/python -m bench.aggregate_vs_copy
	$(BIN)/python -m bench.ingest_vs_bare
	$(BIN)/python -m bench.freshness
	$(BIN)/python -m bench.agent_overhead
	$(BIN)/python -m bench.dashboard
	$(BIN)/python -m bench.fleet_pages
	$(BIN)/python -m bench.alerts
	$(BIN)/python -m bench.otlp_vs_v1
	$(BIN)/python -m bench.remote_write
	$(BIN)/python -m bench.promql
	$(BIN)/python -m bench.cost

# The fleet-scale run (docs/benchmarks.md): about 20 minutes; HOSTS, MINUTES and RUNTIME
# (processes, lambda) to change it.
bench-fleet: install
	$(BIN)/python -m bench.fleet_scale --hosts $(or $(HOSTS),1000) --minutes $(or $(MINUTES),10) \
		--runtime $(or $(RUNTIME),processes)

format: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

# LocalStack breaks with unpinned dependencies: resolve them as of its release.
localstack-lock: install
	$(BIN)/uv pip compile --quiet --python-version 3.13 --exclude-newer 2026-03-25 \
		--generate-hashes localstack-runtime/localstack.in -o localstack-runtime/localstack.lock

# `hostpulse clean` also removes PostgreSQL files it had to move out of a private checkout.
clean:
	if [ -x $(BIN)/hostpulse ]; then $(BIN)/hostpulse clean; fi
	rm -rf .hostpulse $(VENV)

# The functions' dependencies as zipped for AWS by `hostpulse package`. boto3 and botocore
# (with their own dependencies) come with Lambda's Python runtime and stay out of the zips.
lambda-lock: install
	$(BIN)/uv pip compile --quiet --universal --python-version 3.12 --generate-hashes \
		--extra lambda --no-emit-package boto3 --no-emit-package botocore \
		--no-emit-package s3transfer --no-emit-package jmespath \
		--no-emit-package python-dateutil --no-emit-package six \
		pyproject.toml -o stack/lambda-requirements.txt
