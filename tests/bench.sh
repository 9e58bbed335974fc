#!/usr/bin/env bash
# Every benchmark, one command: builds the benchmark programs in release, runs each against its
# in-run baseline (EVM gas floor, anvil's raw rate, pgbench, brute-force screening), and rewrites
# the generated blocks of docs/benchmarks.md (between <!-- bench:NAME --> and <!-- /bench:NAME -->)
# with the tables, the machine, the date and the command. The prose around them (analysis, what is
# left to do) is kept; reread it when a figure moves.
#
#   tests/bench.sh            all of them at full size (about 25 minutes on 2 cores)
#   tests/bench.sh --quick    smaller sizes, for trying the command (the doc says so)
#   tests/bench.sh --check    only check that docs/benchmarks.md has a block for each benchmark
#   tests/bench.sh gas burst  only the named ones
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
DOC=docs/benchmarks.md
ALL=(gas burst payouts screening yield reconciliation)

quick=false; check=false; picked=()
for arg in "$@"; do
  case "$arg" in
    --quick) quick=true ;;
    --check) check=true ;;
    gas|burst|payouts|screening|yield|reconciliation) picked+=("$arg") ;;
    *) echo "unknown argument: $arg (benchmarks: ${ALL[*]}; flags: --quick --check)" >&2; exit 2 ;;
  esac
done
[ ${#picked[@]} -gt 0 ] || picked=("${ALL[@]}")

if $check; then
  for name in "${ALL[@]}"; do
    grep -q "<!-- bench:$name -->" "$DOC" && grep -q "<!-- /bench:$name -->" "$DOC" \
      || { echo "$DOC has no generated block for $name"; exit 1; }
  done
  echo "$DOC has a generated block for every benchmark"
  exit 0
fi

# What each benchmark runs: the release build of its program (built once below, so no run
# recompiles with another feature set) and its arguments; sizes are smaller with --quick.
command_for() {
  local bin=target/release/examples
  case "$1" in
    gas) echo "$bin/gas_report" ;;
    burst) echo "$bin/burst_bench" ;;
    payouts) echo "$bin/payout_load" ;;
    screening) if $quick; then echo "PERTURBED=2000 CLEAN=2000 BRUTE=400 $bin/screening_bench";
               else echo "BRUTE=2000 $bin/screening_bench"; fi ;;
    yield) if $quick; then echo "$bin/yield_bench 100000 30"; else echo "$bin/yield_bench 1000000 30"; fi ;;
    reconciliation) if $quick; then echo "$bin/recon_bench 100000"; else echo "$bin/recon_bench 1000000"; fi ;;
  esac
}

echo "==> Postgres, Foundry tools"
export PGHOST=127.0.0.1 PGUSER=postgres
if ! pg_isready -q -h 127.0.0.1 -p 5432; then
  for v in /etc/postgresql/*; do pg_ctlcluster --skip-systemctl-redirect "$(basename "$v")" main start || true; done
  for _ in $(seq 1 60); do pg_isready -q -h 127.0.0.1 -p 5432 && break; sleep 0.5; done
fi
(cd contracts && { [ -x node_modules/.bin/forge ] || npm ci --no-audit --no-fund; })
command -v pgbench >/dev/null || { echo "pgbench is needed for the payouts benchmark (Debian: postgresql-client)"; exit 1; }
export SQLX_OFFLINE=true

BUILD="cargo build --release --locked -p corridor-chain -p corridor -p corridor-compliance -p corridor-yield-distribution -p corridor-reconciliation --examples"
echo "==> Building the benchmark programs (release): $BUILD"
$BUILD

OUT="$ROOT/target/bench"
mkdir -p "$OUT"
cpu=$(lscpu 2>/dev/null | sed -n 's/^Model name: *//p' | head -1)
mem=$(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo)
pg=$(psql -tAc "SHOW server_version" postgres | cut -d' ' -f1)
anvil=$(contracts/node_modules/.bin/anvil --version | head -1)
machine="$(nproc) cores (${cpu:-unknown CPU}), $mem RAM; PostgreSQL $pg; $anvil; release build"
when=$(date -u +%Y-%m-%d)
size=$($quick && echo "quick sizes (--quick): smaller than the goals ask" || echo "full size")

for name in "${picked[@]}"; do
  cmd=$(command_for "$name")
  echo "==> $name: $cmd"
  # Each program prints one markdown table (its figures, the baseline and the ratio); the lines
  # that are not table rows are progress notes, kept in target/bench/$name.log.
  env bash -c "$cmd" >"$OUT/$name.log"
  {
    echo "Last run $when, $size, by \`tests/bench.sh\`, which built the programs with \`$BUILD\` and ran \`$cmd\`."
    echo "Machine: $machine."
    echo
    grep '^|' "$OUT/$name.log"
  } >"$OUT/$name.md"
  python3 - "$DOC" "$name" "$OUT/$name.md" <<'PY'
import sys
doc, name, block = sys.argv[1], sys.argv[2], open(sys.argv[3]).read().rstrip("\n")
text = open(doc).read()
start, end = f"<!-- bench:{name} -->", f"<!-- /bench:{name} -->"
if start not in text or end not in text:
    sys.exit(f"{doc}: no block {start} ... {end}")
head, rest = text.split(start, 1)
_, tail = rest.split(end, 1)
open(doc, "w").write(f"{head}{start}\n{block}\n{end}{tail}")
PY
  cat "$OUT/$name.md"
done
echo "==> $DOC rewritten for: ${picked[*]}"
