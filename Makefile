# ecs-plumbing: `make demo` runs every function against the local AWS emulator; `make test`
# runs the tests. Both set up what they need (the Python venv, the builds) on first use.

SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
CARGO := cargo
export CARGO_BUILD_JOBS ?= 2
export SAM_CLI_TELEMETRY := 0
# cargo-lambda and its zig come from the venv; cargo-hakari from .tools.
TOOLS := .tools
export PATH := $(CURDIR)/$(VENV)/bin:$(CURDIR)/$(TOOLS)/bin:$(PATH)

# The Lambda functions, packaged as `sam build` packages them (cr-probe is test-only).
LAMBDAS := vpc-peering endpoint-access task-alerts lifecycle-drain cr-probe

.PHONY: all help venv tools checks-venv build probe-artifact artifacts cli template package sam-local sam-local-all sam-local-dev sar-template lint test unit demo bench clean

all: test

# `make help`: every target with its line (the `## ` comment after the target's colon).
help: ## list the targets, one line each
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed -E 's/^([a-z-]+):.*## /\1\t/' | expand -t 16

# moto[server], aws-sam-cli (its Lambda emulator) and cargo-lambda, pinned.
venv: $(VENV)/.installed ## the Python venv: moto, SAM CLI (its Lambda emulator), cargo-lambda
$(VENV)/.installed: tests/requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -r tests/requirements.txt
	touch $@

# cargo-hakari, pinned, for the drift check in `make lint` (its own build: ~1.5 min on 2 cores).
HAKARI_VERSION := 0.9.39
tools: $(TOOLS)/bin/cargo-hakari ## cargo-hakari, pinned, into .tools
$(TOOLS)/bin/cargo-hakari:
	$(CARGO) install --quiet --locked --root $(TOOLS) cargo-hakari --version $(HAKARI_VERSION)

# Dev builds of every function (and the test-only cr-probe) for the emulator.
build: ## dev builds of every function, for the emulator
	$(CARGO) build --workspace --bins

# What ships, built as `sam build` builds it: `cargo lambda build --release`. (The check-network
# command is `make cli`: a host build whose release dependencies cargo-lambda's target does not
# share, so it is not part of this.)
artifacts: venv ## the release artifacts that ship, as sam build builds them
	$(CARGO) lambda build --release $(addprefix --package ,$(LAMBDAS))

# The check-network command (not a Lambda: a plain release build, target/release/check-network).
cli: ## the check-network command, release build
	$(CARGO) build --release -p check-network

# The one release artifact the tests run (the protocol's panic test, as it ships).
probe-artifact: venv ## the release cr-probe the protocol tests run
	$(CARGO) lambda build --release --package cr-probe

# checkov, pinned, in its own venv: its dependencies must not move moto's or SAM's.
CHECKS_VENV := .venv-checks
checks-venv: $(CHECKS_VENV)/.installed ## checkov's own venv
$(CHECKS_VENV)/.installed: tests/checks/requirements.txt
	$(PYTHON) -m venv $(CHECKS_VENV)
	$(CHECKS_VENV)/bin/pip install --quiet --disable-pip-version-check -r tests/checks/requirements.txt
	touch $@

# The SAM template: cfn-lint (`sam validate --lint`), checkov (every skip is explained in the
# template, next to the resource), and our least-privilege check (no `Action: "*"`; `Resource:
# "*"` only for actions without resource-level permissions, with a comment).
template: venv checks-venv ## check template.yaml: cfn-lint, checkov, least privilege
	sam validate --lint --template template.yaml
	$(CHECKS_VENV)/bin/checkov --file template.yaml --framework cloudformation --skip-download --compact --quiet
	$(VENV)/bin/python tests/checks/check_policies.py template.yaml

# The stack built as `sam build` builds it for users (x86_64 here, to reuse the artifacts above;
# the stack's default is arm64: `sam build` alone).
package: template artifacts ## the stack, built by sam build
	sam build --parameter-overrides Architecture=x86_64

# `sam local invoke` as the README shows it, through a real container engine (podman's Docker API;
# installed from Debian if missing) against moto: one sample event per function and kind of answer,
# each answer checked (tests/sam-local/run; SAM exits 0 even when the function fails).
sam-local: package ## sam local invoke, one event per function and answer, checked (podman, moto)
	$(VENV)/bin/python tests/sam-local/run

sam-local-all: package ## sam local invoke of every sample event under events/, checked
	$(VENV)/bin/python tests/sam-local/run --all

# Every sample event with the dev builds of `make build` in the containers (CI: no release build
# of the shipped artifacts, ~12 min, of its own; the events take ~5 min).
sam-local-dev: venv build ## sam-local-all with the dev builds instead of sam build's release ones
	$(VENV)/bin/python tests/sam-local/run --all --binaries $${CARGO_TARGET_DIR:-target}/debug

# The stack as the Serverless Application Repository takes it: built for SAR_ARCH (default arm64,
# the stack's default), then `Architectures` fixed to it and the Architecture parameter removed
# (SAR refuses a parameterised one): .aws-sam/build/sar.yaml, for sam package and sam publish.
SAR_ARCH ?= arm64
sar-template: template ## the stack built for SAR_ARCH (arm64) with Architectures fixed, for sam publish
	sam build --parameter-overrides Architecture=$(SAR_ARCH)
	$(VENV)/bin/python tests/sam-local/sar_template.py $(SAR_ARCH) .aws-sam/build/template.yaml .aws-sam/build/sar.yaml

# Formatting, clippy (the lints are `[workspace.lints]` in Cargo.toml) and the doc comments
# (`cargo doc`: broken links, bare URLs), warnings as errors; then one feature set for every build: each crate
# depends on workspace-hack/, which cargo-hakari keeps at the union of every build's features,
# so `make build`, `make test`, `make demo`, `bench/run` and `sam build` compile each dependency
# once (per profile). Changing a crate's dependencies or features without `cargo hakari generate`
# fails here.
lint: tools ## rustfmt, clippy, cargo doc and the feature-set drift check
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings
	RUSTDOCFLAGS="-D warnings" $(CARGO) doc --workspace --no-deps --quiet
	$(CARGO) hakari generate --diff
	$(CARGO) hakari manage-deps --dry-run

# The pure and mocked tests (planners, parsers, renderers, the SDK calls' error mapping through
# aws-smithy-mocks): no emulator, no moto; seconds once built.
unit: ## the fast tests: pure and mocked, no emulator (seconds after a build)
	$(CARGO) test --workspace --exclude testbed --lib --bins --tests

# Then IAM as AWS enforces it: every AWS call the tests saw each function make (recorded by the
# proxy under target/iam-calls/, cleared first) must be allowed by its role in template.yaml.
test: venv build probe-artifact template ## every test: unit, emulator and moto, the IAM check
	rm -rf target/iam-calls
	$(VENV)/bin/python tests/checks/check_iam.py --self-test
	$(VENV)/bin/python tests/servers/rates.py --self-test
	$(CARGO) test --workspace --all-targets
	$(VENV)/bin/python tests/checks/check_iam.py --require-all template.yaml target/iam-calls

demo: venv build ## the local demo of every function
	@$(CARGO) run --quiet -p testbed --bin demo

# The benchmark table (see bench/README.md).
bench: ## the benchmark table (bench/README.md)
	bench/run

clean: ## remove the builds, the venvs and the tools
	$(CARGO) clean
	rm -rf $(VENV) $(CHECKS_VENV) .venv-bench $(TOOLS)
