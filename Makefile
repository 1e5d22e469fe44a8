# One command per chore, the same locally and in CI (.ci/run runs `make test`).
.DEFAULT_GOAL := help
CARGO ?= cargo

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
lint: ## formatting and clippy, warnings are errors
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets --locked -- -D warnings

.PHONY: test
test: lint ## the whole test suite: lint, then every Rust test
	$(CARGO) test --workspace --locked

.PHONY: bench
bench: build ## ringload vs wrk/oha/h2load against nginx (needs nginx-light, wrk; see benches/)
	python3 benches/scripts/compare.py --rounds 3
