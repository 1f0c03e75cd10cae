# Shared by the benchmarks that run `ebill serve` (settle.sh, push.sh); sourced, not run. The sourcing script sets
# PG_URL and TMP (its temporary directory) and defines log and die. This file gives it: a free port, whether
# PostgreSQL answers, a fresh database (create_pg_db; dropped by drop_pg_db), starting the server and waiting until it
# is ready (start_server), stopping it (stop_server), and an EXIT trap that stops and drops whatever is left, shows
# the end of the server's log on a failure, and removes TMP unless BENCH_KEEP=1.

SERVER_PID=""
PG_DB=""
SERVER_LOG=""

stop_server() {
    if [[ -n $SERVER_PID ]]; then
        kill -TERM "$SERVER_PID" 2>/dev/null || true
        for _ in $(seq 100); do kill -0 "$SERVER_PID" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$SERVER_PID" 2>/dev/null || true
        wait "$SERVER_PID" 2>/dev/null || true
        SERVER_PID=""
    fi
}

# Creates database "$1_<random>" and sets PG_DB to its name.
create_pg_db() {
    PG_DB="$1_$(od -An -N4 -tx4 /dev/urandom | tr -d ' \n')"
    PGOPTIONS="--client-min-messages=warning" psql "$PG_URL/postgres" -q -v ON_ERROR_STOP=1 \
        -c "CREATE DATABASE $PG_DB" >/dev/null
}

drop_pg_db() {
    if [[ -n $PG_DB ]]; then
        PGOPTIONS="--client-min-messages=warning" psql "$PG_URL/postgres" -q -v ON_ERROR_STOP=1 \
            -c "DROP DATABASE IF EXISTS $PG_DB WITH (FORCE)" >/dev/null || log "could not drop database $PG_DB"
        PG_DB=""
    fi
}

cleanup() {
    local status=$?
    stop_server
    drop_pg_db
    if [[ $status -ne 0 && -n $SERVER_LOG && -s $SERVER_LOG ]]; then
        log "last lines of the server's log (${SERVER_LOG#"$TMP"/}), access lines left out:"
        { grep -v ' served status=' "$SERVER_LOG" || true; } | tail -n 15 >&2
    fi
    if [[ ${BENCH_KEEP:-0} == 1 ]]; then log "kept $TMP"; else rm -rf "$TMP"; fi
    exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() {
    local port
    for _ in $(seq 50); do
        port=$((20000 + RANDOM % 30000))
        if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then echo "$port"; return; fi
    done
    die "found no free port"
}

pg_answers() {
    command -v psql >/dev/null && psql "$PG_URL/postgres" -Atqc "SELECT 1" >/dev/null 2>&1
}

# Starts "$EBILL serve" (configured by the EBILL_* environment) on port $2, logging to SERVER_LOG, and waits until
# /readyz answers; $1 names the run in messages.
start_server() {
    local name=$1 port=$2
    NO_COLOR=1 "$EBILL" serve >"$SERVER_LOG" 2>&1 &
    SERVER_PID=$!
    for _ in $(seq 300); do
        curl -fsS -o /dev/null "http://127.0.0.1:$port/readyz" 2>/dev/null && break
        kill -0 "$SERVER_PID" 2>/dev/null || die "$name: the server exited during start-up"
        sleep 0.1
    done
    curl -fsS -o /dev/null "http://127.0.0.1:$port/readyz" || die "$name: the server is not ready after 30 s"
}
