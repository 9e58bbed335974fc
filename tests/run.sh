#!/usr/bin/env bash
# The whole test suite, exactly what CI runs (.ci/run calls this). Works on a fresh machine:
# starts Postgres if it is down, installs the pinned Foundry tools, then runs formatting, clippy,
# the contract tests, the artifact freshness check and every Rust test against real Postgres
# and real anvil.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
step() { printf '\n==> %s\n' "$*"; }

export PGHOST=127.0.0.1 PGUSER=postgres
TEST_DB_URL="postgres://postgres@127.0.0.1:5432/corridor_test"

step "Postgres"
if ! pg_isready -q -h 127.0.0.1 -p 5432; then
  echo "Postgres is down; starting the local cluster"
  for v in /etc/postgresql/*; do pg_ctlcluster --skip-systemctl-redirect "$(basename "$v")" main start || true; done
  for _ in $(seq 1 60); do pg_isready -q -h 127.0.0.1 -p 5432 && break; sleep 0.5; done
  pg_isready -h 127.0.0.1 -p 5432
fi
psql -d postgres -tAc "SELECT 1 FROM pg_database WHERE datname = 'corridor_test'" | grep -q 1 \
  || psql -d postgres -qc "CREATE DATABASE corridor_test"

step "Foundry tools and solc (pinned in contracts/package-lock.json)"
(cd contracts && { [ -x node_modules/.bin/forge ] || npm ci --no-audit --no-fund; })

step "Browser tests' tools: Debian's Chromium and playwright-core (pinned in tests/browser/package-lock.json)"
if ! command -v chromium >/dev/null; then
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium >/dev/null
fi
(cd tests/browser && { [ -d node_modules/playwright-core ] || npm ci --no-audit --no-fund; })

step "Contracts: build, test, and check the artifacts Rust binds are fresh"
(cd contracts && ./node_modules/.bin/forge build && ./node_modules/.bin/forge test)
python3 contracts/script/export-artifacts.py --check

step "Banned dependencies (see deny.toml)"
if grep -E '^name = "(openssl-sys|openssl|native-tls)"$' Cargo.lock; then
  echo "Cargo.lock contains a banned crate: TLS must stay on rustls + ring"; exit 1
fi

step "Benchmark document has a generated block per benchmark (tests/bench.sh runs them)"
tests/bench.sh --check

step "Rust formatting"
cargo fmt --all -- --check

# The build never needs a database: sqlx macros read the committed .sqlx/ query data.
export SQLX_OFFLINE=true

step "Clippy (warnings are errors)"
cargo clippy --workspace --all-targets --locked -- -D warnings

if ! command -v cargo-nextest >/dev/null; then
  step "Installing cargo-nextest"
  cargo install cargo-nextest --locked
fi

step "Rust tests (real Postgres, real anvil)"
# DATABASE_URL at run time only: #[sqlx::test] creates a fresh database per test on this server.
DATABASE_URL="$TEST_DB_URL" cargo nextest run --workspace --locked --no-fail-fast

step "sqlx offline query data matches the code"
if command -v cargo-sqlx >/dev/null; then
  psql -d postgres -qc "DROP DATABASE IF EXISTS corridor_sqlx_check WITH (FORCE)" -qc "CREATE DATABASE corridor_sqlx_check"
  DATABASE_URL="postgres://postgres@127.0.0.1:5432/corridor_sqlx_check" cargo sqlx migrate run --source migrations >/dev/null
  DATABASE_URL="postgres://postgres@127.0.0.1:5432/corridor_sqlx_check" SQLX_OFFLINE=false cargo sqlx prepare --workspace --check -- --all-targets
else
  echo "cargo-sqlx not installed: skipped (the offline build above already proves every query has cached data)"
fi
echo "all checks passed"
