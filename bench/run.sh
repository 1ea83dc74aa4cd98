#!/usr/bin/env bash
# The copy benchmark: builds a bench database on two throwaway local clusters, then times, against fresh
# target databases, the seeds' path (pg_dump -Fc + pg_restore one job), pg_dump -Fc + pg_restore -j 2 (and
# pgrelocate restore --jobs 2 of the same archive),
# pgcopydb clone (2 table jobs, 2 index jobs) and pgrelocate copy (2 + 2); then, through a local S3 server
# (s3rver), the seeds' staged path by hand (pg_dump -Fc to a file, upload, a signed URL, the download piped
# into pg_restore as a restore service does) against `pgrelocate migrate --via s3://…` (which also checks and
# verifies). It verifies each path's target against the source as soon as the path ends, then drops it, and
# prints the wall times, the ratios and pgrelocate's peak memory.
#
#   bench/run.sh [SCALE]      SCALE is pgbench's scale factor (default 60, about 1.6 GB with the events table)
#   EVENTS=1500000 KEEP=1 VERBOSE=1 COPY_ARGS="--split-tables-larger-than 256" bench/run.sh 10
#   SKIP_ANCHORS=1 bench/run.sh 60    (pgrelocate alone, for tuning)
#   SKIP_STAGED=1 bench/run.sh 60     (without the staged comparison)
#   ROUNDS=1 bench/run.sh 60          (every path once; by default three times, interleaved, medians compared)
#   BALLAST_GB=18 bench/run.sh 300    (after the source is built, 18 GB of memory taken by a file in /dev/shm: the
#                                      page cache holds less than the data, as on a server with other copies)
#
# Run by hand, never in CI: it takes about ten minutes at scale 60 and all the machine's cores. Installs pgcopydb and GNU time
# with apt-get when they are missing.
set -euo pipefail

SCALE="${1:-60}"
EVENTS="${EVENTS:-1500000}"
JOBS="${JOBS:-2}"
INDEX_JOBS="${INDEX_JOBS:-2}"
ROUNDS="${ROUNDS:-3}"
ROOT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=bench/lib.sh
. "$ROOT_DIR/bench/lib.sh"
need_pgcopydb
need_apt /usr/bin/time /usr/bin/time time

build_cli
make_work pgrelocate-bench
cleanup() { stop_clusters source target; }
trap cleanup EXIT

SPORT=$(free_port); TPORT=$(free_port)
start_cluster source "$SPORT" "checkpoint_timeout = 30min"
start_cluster target "$TPORT" "checkpoint_timeout = 30min"
SRC="postgres://postgres@127.0.0.1:$SPORT/bench"
tgt() { echo "postgres://postgres@127.0.0.1:$TPORT/$1"; }
spsql() { psql -X -q -v ON_ERROR_STOP=1 "$SRC" "$@"; }
tpsql() { psql -X -q -v ON_ERROR_STOP=1 "$(tgt postgres)" "$@"; }

echo "Building the bench database: pgbench scale $SCALE plus $EVENTS events ..." >&2
psql -X -q "postgres://postgres@127.0.0.1:$SPORT/postgres" -c "CREATE DATABASE bench"
"$PGBIN/pgbench" -i -q -s "$SCALE" "$SRC" >/dev/null 2>&1
add_events "$SRC" "$SCALE" "$EVENTS"
spsql >/dev/null <<SQL
SELECT lo_from_bytea(0, (SELECT string_agg(gen_random_bytes(1024), ''::bytea) FROM generate_series(1, 1024)));
VACUUM ANALYZE;
SQL

SIZE=$(psql -X -At "$SRC" -c "SELECT pg_size_pretty(pg_database_size('bench'))")
echo "Source: $SIZE" >&2
ballast

now() { date +%s.%N; }
# Each timed path starts from the same state: the source and an empty target database, no other copy on the target
# (each is verified, then dropped, as soon as its path ends: at scale 300, the copies left behind filled the page
# cache, so a later path's index builds read back from disk the rows it had just written), and both clusters
# checkpointed and the kernel's dirty pages written, so no path pays for the writes of the one before it.
fresh() {
    tpsql -c "SET client_min_messages = warning" -c "DROP DATABASE IF EXISTS $1" -c "CREATE DATABASE $1"
    spsql -c CHECKPOINT; tpsql -c CHECKPOINT; sync
}
declare -A VERIFIED
# settle DB: pgrelocate verify (schema, row counts and checksums of every table) of a path's target against the
# source, then the target dropped. One that differs ends the bench, kept with the work folder for a look.
settle() {
    local out="$WORK/verify-$1.out" rc=0
    "$CLI" verify --source "$SRC" --target "$(tgt "$1")" >"$out" 2>&1 || rc=$?
    if [ "$rc" != 0 ]; then
        KEEP=1
        echo "$1 differs from the source (verify exit $rc): see $out; the clusters' data is kept in $WORK" >&2
        exit 1
    fi
    VERIFIED[$1]="$(grep -m1 -E 'identical|match' "$out" | sed 's/^ *//' || true)"
    tpsql -c "DROP DATABASE $1"
}
declare -A T R
# Keeps one round's time of a path; T holds each path's median over the rounds.
record() { R[$1]="${R[$1]:-} $2"; T[$1]=$(printf '%s\n' ${R[$1]} | sort -g | awk '{v[NR]=$1} END {print (NR % 2) ? v[(NR+1)/2] : (v[NR/2] + v[NR/2+1]) / 2}'); }
since() { echo "$(now) - $1" | bc; }
PEAK_KB=0; MIGRATE_PEAK_KB=0
peak() { local kb; kb=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$1"); echo $(( kb > $2 ? kb : $2 )); }

if [ -z "${SKIP_STAGED:-}" ]; then
    S3RVER="$ROOT_DIR/.tools/node_modules/.bin/s3rver"
    [ -x "$S3RVER" ] || { echo "Installing s3rver into .tools ..." >&2; npm install --prefix "$ROOT_DIR/.tools" --no-audit --no-fund --loglevel=error s3rver@3.7.1 >/dev/null; }
    S3PORT=$(free_port)
    mkdir -p "$WORK/s3"
    "$S3RVER" -d "$WORK/s3" -a 127.0.0.1 -p "$S3PORT" --silent --no-vhost-buckets >"$WORK/s3rver.log" 2>&1 &
    S3PID=$!
    trap 'kill $S3PID 2>/dev/null || true; cleanup' EXIT
    for _ in $(seq 50); do curl -s -o /dev/null "http://127.0.0.1:$S3PORT/" && break; sleep 0.1; done
    export AWS_ACCESS_KEY_ID=S3RVER AWS_SECRET_ACCESS_KEY=S3RVER AWS_ENDPOINT_URL="http://127.0.0.1:$S3PORT" AWS_REGION=us-east-1
    curl -s -X PUT "http://127.0.0.1:$S3PORT/bench" >/dev/null
fi

for ROUND in $(seq "$ROUNDS"); do
[ "$ROUNDS" -gt 1 ] && echo "Round $ROUND of $ROUNDS ..." >&2
if [ -z "${SKIP_ANCHORS:-}" ]; then
# 1. The seeds' path: pg_dump -Fc to a file, pg_restore one job.
fresh t_seeds
s=$(now); "$PGBIN/pg_dump" -Fc -f "$WORK/bench.dump" "$SRC"; record dump "$(since "$s")"
s=$(now); "$PGBIN/pg_restore" --no-owner --no-acl -d "$(tgt t_seeds)" "$WORK/bench.dump"; record restore1 "$(since "$s")"
settle t_seeds
echo "pg_dump ${R[dump]##* }s, pg_restore one job ${R[restore1]##* }s" >&2

# 2. The same archive, pg_restore -j 2.
fresh t_restore_j2
s=$(now); "$PGBIN/pg_restore" --no-owner --no-acl -j 2 -d "$(tgt t_restore_j2)" "$WORK/bench.dump"; record restore2 "$(since "$s")"
settle t_restore_j2
echo "pg_restore -j 2 ${R[restore2]##* }s" >&2

# 2b. The same archive, pgrelocate restore --jobs 2 (which also checks the archive whole first, and analyzes).
fresh t_restore_pgrelocate
s=$(now)
"$CLI" restore "$WORK/bench.dump" --target "$(tgt t_restore_pgrelocate)" --jobs "$JOBS" --log "$WORK/restore.log" >"$WORK/restore.out" 2>&1 || { cat "$WORK/restore.out"; exit 1; }
record restore_pgrelocate "$(since "$s")"
rm -f "$WORK/bench.dump"
settle t_restore_pgrelocate
echo "pgrelocate restore --jobs $JOBS ${R[restore_pgrelocate]##* }s" >&2

# 3. pgcopydb clone, 2 table jobs and 2 index jobs.
fresh t_pgcopydb
s=$(now)
pgcopydb_clone "$SRC" "$(tgt t_pgcopydb)"
record pgcopydb "$(since "$s")"
rm -rf "$WORK/pgcopydb"
settle t_pgcopydb
echo "pgcopydb clone ${R[pgcopydb]##* }s" >&2
else
    # Tuning runs: pgrelocate alone (the ratios below are then meaningless).
    T[dump]=1; T[restore1]=1; T[restore2]=1; T[restore_pgrelocate]=1; T[pgcopydb]=1
fi

# 4. pgrelocate copy.
fresh t_pgrelocate
s=$(now)
/usr/bin/time -v -o "$WORK/time.txt" "$CLI" copy --source "$SRC" --target "$(tgt t_pgrelocate)" \
    --jobs "$JOBS" --index-jobs "$INDEX_JOBS" --log "$WORK/copy.log" ${COPY_ARGS:-} >"$WORK/copy.out" 2>"$WORK/copy.err" || { cat "$WORK/copy.err"; exit 1; }
record pgrelocate "$(since "$s")"
PEAK_KB=$(peak "$WORK/time.txt" "$PEAK_KB")
settle t_pgrelocate
echo "pgrelocate copy ${R[pgrelocate]##* }s" >&2
[ -n "${VERBOSE:-}" ] && cat "$WORK/copy.out"

# 5. Staged through a local S3 server: the seeds' path by hand, then pgrelocate migrate --via.
if [ -z "${SKIP_STAGED:-}" ]; then
    # By hand, as the seeds do it: dump to a file, upload it, sign a URL, restore from the URL (streamed, one job).
    fresh t_staged_seeds
    s=$(now)
    "$PGBIN/pg_dump" -Fc -f "$WORK/staged.dump" "$SRC"
    curl -s -f -X PUT -T "$WORK/staged.dump" "http://127.0.0.1:$S3PORT/bench/seeds.dump" >/dev/null
    URL=$("$CLI" url s3://bench/seeds.dump --expires 1h 2>/dev/null)
    curl -s -f "$URL" | "$PGBIN/pg_restore" --no-owner --no-acl -d "$(tgt t_staged_seeds)"
    record staged_seeds "$(since "$s")"
    rm -f "$WORK/staged.dump"; curl -s -f -X DELETE "http://127.0.0.1:$S3PORT/bench/seeds.dump" >/dev/null
    settle t_staged_seeds
    echo "seeds' staged path by hand ${R[staged_seeds]##* }s" >&2

    # pgrelocate migrate --via: check, dump straight into the store, signed URL, restore, settings, verify.
    fresh t_staged_pgrelocate
    rm -rf "$WORK/migrations"
    s=$(now)
    /usr/bin/time -v -o "$WORK/time-migrate.txt" "$CLI" migrate --source "$SRC" --target "$(tgt t_staged_pgrelocate)" \
        --confirm t_staged_pgrelocate --via s3://bench/pgrelocate.dump --sse none --jobs "$JOBS" --workdir "$WORK/migrations" \
        --report "$WORK/migrate-report.html" >"$WORK/migrate.out" 2>"$WORK/migrate.err" || { cat "$WORK/migrate.out" "$WORK/migrate.err"; exit 1; }
    record staged_pgrelocate "$(since "$s")"
    MIGRATE_PEAK_KB=$(peak "$WORK/time-migrate.txt" "$MIGRATE_PEAK_KB")
    echo "pgrelocate migrate --via ${R[staged_pgrelocate]##* }s" >&2
    # Where the migration's time went, step by step (it also checks, compares settings and verifies).
    MIGRATION_ID="$(ls "$WORK/migrations")"
    MIGRATE_STEPS=$("$CLI" info "$MIGRATION_ID" --workdir "$WORK/migrations" 2>/dev/null | sed -n '/step/,/^$/p')
    # The same work as the path by hand (dump, upload, URL, restore): from the dump step's start to the restore step's end.
    record staged_same_work "$("$CLI" info "$MIGRATION_ID" --workdir "$WORK/migrations" --json 2>/dev/null | python3 -c '
import json, sys
from datetime import datetime
steps = {s["name"]: s for s in json.load(sys.stdin)["steps"]}
print((datetime.fromisoformat(steps["restore"]["finishedAt"]) - datetime.fromisoformat(steps["dump"]["startedAt"])).total_seconds())')"
    [ -n "${VERBOSE:-}" ] && cat "$WORK/migrate.out"
    settle t_staged_pgrelocate
fi
done

ratio() { echo "scale=2; $1 / $2" | bc; }
SEEDS=$(echo "${T[dump]} + ${T[restore1]}" | bc)
DUMPJ2=$(echo "${T[dump]} + ${T[restore2]}" | bc)
echo
echo "Bench: pgbench scale $SCALE + $EVENTS events, $SIZE, $(nproc) cores, both servers local; $JOBS copy jobs, $INDEX_JOBS index jobs"
[ -z "${BALLAST_GB:-}" ] || echo "Memory: $BALLAST_GB GB of the machine's $(awk '/MemTotal/ {printf "%.0f", $2 / 1048576}' /proc/meminfo) GB taken by a file in /dev/shm for the whole bench: the page cache holds less than the data"
if [ "$ROUNDS" -gt 1 ]; then
    echo "Each time is the median of $ROUNDS rounds; every round's times (s):"
    for k in dump restore1 restore2 restore_pgrelocate pgcopydb pgrelocate staged_seeds staged_pgrelocate staged_same_work; do
        [ -n "${R[$k]:-}" ] && { printf '  %-18s' "$k"; printf ' %6.1f' ${R[$k]}; echo; }
    done
fi
printf '%-42s %9s\n' "path" "wall (s)"
printf '%-42s %9.1f\n' "seeds: pg_dump -Fc + pg_restore (1 job)" "$SEEDS"
printf '%-42s %9.1f\n' "pg_dump -Fc + pg_restore -j 2" "$DUMPJ2"
printf '%-42s %9.1f\n' "pgrelocate restore --jobs $JOBS, same archive" "${T[restore_pgrelocate]}"
printf '%-42s %9.1f\n' "pgcopydb clone (2 + 2 jobs)" "${T[pgcopydb]}"
printf '%-42s %9.1f\n' "pgrelocate copy ($JOBS + $INDEX_JOBS jobs)" "${T[pgrelocate]}"
echo
echo "pgrelocate copy / seeds' path                 = $(ratio "${T[pgrelocate]}" "$SEEDS")"
echo "pgrelocate copy / (pg_dump + pg_restore -j 2) = $(ratio "${T[pgrelocate]}" "$DUMPJ2")   (target <= 0.8)"
echo "pgrelocate copy / pgcopydb clone              = $(ratio "${T[pgrelocate]}" "${T[pgcopydb]}")   (target <= 0.8)"
echo "pgrelocate restore / pg_restore -j 2         = $(ratio "${T[restore_pgrelocate]}" "${T[restore2]}")   (the same archive; it also checks it whole first, and analyzes)"
echo "pgrelocate peak memory                        = $((PEAK_KB / 1024)) MB   (target <= 200 MB)"
if [ -z "${SKIP_STAGED:-}" ]; then
    echo
    printf '%-42s %9.1f\n' "staged by hand: dump, upload, URL, restore" "${T[staged_seeds]}"
    printf '%-42s %9.1f\n' "pgrelocate migrate --via s3://, whole run" "${T[staged_pgrelocate]}"
    printf '%-42s %9.1f\n' "  of which dump, upload, URL, restore" "${T[staged_same_work]}"
    echo "migrate's dump..restore / staged by hand     = $(ratio "${T[staged_same_work]}" "${T[staged_seeds]}")   (target <= 0.8: the same work)"
    echo "whole migrate / staged by hand               = $(ratio "${T[staged_pgrelocate]}" "${T[staged_seeds]}")   (it also checks, analyzes and verifies)"
    echo "pgrelocate migrate peak memory                = $((MIGRATE_PEAK_KB / 1024)) MB   (target <= 200 MB)"
    echo "$MIGRATE_STEPS"
fi
echo
echo "pgrelocate verify, every target against the source (each round's, as its path ended):"
for db in t_seeds t_restore_j2 t_restore_pgrelocate t_pgcopydb t_pgrelocate t_staged_seeds t_staged_pgrelocate; do
    if [ -n "${VERIFIED[$db]:-}" ]; then printf '%-22s %s\n' "$db" "${VERIFIED[$db]}"; fi
done
