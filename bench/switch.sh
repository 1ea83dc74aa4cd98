#!/usr/bin/env bash
# The online switch's write downtime on workloads shaped like real applications', each under a steady pgbench load
# and a writer per database standing in for an application (one session, a tick every 20 ms into a `ticks` table;
# when the switch ends its session it connects again, to the target once the switch is done):
#
#   names      identifiers that need quoting everywhere (the corpus's names.sql, a table without a key among them),
#              a table of 60 partitions, and pgbench at scale 5, under `pgbench -c 4 -j 2 -R 400`.
#   databases  three databases, each pgbench at scale 5 under `pgbench -c 2 -R 150` and its own writer, moved by one
#              `migrate --databases ... --online` and switched together.
#   unlogged   pgbench at scale 10 plus three unlogged tables of 20,000 rows (sessions, a cache, a queue), which
#              the switch copies again and compares (logical decoding never sees their writes), under `-R 400`.
#   pgbouncer  pgbench at scale 5 under `-R 400`, the load and the writer reaching the source through PgBouncer
#              (transaction pooling): `migrate --pgbouncer` holds their queries there at the switch and repoints its
#              entry at the target, so the writer never moves; its gap is the pause the application sees.
#
# Each round runs `migrate --online --cutover auto` into fresh target databases owned by an ordinary login role,
# and prints, per database: the tool's write downtime with its phases (the journal) and the writer's longest gap
# between two ticks (which adds the bench's own noticing of the switch in the journal, polled every 100 ms, and a
# new psql).
#
#   bench/switch.sh [WORKLOAD ...]     default: names databases unlogged pgbouncer
#   ROUNDS=3 CLI=path/to/pgrelocate BENCH_DIR=/dev/shm KEEP=1 bench/switch.sh names
#   DURABLE=1 bench/switch.sh          both clusters with fsync and full-page writes on, as on a real server
#   LATENCY_MS=10 bench/switch.sh names   the tool reaches both servers through a proxy that delays each way by 10 ms
#                                      (a 20 ms round trip: servers in another region than the tool;
#                                      bench/delay_proxy.py); the load and the writers reach them directly, as
#                                      applications beside their database do
#   FALLBACK=1 bench/switch.sh pgbouncer   migrate with --fallback, and `rollback` five seconds after the switch
#                                      (FALLBACK_AFTER=N seconds): the pause PgBouncer held the application for on
#                                      the way back, as the rollback reports it and as the writer saw it
#
# Run by hand, never in CI: a few minutes a round.
set -euo pipefail

ROOT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=bench/lib.sh
. "$ROOT_DIR/bench/lib.sh"
WORKLOADS=("$@")
[ "${#WORKLOADS[@]}" -gt 0 ] || WORKLOADS=(names databases unlogged pgbouncer)
ROUNDS="${ROUNDS:-2}"
NAMES_SQL="$ROOT_DIR/tests/PgRelocate.Tests/RealDatabases/Sql/names.sql"

[ -n "${CLI:-}" ] || build_cli
make_work pgrelocate-switch
watch_pids source target

start_logical_pair
S="postgres://postgres@127.0.0.1:$SPORT"
T="postgres://postgres@127.0.0.1:$TPORT"
# The tool's ways to the servers: with LATENCY_MS, through delaying proxies (the bench's own set-up goes directly).
SVIA=$SPORT; TVIA=$TPORT
if [ -n "${LATENCY_MS:-}" ]; then
    SVIA=$(free_port); TVIA=$(free_port)
    python3 "$ROOT_DIR/bench/delay_proxy.py" "$SVIA" "$SPORT" "$LATENCY_MS" & PIDS_PROXY=($!)
    python3 "$ROOT_DIR/bench/delay_proxy.py" "$TVIA" "$TPORT" "$LATENCY_MS" & PIDS_PROXY+=($!)
    sleep 1
fi
# Not in PIDS, which each round's end stops: the proxies and PgBouncer stop with the clusters.
PIDS_PROXY=("${PIDS_PROXY[@]:-}")
trap 'kill ${PIDS_PROXY[@]} 2>/dev/null || true; stop_pgbouncer; stop_pids; stop_clusters "${CLUSTERS[@]}"' EXIT
SV="postgres://postgres@127.0.0.1:$SVIA"
# The target's login role owns its databases, as a managed provider hands them out (CREATEDB for the instance).
"$PGBIN/psql" -qX "$T/postgres" -c "CREATE ROLE app LOGIN CREATEDB"
now() { date +%s.%N; }

# source DB WORKLOAD: makes the source database DB for WORKLOAD, with the writer's ticks table.
source_db() {
    local db="$1" url="$S/$1"
    "$PGBIN/psql" -qX "$S/postgres" -c "CREATE DATABASE $db" >/dev/null
    case "$2" in
        names) "$PGBIN/pgbench" -q -i -s 5 "$url" >/dev/null 2>&1
               "$PGBIN/psql" -qX -v ON_ERROR_STOP=1 "$url" -f "$NAMES_SQL" >/dev/null
               "$PGBIN/psql" -qX -v ON_ERROR_STOP=1 "$url" >/dev/null <<'SQL'
CREATE TABLE measurements (id bigint GENERATED ALWAYS AS IDENTITY, at date NOT NULL, value float8, PRIMARY KEY (id, at)) PARTITION BY RANGE (at);
SELECT format('CREATE TABLE measurements_%s PARTITION OF measurements FOR VALUES FROM (%L) TO (%L)', to_char(d, 'YYYY_MM'), d, d + interval '1 month')
FROM generate_series(date '2021-01-01', date '2025-12-01', interval '1 month') d \gexec
INSERT INTO measurements (at, value) SELECT date '2021-01-01' + g % 1800, g FROM generate_series(1, 100000) g;
SQL
               ;;
        databases|pgbouncer) "$PGBIN/pgbench" -q -i -s 5 "$url" >/dev/null 2>&1 ;;
        unlogged) "$PGBIN/pgbench" -q -i -s 10 "$url" >/dev/null 2>&1
                  "$PGBIN/psql" -qX -v ON_ERROR_STOP=1 "$url" >/dev/null <<'SQL'
CREATE UNLOGGED TABLE sessions (id int PRIMARY KEY, data jsonb, seen timestamptz);
CREATE UNLOGGED TABLE cache (key text PRIMARY KEY, value text);
CREATE UNLOGGED TABLE queue (id bigserial PRIMARY KEY, payload text);
INSERT INTO sessions SELECT g, jsonb_build_object('user', g), now() FROM generate_series(1, 20000) g;
INSERT INTO cache SELECT 'key ' || g, repeat('v', 100) FROM generate_series(1, 20000) g;
INSERT INTO queue (payload) SELECT 'job ' || g FROM generate_series(1, 20000) g;
SQL
                  ;;
    esac
    "$PGBIN/psql" -qX "$url" -c "CREATE TABLE ticks (id text PRIMARY KEY DEFAULT gen_random_uuid()::text, at timestamptz NOT NULL DEFAULT clock_timestamp())" -c "VACUUM ANALYZE" >/dev/null
}

# PgBouncer for the pgbouncer workload (Debian's package), in $WORK/pgbouncer, listening on BPORT (the tool reaches
# its console on BVIA, through a delaying proxy with LATENCY_MS): start_pgbouncer DB points its entry DB at the
# source again (a switch left it at the target) and starts it, or reloads it when it runs. The entry reaches the source
# as the tool does (the cutover refuses an entry that names another address than its --source), so with LATENCY_MS
# the application's queries through PgBouncer are delayed too.
BDIR="$WORK/pgbouncer"; BPORT=""; BVIA=""
start_pgbouncer() {
    need_apt pgbouncer /usr/sbin/pgbouncer pgbouncer
    local first=""
    if [ -z "$BPORT" ]; then
        first=1; BPORT=$(free_port); BVIA=$BPORT
        mkdir -p "$BDIR"; printf '"postgres" ""\n"app" ""\n' >"$BDIR/users.txt"
        if [ -n "${LATENCY_MS:-}" ]; then
            BVIA=$(free_port)
            python3 "$ROOT_DIR/bench/delay_proxy.py" "$BVIA" "$BPORT" "$LATENCY_MS" & PIDS_PROXY+=($!)
        fi
    fi
    cat >"$BDIR/pgbouncer.ini" <<INI
[databases]
$1 = host=127.0.0.1 port=$SVIA dbname=$1 user=postgres

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = $BPORT
unix_socket_dir =
auth_type = trust
auth_file = $BDIR/users.txt
admin_users = postgres
pool_mode = transaction
max_client_conn = 200
default_pool_size = 20
ignore_startup_parameters = extra_float_digits
logfile = $BDIR/pgbouncer.log
pidfile = $BDIR/pgbouncer.pid
INI
    [ "$(id -u)" -ne 0 ] || chown -R postgres "$BDIR"
    if [ -n "$first" ]; then
        if [ "$(id -u)" -eq 0 ]; then /usr/sbin/pgbouncer -d -u postgres "$BDIR/pgbouncer.ini"; else /usr/sbin/pgbouncer -d "$BDIR/pgbouncer.ini"; fi
        sleep 1
    else
        "$PGBIN/psql" -qX "postgres://postgres@127.0.0.1:$BPORT/pgbouncer" -c "RELOAD" >/dev/null
    fi
}
stop_pgbouncer() { [ ! -f "$BDIR/pgbouncer.pid" ] || kill "$(cat "$BDIR/pgbouncer.pid")" 2>/dev/null || true; }

# start_load DB RATE CLIENTS [URL]: pgbench at RATE and the writer (bench/lib.sh start_writer) on the source database
# DB, or through URL (PgBouncer's entry, which the switch repoints: the writer then writes there throughout).
start_load() {
    local db="$1" url="${4:-$S/$1}"
    "$PGBIN/psql" -qX "$S/postgres" -c "ALTER DATABASE $db RESET default_transaction_read_only" >/dev/null
    "$PGBIN/pgbench" -n -c "$3" -j "$(( $3 < 2 ? 1 : 2 ))" -R "$2" -T 100000 "$url" >>"$WORK/pgbench-$db.log" 2>&1 &
    PIDS+=($!)
    start_writer "$url" "${4:-postgres://app@127.0.0.1:$TPORT/$db}" "$db"
}
stop_load() {
    stop_pids
    for db in "$@"; do stop_writer "$db"; done
    # Only the load's: the proxies (LATENCY_MS) go on to the next round.
    wait "${PIDS[@]}" 2>/dev/null || true
    PIDS=()
}
fresh() {
    PGOPTIONS="-c client_min_messages=warning" "$PGBIN/psql" -qX "$T/postgres" -c "DROP DATABASE IF EXISTS $1 WITH (FORCE)" >/dev/null
    if [ -z "${2:-}" ]; then
        "$PGBIN/psql" -qX "$T/postgres" -c "CREATE DATABASE $1 OWNER app" >/dev/null
        "$PGBIN/psql" -qX "$T/$1" -c "ALTER SCHEMA public OWNER TO app" >/dev/null
    fi
}

# round WORKLOAD N DB...: one online migration of the databases DB under their load; appends to the report.
round() {
    local workload="$1" n="$2"; shift 2
    local dbs=("$@") run="$WORK/$workload-$n" db
    mkdir -p "$run"
    local rate=400 clients=4 via=""
    [ "$workload" != databases ] || { rate=150; clients=2; }
    if [ "$workload" = pgbouncer ]; then
        start_pgbouncer "${dbs[0]}"
        via="postgres://postgres@127.0.0.1:$BPORT/${dbs[0]}"
    fi
    for db in "${dbs[@]}"; do start_load "$db" "$rate" "$clients" "$via"; done
    sleep 5
    local args start fallback=()
    # With FALLBACK (behind PgBouncer), a way back, and a rollback once the migration has switched.
    [ -z "${FALLBACK:-}" ] || [ -z "$via" ] || fallback=(--fallback)
    if [ "${#dbs[@]}" -eq 1 ]; then
        fresh "${dbs[0]}"
        args=(--source "$SV/${dbs[0]}" --target "postgres://app@127.0.0.1:$TVIA/${dbs[0]}" --confirm "${dbs[0]}")
        # PgBouncer's entry carries the credentials it logs in to the target with: the target's URL holds a password
        # (the bench's clusters trust local logins, and ignore it).
        [ -z "$via" ] || args=(--source "$SV/${dbs[0]}" --target "postgres://app:bench@127.0.0.1:$TVIA/${dbs[0]}" --confirm "${dbs[0]}"
            --pgbouncer "postgres://postgres@127.0.0.1:$BVIA/pgbouncer" --pgbouncer-ini "$BDIR/pgbouncer.ini")
    else
        for db in "${dbs[@]}"; do fresh "$db" absent; done
        args=(--source "$SV/postgres" --target "postgres://app@127.0.0.1:$TVIA/postgres" --databases "$(IFS=,; echo "${dbs[*]}")")
    fi
    start=$(now)
    "$CLI" migrate "${args[@]}" --online --replica-identity-full --cutover auto "${fallback[@]}" --workdir "$run/migrations" >"$run/migrate.out" 2>"$run/migrate.err" &
    local migrate=$!
    local back=""
    [ "${#fallback[@]}" -eq 0 ] || back="$(rollback_after_switch "$run" "$migrate")"
    # Each database's writer moves to the target once its journal says it switched (as an application told by the
    # cutover's output would); behind PgBouncer it stays where it is, and PgBouncer moves.
    while [ -z "$via" ] && kill -0 "$migrate" 2>/dev/null; do
        for db in $(python3 - "$run/migrations" <<'PY'
import glob, json, os, sys
for path in glob.glob(os.path.join(sys.argv[1], "**", "journal.json"), recursive=True):
    try:
        j = json.load(open(path))
    except ValueError:
        continue
    if j.get("switchedAt"):
        print(j["source"].rsplit("/", 1)[-1].split("?")[0])
PY
        ); do repoint_writer "$db"; done
        sleep 0.1
    done
    wait "$migrate" || { echo "$workload round $n: migrate failed:" >&2; tail -20 "$run/migrate.err" >&2; exit 1; }
    # A migration that ends within a poll of its switch: its writer moves now (a completed migration has switched).
    [ -n "$via" ] || for db in "${dbs[@]}"; do repoint_writer "$db"; done
    sleep 2 # the writers' first ticks on the targets
    stop_load "${dbs[@]}"
    for db in "${dbs[@]}"; do
        local j downtime gap
        j="$(find "$run/migrations" -name journal.json -exec grep -l "\"source\": *\"[^\"]*/$db[\"?]" {} + | head -1)"
        downtime="$(python3 - "$j" <<'PY'
import json, sys
for s in json.load(open(sys.argv[1]))["steps"]:
    if s["name"] == "cutover":
        phases = [t for t in s.get("tables") or [] if t.get("title", "").startswith("Where the write downtime went")]
        rows = phases[0]["rows"][:-1] if phases else []
        print("%.2fs (%s)" % (float(s["outputs"]["writeDowntimeSeconds"]), ", ".join("%s %.2f" % (r[0], float(r[1])) for r in rows if float(r[1]) >= 0.02)))
PY
)"
        gap="$("$PGBIN/psql" -qXAt "postgres://app@127.0.0.1:$TPORT/$db" -c "SELECT round(extract(epoch FROM max(gap))::numeric, 2) FROM (SELECT at - lag(at) OVER (ORDER BY at) AS gap FROM ticks WHERE at > to_timestamp($start)) g")"
        # The part of the gap that is the bench's: from the switch the journal records to the writer's first tick on the target.
        switched="$(python3 -c 'import json, sys; from datetime import datetime; print(datetime.fromisoformat(json.load(open(sys.argv[1]))["switchedAt"].replace("Z", "+00:00")).timestamp())' "$j")"
        late="$("$PGBIN/psql" -qXAt "postgres://app@127.0.0.1:$TPORT/$db" -c "SELECT round((extract(epoch FROM min(at)) - $switched)::numeric, 2) FROM ticks WHERE at > to_timestamp($switched)")"
        if [ -n "$late" ]; then late="of which ${late}s from the switch to its first tick on the target"
        else late="no tick of the writer's on the target after the switch: the gap is the source's alone"; fi
        echo "  $workload round $n, $db: write downtime $downtime; writer's longest gap ${gap}s, $late" >>"$WORK/report"
        [ -z "$back" ] || echo "  $workload round $n, $db: rollback: $back" >>"$WORK/report"
    done
}

# rollback_after_switch RUN PID: once the migration of RUN (its process PID) has switched, waits FALLBACK_AFTER seconds
# (default 5) and runs `rollback`; prints the pause it reports, the writer's longest gap from the rollback's start (its
# ticks are on the old source again, those made on the target carried back) and how long the command took.
rollback_after_switch() {
    local run="$1" pid="$2" j="" id s took pause gap
    while [ -z "$j" ]; do
        kill -0 "$pid" 2>/dev/null || return 0
        j="$(find "$run/migrations" -name journal.json -exec grep -l '"switchedAt": *"' {} + 2>/dev/null | head -1)"
        sleep 0.2
    done
    sleep "${FALLBACK_AFTER:-5}"
    id="$(basename "$(dirname "$j")")"
    s=$(now)
    "$CLI" rollback "$id" --workdir "$run/migrations" >"$run/rollback.out" 2>"$run/rollback.err" || { echo "rollback failed:" >&2; tail -5 "$run/rollback.err" >&2; kill "$pid"; return 1; }
    took="$(echo "$(now) - $s" | bc)"
    pause="$(grep -o "waited [0-9.]*s there" "$run/rollback.out" | head -1 | grep -o "[0-9.]*s")"
    sleep 2 # the writer's first ticks on the old source
    gap="$("$PGBIN/psql" -qXAt "$S/$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["source"].rsplit("/", 1)[-1].split("?")[0])' "$j")" -c "SELECT round(extract(epoch FROM max(gap))::numeric, 2) FROM (SELECT at - lag(at) OVER (ORDER BY at) AS gap FROM ticks WHERE at > to_timestamp($s)) g")"
    echo "the application's queries held ${pause:-?} (PgBouncer's pause as the rollback reports it), the writer's longest gap from the rollback's start ${gap}s; the command took ${took}s"
}

: >"$WORK/report"
for workload in "${WORKLOADS[@]}"; do
    echo "Preparing $workload ..." >&2
    case "$workload" in
        databases) dbs=(shop billing crm) ;;
        pgbouncer) dbs=(webapp) ;; # PgBouncer reserves its own name for its console
        *) dbs=("$workload") ;;
    esac
    for db in "${dbs[@]}"; do source_db "$db" "$workload"; done
    for n in $(seq "$ROUNDS"); do
        echo "$workload: round $n ..." >&2
        round "$workload" "$n" "${dbs[@]}"
    done
done

echo
echo "The online switch's write downtime: $(nproc) cores, $ROUNDS rounds, $(date -u +%Y-%m-%d)$([ -z "${LATENCY_MS:-}" ] || echo ", the tool ${LATENCY_MS} ms from each server each way")"
cat "$WORK/report"
