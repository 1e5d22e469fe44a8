# One command per chore, the same locally and in CI (.ci/run runs `make test`).
.DEFAULT_GOAL := help
CARGO ?= cargo
PYTHON ?= python3

.PHONY: help
help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F ':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

.PHONY: demo
demo: ## build and run a short load test against the built-in target
	$(CARGO) run --release --locked -p ringload-cli -- demo

.PHONY: build
build: ## release build of the `ringload` binary (target/release/ringload)
	$(CARGO) build --release --locked -p ringload-cli

.PHONY: lint
lint: ## formatting, clippy and ruff; warnings are errors
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets --locked -- -D warnings
	$(PYTHON) -m ruff check python tests benches/scripts benches/locust
	$(PYTHON) -m ruff format --check python tests benches/scripts benches/locust

.PHONY: install
install: ## build the Python package (the Rust engine in release mode) into the current Python
	$(PYTHON) -m pip install --quiet '.[test]'

.PHONY: stubtest
stubtest: ## the hand-written .pyi stubs against the installed compiled module (mypy's stubtest)
	$(PYTHON) -m mypy.stubtest ringload --mypy-config-file pyproject.toml

FUZZ_TARGETS := response_head chunked_body request_validation
FUZZ_SECONDS ?= 20

.PHONY: fuzz
fuzz: ## run every fuzz target for FUZZ_SECONDS each (cargo-fuzz on stable, without a sanitizer)
	command -v cargo-fuzz >/dev/null || $(CARGO) install --locked cargo-fuzz
	# New inputs go to fuzz/corpus; the regression inputs (kept in the http1 crate) seed it.
	cd fuzz && for target in $(FUZZ_TARGETS); do \
	  mkdir -p corpus/$$target && \
	  $(CARGO) fuzz run --sanitizer none --release $$target corpus/$$target \
	    ../rust/ringload-http1/tests/fuzz_regressions/$$target -- -max_total_time=$(FUZZ_SECONDS) || exit 1; \
	done

.PHONY: test
test: lint install stubtest fuzz ## the whole test suite: lint, stubs, every Rust test, then pytest against the installed package
	$(CARGO) test --workspace --locked --exclude ringload-py
	$(PYTHON) -m pytest tests -q

.PHONY: bench
bench: build ## ringload vs wrk/oha/h2load against nginx (needs nginx-light, wrk; see benches/)
	python3 benches/scripts/compare.py --rounds 3
