# One command per chore, the same locally and in CI (.ci/run is `make test`, README's test
# command, which installs what a fresh machine lacks itself).
.DEFAULT_GOAL := help
CARGO ?= cargo
PYTHON ?= python3

.PHONY: help
help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F ':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

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
	$(PYTHON) scripts/check_module_cycles.py
	$(PYTHON) -m ruff check python tests scripts benches/scripts benches/locust
	$(PYTHON) -m ruff format --check python tests scripts benches/scripts benches/locust

PIP_INSTALL := $(PYTHON) -m pip install --quiet --disable-pip-version-check --root-user-action=ignore

.PHONY: install
install: ## the Python package (the Rust engine in release mode, the `ringload` command) into the current Python
	$(PIP_INSTALL) .

.PHONY: install-dev
install-dev: ## the package with what its tests and lint use (pytest, mypy, ruff) into the current Python
	$(PIP_INSTALL) '.[dev]'

.PHONY: test-deps
test-deps: ## what the tests need beyond Rust and Python, where missing: nginx, chromium, openssl, clippy
	scripts/test-deps.sh

.PHONY: stubtest
stubtest: ## the hand-written .pyi stubs against the installed compiled module (mypy's stubtest)
	$(PYTHON) -m mypy.stubtest ringload --mypy-config-file pyproject.toml --allowlist stubtest-allowlist.txt

FUZZ_TARGETS := response_head chunked_body request_validation h2_frames hpack
FUZZ_SECONDS ?= 20

.PHONY: fuzz
fuzz: ## run every fuzz target for FUZZ_SECONDS each, a line per target (libFuzzer's output: fuzz/target/logs)
	scripts/fuzz.sh $(FUZZ_SECONDS) $(FUZZ_TARGETS)

.PHONY: test
test: test-deps install-dev lint stubtest fuzz ## the whole test suite, on a fresh machine too: what it needs, lint, stubs, fuzzing, every Rust test, then pytest against the installed package
	$(CARGO) test --workspace --locked --exclude ringload-py
	$(PYTHON) -m pytest tests -q

.PHONY: bench
bench: build ## ringload vs wrk/oha/h2load against nginx (needs nginx-light, wrk; see benches/)
	python3 benches/scripts/compare.py --rounds 3
