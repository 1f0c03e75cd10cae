#!/usr/bin/env bash
# Pushed-messages benchmark (issue 6): how long `ebill serve` takes to tell 100,000 bound WeChat users about their new
# bill. For each backend (SQLite in a temporary data directory, then PostgreSQL in a new database
# ebill_bench_push_<random> when the server answers) and each run it:
#   1. prepares, untimed, BENCH_BILLS accounts, WeChat users of the sandbox's mini-program, one binding each and a
#      standing permission for the new-bill template (examples/bench_push.rs `prepare`), and a CSV of one new bill
#      per account;
#   2. starts a release `ebill serve` in sandbox mode (demo seed off, background loops on) on that database, declares
#      the template long-term at the simulated WeChat, starts the clock, runs `ebill import bills` against the same
#      database and polls the sandbox inbox every 200 ms until it holds every message (timeout BENCH_TIMEOUT_SECS);
#   3. prints the import time, the time until every message was in the inbox (from the start and from the end of the
#      import), messages/s, the CPU used, and the server's peak resident memory (VmHWM);
#   4. a second run with messages.rate_limit_wechat_per_sec = BENCH_RATE on BENCH_RATE_BILLS bills measures the
#      delivery rate from the BENCH_STEADY_FROM-th message to the last;
#   5. checks one `messages` row per bill, all sent, and the inbox total equal to the bill count.
# Targets: without a limit every message delivered within 60 s of the import's start and peak RSS under 250 MB; with
# the limit, the measured rate within 5% of it. Exits non-zero when a target is missed or a check fails.
#
#   bench/push.sh                                   # sqlite/full sqlite/rate postgres/full postgres/rate
#   BENCH_BILLS=20000 bench/push.sh                 # a quick run
#   BENCH_RUNS="postgres/full" bench/push.sh        # chosen backend/run pairs
#
# Environment: BENCH_BILLS (100000), BENCH_RATE (500), BENCH_RATE_BILLS (20000), BENCH_STEADY_FROM (2000),
# BENCH_TIMEOUT_SECS (300), BENCH_RUNS ("sqlite/full sqlite/rate postgres/full postgres/rate"),
# BENCH_PG_URL (postgres://postgres@127.0.0.1:5432), BENCH_MESSAGES_EXTRA (more lines for the [messages] table of the
# settings, e.g. "workers = 32"), RUST_LOG (the server's log filter, default info), BENCH_KEEP=1 keeps the temporary
# directory (settings, server logs, CSV files). Quiet hours are turned off in the run's settings: at night (Beijing)
# they would hold every message until 08:00.
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$(pwd)
BILLS=${BENCH_BILLS:-100000}
RATE=${BENCH_RATE:-500}
RATE_BILLS=${BENCH_RATE_BILLS:-20000}
STEADY_FROM=${BENCH_STEADY_FROM:-2000}
TIMEOUT_SECS=${BENCH_TIMEOUT_SECS:-300}
RUNS=${BENCH_RUNS:-sqlite/full sqlite/rate postgres/full postgres/rate}
PG_URL=${BENCH_PG_URL:-postgres://postgres@127.0.0.1:5432}
TARGET_SECS=60
TARGET_RSS_MB=250

log() { printf '==> %s\n' "$*" >&2; }
die() { printf 'bench/push.sh: %s\n' "$*" >&2; exit 1; }

TMP=$(mktemp -d "${TMPDIR:-/tmp}/ebill-bench-push.XXXXXX")
# shellcheck source=bench/server.sh
source "$ROOT/bench/server.sh"

for run in $RUNS; do
    backend=${run%%/*}
    kind=${run#*/}
    [[ $backend == sqlite || $backend == postgres ]] || die "unknown backend in '$run' (sqlite or postgres)"
    [[ $kind == full || $kind == rate ]] || die "unknown run in '$run' (full or rate)"
done

log "building (release)"
cargo build --release --quiet --bin ebill --example bench_push
EBILL="$ROOT/target/release/ebill"
DRIVER="$ROOT/target/release/examples/bench_push"

RESULTS="$TMP/results.tsv"
: >"$RESULTS"
status=0
pg_skipped=""
for run in $RUNS; do
    backend=${run%%/*}
    kind=${run#*/}
    name="$backend-$kind"
    work="$TMP/$name"
    mkdir -p "$work"
    SERVER_LOG="$work/server.log"
    port=$(free_port)
    unset DATABASE_URL
    case $kind in
        full) bills=$BILLS rate=0 ;;
        rate) bills=$RATE_BILLS rate=$RATE ;;
    esac
    case $backend in
        sqlite)
            where="SQLite file in a temporary data directory"
            ;;
        postgres)
            if ! pg_answers; then
                [[ -z ${BENCH_RUNS:-} ]] || die "PostgreSQL does not answer at ${PG_URL#*@} (BENCH_PG_URL)"
                [[ -n $pg_skipped ]] || log "postgres: skipped (no server answers at ${PG_URL#*@})"
                pg_skipped=1
                continue
            fi
            create_pg_db ebill_bench_push
            export DATABASE_URL="$PG_URL/$PG_DB"
            where="database $PG_DB on ${PG_URL#*@}"
            ;;
    esac
    # The run's settings: quiet hours off, the rate limit (no environment variable sets it), anything extra.
    config="$work/ebill.toml"
    {
        echo "[messages]"
        echo "quiet_start = \"00:00\""
        echo "quiet_end = \"00:00\""
        echo "rate_limit_wechat_per_sec = $rate"
        [[ -z ${BENCH_MESSAGES_EXTRA:-} ]] || printf '%b\n' "$BENCH_MESSAGES_EXTRA"
    } >"$config"
    export EBILL_CONFIG="$config" EBILL_DATA_DIR="$work/data" EBILL_BIND="127.0.0.1:$port" EBILL_DEMO_SEED=false \
        EBILL_JOBS_RUN_IN_SERVE=true

    log "$name: preparing $bills accounts, users, bindings, permissions and bills ($where)"
    "$DRIVER" prepare --bills "$bills" --out "$work" | sed -u 's/^/    /' >&2

    log "$name: ebill serve on 127.0.0.1:$port (rate limit ${rate}/s, 0 = off)"
    start_server "$name" "$port"

    log "$name: importing $bills bills and waiting for $bills messages in the inbox"
    driver_args=(run --base-url "http://127.0.0.1:$port" --server-pid "$SERVER_PID" --ebill "$EBILL"
        --bills-csv "$work/bills.csv" --bills "$bills" --rate "$rate" --steady-from "$STEADY_FROM"
        --timeout-secs "$TIMEOUT_SECS" --target-secs "$TARGET_SECS" --target-rss-mb "$TARGET_RSS_MB"
        --results "$RESULTS")
    if ! "$DRIVER" "${driver_args[@]}" | sed -u 's/^/    /' >&2; then
        status=1
        log "$name: FAILED"
        log "last lines of the server's log, access lines left out:"
        { grep -v ' served status=' "$SERVER_LOG" || true; } | tail -n 10 | sed -u 's/^/    /' >&2
    fi
    stop_server
    drop_pg_db
done
SERVER_LOG=""

echo
echo "ebill push benchmark: one new-bill message per imported bill, bound WeChat user each, $(nproc) CPUs," \
    "$(git rev-parse --short HEAD 2>/dev/null || echo '?')$(git diff --quiet HEAD -- src migrations 2>/dev/null || echo '+changes')"
awk -F'\t' '
    BEGIN {
        printf "%-9s %-10s %7s %9s %9s %9s %12s %10s %11s %12s %7s  %s\n", "backend", "limit/s", "bills", "import s", "first s", "all s", "after imp. s", "msgs/s", "steady /s", "peak RSS MB", "checks", "targets"
    }
    { printf "%-9s %-10s %7d %9.2f %9s %9.2f %12.2f %10d %11s %12s %7s  %s\n", $1, ($2 == 0 ? "off" : $2), $3, $4, $5, $6, $7, $8, $9, $10, $11, $12 }
' "$RESULTS"
echo "all s: from the start of the import until the inbox held every message; after imp. s: from the end of the"
echo "import; msgs/s: bills / all s; steady /s: rate from message $STEADY_FROM to the last by the sandbox's receipt times."
echo "targets: no limit: all delivered in <= ${TARGET_SECS} s and server peak RSS (VmHWM) < ${TARGET_RSS_MB} MB; limit: within 5% of it."
[[ -s $RESULTS ]] || status=1
exit "$status"
