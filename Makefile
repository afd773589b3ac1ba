# kube-cluster-binpacking-exporter — every CI step is a target here; `.ci/run` only calls make.
.DEFAULT_GOAL := help
SHELL := /bin/bash

CARGO ?= cargo
ARCH ?= x86_64
TARGET := $(ARCH)-unknown-linux-musl
BIN := kube-cluster-binpacking-exporter
STATIC_BIN := target/$(TARGET)/release/$(BIN)

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-12s %s\n", $$1, $$2}'

build: ## debug build of the exporter and the cluster simulator
	$(CARGO) build --workspace --bins

demo: ## run the bundled cluster simulator and the exporter; metrics at http://localhost:9101
	$(CARGO) build --workspace --bins --profile fast
	scripts/demo.sh target/fast

run: ## run the exporter against your own kubeconfig (KUBECONFIG or ~/.kube/config)
	$(CARGO) run --profile fast --bin $(BIN) -- $(ARGS)

test: build ## every test: unit, simulator protocol, exporter integration
	$(CARGO) test --workspace --no-fail-fast

lint: ## rustfmt, clippy with -D warnings, rustdoc warnings
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings
	RUSTDOCFLAGS="-D warnings" $(CARGO) doc --workspace --no-deps --quiet

static: ## fully static musl release binary (ARCH=x86_64|aarch64)
	scripts/static.sh $(ARCH)

.PHONY: help build demo run test lint static
