# Uma's build, run and test entry points. `make run` and `make test` are all a newcomer needs;
# the Dockerfile and CI call these same targets.

CARGO ?= cargo
NPM ?= npm
export CARGO_TERM_COLOR ?= always

.PHONY: run test test-rust test-browser lint web web-deps web-check services swarm release release-bin release-check build migrate bench bench-quick clean help

help:
	@echo "make run      build everything and start Uma in demo mode on http://localhost:3004"
	@echo "make test     start what the tests need (MariaDB, Redis) and run every check and test"
	@echo "make lint     rustfmt, clippy -D warnings, TypeScript type-check"
	@echo "make release  optimized build with embedded web assets (target/release/uma)"
	@echo "make services start what the tests need: MariaDB, Redis, slapd, Chromium"
	@echo "make bench    the benchmarks (dashboard stream, start-up): Uma against Node peers (target/bench/)"

web/node_modules/.package-lock.json: web/package.json web/package-lock.json
	cd web && $(NPM) ci --no-audit --no-fund
	@touch $@

web-deps: web/node_modules/.package-lock.json

web: web-deps
	cd web && $(NPM) run build

web-check: web-deps
	cd web && $(NPM) run typecheck

build: web
	$(CARGO) build --workspace

run: web
	$(CARGO) run --bin uma -- serve

migrate:
	$(CARGO) run --bin uma -- migrate

release: web release-bin

release-bin:
	$(CARGO) build --release --locked --bin uma

# Starts the release binary away from the source tree (assets and templates must be embedded)
# and checks it answers.
release-check: release
	scripts/release-check.sh target/release/uma

lint: web-check
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets --locked -- -D warnings
	$(CARGO) fmt --manifest-path bench/swarm/Cargo.toml -- --check
	$(CARGO) clippy --locked --manifest-path bench/swarm/Cargo.toml --target-dir target -- -D warnings

services:
	@scripts/services.sh

tests/browser/node_modules/.package-lock.json: tests/browser/package.json tests/browser/package-lock.json
	cd tests/browser && $(NPM) ci --no-audit --no-fund
	@touch $@

# The OpenID provider the Rust tests start (tests/oidc/provider.mjs; the harness runs `npm ci`
# itself when this was not done).
tests/oidc/node_modules/.package-lock.json: tests/oidc/package.json tests/oidc/package-lock.json
	cd tests/oidc && $(NPM) ci --no-audit --no-fund
	@touch $@

test: services lint web test-rust bench-quick test-browser

# Real Socket.IO clients (the rust_socketio crate) for the scale tests and benchmarks; its own
# workspace, built into the same target/ folder.
swarm:
	$(CARGO) build --locked --manifest-path bench/swarm/Cargo.toml --target-dir target

test-rust: services web swarm tests/oidc/node_modules/.package-lock.json
	$(CARGO) test --workspace --locked --no-fail-fast

test-browser: services web tests/browser/node_modules/.package-lock.json tests/oidc/node_modules/.package-lock.json
	$(CARGO) build --locked --bin uma
	cd tests/browser && $(NPM) test

bench/node_modules/.package-lock.json: bench/package.json bench/package-lock.json
	cd bench && $(NPM) ci --no-audit --no-fund
	@touch $@

# Optimized builds of Uma and the client swarm, then the dashboard benchmark against the Node
# socket.io peer (settings: BENCH_CLIENTS, BENCH_SECONDS, BENCH_INTERVAL_MS; see docs/benchmarks.md).
bench: web bench/node_modules/.package-lock.json
	$(CARGO) build --release --locked --bin uma
	$(CARGO) build --release --locked -p pve-sim
	$(CARGO) build --release --locked --manifest-path bench/swarm/Cargo.toml --target-dir target
	cd bench && node dashboard.mjs
	cd bench && node startup.mjs

# A few seconds of each benchmark on the debug builds, so that they can't rot: they must run to
# the end with sane numbers (never a speed threshold: speed is `make bench`'s).
bench-quick: web swarm bench/node_modules/.package-lock.json
	$(CARGO) build --locked --bin uma
	$(CARGO) build --locked -p pve-sim
	cd bench && BENCH_OUT=../target/bench-quick BENCH_CLIENTS=40 BENCH_SECONDS=3 UMA_BIN=../target/debug/uma UMA_SWARM=../target/debug/uma-swarm node dashboard.mjs
	cd bench && BENCH_OUT=../target/bench-quick BENCH_RUNS=1 BENCH_IDLE_MS=200 UMA_BIN=../target/debug/uma PVE_SIM_BIN=../target/debug/pve-sim node startup.mjs

clean:
	$(CARGO) clean
	rm -rf web/dist web/node_modules tests/browser/node_modules bench/node_modules
