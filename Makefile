# kube-cluster-binpacking-exporter — every CI step is a target here; `.ci/run` only calls make.
.DEFAULT_GOAL := help
SHELL := /bin/bash

CARGO ?= cargo
ARCH ?= x86_64
TARGET := $(ARCH)-unknown-linux-musl
BIN := kube-cluster-binpacking-exporter
STATIC_BIN := target/$(TARGET)/release/$(BIN)

help: ## list the targets
	@grep -E '^[a-z0-9-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-14s %s\n", $$1, $$2}'

build: ## debug build of the exporter and the cluster simulator
	$(CARGO) build --workspace --bins

demo: ## run the bundled cluster simulator and the exporter; metrics at http://localhost:9101
	$(CARGO) build --workspace --bins --profile fast
	scripts/demo.sh target/fast

run: ## run the exporter against your own kubeconfig (KUBECONFIG or ~/.kube/config)
	$(CARGO) run --profile fast --bin $(BIN) -- $(ARGS)

test: build check-alerts check-metrics ## every test: unit, simulator protocol, exporter integration, alert rules
	$(CARGO) test --workspace --no-fail-fast -- --show-output

lint: ## rustfmt, clippy with -D warnings, rustdoc warnings
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings
	RUSTDOCFLAGS="-D warnings" $(CARGO) doc --workspace --no-deps --quiet

static: ## fully static musl release binary (ARCH=x86_64|aarch64)
	scripts/static.sh $(ARCH)

image: ## container image from Dockerfile.scratch with docker buildx (IMAGE=name:tag, PLATFORMS=...)
	docker buildx build -f Dockerfile.scratch --platform $(or $(PLATFORMS),linux/amd64,linux/arm64) \
	  -t $(or $(IMAGE),kube-cluster-binpacking-exporter:dev) .

image-size: static ## size of the scratch image's only layer (must stay under 10 MB)
	scripts/image-size.sh $(ARCH)

arm64-smoke: ## build the aarch64 static binary and run it under qemu-aarch64 (--version)
	$(MAKE) static ARCH=aarch64
	command -v qemu-aarch64 >/dev/null || { apt-get update -qq && apt-get install -y -qq qemu-user >/dev/null; }
	qemu-aarch64 target/aarch64-unknown-linux-musl/release/$(BIN) --version

.PHONY: help build demo run test lint static image image-size arm64-smoke

alerts: ## regenerate alerts/prometheusrule.yaml from alerts/binpacking-rules.yaml
	scripts/prometheusrule.sh

check-alerts: ## promtool check + unit tests of the alert rules (needs promtool)
	@if command -v promtool >/dev/null; then \
	  promtool check rules alerts/binpacking-rules.yaml && promtool test rules alerts/binpacking-rules.test.yaml; \
	elif [ -n "$$CI" ]; then echo "error: promtool is required in CI" >&2; exit 1; \
	else echo "SKIPPED: promtool not installed (apt-get install prometheus); CI runs this step" >&2; fi

golden: ## regenerate tests/fixtures/golden.prom from the encoder (review the diff!)
	UPDATE_GOLDEN=1 $(CARGO) test --test golden

check-metrics: ## promtool check metrics on the golden exposition
	@if command -v promtool >/dev/null; then \
	  out=$$(promtool check metrics < tests/fixtures/golden.prom 2>&1); \
	  if [ -n "$$out" ]; then echo "$$out"; exit 1; fi; echo "promtool check metrics: golden exposition clean"; \
	elif [ -n "$$CI" ]; then echo "error: promtool is required in CI" >&2; exit 1; \
	else echo "SKIPPED: promtool not installed (apt-get install prometheus); CI runs this step" >&2; fi

.PHONY: alerts check-alerts golden check-metrics

bench: ## benchmark at 10 / 500 / 5,000 nodes and in-process ingest; writes BENCHMARKS.md (QUICK=1: one run)
	scripts/bench.sh

screenshot: ## refresh docs/page.png: the demo cluster in the browser test (needs chromium)
	SCREENSHOT_OUT=$(CURDIR)/docs/page.png $(CARGO) test --test page_browser the_demo_cluster_renders

.PHONY: screenshot bench
