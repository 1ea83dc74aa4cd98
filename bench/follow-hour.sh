#!/usr/bin/env bash
# A long follow: pgbench at SCALE on a throwaway source cluster under a steady `pgbench -R RATE` load;
# `pgrelocate migrate --online` copies, then follows for MINUTES; every EVERY seconds it samples the lag (bytes
# and seconds, from `status --json`), the WAL the slot retains (from `status --json` and from the source's
# pg_replication_slots) and the memory of the pgrelocate process (VmRSS, RssAnon, VmHWM from /proc), into a CSV.
# Then it cuts over, verifies, and prints the median RSS per WINDOW seconds, the worst lag and retained WAL, and
# whether the RSS grew from the first window to the last.
#
#   bench/follow-hour.sh                        an hour at 300 transactions/s, pgbench scale 10, a sample every 5 s
#   MINUTES=2 RATE=300 SCALE=10 EVERY=5 WINDOW=600 CSV=/tmp/follow.csv CLI=out/bench-cli/pgrelocate bench/follow-hour.sh
#
# CLI= uses a pgrelocate already built (else it is built as bench/online.sh builds it); a script that ends in
# `exec dotnet path/to/pgrelocate.dll "$@"` runs the managed build in the process sampled, which heap dumps and
# runtime counters can read (the native build has none): the process id is printed as the follow starts.
# Run by hand, never in CI.
set -euo pipefail

MINUTES="${MINUTES:-60}"
RATE="${RATE:-300}"
SCALE="${SCALE:-10}"
EVERY="${EVERY:-5}"
WINDOW="${WINDOW:-600}"
ROOT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=bench/lib.sh
. "$ROOT_DIR/bench/lib.sh"

[ -n "${CLI:-}" ] || build_cli
make_work pgrelocate-follow-hour
CSV="${CSV:-${BENCH_DIR:-/tmp}/follow-hour-$(date -u +%Y%m%dT%H%M%S).csv}" # kept: the work folder is removed
watch_pids source target

start_logical_pair
SRC="postgres://postgres@127.0.0.1:$SPORT/bench"
# The target's login role is an ordinary owner of its database, as a managed provider hands out.
"$PGBIN/psql" -qX "postgres://postgres@127.0.0.1:$TPORT/postgres" -c "CREATE ROLE app LOGIN" -c "CREATE DATABASE app OWNER app"
"$PGBIN/psql" -qX "postgres://postgres@127.0.0.1:$TPORT/app" -c "ALTER SCHEMA public OWNER TO app"
TGT="postgres://app@127.0.0.1:$TPORT/app"

echo "Loading pgbench at scale $SCALE ..." >&2
"$PGBIN/psql" -qX "postgres://postgres@127.0.0.1:$SPORT/postgres" -c "CREATE DATABASE bench"
"$PGBIN/pgbench" -q -i -s "$SCALE" "$SRC" >/dev/null 2>&1

echo "Starting the load (pgbench -c 4 -j 2 -R $RATE) ..." >&2
"$PGBIN/pgbench" -c 4 -j 2 -R "$RATE" -T 1000000 -P 60 "$SRC" >"$WORK/pgbench.log" 2>&1 &
PIDS+=($!)
sleep 5

echo "pgrelocate migrate --online ..." >&2
MIGRATIONS="$WORK/migrations"
"$CLI" migrate --source "$SRC" --target "$TGT" --confirm app --online --replica-identity-full \
    --workdir "$MIGRATIONS" >"$WORK/migrate.log" 2>"$WORK/migrate.err" &
MIGRATE=$! # the pgrelocate process itself (no shell or wrapper between): its memory is sampled
PIDS+=($MIGRATE)
until ls "$MIGRATIONS"/*/online.json >/dev/null 2>&1; do
    sleep 1
    kill -0 $MIGRATE 2>/dev/null || { cat "$WORK/migrate.log" "$WORK/migrate.err"; exit 1; }
done
ID="$(basename "$(dirname "$(ls "$MIGRATIONS"/*/online.json)")")"

# sample ELAPSED: one CSV line. status --json's online object gives the lag and the retained WAL as the tool
# sees them; the source's pg_replication_slots the WAL its slot holds as the server sees it.
sample() {
    local online slot mem
    online="$("$CLI" status "$ID" --workdir "$MIGRATIONS" --json 2>/dev/null | python3 -c '
import json, sys
o = (json.load(sys.stdin).get("online") or {})
print("%s,%s,%s,%s,%s" % (o.get("lagBytes", ""), o.get("lagSeconds", ""), o.get("retainedBytes", ""), o.get("changes", ""), o.get("phase", "")))' 2>/dev/null || echo ",,,,")"
    slot="$("$PGBIN/psql" -qXAt "postgres://postgres@127.0.0.1:$SPORT/postgres" \
        -c "SELECT coalesce(max(pg_wal_lsn_diff(pg_current_wal_lsn(), restart_lsn)), 0)::bigint FROM pg_replication_slots" 2>/dev/null || echo "")"
    mem="$(awk '/^VmRSS:/ {r=$2} /^RssAnon:/ {a=$2} /^VmHWM:/ {h=$2} END {print r "," a "," h}' "/proc/$MIGRATE/status" 2>/dev/null || echo ",,")"
    echo "$(date -u +%Y-%m-%dT%H:%M:%SZ),$1,$online,$slot,$mem"
}

echo "Following ($ID, pgrelocate process $MIGRATE) for $MINUTES minutes, a sample every ${EVERY}s into $CSV ..." >&2
echo "time,elapsed_s,lag_bytes,lag_seconds,retained_bytes,changes,phase,slot_retained_bytes,rss_kb,rss_anon_kb,hwm_kb" >"$CSV"
START=$(date +%s)
END=$(( START + MINUTES * 60 ))
NEXT=$START
while [ "$NEXT" -lt "$END" ]; do # the last window as long as the others, no lone sample at the end
    kill -0 $MIGRATE 2>/dev/null || { echo "pgrelocate ended while following:" >&2; tail -5 "$WORK/migrate.err" >&2; exit 1; }
    sample $(( NEXT - START )) >>"$CSV"
    NEXT=$(( NEXT + EVERY ))
    now=$(date +%s)
    [ "$NEXT" -gt "$now" ] && sleep $(( NEXT - now ))
done

echo "Cutover ..." >&2
"$CLI" cutover "$ID" --workdir "$MIGRATIONS" >"$WORK/cutover.log" 2>&1 || { tail -5 "$WORK/cutover.log" >&2; exit 1; }
wait $MIGRATE || true
stop_pids
DOWNTIME="$(python3 -c 'import json,sys; j=json.load(open(sys.argv[1])); print(next(s for s in j["steps"] if s["name"]=="cutover")["outputs"]["writeDowntimeSeconds"])' "$MIGRATIONS/$ID/journal.json" 2>/dev/null || echo "?")"
echo "Verifying ..." >&2
VERIFY="$("$CLI" verify --source "$SRC" --target "$TGT" --tables 'public.pgbench_*' >/dev/null 2>&1 && echo identical || echo DIFFERENT)"
TPS="$(awk '/^progress:/ {s+=$4; n++} END {if (n) printf "%.0f", s/n; else print "?"}' "$WORK/pgbench.log")"

echo
echo "Online follow, pgbench scale $SCALE under -c 4 -j 2 -R $RATE ($TPS tps measured), $MINUTES minutes, a sample every ${EVERY}s"
python3 - "$CSV" "$WINDOW" <<'PY'
import csv, statistics, sys
rows = [r for r in csv.DictReader(open(sys.argv[1])) if r["rss_kb"]]
window = int(sys.argv[2])
def num(r, k):
    try: return float(r[k])
    except (ValueError, KeyError): return 0.0
by = {}
for r in rows:
    by.setdefault(int(num(r, "elapsed_s")) // window, []).append(num(r, "rss_kb") / 1024)
medians = [(w, statistics.median(v)) for w, v in sorted(by.items())]
print("  median RSS per %d s     %s" % (window, ", ".join("%.1f" % m for _, m in medians) + " MB"))
print("  RSS min / max           %.1f / %.1f MB; peak (VmHWM) %.1f MB" % (
    min(num(r, "rss_kb") for r in rows) / 1024, max(num(r, "rss_kb") for r in rows) / 1024, max(num(r, "hwm_kb") for r in rows) / 1024))
# The lag once first caught up: before the first applied transaction status shows the copy's age.
first_caught = next((i for i, r in enumerate(rows) if num(r, "lag_seconds") < 1 and num(r, "changes") > 0), len(rows))
steady = rows[first_caught:] or rows
print("  worst lag               %.0f bytes, %.2f s (once caught up, from %d s)" % (
    max(num(r, "lag_bytes") for r in steady), max(num(r, "lag_seconds") for r in steady), num(steady[0], "elapsed_s")))
print("  worst retained WAL      %.1f MB (status), %.1f MB (pg_replication_slots)" % (
    max(num(r, "retained_bytes") for r in rows) / 2**20, max(num(r, "slot_retained_bytes") for r in rows) / 2**20))
first, last = medians[0][1], medians[-1][1]
grew = last - first
verdict = "grew" if grew > max(2.0, first * 0.05) else "flat"
print("  RSS first -> last window %.1f -> %.1f MB (%+.1f MB): %s" % (first, last, grew, verdict))
PY
echo "  write downtime          ${DOWNTIME}s"
echo "  verify                  $VERIFY"
echo "  samples                 $CSV"
