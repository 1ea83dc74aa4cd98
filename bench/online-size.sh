#!/usr/bin/env bash
# The online migration at real size under full load, against an offline copy of the same data under the same load
# in the same run. The source: pgbench at SCALE plus the bench's events table (bench/lib.sh add_events), under
# `pgbench -c CLIENTS -j 2` unthrottled (no -R) from before the first path until the online switch, and a writer
# standing in for an application (one session, a tick every 20 ms, to the target once the switch is done).
#
#   1. `pgrelocate copy` into a fresh target database, timed: the offline anchor (its target is then dropped).
#   2. `pgrelocate migrate --online --cutover auto` into another, timed from its start to the end of its switch.
#
# Every second it samples the online migration's status file (phase, lag, apply rate) and the WAL the source's
# logical slots hold. It prints both times and their ratio, and where the online time went: the snapshot copy
# (against the offline copy), the WAL the slot held when the copy ended, the catching up that followed and its
# apply rate against the source's write rate, the verification while following, the switch, the write downtime
# (the tool's and the writer's longest gap), each tool's peak memory, and `pgrelocate verify` of the online
# target against the read-only source.
#
#   bench/online-size.sh [SCALE]       SCALE is pgbench's scale factor (default 150, about 2.6 GB with the events)
#   CLIENTS=8 EVENTS=1500000 JOBS=2 CLI=path/to/pgrelocate BENCH_DIR=/dev/shm KEEP=1 bench/online-size.sh 300
#
# Run by hand, never in CI: at scale 150 it takes about ten minutes and all the machine's cores.
set -euo pipefail

SCALE="${1:-150}"
EVENTS="${EVENTS:-1500000}"
CLIENTS="${CLIENTS:-8}"
JOBS="${JOBS:-2}"
ROOT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=bench/lib.sh
. "$ROOT_DIR/bench/lib.sh"
need_apt /usr/bin/time /usr/bin/time time

[ -n "${CLI:-}" ] || build_cli
make_work pgrelocate-online-size
PIDS=()
cleanup() {
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
    stop_clusters source target
}
trap cleanup EXIT
trap 'exit 130' INT TERM

SPORT=$(free_port); TPORT=$(free_port)
LOGICAL=("wal_level = logical" "max_replication_slots = 10" "max_wal_senders = 10" "checkpoint_timeout = 30min")
start_cluster source "$SPORT" "${LOGICAL[@]}"
start_cluster target "$TPORT" "${LOGICAL[@]}"
SRC="postgres://postgres@127.0.0.1:$SPORT/bench"
ADMIN_T="postgres://postgres@127.0.0.1:$TPORT/postgres"
# The target's login role is an ordinary owner of its database, as a managed provider hands out.
"$PGBIN/psql" -qX "$ADMIN_T" -c "CREATE ROLE app LOGIN" -c "CREATE DATABASE offline OWNER app" -c "CREATE DATABASE online OWNER app"
for db in offline online; do "$PGBIN/psql" -qX "postgres://postgres@127.0.0.1:$TPORT/$db" -c "ALTER SCHEMA public OWNER TO app"; done
OFFLINE="postgres://app@127.0.0.1:$TPORT/offline"
ONLINE="postgres://app@127.0.0.1:$TPORT/online"

echo "Loading pgbench at scale $SCALE plus $EVENTS events ..." >&2
"$PGBIN/psql" -qX "postgres://postgres@127.0.0.1:$SPORT/postgres" -c "CREATE DATABASE bench"
"$PGBIN/pgbench" -q -i -s "$SCALE" "$SRC" >/dev/null 2>&1
add_events "$SRC" "$SCALE" "$EVENTS"
"$PGBIN/psql" -qX "$SRC" -c "CREATE TABLE ticks (id text PRIMARY KEY DEFAULT gen_random_uuid()::text, at timestamptz NOT NULL DEFAULT clock_timestamp())" \
    -c "VACUUM ANALYZE" -c "CHECKPOINT"
SIZE="$("$PGBIN/psql" -qXAt "$SRC" -c "SELECT pg_size_pretty(pg_database_size('bench'))")"
now() { date +%s.%N; }
# wal_mb URL: the WAL the server has written so far, in MB.
wal_mb() { "$PGBIN/psql" -qXAt "$1" -c "SELECT round(pg_wal_lsn_diff(pg_current_wal_lsn(), '0/0') / 1e6)"; }

echo "Source: $SIZE. Starting the load (pgbench -c $CLIENTS -j 2, unthrottled) and the writer ..." >&2
"$PGBIN/pgbench" -c "$CLIENTS" -j 2 -T 100000 -P 1 --progress-timestamp "$SRC" >"$WORK/pgbench.log" 2>&1 &
PIDS+=($!)
# The writer holds one session, as an application's pool does, and writes a tick every 20 ms. When its session ends
# (the switch ends the source's sessions) it connects again: to the target once the switch is done.
( while true; do
    if [ -f "$WORK/switched" ]; then url="$ONLINE"; else url="$SRC"; fi
    "$PGBIN/psql" -qXAt "$url" < <(yes "INSERT INTO ticks DEFAULT VALUES; SELECT pg_sleep(0.02);") >/dev/null 2>&1 &
    echo $! >"$WORK/writer.pid"
    wait $! || true
    sleep 0.02
  done ) &
PIDS+=($!)
sleep 10

# tps FROM TO: pgbench's mean transactions per second between two times (its progress lines carry the time).
tps() { awk -v a="$1" -v b="$2" '/^progress:/ && $2 >= a && $2 <= b {s += $4; n++} END {if (n) printf "%.0f", s / n; else print 0}' "$WORK/pgbench.log"; }
peak_mb() { awk '/Maximum resident set size/ {printf "%.0f", $6 / 1024}' "$1"; }

# 1. The offline anchor: a copy of the same data under the same load.
echo "pgrelocate copy (offline, under the load) ..." >&2
OFF_START=$(now)
/usr/bin/time -v -o "$WORK/copy.time" "$CLI" copy --source "$SRC" --target "$OFFLINE" --jobs "$JOBS" \
    >"$WORK/copy.out" 2>"$WORK/copy.err" || { cat "$WORK/copy.err"; exit 1; }
OFF_END=$(now)
OFF_S="$(awk -v a="$OFF_START" -v b="$OFF_END" 'BEGIN {printf "%.1f", b - a}')"
OFF_TPS="$(tps "$OFF_START" "$OFF_END")"
echo "  ${OFF_S}s" >&2
"$PGBIN/psql" -qX "$ADMIN_T" -c "DROP DATABASE offline" -c "CHECKPOINT"

# 2. The online migration, from its start to the end of its switch.
echo "pgrelocate migrate --online --cutover auto ..." >&2
MIGRATIONS="$WORK/migrations"
ON_START=$(now)
/usr/bin/time -v -o "$WORK/migrate.time" "$CLI" migrate --source "$SRC" --target "$ONLINE" --confirm online --online \
    --replica-identity-full --cutover auto --jobs "$JOBS" --workdir "$MIGRATIONS" >"$WORK/migrate.out" 2>"$WORK/migrate.err" &
MIGRATE=$!
PIDS+=($MIGRATE)
# Every second: the time, the phase, the lag (bytes, seconds), the apply rate, and the WAL the slots hold (MB).
: >"$WORK/samples"
journal() { ls "$MIGRATIONS"/*/journal.json 2>/dev/null | head -1 || true; }
cutover_done() {
    local j; j="$(journal)"
    [ -n "$j" ] && python3 -c 'import json,sys; j=json.load(open(sys.argv[1])); sys.exit(0 if any(s["name"]=="cutover" and s.get("finishedAt") for s in j["steps"]) else 1)' "$j" 2>/dev/null
}
( while kill -0 "$MIGRATE" 2>/dev/null; do
    held="$("$PGBIN/psql" -qXAt "$SRC" -c "SELECT coalesce(round(max(pg_wal_lsn_diff(pg_current_wal_lsn(), restart_lsn)) / 1e6), 0) FROM pg_replication_slots WHERE slot_type = 'logical'" 2>/dev/null || echo -)"
    status="$(ls "$MIGRATIONS"/*/online.json 2>/dev/null | head -1 || true)"
    line="$( [ -n "$status" ] && python3 -c 'import json,sys; s=json.load(open(sys.argv[1])); print(s.get("phase","-"), s["lagBytes"], s["lagSeconds"], s["changesPerSecond"])' "$status" 2>/dev/null || echo "- 0 0 0")"
    echo "$(now) $line $held" >>"$WORK/samples"
    sleep 1
  done ) &
PIDS+=($!)
# The application repoints once the switch is done: the writer's first tick on the target ends its gap.
until cutover_done || ! kill -0 "$MIGRATE" 2>/dev/null; do sleep 0.1; done
touch "$WORK/switched"
kill "$(cat "$WORK/writer.pid")" 2>/dev/null || true
wait "$MIGRATE" || { echo "migrate failed:" >&2; tail -20 "$WORK/migrate.err" >&2; exit 1; }
J="$(journal)"

# The journal's steps: start and end of each, and the write downtime the switch measured.
read -r ON_END COPY_START COPY_END FOLLOW_START DOWNTIME < <(python3 - "$J" <<'PY'
import json, sys
from datetime import datetime
j = json.load(open(sys.argv[1]))
steps = {s["name"]: s for s in j["steps"]}
t = lambda v: datetime.fromisoformat(v.replace("Z", "+00:00")).timestamp()
copy = steps.get("copy") or next(s for n, s in steps.items() if "copy" in n)
print(t(steps["cutover"]["finishedAt"]), t(copy["startedAt"]), t(copy["finishedAt"]), t(steps["follow"]["startedAt"]),
      steps["cutover"].get("outputs", {}).get("writeDowntimeSeconds", "?"))
PY
)
python3 - "$J" >"$WORK/steps" <<'PY'
import json, sys
from datetime import datetime
t = lambda v: datetime.fromisoformat(v.replace("Z", "+00:00")).timestamp()
for s in json.load(open(sys.argv[1]))["steps"]:
    if s.get("startedAt") and s.get("finishedAt"):
        print("    %-22s %7.1fs" % (s["name"], t(s["finishedAt"]) - t(s["startedAt"])))
PY
ON_S="$(awk -v a="$ON_START" -v b="$ON_END" 'BEGIN {printf "%.1f", b - a}')"
COPY_S="$(awk -v a="$COPY_START" -v b="$COPY_END" 'BEGIN {printf "%.1f", b - a}')"
ON_TPS="$(tps "$ON_START" "$ON_END")"
# The WAL the slot held as the copy ended (the sample nearest after it), the time from the copy's end to the first
# sample under a second of lag, the apply rate while it caught up, and the verification's span.
read -r HELD CATCHUP CATCHUP_RATE VERIFY_FROM VERIFY_TO < <(awk -v ce="$COPY_END" '
    $1 >= ce && held == "" {held = $6}
    $1 >= ce && $2 != "-" && caught == "" && $4 < 1 && $5 > 0 {caught = $1}
    $1 >= ce && caught == "" && $2 != "-" {r += $5; n++}
    $2 == "verify" {if (vf == "") vf = $1; vt = $1}
    END {printf "%s %.1f %.0f %s %s\n", (held == "" ? "?" : held), (caught == "" ? -1 : caught - ce), (n ? r / n : 0), (vf == "" ? 0 : vf), (vt == "" ? 0 : vt)}' "$WORK/samples")
VERIFY_S="$(awk -v a="$VERIFY_FROM" -v b="$VERIFY_TO" 'BEGIN {printf "%.0f", (a > 0 ? b - a + 1 : 0)}')"
STEADY_RATE="$(awk -v ce="$COPY_END" '$1 >= ce && $2 != "-" && $4 < 1 && $5 > 0 {r += $5; n++} END {printf "%.0f", n ? r / n : 0}' "$WORK/samples")"
WORST_LAG="$(awk -v ce="$COPY_END" -v c="$CATCHUP" '$1 >= ce + c && c >= 0 && $2 != "-" && $4 > m {m = $4} END {printf "%.1f", m}' "$WORK/samples")"
GAP="$("$PGBIN/psql" -qXAt "$ONLINE" -c "SELECT round(extract(epoch FROM max(gap))::numeric, 2) FROM (SELECT at - lag(at) OVER (ORDER BY at) AS gap FROM ticks) g")"
echo "Verifying the online target against the source (read-only since the switch) ..." >&2
# The ticks table is left out: the writer goes on writing it on the target after the switch.
VERIFY="$("$CLI" verify --source "$SRC" --target "$ONLINE" --tables 'public.pgbench_*,public.events' >"$WORK/verify.out" 2>&1 && echo identical || echo "DIFFERENT (see $WORK/verify.out)")"
[ "${VERIFY%% *}" = identical ] || KEEP=1

cat <<REPORT

Online at size: pgbench scale $SCALE + $EVENTS events ($SIZE), pgbench -c $CLIENTS -j 2 unthrottled for the whole run, $(nproc) cores, --jobs $JOBS
  offline copy                 ${OFF_S}s under ${OFF_TPS} tps; peak $(peak_mb "$WORK/copy.time") MB
  online, start to switched    ${ON_S}s under ${ON_TPS} tps; peak $(peak_mb "$WORK/migrate.time") MB
  online / offline             $(awk -v a="$ON_S" -v b="$OFF_S" 'BEGIN {printf "%.2f", a / b}')
  where the online time went:
    snapshot copy              ${COPY_S}s ($(awk -v a="$COPY_S" -v b="$OFF_S" 'BEGIN {printf "%.2f", a / b}') of the offline copy)
    WAL the slot held at its end ${HELD} MB
    catching up                ${CATCHUP}s at ${CATCHUP_RATE} changes/s (the source writing about $(( ON_TPS * 4 )) changes/s)
    caught up, then            ${STEADY_RATE} changes/s applied, worst lag ${WORST_LAG}s
    verification while following ${VERIFY_S}s
  the journal's steps:
$(cat "$WORK/steps")
  write downtime               ${DOWNTIME}s (pgrelocate), ${GAP}s longest gap seen by the writer
  verify                       ${VERIFY}
REPORT
