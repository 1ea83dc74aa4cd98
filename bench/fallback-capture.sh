#!/usr/bin/env bash
# The way back's capture cost (migrate --online --fallback): pgbench's TPS on one cluster without, then with, the
# capture the switch creates on the target (CaptureCreate.sql: the queue and its trigger function; a row trigger
# and a TRUNCATE trigger on every pgbench table, as FallbackCapture creates them). Nothing reads the queue during
# the run, so it measures the writes' own cost (the tool's reading and deleting come on top, on other sessions).
#
#   bench/fallback-capture.sh [SECONDS] [CLIENTS] [SCALE]     default: 20 4 5
#
# Run by hand, briefly: it takes 2 x SECONDS and the machine's cores while pgbench runs.
set -euo pipefail

SECONDS_EACH="${1:-20}"
CLIENTS="${2:-4}"
SCALE="${3:-5}"
ROOT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=bench/lib.sh
. "$ROOT_DIR/bench/lib.sh"

make_work pgrelocate-capture
trap 'stop_clusters target' EXIT
PORT="$(free_port)"
start_cluster target "$PORT"
PSQL=("$PGBIN/psql" -h 127.0.0.1 -p "$PORT" -U postgres -X -q -v ON_ERROR_STOP=1)
"${PSQL[@]}" -c "CREATE DATABASE bench"
"$PGBIN/pgbench" -h 127.0.0.1 -p "$PORT" -U postgres -i -q -s "$SCALE" bench >/dev/null 2>&1

tps() {
    "$PGBIN/pgbench" -h 127.0.0.1 -p "$PORT" -U postgres -c "$CLIENTS" -j "$CLIENTS" -T "$SECONDS_EACH" -n bench 2>/dev/null \
        | sed -n 's/^tps = \([0-9.]*\).*/\1/p'
}

without="$(tps)"
# The capture as the switch creates it (comment lines dropped, as the tool's loader does).
grep -v '^--' "$ROOT_DIR/src/PgRelocate.Core/Online/Fallback/CaptureCreate.sql" | "${PSQL[@]}" -d bench
for t in pgbench_accounts pgbench_branches pgbench_tellers pgbench_history; do
    "${PSQL[@]}" -d bench -c "CREATE TRIGGER pgrelocate_fallback_row AFTER INSERT OR UPDATE OR DELETE ON public.$t FOR EACH ROW EXECUTE FUNCTION pgrelocate_online.fallback_capture();
                              CREATE TRIGGER pgrelocate_fallback_truncate AFTER TRUNCATE ON public.$t FOR EACH STATEMENT EXECUTE FUNCTION pgrelocate_online.fallback_capture()"
done
"${PSQL[@]}" -d bench -c "CHECKPOINT"
with="$(tps)"
queued="$("${PSQL[@]}" -d bench -At -c "SELECT count(*) || ' rows, ' || pg_size_pretty(pg_total_relation_size('pgrelocate_online.fallback_queue')) FROM pgrelocate_online.fallback_queue")"
echo "pgbench (TPC-B like, scale $SCALE, $CLIENTS clients, ${SECONDS_EACH}s each), PostgreSQL $("${PSQL[@]}" -At -c 'SHOW server_version')"
echo "  without the capture: $without TPS"
echo "  with the capture:    $with TPS ($(python3 -c "print(f'{100 * (1 - $with / $without):.0f}')")% fewer); queue after the run: $queued"
