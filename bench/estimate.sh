#!/usr/bin/env bash
# The estimate benchmark: at each pgbench scale, runs `pgrelocate check` (its estimate) and then the paths it
# predicts, and prints predicted against real:
#   - the direct copy (`pgrelocate copy`, 2 + 2 lanes, the copy's defaults) and dump + restore (`pgrelocate dump`
#     --compress 1 then `pgrelocate restore --jobs 2`, one after the other), each into a fresh target database, the
#     dump and the restore apart, and as `migrate --jobs 2` runs them (the restore following the archive as pg_dump
#     writes it; from its journal, the dump step's start to the restore step's end), which the estimate predicts;
#   - the source's WAL rate while pgbench writes at a fixed rate (-R): the check's against pg_current_wal_lsn read
#     by psql over the ten seconds before and the ten seconds after the check;
#   - check's own wall time.
# The staged path (a store's upload and download) is not run: the estimate does not measure a store.
#
#   bench/estimate.sh [SCALE ...]      default: 30 150 300
#   RATE=200 bench/estimate.sh 30      pgbench's fixed rate (transactions per second) during the WAL comparison
#   EVENTS=1500000 bench/estimate.sh 150   adds the events table of bench/run.sh (jsonb with a GIN index, a B-tree on
#                                      two columns, a foreign key; bench/lib.sh add_events) with that many rows
#   CLI="dotnet src/PgRelocate.Cli/bin/Release/net10.0/pgrelocate.dll" bench/estimate.sh 30   (the built tool, no native build)
#
# Run by hand, never in CI: at scale 300 (about 4.5 GB) it takes a long while and all the machine's cores.
# What it should show: the direct copy's estimate within 30% at every size, the WAL rate within 30%, check under 20 s.
set -euo pipefail

SCALES=("${@:-30 150 300}")
read -r -a SCALES <<<"${SCALES[*]}"
RATE="${RATE:-200}"
ROOT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=bench/lib.sh
. "$ROOT_DIR/bench/lib.sh"

if [ -z "${CLI:-}" ]; then build_cli; fi
read -r -a RUN <<<"$CLI"
make_work pgrelocate-estimate
PGB=
cleanup() { [ -n "$PGB" ] && kill "$PGB" 2>/dev/null; stop_clusters source target; }
trap cleanup EXIT

SPORT=$(free_port); TPORT=$(free_port)
start_cluster source "$SPORT" "checkpoint_timeout = 30min"
start_cluster target "$TPORT" "checkpoint_timeout = 30min"
url() { echo "postgres://postgres@127.0.0.1:$1/$2"; }
SRC="$(url "$SPORT" bench)"
sql() { psql -X -q -t -A -v ON_ERROR_STOP=1 "$@"; }
now() { date +%s.%N; }
# fresh_target NAME: an empty target database.
fresh_target() { sql "$(url "$TPORT" postgres)" -c "DROP DATABASE IF EXISTS $1" -c "CREATE DATABASE $1" >/dev/null; url "$TPORT" "$1"; }
# wal_rate SECONDS: the source's WAL bytes per second over SECONDS, read by psql.
wal_rate() {
    local a b t0 t1
    a=$(sql "$SRC" -c "SELECT pg_current_wal_lsn() - '0/0'"); t0=$(now)
    sleep "$1"
    b=$(sql "$SRC" -c "SELECT pg_current_wal_lsn() - '0/0'"); t1=$(now)
    python3 -c "print(($b - $a) / ($t1 - $t0))"
}
# field JSON NAME: a number of the check's estimate, or "-" when it is left out.
field() { python3 -c "import json,sys; e=json.load(open(sys.argv[1])).get('estimate',{}); print(e.get(sys.argv[2],'-'))" "$1" "$2"; }
# part JSON dump|restore: that part of the estimate's dump + restore, as its basis gives it ("dump 12.3 s", "restore 45.6 s").
part() { python3 -c "import json,re,sys; b=[l for l in json.load(open(sys.argv[1])).get('estimate',{}).get('basis',[]) if l.startswith('dump + restore:')]; m=re.search(sys.argv[2] + r' ([0-9.]+) s', b[0]) if b else None; print(m.group(1) if m else '-')" "$1" "$2"; }
ratio() { python3 -c "import sys; p,r=sys.argv[1],float(sys.argv[2]); print('-' if p=='-' else f'{float(p)/r:.2f}')" "$1" "$2"; }

RESULTS=()
for SCALE in "${SCALES[@]}"; do
    echo "Scale $SCALE: building the source ..." >&2
    sql "$(url "$SPORT" postgres)" -c "DROP DATABASE IF EXISTS bench" -c "CREATE DATABASE bench" >/dev/null
    "$PGBIN/pgbench" -i -q -s "$SCALE" "$SRC" >/dev/null 2>&1
    if [ "${EVENTS:-0}" -gt 0 ]; then add_events "$SRC" "$SCALE" "$EVENTS"; sql "$SRC" -c "VACUUM ANALYZE" >/dev/null; fi
    sql "$SRC" -c "CHECKPOINT" >/dev/null

    # Offline: check, then each path into a fresh target, timed.
    TGT="$(fresh_target copied)"
    t0=$(now); "${RUN[@]}" --json check --source "$SRC" --target "$TGT" >"$WORK/check-$SCALE.json" 2>/dev/null || true; t1=$(now)
    CHECK_S=$(python3 -c "print(round($t1 - $t0, 1))")
    t0=$(now); "${RUN[@]}" copy --source "$SRC" --target "$TGT" >/dev/null 2>&1; t1=$(now)
    COPY_S=$(python3 -c "print(round($t1 - $t0, 1))")
    TGT="$(fresh_target restored)"
    rm -f "$WORK/bench.dump" "$WORK/bench.dump.manifest.json"
    # The dump and the restore apart: the dump at gzip level 1 (migrate's), the restore with the jobs the estimate
    # predicts for (--jobs 2); one after the other, as a restore from a file runs them.
    t0=$(now)
    "${RUN[@]}" dump --source "$SRC" --to "$WORK/bench.dump" --compress 1 >/dev/null 2>&1
    t1=$(now)
    "${RUN[@]}" restore "$WORK/bench.dump" --target "$TGT" --jobs 2 >/dev/null 2>&1
    t2=$(now)
    DR_S=$(python3 -c "print(round($t2 - $t0, 1))")
    DUMP_S=$(python3 -c "print(round($t1 - $t0, 1))")
    RESTORE_S=$(python3 -c "print(round($t2 - $t1, 1))")
    # As migrate runs the path: the restore follows the archive while pg_dump writes it (with --jobs above 1), timed
    # from its journal, the dump step's start to the restore step's end (its checks and verification left out).
    TGT="$(fresh_target migrated)"
    rm -rf "$WORK/migrations"
    "${RUN[@]}" migrate --source "$SRC" --target "$TGT" --confirm migrated --jobs 2 --no-estimate --workdir "$WORK/migrations" >/dev/null 2>&1
    MIGRATE_S=$("${RUN[@]}" info "$(ls "$WORK/migrations")" --workdir "$WORK/migrations" --json 2>/dev/null | python3 -c '
import json, sys
from datetime import datetime
steps = {s["name"]: s for s in json.load(sys.stdin)["steps"]}
print(round((datetime.fromisoformat(steps["restore"]["finishedAt"]) - datetime.fromisoformat(steps["dump"]["startedAt"])).total_seconds(), 1))')
    sql "$(url "$TPORT" postgres)" -c "DROP DATABASE copied" -c "DROP DATABASE restored" -c "DROP DATABASE migrated" >/dev/null

    # Online: the WAL rate under a fixed write rate, outside the tool before and after the check, and the check's.
    "$PGBIN/pgbench" -n -c 2 -R "$RATE" -T 3600 "$SRC" >/dev/null 2>&1 &
    PGB=$!
    sleep 5
    OUT_BEFORE=$(wal_rate 10)
    "${RUN[@]}" --json check --source "$SRC" >"$WORK/wal-$SCALE.json" 2>/dev/null || true
    OUT_AFTER=$(wal_rate 10)
    kill "$PGB"; wait "$PGB" 2>/dev/null || true; PGB=
    OUT_WAL=$(python3 -c "print(($OUT_BEFORE + $OUT_AFTER) / 2)")

    C="$WORK/check-$SCALE.json"
    RESULTS+=("$(printf '%-6s %-16s %12s %12s %7s' "$SCALE" "direct copy s" "$(field "$C" copySeconds)" "$COPY_S" "$(ratio "$(field "$C" copySeconds)" "$COPY_S")")")
    RESULTS+=("$(printf '%-6s %-16s %12s %12s %7s' "$SCALE" "migrate d+r s" "$(field "$C" dumpRestoreSeconds)" "$MIGRATE_S" "$(ratio "$(field "$C" dumpRestoreSeconds)" "$MIGRATE_S")")")
    SUM="$(python3 -c "import sys; d,r=sys.argv[1:]; print('-' if '-' in (d,r) else round(float(d)+float(r),1))" "$(part "$C" dump)" "$(part "$C" restore)")"
    RESULTS+=("$(printf '%-6s %-16s %12s %12s %7s' "$SCALE" "dump, restore s" "$SUM" "$DR_S" "$(ratio "$SUM" "$DR_S")")")
    RESULTS+=("$(printf '%-6s %-16s %12s %12s %7s' "$SCALE" "  dump s" "$(part "$C" dump)" "$DUMP_S" "$(ratio "$(part "$C" dump)" "$DUMP_S")")")
    RESULTS+=("$(printf '%-6s %-16s %12s %12s %7s' "$SCALE" "  restore s" "$(part "$C" restore)" "$RESTORE_S" "$(ratio "$(part "$C" restore)" "$RESTORE_S")")")
    W="$(field "$WORK/wal-$SCALE.json" sourceWalBytesPerSecond)"
    RESULTS+=("$(printf '%-6s %-16s %12s %12.0f %7s' "$SCALE" "WAL bytes/s" "$W" "$OUT_WAL" "$(ratio "$W" "$OUT_WAL")")")
    RESULTS+=("$(printf '%-6s %-16s %12s %12s %7s' "$SCALE" "check s" "-" "$CHECK_S" "-")")
done

for SCALE in "${SCALES[@]}"; do
    echo "What check's estimate rested on at scale $SCALE:"
    python3 -c "import json,sys; [print('  ' + b) for b in json.load(open(sys.argv[1])).get('estimate',{}).get('basis',[])]" "$WORK/check-$SCALE.json"
done
printf '%-6s %-16s %12s %12s %7s\n' scale what predicted real ratio
printf '%s\n' "${RESULTS[@]}"
