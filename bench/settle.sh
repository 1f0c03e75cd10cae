#!/usr/bin/env bash
# Settlement benchmark: how many verified payment notifications `ebill serve` settles per second. For each backend it
# starts a release server in sandbox mode on a fresh database (SQLite in a temporary data directory; PostgreSQL in a
# new database ebill_bench_<random>, when the server answers), seeds BENCH_ORDERS pending orders (one account, one
# unpaid bill, one user each) straight into the database, then sends one success notify per order, signed and
# encrypted as the platform does (pre-signed: signing is the platform's cost), over BENCH_CONCURRENCY connections,
# and checks that every order was settled exactly once with one write-back job. The write-back worker is off in the
# server (EBILL_JOBS_RUN_IN_SERVE=false) so that it does not compete with the notifies.
#
#   bench/settle.sh                                   # sqlite/wechat postgres/wechat postgres/alipay
#   BENCH_ORDERS=5000 bench/settle.sh                 # a quick run
#   BENCH_RUNS="postgres/alipay" bench/settle.sh      # chosen backend/platform pairs
#
# Environment: BENCH_ORDERS (20000), BENCH_ALIPAY_ORDERS (BENCH_ORDERS), BENCH_CONCURRENCY (64),
# BENCH_RUNS ("sqlite/wechat postgres/wechat postgres/alipay"), BENCH_PG_URL (postgres://postgres@127.0.0.1:5432),
# BENCH_PG_PARAMS (appended to the database's URL, e.g. "?sslmode=disable"; without it sqlx uses TLS when the server
# offers it), BENCH_SQLITE_MAX_CONNECTIONS (4), BENCH_PG_MAX_CONNECTIONS (32), BENCH_KEEP=1 (keep the temporary files).
# Exits non-zero when a notify is not acknowledged or a check fails; PostgreSQL is skipped (with a note) when
# BENCH_RUNS is the default and the server does not answer.
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$(pwd)
ORDERS=${BENCH_ORDERS:-20000}
ALIPAY_ORDERS=${BENCH_ALIPAY_ORDERS:-$ORDERS}
CONCURRENCY=${BENCH_CONCURRENCY:-64}
RUNS=${BENCH_RUNS:-sqlite/wechat postgres/wechat postgres/alipay}
PG_URL=${BENCH_PG_URL:-postgres://postgres@127.0.0.1:5432}
PG_PARAMS=${BENCH_PG_PARAMS:-}
SQLITE_MAX_CONNECTIONS=${BENCH_SQLITE_MAX_CONNECTIONS:-4}
PG_MAX_CONNECTIONS=${BENCH_PG_MAX_CONNECTIONS:-32}

log() { printf '==> %s\n' "$*" >&2; }
die() { printf 'bench/settle.sh: %s\n' "$*" >&2; exit 1; }

TMP=$(mktemp -d "${TMPDIR:-/tmp}/ebill-bench-settle.XXXXXX")
# shellcheck source=bench/server.sh
source "$ROOT/bench/server.sh"

log "building (release)"
cargo build --release --quiet --bin ebill --examples
EBILL="$ROOT/target/release/ebill"
LOADGEN="$ROOT/target/release/examples/bench_settle"

BACKENDS=""
for run in $RUNS; do
    backend=${run%%/*}
    platform=${run#*/}
    [[ $backend == sqlite || $backend == postgres ]] || die "unknown backend in '$run' (sqlite or postgres)"
    [[ $platform == wechat || $platform == alipay ]] || die "unknown platform in '$run' (wechat or alipay)"
    [[ " $BACKENDS " == *" $backend "* ]] || BACKENDS="$BACKENDS $backend"
done

RESULTS="$TMP/results.tsv"
: >"$RESULTS"
status=0
for backend in $BACKENDS; do
    data="$TMP/$backend-data"
    SERVER_LOG="$TMP/$backend-server.log"
    port=$(free_port)
    unset DATABASE_URL
    case $backend in
        sqlite)
            max_connections=$SQLITE_MAX_CONNECTIONS
            where="SQLite file in a temporary data directory"
            ;;
        postgres)
            if ! pg_answers; then
                [[ -z ${BENCH_RUNS:-} ]] || die "PostgreSQL does not answer at ${PG_URL#*@} (BENCH_PG_URL)"
                log "postgres: skipped (no server answers at ${PG_URL#*@})"
                continue
            fi
            create_pg_db ebill_bench
            export DATABASE_URL="$PG_URL/$PG_DB$PG_PARAMS"
            max_connections=$PG_MAX_CONNECTIONS
            where="database $PG_DB$PG_PARAMS on ${PG_URL#*@}"
            ;;
    esac
    export EBILL_DATA_DIR="$data" EBILL_BIND="127.0.0.1:$port" EBILL_DEMO_SEED=false EBILL_JOBS_RUN_IN_SERVE=false \
        EBILL_DATABASE_MAX_CONNECTIONS="$max_connections"
    log "$backend: ebill serve on 127.0.0.1:$port ($where, $max_connections connections, write-back worker off)"
    start_server "$backend" "$port"

    for run in $RUNS; do
        [[ ${run%%/*} == "$backend" ]] || continue
        platform=${run#*/}
        orders=$ORDERS
        [[ $platform == alipay ]] && orders=$ALIPAY_ORDERS
        log "$backend: $orders $platform orders: seeding, signing, sending over $CONCURRENCY connections"
        if ! "$LOADGEN" --base-url "http://127.0.0.1:$port" --platform "$platform" --orders "$orders" \
            --concurrency "$CONCURRENCY" --server-pid "$SERVER_PID" --results "$RESULTS" | sed -u 's/^/    /' >&2; then
            status=1
            log "$backend/$platform: FAILED; the server's last warnings and errors:"
            grep -E 'WARN|ERROR' "$SERVER_LOG" | tail -n 5 | cut -c1-300 >&2 || true
        fi
    done
    stop_server
    drop_pg_db
done
SERVER_LOG=""

echo
revision="$(git rev-parse --short HEAD 2>/dev/null || echo '?')"
git diff --quiet HEAD -- src migrations 2>/dev/null || revision="$revision+changes"
echo "ebill settlement benchmark: a success notify per pending order, $CONCURRENCY connections," \
    "$(nproc) CPUs, $revision"
awk -F'\t' '
    BEGIN {
        printf "%-9s %-8s %9s %8s %13s %8s %8s %8s %9s %6s  %s\n", "backend", "platform", "notifies", "seconds",
            "settlements/s", "p50 ms", "p99 ms", "max ms", "success", "other", "checks"
    }
    { printf "%-9s %-8s %9d %8.2f %13d %8.1f %8.1f %8.1f %9d %6d  %s\n", $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11 }
' "$RESULTS"
echo "settlements/s: notifies answered over the wall clock of the sending alone (seeding and signing excluded);"
echo "latency: from sending a notify to its whole answer. Write-back worker off (EBILL_JOBS_RUN_IN_SERVE=false)."
[[ -s $RESULTS ]] || status=1
exit "$status"
