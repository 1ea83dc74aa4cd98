#!/usr/bin/env bash
# An application's database with foreign keys, copied: customers (1 M rows), orders (3 M, referencing customers) and
# items (6 M, referencing orders and customers) beside a log table that references nothing and is the largest
# (LOG_ROWS, default 16 M rows, about 2.8 GB; the database about 4 GB). Times `pg_dump -Fc` + `pg_restore -j 2`
# (the anchor), pgcopydb clone (2 + 2) and `pgrelocate copy --jobs 2` into fresh databases, each verified by exact
# row counts and foreign keys valid, and prints each one's time and its ratio to the anchor; and where the copy's
# foreign keys' checks went (its steps `foreign key` and `foreign keys`).
# BEFORE=path/to/pgrelocate also times that build's copy, each round (to compare two builds on the same data).
# Run by hand, never in CI:  bench/foreign-keys.sh     (ROUNDS=3, LOG_ROWS=..., CLI=..., BENCH_DIR=/dev/shm, DURABLE=1, KEEP=1)
set -euo pipefail
ROOT_DIR="$(cd "$(dirname "$0")/.." && pwd)"
. "$ROOT_DIR/bench/lib.sh"

ROUNDS=${ROUNDS:-2}
LOG_ROWS=${LOG_ROWS:-16000000}
need_pgcopydb
[ -n "${CLI:-}" ] || build_cli

make_work pgrelocate-fk
trap 'stop_clusters source target' EXIT
start_logical_pair
SRC="postgres://postgres@127.0.0.1:$SPORT/app"
tgt() { echo "postgres://postgres@127.0.0.1:$TPORT/$1"; }
now() { date +%s.%N; }
since() { echo "$(now) - $1" | bc; }

echo "Loading the application's database ($LOG_ROWS log rows) ..." >&2
"$PGBIN/psql" -qX "postgres://postgres@127.0.0.1:$SPORT/postgres" -c "CREATE DATABASE app"
"$PGBIN/psql" -X -q -v ON_ERROR_STOP=1 "$SRC" <<SQL
CREATE TABLE customers (id int PRIMARY KEY, name text, region int);
INSERT INTO customers SELECT g, 'customer ' || g, g % 50 FROM generate_series(1, 1000000) g;
CREATE TABLE orders (id bigint PRIMARY KEY, customer_id int NOT NULL REFERENCES customers, placed timestamptz, total numeric(12,2));
INSERT INTO orders SELECT g, 1 + (g::bigint * 7919) % 1000000, timestamptz '2026-01-01 00:00:00+00' - g * interval '1 second', (g % 10000) / 100.0
FROM generate_series(1, 3000000) g;
CREATE TABLE items (id bigint PRIMARY KEY, order_id bigint NOT NULL REFERENCES orders, customer_id int REFERENCES customers, qty int, price numeric(10,2));
INSERT INTO items SELECT g, 1 + (g::bigint * 104729) % 3000000, 1 + (g::bigint * 31) % 1000000, g % 5 + 1, (g % 1000) / 10.0
FROM generate_series(1, 6000000) g;
CREATE INDEX items_order_id ON items (order_id);
CREATE TABLE logs (id bigint PRIMARY KEY, at timestamptz, level int, message text);
INSERT INTO logs SELECT g, timestamptz '2026-01-01 00:00:00+00' - g * interval '10 ms', g % 5, repeat(md5(g::text), 4)
FROM generate_series(1, $LOG_ROWS) g;
VACUUM ANALYZE;
CHECKPOINT;
SQL
SIZE=$("$PGBIN/psql" -qXAt "$SRC" -c "SELECT pg_size_pretty(pg_database_size('app'))")
COUNTS="SELECT (SELECT count(*) FROM customers) || ' ' || (SELECT count(*) FROM orders) || ' ' || (SELECT count(*) FROM items) || ' ' || (SELECT count(*) FROM logs) || ' ' || (SELECT count(*) FROM pg_constraint WHERE contype = 'f' AND convalidated)"
EXPECTED=$("$PGBIN/psql" -qXAt "$SRC" -c "$COUNTS")

fresh() {
    "$PGBIN/psql" -qX "postgres://postgres@127.0.0.1:$TPORT/postgres" -c "DROP DATABASE IF EXISTS $1" -c "CREATE DATABASE $1" -c CHECKPOINT >/dev/null 2>&1
}

# check NAME DB: the copy's rows counted exactly and its foreign keys valid, as the source's; the database dropped.
check() {
    local got
    got=$("$PGBIN/psql" -qXAt "$(tgt "$2")" -c "$COUNTS")
    [ "$got" = "$EXPECTED" ] || { echo "$1: the target differs: $got against $EXPECTED" >&2; exit 1; }
    "$PGBIN/psql" -qX "postgres://postgres@127.0.0.1:$TPORT/postgres" -c "DROP DATABASE $2" -c CHECKPOINT >/dev/null 2>&1
}

declare -A T
record() { T[$1]="${T[$1]:-} $2"; }

for ROUND in $(seq "$ROUNDS"); do
    echo "Round $ROUND of $ROUNDS ..." >&2
    fresh anchor
    s=$(now)
    "$PGBIN/pg_dump" -Fc -f "$WORK/app.dump" "$SRC"
    "$PGBIN/pg_restore" --no-owner --no-acl -j 2 -d "$(tgt anchor)" "$WORK/app.dump"
    record anchor "$(since "$s")"
    rm -f "$WORK/app.dump"
    check anchor anchor

    fresh pgcopydb
    s=$(now)
    pgcopydb_clone "$SRC" "$(tgt pgcopydb)"
    record pgcopydb "$(since "$s")"
    check pgcopydb pgcopydb

    for build in copy ${BEFORE:+before}; do
        bin="$CLI"; [ "$build" = copy ] || bin="$BEFORE"
        fresh "$build"
        s=$(now)
        "$bin" copy --source "$SRC" --target "$(tgt "$build")" --jobs 2 >"$WORK/$build-$ROUND.out" 2>&1 || { tail -20 "$WORK/$build-$ROUND.out"; exit 1; }
        record "$build" "$(since "$s")"
        check "$build" "$build"
    done
done

median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2}'; }
A=$(echo "${T[anchor]}" | median)
echo
echo "An application's database with foreign keys ($SIZE: customers, orders, items, $LOG_ROWS log rows), $(nproc) cores, $ROUNDS rounds (medians)"
for k in anchor pgcopydb copy ${BEFORE:+before}; do
    m=$(echo "${T[$k]}" | median)
    printf '  %-10s %7.1fs  %5.2f of pg_dump + pg_restore -j 2   (rounds:%s)\n' "$k" "$m" "$(echo "$m / $A" | bc -l)" "${T[$k]}"
done
echo "  where the copy's foreign keys went (last round):"
grep -E '^\s+foreign key|^\s+data and indexes' "$WORK/copy-$ROUNDS.out" | sed 's/  */ /g; s/^/   /'
