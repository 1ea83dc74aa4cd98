#!/usr/bin/env bash
# The online migration benchmark: pgbench at SCALE on a throwaway source cluster under `pgbench -c 4 -j 2`
# load for the whole run; `pgrelocate migrate --online` copies and follows; after FOLLOW seconds of following
# (60 by default), `pgrelocate cutover`. A writer stands in for an application: it writes a tick to the source
# every 20 ms and, once the cutover has returned, to the target. Prints the steady-state lag, the apply rate
# against the source's write rate, the rate it catches up at after being stopped for PAUSE seconds, the write
# downtime (pgrelocate's, and the longest gap the writer saw), pgrelocate's peak memory, where the CPU went,
# pgcopydb's `clone --follow` apply rate on the same load when pgcopydb is installed (PGCOPYDB=path picks a
# build of its own), the ratio of the two, and `pgrelocate verify` of the result.
#
# After the measured follow, one statement updates a million rows of pgbench_accounts (all of them at scale
# 10) and the follow applies it before the cutover: the report shows how long that took, whether `status`
# kept moving through it, and the peak memory covers it.
#
#   bench/online.sh [SCALE]        SCALE is pgbench's scale factor (default 30)
#   FOLLOW=60 PAUSE=20 SKIP_PGCOPYDB=1 SKIP_LARGE=1 KEEP=1 bench/online.sh 10
#
# Run by hand, never in CI.
set -euo pipefail

SCALE="${1:-30}"
FOLLOW="${FOLLOW:-60}"
ROOT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=bench/lib.sh
. "$ROOT_DIR/bench/lib.sh"
need_apt /usr/bin/time /usr/bin/time time
if [ -z "${SKIP_PGCOPYDB:-}" ] && [ -z "${PGCOPYDB:-}" ] && ! command -v pgcopydb >/dev/null 2>&1 && ! ls /usr/lib/postgresql/*/bin/pgcopydb >/dev/null 2>&1; then
    echo "Installing pgcopydb ..." >&2
    SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
    { $SUDO apt-get update -qq && $SUDO apt-get install -y -qq pgcopydb; } >/dev/null 2>&1 || echo "pgcopydb could not be installed: its comparison is left out." >&2
fi
# PGCOPYDB=/path/to/pgcopydb picks a build of its own (Debian 12 packages 0.10, whose follow fails here).
PGCOPYDB="${PGCOPYDB:-$(command -v pgcopydb || ls /usr/lib/postgresql/*/bin/pgcopydb 2>/dev/null | sort -V | tail -1 || true)}"
# pgcopydb 0.10's follow decodes with wal2json; later ones take --plugin and decode with test_decoding,
# which ships with the server.
PGMAJOR="$(basename "$(dirname "$PGBIN")")"
PGCOPYDB_PLUGIN=()
if [ -n "$PGCOPYDB" ]; then
    if "$PGCOPYDB" clone --help 2>&1 | grep -q -- "--plugin"; then
        PGCOPYDB_PLUGIN=(--plugin test_decoding)
    elif [ ! -f "$("$PGBIN/pg_config" --pkglibdir 2>/dev/null || echo "/usr/lib/postgresql/$PGMAJOR/lib")/wal2json.so" ]; then
        echo "Installing wal2json for pgcopydb ..." >&2
        SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
        $SUDO apt-get install -y -qq "postgresql-$PGMAJOR-wal2json" >/dev/null 2>&1 || echo "wal2json could not be installed: pgcopydb's follow will fail." >&2
    fi
fi

build_cli
make_work pgrelocate-online-bench
watch_pids source target

start_logical_pair
SRC="postgres://postgres@127.0.0.1:$SPORT/bench"
# The target's login role is an ordinary owner of its database, as a managed provider hands out.
"$PGBIN/psql" -qX "postgres://postgres@127.0.0.1:$TPORT/postgres" -c "CREATE ROLE app LOGIN" -c "CREATE DATABASE app OWNER app" -c "CREATE DATABASE pgcopydb OWNER app"
"$PGBIN/psql" -qX "postgres://postgres@127.0.0.1:$TPORT/app" -c "ALTER SCHEMA public OWNER TO app"
"$PGBIN/psql" -qX "postgres://postgres@127.0.0.1:$TPORT/pgcopydb" -c "ALTER SCHEMA public OWNER TO app"
TGT="postgres://app@127.0.0.1:$TPORT/app"

echo "Loading pgbench at scale $SCALE ..." >&2
"$PGBIN/psql" -qX "postgres://postgres@127.0.0.1:$SPORT/postgres" -c "CREATE DATABASE bench"
"$PGBIN/pgbench" -q -i -s "$SCALE" "$SRC" >/dev/null 2>&1
"$PGBIN/psql" -qX "$SRC" -c "CREATE TABLE ticks (id text PRIMARY KEY DEFAULT gen_random_uuid()::text, at timestamptz NOT NULL DEFAULT clock_timestamp())"

echo "Starting the load (pgbench -c 4 -j 2) and the writer ..." >&2
"$PGBIN/pgbench" -c 4 -j 2 -T 100000 -P 1 "$SRC" >"$WORK/pgbench.log" 2>&1 &
PIDS+=($!)
# The writer (bench/lib.sh start_writer) moves to the target once the cutover has returned.
start_writer "$SRC" "$TGT"
sleep 5

echo "pgrelocate migrate --online ..." >&2
MIGRATIONS="$WORK/migrations"
/usr/bin/time -v "$CLI" migrate --source "$SRC" --target "$TGT" --confirm app --online --replica-identity-full \
    --workdir "$MIGRATIONS" >"$WORK/migrate.log" 2>"$WORK/migrate.err" &
MIGRATE=$!
PIDS+=($MIGRATE)
until ls "$MIGRATIONS"/*/online.json >/dev/null 2>&1; do sleep 1; kill -0 $MIGRATE 2>/dev/null || { cat "$WORK/migrate.log" "$WORK/migrate.err"; exit 1; }; done
ID="$(basename "$(dirname "$(ls "$MIGRATIONS"/*/online.json)")")"
PGRELOCATE_PID="$(pgrep -P "$MIGRATE")" # the process GNU time runs
echo "Following ($ID) for ${FOLLOW}s ..." >&2
: >"$WORK/samples"
FOLLOW_CPU="$(cpu_ticks "$PGRELOCATE_PID")"; FOLLOW_AT=$(date +%s)
for _ in $(seq "$FOLLOW"); do
    python3 -c 'import json,sys; s=json.load(open(sys.argv[1])); print(s["lagBytes"], s["lagSeconds"], s["changesPerSecond"])' "$MIGRATIONS/$ID/online.json" >>"$WORK/samples" 2>/dev/null || true
    sleep 1
done
FOLLOW_CPU="$(cpu_share "$FOLLOW_CPU" "$(cpu_ticks "$PGRELOCATE_PID")" $(( $(date +%s) - FOLLOW_AT )))"
# pgbench -P 1 prints "progress: 12.0 s, 850.3 tps, lat ...": the mean of the last 30 seconds.
TPS="$(awk '/^progress:/ {print $4}' "$WORK/pgbench.log" | tail -30 | awk '{s+=$1; n++} END {if (n) printf "%.0f", s/n; else print 0}')"

# What the apply can do when it is behind (a mean while caught up is only the source's write rate): the process
# is stopped for PAUSE seconds (20 by default) while the load goes on, then resumed; the changes it applies per
# second until it is within a second of the source again, counted on the target as pgcopydb's are below
# (pgbench_history rows: one per pgbench transaction of four changes), not by pgrelocate's own counters.
PAUSE="${PAUSE:-20}"
echo "Stopping pgrelocate for ${PAUSE}s, then its catch-up ..." >&2
# pgbench_history's rows at a URL (0 while the table is not there yet): both tools' apply is counted by them.
history_rows() { "$PGBIN/psql" -qXAt "$1" -c "SELECT count(*) FROM pgbench_history" 2>/dev/null || echo 0; }
lag_seconds() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["lagSeconds"])' "$MIGRATIONS/$ID/online.json"; }
kill -STOP "$PGRELOCATE_PID"; sleep "$PAUSE"
H0="$(history_rows "$TGT")"; T0="$(date +%s.%N)"
kill -CONT "$PGRELOCATE_PID"
sleep 2 # its status file is written again
until awk -v l="$(lag_seconds)" 'BEGIN {exit !(l < 1)}' || awk -v t="$T0" -v n="$(date +%s.%N)" 'BEGIN {exit !(n - t > 300)}'; do sleep 0.5; done
H1="$(history_rows "$TGT")"; T1="$(date +%s.%N)"
read -r CAPACITY CAPACITY_S < <(awk -v h=$(( H1 - H0 )) -v a="$T0" -v b="$T1" 'BEGIN {printf "%.0f %.1f\n", h * 4 / (b - a), b - a}')

LARGE="not run"
LARGE_CPU="not run"
if [ -z "${SKIP_LARGE:-}" ]; then
    echo "One statement updating a million rows, and its apply ..." >&2
    : >"$WORK/large.samples"
    LARGE_START=$(date +%s); LARGE_TICKS="$(cpu_ticks "$PGRELOCATE_PID")"
    "$PGBIN/psql" -qX "$SRC" -c "UPDATE pgbench_accounts SET filler = md5(aid::text) WHERE aid <= 1000000" >/dev/null
    LARGE_COMMITTED=$(date +%s)
    sample_large() { # the age of the status file (a stalled display grows it), the changes it counts, the lag
        python3 -c 'import json,sys,os,time; s=json.load(open(sys.argv[1])); print(round(time.time()-os.path.getmtime(sys.argv[1]),1), s["changes"], s["lagSeconds"])' "$MIGRATIONS/$ID/online.json" >>"$WORK/large.samples" 2>/dev/null || true
    }
    # One source transaction is one target transaction: its last row shows it all applied.
    until [ "$("$PGBIN/psql" -qXAt "$TGT" -c "SELECT filler = md5(aid::text) FROM pgbench_accounts WHERE aid = least(1000000, $SCALE * 100000)" 2>/dev/null)" = "t" ] \
        || [ $(( $(date +%s) - LARGE_COMMITTED )) -gt 600 ]; do
        sample_large; sleep 1
    done
    LARGE_APPLIED=$(date +%s)
    LARGE_CPU="$(cpu_share "$LARGE_TICKS" "$(cpu_ticks "$PGRELOCATE_PID")" $(( LARGE_APPLIED - LARGE_START )))"
    # Then the load written meanwhile: the measured follow starts caught up again.
    until [ "$(tail -1 "$WORK/large.samples" | awk '{print ($3 < 1) ? "yes" : "no"}')" = "yes" ] || [ $(( $(date +%s) - LARGE_APPLIED )) -gt 600 ]; do
        sample_large; sleep 1
    done
    LARGE_DONE=$(date +%s)
    LARGE="$(awk -v w=$(( LARGE_COMMITTED - LARGE_START )) -v a=$(( LARGE_APPLIED - LARGE_COMMITTED )) -v c=$(( LARGE_DONE - LARGE_COMMITTED )) '{if ($1>m) m=$1; if ($3>l) l=$3; if (NR==1) c0=$2; c1=$2} END {printf "written in %ds, applied %ds after its commit, caught up again after %ds (%d changes, %.0f/s); worst lag %.1fs; status never older than %.1fs", w, a, c, c1-c0, (c1-c0)/(c>0?c:1), l, m}' "$WORK/large.samples")"
fi

echo "Cutover ..." >&2
"$CLI" cutover "$ID" --workdir "$MIGRATIONS" | tee "$WORK/cutover.log"
repoint_writer
wait $MIGRATE || true
sleep 2
DOWNTIME="$(python3 -c 'import json,sys; j=json.load(open(sys.argv[1])); print(next(s for s in j["steps"] if s["name"]=="cutover")["outputs"]["writeDowntimeSeconds"])' "$MIGRATIONS/$ID/journal.json")"
GAP="$("$PGBIN/psql" -qXAt "$TGT" -c "SELECT round(extract(epoch FROM max(gap))::numeric, 2) FROM (SELECT at - lag(at) OVER (ORDER BY at) AS gap FROM ticks) g")"
PEAK_MB="$(awk '/Maximum resident set size/ {printf "%.0f", $6/1024}' "$WORK/migrate.err")"
read -r LAG_B LAG_S MAX_LAG_S RATE < <(awk '{b+=$1; s+=$2; if ($2>m) m=$2; r+=$3; n++} END {if (n) printf "%.0f %.2f %.2f %.0f\n", b/n, s/n, m, r/n; else print "0 0 0 0"}' "$WORK/samples")
# Steady state: the worst lag once first caught up (a sample that applied something: status shows no lag before the first transaction).
STEADY_MAX="$(awk 'caught && $2 > m {m=$2} $2 < 1 && $3 > 0 {caught=1} END {if (caught) printf "%.2f", m; else print "never caught up"}' "$WORK/samples")"

FOLLOWED="$(python3 -c 'import json,sys; j=json.load(open(sys.argv[1])); print(next(s for s in j["steps"] if s["name"]=="follow").get("summary") or "")' "$MIGRATIONS/$ID/journal.json")"
# The verification while following, from the lag history the journal keeps (a sample about every 2 s).
VERIFY_LAG="$(python3 -c '
import json, sys
lag = next(s for s in json.load(open(sys.argv[1]))["steps"] if s["name"] == "follow").get("lag") or []
v = [x["lagSeconds"] for x in lag if x["phase"] == "verify"]
print("%d samples, worst lag %.2fs" % (len(v), max(v)) if v else "no sample (shorter than one)")' "$MIGRATIONS/$ID/journal.json")"
echo "Verifying ..." >&2
VERIFY="$("$CLI" verify --source "$SRC" --target "$TGT" --tables 'public.pgbench_*' >/dev/null 2>&1 && echo identical || echo DIFFERENT)"

PGCOPYDB_RATE="not measured"
RATIO="not measured"
if [ -z "${SKIP_PGCOPYDB:-}" ] && [ -n "$PGCOPYDB" ] && [ -x "$PGCOPYDB" ]; then
    echo "pgcopydb clone --follow on the same load (the source is writable again for it) ..." >&2
    "$PGBIN/psql" -qX "postgres://postgres@127.0.0.1:$SPORT/postgres" -c "ALTER DATABASE bench RESET default_transaction_read_only"
    "$PGBIN/pgbench" -c 4 -j 2 -T 100000 "$SRC" >/dev/null 2>&1 &
    PIDS+=($!)
    # pgcopydb's apply needs replication origins, which only a superuser may use on the target: an
    # ordinary owner's target (as pgrelocate gets) refuses it, so it runs as the target's superuser here.
    PGCT="postgres://postgres@127.0.0.1:$TPORT/pgcopydb"
    "$PGCOPYDB" clone --follow "${PGCOPYDB_PLUGIN[@]}" --source "$SRC" --target "$PGCT" --dir "$WORK/pgcopydb" --table-jobs 2 --index-jobs 2 \
        >"$WORK/pgcopydb.log" 2>&1 &
    PGCOPYDB_PID=$!
    PIDS+=($PGCOPYDB_PID)
    # Its apply rate once it replays: pgbench_history rows (one per pgbench transaction, four changes) reaching
    # the target per second over FOLLOW seconds, against the rows written on the source in the same time. The
    # window opens at its first replayed row, after its copy has landed (the copy arrives in one COPY).
    alive() { kill -0 "$PGCOPYDB_PID" 2>/dev/null; }
    # Its clone of the bench takes well under a minute here: three minutes without a replayed row means its
    # follow is stuck (pgcopydb 0.10 logs its wal2json parsing failures and keeps running).
    START=$(date +%s)
    until [ "$(history_rows "$PGCT")" -gt 0 ] || [ $(( $(date +%s) - START )) -gt 180 ] || ! alive; do sleep 1; done
    FIRST="$(history_rows "$PGCT")"
    until [ "$(history_rows "$PGCT")" -gt "$FIRST" ] || [ $(( $(date +%s) - START )) -gt 180 ] || ! alive; do sleep 1; done
    A="$(history_rows "$PGCT")"; SA="$(history_rows "$SRC")"; sleep "$FOLLOW"
    B="$(history_rows "$PGCT")"; SB="$(history_rows "$SRC")"
    PGCOPYDB_CHANGES=$(( (B - A) * 4 / FOLLOW ))
    PGCOPYDB_RATE="$PGCOPYDB_CHANGES changes/s (as the target's superuser) against $(( (SB - SA) * 4 / FOLLOW )) written; $(( SB - B )) transactions behind at the end"
    if [ "$PGCOPYDB_CHANGES" -gt 0 ]; then
        # pgrelocate's mean is capped by the source's write rate when it keeps up; its rate while behind is
        # what it can do. pgcopydb's window is spent behind (see "behind at the end"), so its rate is its own.
        RATIO="$(awk -v r="$RATE" -v c="$CAPACITY" -v p="$PGCOPYDB_CHANGES" 'BEGIN {printf "%.1fx while behind (%.1fx its mean while caught up)", c/p, r/p}')"
    fi
    if ! alive || grep -q "ERROR" "$WORK/pgcopydb.log"; then
        PGCOPYDB_RATE="$PGCOPYDB_RATE; its follow failed: $(grep -m1 -o 'ERROR.*' "$WORK/pgcopydb.log" | cut -c1-120)"
    fi
fi

cat <<REPORT

Online migration, pgbench scale $SCALE under -c 4 -j 2 load, ${FOLLOW}s of following
  source write rate        ${TPS} tps, about $(( TPS * 4 )) changes/s
  pgrelocate apply rate    ${RATE} changes/s (mean while following); ${CAPACITY} changes/s catching up after ${PAUSE}s stopped (${CAPACITY_S}s)
  lag while following      mean ${LAG_B} bytes, ${LAG_S}s; worst ${MAX_LAG_S}s; worst once caught up ${STEADY_MAX}s
  write downtime           ${DOWNTIME}s (pgrelocate), ${GAP}s longest gap seen by the writer
  pgrelocate peak memory   ${PEAK_MB} MB
  million-row UPDATE       ${LARGE}
  CPU while following      ${FOLLOW_CPU} (of one core; two here)
  CPU, UPDATE to applied   ${LARGE_CPU}
  follow                   ${FOLLOWED}
  verifying while following ${VERIFY_LAG}
  pgcopydb follow rate     ${PGCOPYDB_RATE}
  pgrelocate / pgcopydb    ${RATIO}
  verify                   ${VERIFY}
REPORT
