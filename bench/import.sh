#!/usr/bin/env bash
# Import benchmark (issue 2): generates BENCH_ACCOUNTS accounts with BENCH_BILLS_PER_ACCOUNT monthly bills each
# (default 200,000 and 5: 1,000,000 bills) and imports them with `ebill import` into a fresh SQLite database and a
# fresh PostgreSQL database, then prints rows/s and peak resident memory per import.
#
#   bench/import.sh                                       # full size, both backends
#   BENCH_ACCOUNTS=20000 bench/import.sh                  # a quick run
#   BENCH_BACKENDS=sqlite bench/import.sh                 # one backend (sqlite, postgres or "sqlite postgres")
#
# Environment: BENCH_ACCOUNTS, BENCH_BILLS_PER_ACCOUNT, BENCH_SEED (42), BENCH_BACKENDS,
# BENCH_PG_URL (postgres://postgres@127.0.0.1:5432: the server; the database ebill_bench is dropped and created),
# BENCH_PG_DB (ebill_bench). Targets: 20,000 bills/s or more on each backend, peak RSS under 300 MB.
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$(pwd)
OUT="$ROOT/bench/out"
ACCOUNTS=${BENCH_ACCOUNTS:-200000}
BILLS_PER_ACCOUNT=${BENCH_BILLS_PER_ACCOUNT:-5}
SEED=${BENCH_SEED:-42}
BACKENDS=${BENCH_BACKENDS:-sqlite postgres}
PG_URL=${BENCH_PG_URL:-postgres://postgres@127.0.0.1:5432}
PG_DB=${BENCH_PG_DB:-ebill_bench}
TARGET_BILLS_PER_S=20000
TARGET_RSS_MB=300

log() { printf '==> %s\n' "$*" >&2; }
die() { printf 'bench/import.sh: %s\n' "$*" >&2; exit 1; }

# GNU time reports the peak resident set size; the shell keyword `time` does not.
if [[ ! -x /usr/bin/time ]]; then
    log "installing GNU time (/usr/bin/time is missing)"
    SUDO=""
    [[ $(id -u) -eq 0 ]] || SUDO="sudo"
    $SUDO apt-get update -qq && $SUDO apt-get install -y -qq time >/dev/null
    [[ -x /usr/bin/time ]] || die "could not install GNU time (Debian package 'time')"
fi

log "building (release)"
cargo build --release --quiet --bin ebill --example gen_import_data
EBILL="$ROOT/target/release/ebill"
GEN="$ROOT/target/release/examples/gen_import_data"

DATA="$OUT/data-${ACCOUNTS}x${BILLS_PER_ACCOUNT}-seed${SEED}"
if [[ -f "$DATA/.complete" && ! "$GEN" -nt "$DATA/.complete" ]]; then
    log "reusing generated data in ${DATA#"$ROOT"/}"
else
    log "generating $ACCOUNTS accounts x $BILLS_PER_ACCOUNT bills into ${DATA#"$ROOT"/}"
    rm -rf "$DATA"
    "$GEN" --accounts "$ACCOUNTS" --bills-per-account "$BILLS_PER_ACCOUNT" --seed "$SEED" --out "$DATA" >&2
    touch "$DATA/.complete"
fi
ls -l "$DATA"/accounts.csv "$DATA"/bills.csv | awk '{ printf "    %s  %.1f MB\n", $NF, $5 / 1048576 }' >&2

RESULTS="$OUT/results.tsv"
: >"$RESULTS"

# run_import BACKEND KIND FILE: runs one import under /usr/bin/time -v with the environment already set for BACKEND
# and appends "backend kind rows seconds rows/s rss_mb created rejected wall_seconds" to $RESULTS.
run_import() {
    local backend=$1 kind=$2 file=$3
    local stdout="$OUT/$backend-$kind.out" timing="$OUT/$backend-$kind.time"
    log "$backend: ebill import $kind ${file#"$ROOT"/}"
    if ! /usr/bin/time -v -o "$timing" "$EBILL" import "$kind" "$file" --quiet >"$stdout" 2>"$OUT/$backend-$kind.err"; then
        cat "$OUT/$backend-$kind.err" >&2
        die "$backend: the $kind import failed (see $OUT/$backend-$kind.*)"
    fi
    local summary
    summary=$(grep '^imported ' "$stdout" | tail -n 1) || die "$backend: no summary line in $stdout"
    echo "    $summary" >&2
    # imported FILE: N rows in S s (R rows/s): C created, U updated, X unchanged, J rejected
    local rows seconds rate created rejected rss_kb wall
    rows=$(sed -E 's/.*: ([0-9]+) rows in .*/\1/' <<<"$summary")
    seconds=$(sed -E 's/.* rows in ([0-9.]+) s .*/\1/' <<<"$summary")
    rate=$(sed -E 's/.*\(([0-9]+) rows\/s\).*/\1/' <<<"$summary")
    created=$(sed -E 's/.* ([0-9]+) created.*/\1/' <<<"$summary")
    rejected=$(sed -E 's/.* ([0-9]+) rejected.*/\1/' <<<"$summary")
    rss_kb=$(awk -F': ' '/Maximum resident set size/ { print $2 }' "$timing")
    [[ -n $rss_kb ]] || die "$backend: no 'Maximum resident set size' in $timing"
    # The whole process, start-up and migrations included: "Elapsed (wall clock) time (h:mm:ss or m:ss): 0:26.43".
    wall=$(awk -F': ' '/Elapsed \(wall clock\) time/ { n = split($2, p, ":"); s = 0; for (i = 1; i <= n; i++) s = s * 60 + p[i]; print s }' "$timing")
    if [[ $rejected != 0 ]]; then
        head -n 5 "$stdout" >&2
        log "WARNING: $backend rejected $rejected $kind rows (see $stdout)"
    fi
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$backend" "$kind" "$rows" "$seconds" "$rate" \
        "$(awk -v kb="$rss_kb" 'BEGIN { printf "%.1f", kb / 1024 }')" "$created" "$rejected" "$wall" >>"$RESULTS"
}

for backend in $BACKENDS; do
    case $backend in
        sqlite)
            dir="$OUT/sqlite-data"
            rm -rf "$dir"
            export EBILL_DATA_DIR="$dir" EBILL_DEMO_SEED=false
            unset DATABASE_URL
            ;;
        postgres)
            command -v psql >/dev/null || die "psql is needed for the PostgreSQL run"
            log "postgres: recreating database $PG_DB on ${PG_URL#*@}"
            PGOPTIONS="--client-min-messages=warning" psql "$PG_URL/postgres" -v ON_ERROR_STOP=1 -q \
                -c "DROP DATABASE IF EXISTS $PG_DB" -c "CREATE DATABASE $PG_DB" >/dev/null
            export DATABASE_URL="$PG_URL/$PG_DB" EBILL_DATA_DIR="$OUT/pg-data" EBILL_DEMO_SEED=false
            ;;
        *) die "unknown backend $backend (use sqlite and/or postgres)" ;;
    esac
    run_import "$backend" accounts "$DATA/accounts.csv"
    run_import "$backend" bills "$DATA/bills.csv"
done

echo
echo "ebill import benchmark: $ACCOUNTS accounts, $((ACCOUNTS * BILLS_PER_ACCOUNT)) bills (seed $SEED)," \
    "$(nproc) CPUs, $(git rev-parse --short HEAD 2>/dev/null || echo '?')$(git diff --quiet HEAD -- src 2>/dev/null || echo '+changes')"
awk -F'\t' -v target_rate="$TARGET_BILLS_PER_S" -v target_rss="$TARGET_RSS_MB" '
    BEGIN {
        printf "%-9s %-9s %10s %9s %10s %13s %9s %8s  %s\n", "backend", "import", "rows", "seconds", "rows/s", "peak RSS MB", "rejected", "wall s", "targets"
        printf "%-9s %-9s %10s %9s %10s %13s %9s %8s  %s\n", "-------", "------", "----", "-------", "------", "-----------", "--------", "------", "-------"
        failed = 0
    }
    {
        verdict = ""
        if ($6 + 0 >= target_rss) verdict = verdict " RSS>=" target_rss "MB"
        if ($2 == "bills" && $5 + 0 < target_rate) verdict = verdict " <" target_rate "/s"
        if ($8 + 0 != 0) verdict = verdict " rejected"
        if (verdict == "") verdict = "ok"; else failed = 1
        printf "%-9s %-9s %10d %9.1f %10d %13.1f %9d %8.1f  %s\n", $1, $2, $3, $4, $5, $6, $8, $9, verdict
    }
    END { exit failed }
' "$RESULTS" && status=0 || status=$?
echo
echo "seconds and rows/s: the importer's own summary (reading, validating, writing); wall s: the whole process under"
echo "/usr/bin/time, start-up and migrations included; peak RSS: its 'Maximum resident set size'."
echo "targets: bills >= $TARGET_BILLS_PER_S rows/s on each backend, peak RSS < $TARGET_RSS_MB MB; raw results in ${RESULTS#"$ROOT"/}"
exit "$status"
