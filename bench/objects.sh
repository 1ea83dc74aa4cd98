#!/usr/bin/env bash
# The per-object benchmark: at each of SIZES tables (default 1000 and 5000), builds a schema of many small objects on
# a throwaway source cluster (a fifth of the tables are partitions, ten to a partitioned parent; two indexes per
# table, its primary key and one more; a view and a function for every fifth table; ten schemas; 3 rows per table),
# then times, against fresh target databases in the same run: pg_dump -Fc + pg_restore -j 2 (the anchor),
# pgrelocate copy, migrate --direct, migrate (staged: a local archive, restored as it is dumped), restore --jobs 2
# (of the anchor's archive), verify and check. It prints each one's wall time, its ratio to the anchor and its peak
# memory, and the growth of every time from the first size to the last. With ROUNDS=N each size's paths run N times,
# interleaved (anchor, copy, ..., check, then again), and the table compares their medians: single runs at these
# sizes move with the machine by more than the targets' margins.
#
#   bench/objects.sh [SIZE ...]       e.g. bench/objects.sh 200 1000  (a quick run)
#   ROUNDS=3 bench/objects.sh         medians of three interleaved rounds
#   KEEP=1 JOBS=2 bench/objects.sh 1000
#   STATEMENTS=1 bench/objects.sh 1000   also counts the statements each pgrelocate command sends (log_statement)
#   BENCH_DIR=/dev/shm bench/objects.sh   the clusters in memory (see make_work in bench/lib.sh)
#   CLI=/path/to/pgrelocate bench/objects.sh   a pgrelocate program already built (one word), no native build
#   LOCKS=256 bench/objects.sh 20000      max_locks_per_transaction on both clusters (default: PostgreSQL's 64)
#   ONLINE=1 bench/objects.sh 10000        also migrate --online --cutover auto (the source with wal_level = logical),
#                                          and print its write downtime phase by phase ("Where the write downtime went")
#   ONLY="online" ONLINE=1 bench/objects.sh 10000   only these paths (words of: copy migrate staged restore verify
#                                          check replace online), and the anchor, which every ratio needs
#   ONLY="copy replace" LOCKS=256 TARGET_LOCKS=64 bench/objects.sh 20000   replace: migrate --direct --confirm into
#                                          the copy's target, which holds a whole copy (emptied first, in batches that
#                                          fit the target's lock table); TARGET_LOCKS sets the target's alone
#   LATENCY_MS=2 bench/objects.sh 1000     every tool reaches both servers through a proxy that delays each way by
#                                          2 ms (a 4 ms round trip: another zone or region; bench/delay_proxy.py)
#
# Run by hand, never in CI. Installs GNU time with apt-get when it is missing.
set -euo pipefail

SIZES=("$@"); [ ${#SIZES[@]} -gt 0 ] || SIZES=(1000 5000)
JOBS="${JOBS:-2}"
ROUNDS="${ROUNDS:-1}"
ROOT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=bench/lib.sh
. "$ROOT_DIR/bench/lib.sh"
need_apt /usr/bin/time /usr/bin/time time

if [ -z "${CLI:-}" ]; then build_cli; fi
make_work pgrelocate-objects
cleanup() { stop_clusters source target; }
trap cleanup EXIT

SPORT=$(free_port); TPORT=$(free_port)
# Both clusters keep PostgreSQL's default lock table (max_locks_per_transaction = 64), as a managed plan does;
# LOCKS=N sets it to N on both (pg_dump locks every table: at 20,000 tables the default cannot hold them), and
# TARGET_LOCKS=N on the target alone.
LOGGING=(); [ -n "${STATEMENTS:-}" ] && LOGGING=("log_statement = 'all'" "log_line_prefix = '%a|'")
[ -n "${ONLINE:-}" ] && LOGGING+=("wal_level = logical")
SOURCE_SETTINGS=("${LOGGING[@]}") TARGET_SETTINGS=("${LOGGING[@]}")
[ -n "${LOCKS:-}" ] && SOURCE_SETTINGS+=("max_locks_per_transaction = $LOCKS")
[ -n "${TARGET_LOCKS:-${LOCKS:-}}" ] && TARGET_SETTINGS+=("max_locks_per_transaction = ${TARGET_LOCKS:-$LOCKS}")
start_cluster source "$SPORT" "checkpoint_timeout = 30min" "${SOURCE_SETTINGS[@]}"
start_cluster target "$TPORT" "checkpoint_timeout = 30min" "${TARGET_SETTINGS[@]}"
# With LATENCY_MS, the tools (src, tgt) go through delaying proxies; the bench's own set-up (srcd, tgtd) does not.
srcd() { echo "postgres://postgres@127.0.0.1:$SPORT/$1"; }
tgtd() { echo "postgres://postgres@127.0.0.1:$TPORT/$1"; }
SVIA=$SPORT; TVIA=$TPORT
if [ -n "${LATENCY_MS:-}" ]; then
    SVIA=$(free_port); TVIA=$(free_port)
    python3 "$ROOT_DIR/bench/delay_proxy.py" "$SVIA" "$SPORT" "$LATENCY_MS" & PROXIES=($!)
    python3 "$ROOT_DIR/bench/delay_proxy.py" "$TVIA" "$TPORT" "$LATENCY_MS" & PROXIES+=($!)
    cleanup() { kill "${PROXIES[@]}" 2>/dev/null || true; stop_clusters source target; }
    sleep 1
fi
src() { echo "postgres://postgres@127.0.0.1:$SVIA/$1"; }
tgt() { echo "postgres://postgres@127.0.0.1:$TVIA/$1"; }
tpsql() { psql -X -q -v ON_ERROR_STOP=1 "$(tgtd postgres)" "$@"; }

# build_schema DB N: N tables in DB on the source, each statement in its own transaction (the default lock table
# cannot hold thousands of new relations in one).
build_schema() {
    local db="$1" n="$2" parts=$(( $2 / 5 / 10 * 10 ))
    local plain=$(( n - parts )) views=$(( n / 5 ))
    psql -X -q "$(srcd postgres)" -c "CREATE DATABASE $db"
    psql -X -q -v ON_ERROR_STOP=1 "$(srcd "$db")" >/dev/null <<SQL
SELECT format('CREATE SCHEMA s%s', g) FROM generate_series(0, 9) g \gexec
SELECT format('CREATE TABLE s%s.t%s (id int PRIMARY KEY, name text NOT NULL, at timestamptz NOT NULL DEFAULT now());
               CREATE INDEX ON s%s.t%s (name);
               INSERT INTO s%s.t%s (id, name) VALUES (1, ''a''), (2, ''b''), (3, ''c'')', g % 10, g, g % 10, g, g % 10, g)
FROM generate_series(1, $plain) g \gexec
SELECT format('CREATE TABLE s%s.p%s (id int, k int, name text NOT NULL, PRIMARY KEY (id, k)) PARTITION BY LIST (k);
               CREATE INDEX ON s%s.p%s (name)', g % 10, g, g % 10, g)
FROM generate_series(1, $parts / 10) g \gexec
SELECT format('CREATE TABLE s%s.p%s_%s PARTITION OF s%s.p%s FOR VALUES IN (%s);
               INSERT INTO s%s.p%s (id, k, name) VALUES (1, %s, ''a''), (2, %s, ''b''), (3, %s, ''c'')',
              g % 10, g, k, g % 10, g, k, g % 10, g, k, k, k)
FROM generate_series(1, $parts / 10) g, generate_series(1, 10) k \gexec
SELECT format('CREATE VIEW s%s.v%s AS SELECT id, name FROM s%s.t%s WHERE id > 1;
               CREATE FUNCTION s%s.f%s(int) RETURNS bigint LANGUAGE sql STABLE AS ''SELECT count(*) FROM s%s.t%s WHERE id > \$1''',
              g % 10, g, g % 10, g, g % 10, g, g % 10, g)
FROM generate_series(1, $views) g \gexec
VACUUM ANALYZE;
SQL
    DESCRIBED="$plain tables + $parts partitions (of $(( parts / 10 )) parents), $(( 2 * n )) indexes, $views views, $views functions, 3 rows each"
}

now() { date +%s.%N; }
since() { echo "$(now) - $1" | bc; }
fresh() { tpsql -c "DROP DATABASE IF EXISTS $1" -c "CREATE DATABASE $1"; tpsql -c CHECKPOINT; sync; }
# median: the median of the numbers on standard input, one per line or separated by spaces.
median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{a[NR] = $1} END {printf "%.3f", NR % 2 ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2}'; }
# record KEY SECONDS MB: one round's wall time (kept with the other rounds') and peak memory (the largest is kept).
record() { T[$1]="${T[$1]:-} $2"; if [ -z "${M[$1]:-}" ] || [ "${M[$1]}" -lt "$3" ]; then M[$1]=$3; fi; }
peak_mb() { awk -F': ' '/Maximum resident set size/ {printf "%d", $2 / 1024}' "$1"; }
# statements LABEL: how many statements each cluster logged since the last call (with STATEMENTS=1).
LOGPOS_S=0; LOGPOS_T=0
statements() {
    [ -n "${STATEMENTS:-}" ] || return 0
    local s t
    s=$(wc -l <"$WORK/source.log"); t=$(wc -l <"$WORK/target.log")
    STMTS[$1]="source $(sed -n "$((LOGPOS_S + 1)),${s}p" "$WORK/source.log" | grep -c 'LOG:  statement:\|LOG:  execute' || true) / target $(sed -n "$((LOGPOS_T + 1)),${t}p" "$WORK/target.log" | grep -c 'LOG:  statement:\|LOG:  execute' || true)"
    LOGPOS_S=$s; LOGPOS_T=$t
}
# [OK="0|3"] timed KEY COMMAND...: runs the command under GNU time (exit codes other than OK are failures), adds its wall time to T[KEY@SIZE] and keeps its peak in M[KEY@SIZE]; its output goes to KEYSIZE.out and .err.
timed() {
    local key="$1@$N" out="$WORK/$1$N" s t; shift
    statements skip
    s=$(now)
    /usr/bin/time -v -o "$WORK/time.txt" "$@" >"$out.out" 2>"$out.err" || true
    t=$(since "$s"); record "$key" "$t" "$(peak_mb "$WORK/time.txt")"
    statements "$key"
    if ! grep -Eq "Exit status: (${OK:-0})\$" "$WORK/time.txt"; then
        echo "$key failed:" >&2; tail -5 "$out.out" "$out.err" >&2; FAILED=1; KEEP=1
    fi
    echo "$key ${t}s, ${M[$key]} MB" >&2
}

declare -A T M STMTS DESC
FAILED=0
# want PATH: true when PATH runs (every path unless ONLY names some).
want() { [ -z "${ONLY:-}" ] || [[ " $ONLY " == *" $1 "* ]]; }
pgr() { "$CLI" "$@"; }
for N in "${SIZES[@]}"; do
    db="objects$N"
    echo "Building $N tables ..." >&2
    s=$(now); build_schema "$db" "$N"; DESC[$N]="$DESCRIBED"
    echo "built in $(since "$s")s: $DESCRIBED" >&2
    psql -X -q "$(srcd postgres)" -c CHECKPOINT

  for ((round = 1; round <= ROUNDS; round++)); do
    [ "$ROUNDS" = 1 ] || echo "Round $round of $ROUNDS at $N tables ..." >&2
    fresh a$N
    s=$(now)
    "$PGBIN/pg_dump" -Fc -f "$WORK/$db.dump" "$(src "$db")"
    "$PGBIN/pg_restore" --no-owner --no-acl -j "$JOBS" -d "$(tgt a$N)" "$WORK/$db.dump"
    t=$(since "$s"); record "anchor@$N" "$t" 0
    echo "anchor@$N ${t}s" >&2

    # verify, check and replace are given the copy's target: the copy runs when one of them does.
    if want copy || want verify || want check || want replace; then
        fresh c$N
        timed copy "$CLI" copy --source "$(src "$db")" --target "$(tgt c$N)" --jobs "$JOBS" --log "$WORK/copy$N.log"
    fi
    if want migrate; then
        fresh m$N
        timed migrate "$CLI" migrate --direct --source "$(src "$db")" --target "$(tgt m$N)" --confirm m$N --jobs "$JOBS" --workdir "$WORK/migrations$N-$round"
    fi
    # The staged path: the dump to a local archive, restored alongside it as it grows.
    if want staged; then
        fresh s$N
        timed staged "$CLI" migrate --source "$(src "$db")" --target "$(tgt s$N)" --confirm s$N --jobs "$JOBS" --workdir "$WORK/staged$N-$round"
    fi
    if want restore; then
        fresh r$N
        timed restore "$CLI" restore "$WORK/$db.dump" --target "$(tgt r$N)" --jobs "$JOBS"
    fi
    want verify && timed verify "$CLI" verify --source "$(src "$db")" --target "$(tgt c$N)" --jobs "$JOBS"
    # check exits 3 when something blocks (the target it is given holds the copy): only other codes are failures.
    want check && OK="0|3" timed check "$CLI" check --source "$(src "$db")" --target "$(tgt c$N)"
    want replace && timed replace "$CLI" migrate --direct --source "$(src "$db")" --target "$(tgt c$N)" --confirm c$N --jobs "$JOBS" --workdir "$WORK/replace$N-$round"
    if [ -n "${ONLINE:-}" ] && want online; then
        fresh o$N
        timed online "$CLI" migrate --online --cutover auto --source "$(src "$db")" --target "$(tgt o$N)" --confirm o$N --workdir "$WORK/online$N-$round"
        # The switch leaves the source read-only: writable again for the next round.
        psql -X -q "$(srcd postgres)" -c "ALTER DATABASE $db RESET default_transaction_read_only"
    fi
  done
done

ratio() { echo "scale=2; $1 / $2" | bc; }
echo
echo "Bench: $(nproc) cores, both servers local$([ -z "${LATENCY_MS:-}" ] || echo " behind a ${LATENCY_MS} ms delay each way"), load average $(cut -d' ' -f1-3 /proc/loadavg); $JOBS jobs$([ "$ROUNDS" = 1 ] || echo "; medians of $ROUNDS interleaved rounds")"
for N in "${SIZES[@]}"; do echo "  $N: ${DESC[$N]}"; done
printf '%-34s' "path"; for N in "${SIZES[@]}"; do printf ' %9s %6s %7s' "$N (s)" "ratio" "peak MB"; done
[ ${#SIZES[@]} -gt 1 ] && printf ' %8s' "growth"; echo
FIRST="${SIZES[0]}"; LAST="${SIZES[-1]}"
declare -A MED
PATHS=(anchor)
for k in copy migrate staged restore verify check replace online; do [ -n "${T[$k@$FIRST]:-}" ] && PATHS+=("$k"); done
for k in "${PATHS[@]}"; do for N in "${SIZES[@]}"; do MED[$k@$N]=$(median <<<"${T[$k@$N]}"); done; done
for k in "${PATHS[@]}"; do
    case $k in
        anchor) label="pg_dump -Fc + pg_restore -j $JOBS" ;; copy) label="pgrelocate copy --jobs $JOBS" ;;
        migrate) label="pgrelocate migrate --direct" ;; staged) label="pgrelocate migrate (dump, restore)" ;; restore) label="pgrelocate restore --jobs $JOBS" ;;
        verify) label="pgrelocate verify" ;; check) label="pgrelocate check" ;; online) label="pgrelocate migrate --online" ;;
        replace) label="migrate --direct --confirm (replace)" ;;
    esac
    printf '%-34s' "$label"
    for N in "${SIZES[@]}"; do printf ' %9.1f %6s %7s' "${MED[$k@$N]}" "$(ratio "${MED[$k@$N]}" "${MED[anchor@$N]}")" "${M[$k@$N]}"; done
    [ ${#SIZES[@]} -gt 1 ] && printf ' %7sx' "$(ratio "${MED[$k@$LAST]}" "${MED[$k@$FIRST]}")"
    echo
done
if [ "$ROUNDS" != 1 ]; then
    echo; echo "Each round's time (s), in the order run:"
    for N in "${SIZES[@]}"; do for k in "${PATHS[@]}"; do printf '  %-16s%s\n' "$k@$N" "${T[$k@$N]}"; done; done
fi
if [ -n "${STATEMENTS:-}" ]; then
    echo; echo "Statements logged by the servers (log_statement = all):"
    for N in "${SIZES[@]}"; do for k in "${PATHS[@]:1}"; do printf '  %-16s %s\n' "$k@$N" "${STMTS[$k@$N]:-}"; done; done
fi
if [ -f "$WORK/copy$LAST.out" ]; then
    echo; echo "Where copy's time went at $LAST tables (its phases; the slowest tables' steps are in $WORK/copy$LAST.out, every step at the end of $WORK/copy$LAST.log):"
    awk '/ step / {on = 1} on && !($1 ~ /^(data|index|indexes|constraint|analyze|large)$/ && $2 != "and")' "$WORK/copy$LAST.out" | sed '/^ *$/,$d' || true
fi
if [ -f "$WORK/migrate$LAST.out" ]; then
    echo "The copy inside migrate --direct at $LAST tables:"; grep -E '^ +(check|copy|verify|settings) ' "$WORK/migrate$LAST.out" || true
fi
if [ -n "${ONLINE:-}" ]; then
    echo; echo "migrate --online --cutover auto: the write downtime phase by phase (seconds, each round):"
    for N in "${SIZES[@]}"; do
        for journal in "$WORK"/online"$N"-*/*/journal.json; do
            python3 - "$N" "$journal" <<'PY' || true
import json, sys
def tables(o):
    if isinstance(o, dict):
        if o.get("title") == "Where the write downtime went":
            yield o
        for v in o.values():
            yield from tables(v)
    elif isinstance(o, list):
        for v in o:
            yield from tables(v)
journal = json.load(open(sys.argv[2]))
# The write downtime as the switch recorded it: its last phase (the slot and publication) comes after the switch.
downtime = next((s.get("outputs", {}).get("writeDowntimeSeconds") for s in journal.get("steps", []) if s.get("name") == "cutover"), None)
for t in tables(journal):
    rows = t.get("rows", [])
    print(f"  {sys.argv[1]} tables: {downtime or '?'} s:", ", ".join(f"{r[0]} {r[1]}" for r in rows))
PY
        done
    done
fi
[ "$FAILED" = 0 ] || { echo "Some commands failed: see $WORK" >&2; exit 1; }
