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
# (against the offline copy, and the copy the migration's estimate predicted), the WAL the slot held when the copy ended, the catching up that followed and its
# apply rate against the source's write rate (and the catch-up the estimate predicted), where the CPU went while
# catching up (each process's share of a core: pgrelocate, the source's walsender, its other processes, the
# target's, pgbench; the rest of the machine's busy time), the verification while
# following, the switch, the write downtime (the tool's; the writer's gap across the switch, and its longest anywhere,
# with when it began), each tool's peak memory, and `pgrelocate verify` of the online target against the read-only
# source. With ROUNDS=N, each build's median ratio over the rounds and its range.
#
#   bench/online-size.sh [SCALE]       SCALE is pgbench's scale factor (default 150, about 2.6 GB with the events)
#   CLIENTS=8 EVENTS=1500000 JOBS=2 CLI=path/to/pgrelocate BENCH_DIR=/dev/shm KEEP=1 bench/online-size.sh 300
#   DURABLE=1 bench/online-size.sh     both clusters with fsync and full-page writes on, as on a real server
#   BEFORE=path/to/another/pgrelocate ROUNDS=2 bench/online-size.sh    another build's online migration in each round
#                                                                      too, after this one's (the source reset between)
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
watch_pids source target

start_logical_pair "checkpoint_timeout = 30min"
SRC="postgres://postgres@127.0.0.1:$SPORT/bench"
ADMIN_T="postgres://postgres@127.0.0.1:$TPORT/postgres"
# The target's login role is an ordinary owner of its database, as a managed provider hands out.
"$PGBIN/psql" -qX "$ADMIN_T" -c "CREATE ROLE app LOGIN"
OFFLINE="postgres://app@127.0.0.1:$TPORT/offline"
ONLINE="postgres://app@127.0.0.1:$TPORT/online"

echo "Loading pgbench at scale $SCALE plus $EVENTS events ..." >&2
"$PGBIN/psql" -qX "postgres://postgres@127.0.0.1:$SPORT/postgres" -c "CREATE DATABASE bench"
"$PGBIN/pgbench" -q -i -s "$SCALE" "$SRC" >/dev/null 2>&1
add_events "$SRC" "$SCALE" "$EVENTS"
"$PGBIN/psql" -qX "$SRC" -c "CREATE TABLE ticks (id text PRIMARY KEY DEFAULT gen_random_uuid()::text, at timestamptz NOT NULL DEFAULT clock_timestamp())" \
    -c "VACUUM ANALYZE" -c "CHECKPOINT"
SIZE="$("$PGBIN/psql" -qXAt "$SRC" -c "SELECT pg_size_pretty(pg_database_size('bench'))")"
echo "Source: $SIZE; the load: pgbench -c $CLIENTS -j 2, unthrottled, and the writer" >&2
now() { date +%s.%N; }

# start_load: pgbench and the writer (bench/lib.sh start_writer) on the source; the writer moves to the target once
# the journal records the switch.
start_load() {
    "$PGBIN/psql" -qX "postgres://postgres@127.0.0.1:$SPORT/postgres" -c "ALTER DATABASE bench RESET default_transaction_read_only" >/dev/null
    "$PGBIN/pgbench" -c "$CLIENTS" -j 2 -T 100000 -P 1 --progress-timestamp "$SRC" >>"$WORK/pgbench.log" 2>&1 &
    LOAD=$!
    PIDS+=("$LOAD")
    start_writer "$SRC" "$ONLINE"
    WRITER=${PIDS[-1]}
    sleep 10
}
stop_load() {
    kill "$LOAD" "$WRITER" 2>/dev/null || true
    stop_writer
    wait "$LOAD" "$WRITER" 2>/dev/null || true
}
# fresh DB: an empty target database owned by the login role.
fresh() {
    PGOPTIONS="-c client_min_messages=warning" "$PGBIN/psql" -qX "$ADMIN_T" -c "DROP DATABASE IF EXISTS $1" -c "CREATE DATABASE $1 OWNER app" >/dev/null
    "$PGBIN/psql" -qX "postgres://postgres@127.0.0.1:$TPORT/$1" -c "ALTER SCHEMA public OWNER TO app" -c "CHECKPOINT" >/dev/null
}

# tps FROM TO: pgbench's mean transactions per second between two times (its progress lines carry the time).
tps() { awk -v a="$1" -v b="$2" '/^progress:/ && $2 >= a && $2 <= b {s += $4; n++} END {if (n) printf "%.0f", s / n; else print 0}' "$WORK/pgbench.log"; }
peak_mb() { awk '/Maximum resident set size/ {printf "%.0f", $6 / 1024}' "$1"; }
seconds() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.1f", b - a}'; }

# offline: the anchor, a copy of the same data under the same load. Sets OFF_S and OFF_TPS.
offline() {
    echo "pgrelocate copy (offline, under the load) ..." >&2
    fresh offline
    local start end
    start=$(now)
    /usr/bin/time -v -o "$WORK/copy.time" "$CLI" copy --source "$SRC" --target "$OFFLINE" --jobs "$JOBS" \
        >"$WORK/copy.out" 2>"$WORK/copy.err" || { cat "$WORK/copy.err"; exit 1; }
    end=$(now)
    OFF_S="$(seconds "$start" "$end")"; OFF_TPS="$(tps "$start" "$end")"; OFF_MB="$(peak_mb "$WORK/copy.time")"
    echo "  ${OFF_S}s" >&2
    "$PGBIN/psql" -qX "$ADMIN_T" -c "DROP DATABASE offline" -c "CHECKPOINT" >/dev/null
}

# online BUILD LABEL: the online migration with that build, from its start to the end of its switch; prints its part of
# the report (against the offline copy of the same round). Each round has a folder of its own: a journal of an earlier
# round would read as this round's switch, and the writer would write to the new target before its switch.
online() {
    local build="$1" label="$2" run="$WORK/$2-round$round"
    echo "$label: migrate --online --cutover auto ..." >&2
    fresh online
    mkdir -p "$run"
    local migrations="$run/migrations" start
    start=$(now)
    /usr/bin/time -v -o "$run/migrate.time" "$build" migrate --source "$SRC" --target "$ONLINE" --confirm online --online \
        --replica-identity-full --cutover auto --jobs "$JOBS" --workdir "$migrations" >"$run/migrate.out" 2>"$run/migrate.err" &
    local migrate=$!
    PIDS+=($migrate)
    # Every second: the time, the phase, the lag (bytes, seconds), the apply rate, the WAL the slots hold (MB), and the
    # CPU ticks used so far by pgrelocate, the source's walsender, the source's other processes, the target's, pgbench, the machine.
    : >"$run/samples"
    journal() { ls "$migrations"/*/journal.json 2>/dev/null | head -1 || true; }
    switched() {
        local j; j="$(journal)"
        [ -n "$j" ] && python3 -c 'import json,sys; sys.exit(0 if json.load(open(sys.argv[1])).get("switchedAt") else 1)' "$j" 2>/dev/null
    }
    ( while kill -0 "$migrate" 2>/dev/null; do
        held="$("$PGBIN/psql" -qXAt "$SRC" -c "SELECT coalesce(round(max(pg_wal_lsn_diff(pg_current_wal_lsn(), restart_lsn)) / 1e6), 0) FROM pg_replication_slots WHERE slot_type = 'logical'" 2>/dev/null || echo -)"
        status="$(ls "$migrations"/*/online.json 2>/dev/null | head -1 || true)"
        line="$( [ -n "$status" ] && python3 -c 'import json,sys; s=json.load(open(sys.argv[1])); print(s.get("phase","-"), s["lagBytes"], s["lagSeconds"], s["changesPerSecond"])' "$status" 2>/dev/null || echo "- 0 0 0")"
        echo "$(now) $line $held $(cpu_ticks "$(pgrep -P "$migrate" | head -1)")" >>"$run/samples"
        sleep 1
      done ) &
    PIDS+=($!)
    # The application repoints once the journal says the switch is done: the writer's first tick on the target ends its gap.
    until switched || ! kill -0 "$migrate" 2>/dev/null; do sleep 0.1; done
    repoint_writer
    wait "$migrate" || { echo "$label: migrate failed:" >&2; tail -20 "$run/migrate.err" >&2; exit 1; }
    local j; j="$(journal)"
    sleep 2 # the writer's first ticks on the target

    # The journal's steps: start and end of each, and the write downtime the switch measured.
    local on_end copy_start copy_end downtime predicted predicted_catchup
    read -r on_end copy_start copy_end downtime predicted predicted_catchup < <(python3 - "$j" <<'PY'
import json, sys
from datetime import datetime
journal = json.load(open(sys.argv[1]))
steps = {s["name"]: s for s in journal["steps"]}
t = lambda v: datetime.fromisoformat(v.replace("Z", "+00:00")).timestamp()
copy = steps["snapshot copy"]
estimate = (journal.get("estimate") or {}).get("predicted") or {}
predicted, catchup = estimate.get("copySeconds"), estimate.get("catchUpSeconds")
print(t(steps["cutover"]["finishedAt"]), t(copy["startedAt"]), t(copy["finishedAt"]), steps["cutover"].get("outputs", {}).get("writeDowntimeSeconds", "?"), "-" if predicted is None else "%.1f" % predicted, "-" if catchup is None else "%.1f" % catchup)
PY
)
    local steps
    steps="$(python3 - "$j" <<'PY'
import json, sys
from datetime import datetime
t = lambda v: datetime.fromisoformat(v.replace("Z", "+00:00")).timestamp()
print(", ".join("%s %.1fs" % (s["name"], t(s["finishedAt"]) - t(s["startedAt"])) for s in json.load(open(sys.argv[1]))["steps"] if s.get("startedAt") and s.get("finishedAt")))
PY
)"
    # Where the write downtime went: the switch's table of phases, as its report prints it.
    local phases
    phases="$(python3 - "$j" <<'PY'
import json, sys
for s in json.load(open(sys.argv[1]))["steps"]:
    for t in s.get("tables") or []:
        if t.get("title", "").startswith("Where the write downtime went"):
            print(", ".join("%s %.2fs" % (r[0], float(r[1])) for r in t["rows"]))
PY
)"
    local on_s copy_s on_tps check_s
    on_s="$(seconds "$start" "$on_end")"; copy_s="$(seconds "$copy_start" "$copy_end")"; on_tps="$(tps "$start" "$on_end")"
    check_s="$(seconds "$start" "$copy_start")"
    # The WAL the slot held as the copy ended (the first sample after it), the time from the copy's end to the first
    # sample within a second of the source (or the switch, should no sample fall between) and the apply rate until then, the apply rate once caught up, the worst lag
    # then, and the verification's span.
    local held catchup catchup_rate verify_from verify_to steady worst gap
    read -r held catchup catchup_rate verify_from verify_to < <(awk -v ce="$copy_end" '
        $1 >= ce && held == "" {held = $6}
        $1 >= ce && $2 != "-" && caught == "" && $4 < 1 && $5 > 0 {caught = $1}
        # No sample fell between coming within a second and the cutover (a loaded machine samples every 2 to 3 s, and
        # the last seconds are drained by the cutover itself): the cutover, which comes after it, bounds the catch-up.
        $1 >= ce && ($2 == "cutover" || $2 == "switched") && caught == "" {caught = $1}
        $1 >= ce && caught == "" && $2 != "-" {r += $5; n++}
        $2 == "verify" {if (vf == "") vf = $1; vt = $1}
        END {printf "%s %.1f %.0f %s %s\n", (held == "" ? "?" : held), (caught == "" ? -1 : caught - ce), (n ? r / n : 0), (vf == "" ? 0 : vf), (vt == "" ? 0 : vt)}' "$run/samples")
    steady="$(awk -v ce="$copy_end" -v c="$catchup" '$1 >= ce + c && c >= 0 && $2 == "follow" {r += $5; n++} END {printf "%.0f", n ? r / n : 0}' "$run/samples")"
    worst="$(awk -v ce="$copy_end" -v c="$catchup" '$1 >= ce + c && c >= 0 && $2 != "-" && $2 != "switched" && $4 > m {m = $4} END {printf "%.1f", m}' "$run/samples")"
    # Where the CPU went over the catching up: between the first sample of the span and its last before the cutover
    # (the cutover ends the source's sessions, pgbench's among them, whose ticks would then count as negative). Not over the copy:
    # its sessions on both sides end within it, and a process gone by the second reading counts for nothing.
    cpu_between() {
        local a b
        a="$(awk -v t="$1" '$1 >= t && NF >= 12 {print $1, $7, $8, $9, $10, $11, $12; exit}' "$run/samples")"
        b="$(awk -v t="$2" '$1 <= t && NF >= 12 && $2 != "switched" && $2 != "cutover" {last = $1 " " $7 " " $8 " " $9 " " $10 " " $11 " " $12} END {print last}' "$run/samples")"
        if [ -z "$a" ] || [ -z "$b" ]; then echo "?"; return; fi
        cpu_share "${a#* }" "${b#* }" "$(awk -v x="${a%% *}" -v y="${b%% *}" 'BEGIN {printf "%.3f", y - x}')"
    }
    local catchup_cpu
    catchup_cpu="$( [ "${catchup%.*}" -ge 0 ] 2>/dev/null && cpu_between "$copy_end" "$(awk -v a="$copy_end" -v c="$catchup" 'BEGIN {printf "%.3f", a + c}')" || echo "?")"
    # The writer's gaps: the one across the switch (its last tick on the source to its first on the target: the write
    # downtime as the application measures it, its repointing included) and the longest anywhere, with when it began
    # (a stall of the loaded machine mid-copy is not the switch's).
    local gaps="SELECT at - lag(at) OVER (ORDER BY at) AS gap, lag(at) OVER (ORDER BY at) AS since, at FROM ticks WHERE at > to_timestamp($start)"
    gap="$("$PGBIN/psql" -qXAt "$ONLINE" -c "SELECT round(extract(epoch FROM gap)::numeric, 2) FROM ($gaps) g WHERE since <= to_timestamp($on_end) AND at > to_timestamp($on_end - 1) ORDER BY gap DESC LIMIT 1")"
    gap="${gap:-?}s across the switch, longest $("$PGBIN/psql" -qXAt -F 's, ' "$ONLINE" -c "SELECT round(extract(epoch FROM gap)::numeric, 2), round(extract(epoch FROM since)::numeric - $start, 0) FROM ($gaps) g WHERE gap IS NOT NULL ORDER BY gap DESC LIMIT 1")s after the start"
    echo "$label: verifying the target against the source (read-only since the switch) ..." >&2
    # The ticks table is left out: the writer goes on writing it on the target after the switch.
    local verify
    verify="$("$build" verify --source "$SRC" --target "$ONLINE" --tables 'public.pgbench_*,public.events' >"$run/verify.out" 2>&1 && echo identical || echo "DIFFERENT (see $run/verify.out)")"
    [ "${verify%% *}" = identical ] || KEEP=1
    # Each round's ratios, for the medians at the end.
    awk -v a="$on_s" -v c="$check_s" -v b="$OFF_S" 'BEGIN {printf "%.3f %.3f\n", a / b, (a - c) / b}' >>"$WORK/ratios-$label"
    cat >>"$WORK/report" <<REPORT
  $label: online, start to switched ${on_s}s under ${on_tps} tps; peak $(peak_mb "$run/migrate.time") MB
    online / offline           $(awk -v a="$on_s" -v b="$OFF_S" 'BEGIN {printf "%.2f", a / b}') (without the checks before the copy: $(awk -v a="$on_s" -v c="$check_s" -v b="$OFF_S" 'BEGIN {printf "%.2f", (a - c) / b}'))
    checks and estimate        ${check_s}s
    snapshot copy              ${copy_s}s ($(awk -v a="$copy_s" -v b="$OFF_S" 'BEGIN {printf "%.2f", a / b}') of the offline copy; the estimate predicted ${predicted}s$( [ "$predicted" = - ] || awk -v p="$predicted" -v a="$copy_s" 'BEGIN {printf ", %.2f of it", p / a}'))
    WAL the slot held at its end ${held} MB
    catching up                ${catchup}s at ${catchup_rate} changes/s (the source writing about $(( on_tps * 4 )) changes/s; the estimate predicted ${predicted_catchup}s)
    CPU, catching up           ${catchup_cpu} (each of one core)
    caught up, then            ${steady} changes/s applied, worst lag ${worst}s
    verification while following ${verify_from:+$(awk -v a="$verify_from" -v b="$verify_to" 'BEGIN {printf "%.0f", (a > 0 ? b - a + 1 : 0)}')}s, from $(awk -v a="$verify_from" -v ce="$copy_end" 'BEGIN {printf "%.0f", (a > 0 ? a - ce : 0)}')s after the copy
    write downtime             ${downtime}s (pgrelocate), the writer: ${gap}
    where the downtime went    ${phases:-?}
    steps                      ${steps}
    verify                     ${verify}
REPORT
}

BUILDS=("$CLI")
LABELS=("pgrelocate")
if [ -n "${BEFORE:-}" ]; then BUILDS+=("$BEFORE"); LABELS+=("before"); fi
ROUNDS="${ROUNDS:-1}"
: >"$WORK/report"
for round in $(seq "$ROUNDS"); do
    echo "  round $round: offline copy" >>"$WORK/report"
    start_load
    offline
    echo "  round $round: offline copy ${OFF_S}s under ${OFF_TPS} tps; peak ${OFF_MB} MB" >>"$WORK/report"
    for i in "${!BUILDS[@]}"; do
        [ "$i" -eq 0 ] || start_load
        online "${BUILDS[$i]}" "${LABELS[$i]}"
        stop_load
    done
done
sed -i '/: offline copy$/d' "$WORK/report"

# With several rounds, each build's median ratio and its range: one round's ratio moves with the machine's speed
# between its two paths (the snapshot copy alone has ranged 72 to 92 s in one morning).
if [ "$ROUNDS" -gt 1 ]; then
    for label in "${LABELS[@]}"; do
        sort -n -k1,1 "$WORK/ratios-$label" | awk -v l="$label" '{r[NR] = $1; w[NR] = $2} END {
            m = NR % 2 ? r[(NR + 1) / 2] : (r[NR / 2] + r[NR / 2 + 1]) / 2
            printf "  %s: online / offline over %d rounds: median %.2f (%.2f to %.2f)\n", l, NR, m, r[1], r[NR] }' >>"$WORK/report"
        sort -n -k2,2 "$WORK/ratios-$label" | awk '{w[NR] = $2} END {
            printf "    without the checks before the copy: median %.2f (%.2f to %.2f)\n", NR % 2 ? w[(NR + 1) / 2] : (w[NR / 2] + w[NR / 2 + 1]) / 2, w[1], w[NR] }' >>"$WORK/report"
    done
fi

echo
echo "Online at size: pgbench scale $SCALE + $EVENTS events ($SIZE), pgbench -c $CLIENTS -j 2 unthrottled, $(nproc) cores, --jobs $JOBS"
cat "$WORK/report"
