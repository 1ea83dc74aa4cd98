#!/usr/bin/env bash
# Times `pgrelocate verify` (checksums mode) against pgcopydb's data comparison method — per table
# count(1) and sum(hashtext(t::text)::bigint), run on both sides with the same parallelism — on two
# identical pgbench databases in two throwaway local clusters, and prints both times and their ratio.
# The data is the bench database of the performance work: pgbench at SCALE (default 60, about 1 GB per
# side) plus a 1.5 M-row table of jsonb documents with a GIN index.
# Run by hand, never in CI:  bench/verify-bench.sh [SCALE] [DOCS_ROWS]
# Or on two databases you already have (a copy left by `KEEP=1 bench/run.sh 300` or `bench/objects.sh`):
#   SOURCE_URL=postgres://... TARGET_URL=postgres://... bench/verify-bench.sh
# Environment: JOBS (default: cores), PG_BIN (default: the newest /usr/lib/postgresql/*/bin), PORT_BASE.
set -euo pipefail

SCALE=${1:-${SCALE:-60}}
DOCS_ROWS=${2:-${DOCS_ROWS:-1500000}}
JOBS=${JOBS:-$(nproc)}
PG_BIN=${PG_BIN:-$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)}
PORT_BASE=${PORT_BASE:-$((20000 + RANDOM % 20000))}
HERE=$(cd "$(dirname "$0")/.." && pwd)
CLI="$HERE/src/PgRelocate.Cli/bin/Release/net10.0/pgrelocate.dll"
WORK=$(mktemp -d -t pgrelocate-bench-XXXXXX)
chmod 755 "$WORK"

# initdb and postgres refuse to run as root: run them as the postgres account then.
as_server() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }

cleanup() {
  for side in source target; do
    [ -d "$WORK/$side" ] && as_server "$PG_BIN/pg_ctl" -D "$WORK/$side" -m immediate -w stop >/dev/null 2>&1 || true
  done
  rm -rf "$WORK"
}
trap cleanup EXIT

[ -f "$CLI" ] || (cd "$HERE" && dotnet build -c Release --nologo -v q >/dev/null)
[ "$(id -u)" = 0 ] && chown postgres "$WORK"

port_of() { if [ "$1" = source ]; then echo "$PORT_BASE"; else echo $((PORT_BASE + 1)); fi; }

if [ -z "${SOURCE_URL:-}" ]; then
for side in source target; do
  port=$(port_of $side)
  as_server "$PG_BIN/initdb" -D "$WORK/$side" -U postgres -A trust -E UTF8 --locale C.UTF-8 --no-sync >/dev/null
  as_server "$PG_BIN/pg_ctl" -D "$WORK/$side" -l "$WORK/$side.log" -w \
    -o "-p $port -k $WORK -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c shared_buffers=256MB" start >/dev/null
  psql -q -h 127.0.0.1 -p "$port" -U postgres -c "CREATE DATABASE bench" postgres
  echo "loading pgbench scale $SCALE into the $side..."
  pgbench -i -q -s "$SCALE" -h 127.0.0.1 -p "$port" -U postgres bench 2>/dev/null
  psql -q -h 127.0.0.1 -p "$port" -U postgres bench <<SQL
CREATE TABLE docs (id bigint PRIMARY KEY, body jsonb NOT NULL, created timestamptz NOT NULL);
INSERT INTO docs SELECT g, jsonb_build_object('n', g, 'tags', jsonb_build_array('a' || g % 7, 'b' || g % 11), 'price', g * 0.01),
                        '2024-01-01'::timestamptz + g * interval '1 second' FROM generate_series(1, $DOCS_ROWS) g;
CREATE INDEX docs_body ON docs USING gin (body);
SQL
  psql -q -h 127.0.0.1 -p "$port" -U postgres -c "VACUUM ANALYZE" bench
done
url() { echo "postgres://postgres@127.0.0.1:$(port_of "$1")/bench?sslmode=disable"; }
else
url() { if [ "$1" = source ]; then echo "$SOURCE_URL"; else echo "$TARGET_URL"; fi; }
SCALE="(given)"; DOCS_ROWS="(given)"
fi

# Every table with rows (partitioned parents have none of their own), largest first.
tables=$(psql -X -At "$(url source)" -c \
  "SELECT format('%I.%I', schemaname, relname) FROM pg_stat_user_tables ORDER BY pg_relation_size(relid) DESC")
echo "$(echo "$tables" | wc -l) tables" >&2

# Warm both caches the same way for both methods.
for side in source target; do
  for t in $tables; do echo "SELECT count(*) FROM $t;"; done | psql -X -q -At "$(url $side)" >/dev/null
done

now() { date +%s.%N; }

start=$(now)
# pgcopydb's method: count(1) and sum(hashtext(row::text)) per table on each side, JOBS sessions per side,
# each session taking its share of the tables (largest first, dealt round-robin) on one connection.
mkdir -p "$WORK/groups"
echo "$tables" | split -n r/"$JOBS" - "$WORK/groups/g."
for g in "$WORK"/groups/g.*; do for side in source target; do echo "$(url $side) $g"; done; done |
  xargs -P $((JOBS * 2)) -L 1 sh -c 'sed "s/.*/SELECT count(1), sum(hashtext(t::text)::bigint) FROM & t;/" "$1" | psql -X -q -At "$0" >/dev/null'
pgcopydb_time=$(echo "$(now) - $start" | bc)

start=$(now)
set +e
dotnet "$CLI" verify --source "$(url source)" --target "$(url target)" --jobs "$JOBS" --json >"$WORK/verify.json" 2>/dev/null
code=$?
set -e
verify_time=$(echo "$(now) - $start" | bc)
[ "$code" = 0 ] || { echo "verify exited $code (expected 0 on identical databases)"; cat "$WORK/verify.json"; exit 1; }

printf 'pgbench scale %s + %s jsonb rows, %s jobs\n' "$SCALE" "$DOCS_ROWS" "$JOBS"
printf 'pgcopydb method (count + sum(hashtext), both sides): %6.2f s\n' "$pgcopydb_time"
printf 'pgrelocate verify (schema + checksums, both sides):   %6.2f s\n' "$verify_time"
printf 'ratio verify / pgcopydb: %.2f (target: <= 1.0)\n' "$(echo "$verify_time / $pgcopydb_time" | bc -l)"
