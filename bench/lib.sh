# What the benchmarks share: tools from apt, the built CLI, a work folder, and throwaway local clusters.
# Sourced by bench/run.sh and bench/online.sh after they set ROOT_DIR.

PGBIN="${PGBIN:-$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)}"

# need_apt COMMAND PATH PACKAGE: installs PACKAGE when neither COMMAND nor PATH is there. Fails if it cannot.
need_apt() {
    if ! command -v "$1" >/dev/null 2>&1 && [ ! -x "$2" ]; then
        echo "Installing $3 ..." >&2
        local sudo=""; [ "$(id -u)" -ne 0 ] && sudo="sudo"
        $sudo apt-get update -qq >/dev/null && $sudo apt-get install -y -qq "$3" >/dev/null
    fi
}

# need_pgcopydb: installs pgcopydb when it is missing (from apt) and sets PGCOPYDB to it.
need_pgcopydb() {
    need_apt pgcopydb /usr/lib/postgresql/15/bin/pgcopydb pgcopydb
    PGCOPYDB="$(command -v pgcopydb || ls /usr/lib/postgresql/*/bin/pgcopydb | sort -V | tail -1)"
}

# pgcopydb_clone SOURCE TARGET: pgcopydb clone, 2 table jobs and 2 index jobs, its work in $WORK/pgcopydb (its
# output in $WORK/pgcopydb.out, whose end is shown if it fails, ending the bench).
pgcopydb_clone() {
    rm -rf "$WORK/pgcopydb"
    PATH="$PGBIN:$PATH" "$PGCOPYDB" clone --source "$1" --target "$2" --table-jobs 2 --index-jobs 2 \
        --no-owner --no-acl --dir "$WORK/pgcopydb" >"$WORK/pgcopydb.out" 2>&1 || { tail -20 "$WORK/pgcopydb.out"; exit 1; }
}

# build_cli: builds pgrelocate as its linux-x64 tool package holds it (compiled to native code, see the .csproj)
# into out/bench-cli, and sets CLI to the program.
build_cli() {
    echo "Building pgrelocate ..." >&2
    bash "$ROOT_DIR/scripts/setup.sh" native >&2
    dotnet publish "$ROOT_DIR/src/PgRelocate.Cli" -c Release --use-current-runtime -p:NativeTool=true \
        --nologo -v q -o "$ROOT_DIR/out/bench-cli" >/dev/null
    CLI="$ROOT_DIR/out/bench-cli/pgrelocate"
}

# add_events URL SCALE EVENTS: the bench database's application side beside pgbench's tables at SCALE: pgcrypto and
# hstore, an `events` table of EVENTS rows (jsonb with a GIN index, hstore, a B-tree, a foreign key to
# pgbench_accounts), a second index on pgbench_accounts, a view and a function.
add_events() {
    "$PGBIN/psql" -X -q -v ON_ERROR_STOP=1 "$1" >/dev/null <<SQL
CREATE EXTENSION pgcrypto;
CREATE EXTENSION hstore;
CREATE TABLE events (
    id      bigserial PRIMARY KEY,
    aid     int NOT NULL REFERENCES pgbench_accounts (aid),
    kind    text NOT NULL,
    note    text,
    payload jsonb NOT NULL,
    tags    hstore,
    at      timestamptz NOT NULL
);
INSERT INTO events (aid, kind, note, payload, tags, at)
SELECT 1 + (g::bigint * 7919) % ($2 * 100000), (ARRAY['click', 'view', 'buy', 'share'])[1 + g % 4], 'event number ' || g,
       jsonb_build_object('n', g, 'session', md5(g::text), 'items', jsonb_build_array(g % 10, g % 7), 'ok', g % 3 = 0),
       hstore(ARRAY['src', 'web' || g % 5, 'ab', (g % 2)::text]),
       timestamptz '2024-01-01 00:00:00+00' + g * interval '1 second'
FROM generate_series(1, $3) g;
CREATE INDEX events_payload_gin ON events USING gin (payload);
CREATE INDEX events_kind_at ON events (kind, at);
CREATE INDEX pgbench_accounts_bid_abalance ON pgbench_accounts (bid, abalance);
CREATE VIEW account_activity AS SELECT aid, count(*) AS events FROM events GROUP BY aid;
CREATE FUNCTION event_count(a int) RETURNS bigint LANGUAGE sql STABLE AS \$\$ SELECT count(*) FROM events WHERE aid = a \$\$;
SQL
}

# make_work NAME: a fresh work folder in WORK, under BENCH_DIR (default /tmp); RUNAS runs the server's programs as
# postgres when we are root (initdb and postgres refuse to run as root). BENCH_DIR=/dev/shm keeps the clusters in
# memory: on a disk file system that has dropped many databases of thousands of files, creating files can become
# the slowest step of every tool alike (seen on ext4 without a journal, whose inode allocation then scans the
# recently deleted ones), which says nothing about the tools.
make_work() {
    WORK="$(mktemp -d "${BENCH_DIR:-/tmp}/$1-XXXXXX")"
    chmod 755 "$WORK"
    RUNAS=()
    if [ "$(id -u)" -eq 0 ]; then RUNAS=(runuser -u postgres --); chown postgres "$WORK"; fi
}

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }

# start_cluster NAME PORT [SETTING ...]: a cluster in $WORK/NAME, trusting local connections, durability off as
# on a throwaway bench (DURABLE=1: on, as on a real server, fsync and full-page writes), the same settings for
# every cluster and tool, plus the SETTINGs given ("key = value").
start_cluster() {
    local dir="$WORK/$1" port="$2" durability="off"
    shift 2
    [ -z "${DURABLE:-}" ] || durability="on"
    "${RUNAS[@]}" "$PGBIN/initdb" -D "$dir" -U postgres -A trust --no-sync -E UTF8 --locale C.UTF-8 >/dev/null
    {
        cat <<CONF
port = $port
listen_addresses = '127.0.0.1'
unix_socket_directories = '$WORK'
fsync = $durability
full_page_writes = $durability
shared_buffers = 256MB
max_wal_size = 8GB
max_connections = 100
CONF
        printf '%s\n' "$@"
    } >>"$dir/postgresql.conf"
    "${RUNAS[@]}" "$PGBIN/pg_ctl" -D "$dir" -l "$dir.log" -w start >/dev/null
}

# start_logical_pair [SETTING ...]: the clusters "source" and "target" on free ports (SPORT, TPORT), both able to
# decode and to be followed (wal_level = logical, slots and senders to spare), plus the SETTINGs given.
start_logical_pair() {
    SPORT=$(free_port); TPORT=$(free_port)
    local logical=("wal_level = logical" "max_replication_slots = 10" "max_wal_senders = 10" "$@")
    start_cluster source "$SPORT" "${logical[@]}"
    start_cluster target "$TPORT" "${logical[@]}"
}

# ballast: with BALLAST_GB set, that many GB of the machine's memory taken for the rest of the bench by a file in
# /dev/shm (tmpfs: nothing evicts it where there is no swap), and the page cache dropped (as root): the cache then
# holds less than the data, as on a server whose memory is smaller than its databases or shared with other copies.
# Leave a few GB for the servers and the tools. stop_clusters removes it.
ballast() {
    [ -n "${BALLAST_GB:-}" ] || return 0
    echo "Taking ${BALLAST_GB} GB of memory with a file in /dev/shm ..." >&2
    BALLAST_FILE="$(mktemp /dev/shm/pgrelocate-ballast-XXXXXX)"
    head -c "$((BALLAST_GB * 1024 * 1024 * 1024))" /dev/zero >"$BALLAST_FILE"
    sync
    [ "$(id -u)" -ne 0 ] || echo 1 >/proc/sys/vm/drop_caches
    echo "Memory left: $(awk '/MemAvailable/ {printf "%.1f GB", $2 / 1048576}' /proc/meminfo) available" >&2
}

# stop_clusters NAME ...: stops them at once, and removes the work folder unless KEEP is set (and the ballast).
stop_clusters() {
    local c
    for c in "$@"; do
        [ -d "$WORK/$c" ] && "${RUNAS[@]}" "$PGBIN/pg_ctl" -D "$WORK/$c" -m immediate -w stop >/dev/null 2>&1 || true
    done
    [ -z "${BALLAST_FILE:-}" ] || rm -f "$BALLAST_FILE"
    [ -n "${KEEP:-}" ] || rm -rf "$WORK"
}

# PIDS: the background processes a bench started (pgbench, writers, the tool); watch_pids CLUSTER ... stops them
# (stop_pids) and the clusters named when the bench ends, however it ends.
PIDS=()
stop_pids() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; }
watch_pids() {
    CLUSTERS=("$@")
    trap 'stop_pids; stop_clusters "${CLUSTERS[@]}"' EXIT
    trap 'exit 130' INT TERM
}

# start_writer SOURCE TARGET [NAME]: an application's stand-in. It holds one session, as an application's pool does,
# and writes a tick every 20 ms into the `ticks` table (pg_sleep paces it: no process per tick, whose cost would load
# the machine more than the application does). When its session ends (the switch ends the source's sessions) it
# connects again: to TARGET once repoint_writer NAME has run. Its loop joins PIDS.
start_writer() {
    local from="$1" to="$2" name="${3:+-$3}"
    rm -f "$WORK/switched$name"
    ( while true; do
        if [ -f "$WORK/switched$name" ]; then url="$to"; else url="$from"; fi
        "$PGBIN/psql" -qXAt "$url" < <(yes "INSERT INTO ticks DEFAULT VALUES; SELECT pg_sleep(0.02);") >/dev/null 2>&1 &
        echo $! >"$WORK/writer$name.pid"
        wait $! || true
        sleep 0.02
      done ) &
    PIDS+=($!)
}

# repoint_writer [NAME]: the writer leaves the source (its psql would go on there, refused) for the target, once.
repoint_writer() {
    local name="${1:+-$1}"
    [ ! -f "$WORK/switched$name" ] || return 0
    touch "$WORK/switched$name"
    kill "$(cat "$WORK/writer$name.pid")" 2>/dev/null || true
}

# stop_writer [NAME]: the writer's current psql stopped (its loop is in PIDS).
stop_writer() { kill "$(cat "$WORK/writer${1:+-$1}.pid")" 2>/dev/null || true; }

# ticks PID...: the CPU time (user + system, in clock ticks) the processes have used so far; one that ended counts none.
# (A process can end between the test and the read: its reading is then empty, and counts none.)
ticks() {
    local t=0 p v
    for p in "$@"; do
        v="$(awk '{sub(/^.*\) /, ""); print $12 + $13; exit}' "/proc/$p/stat" 2>/dev/null)"
        [[ "$v" =~ ^[0-9]+$ ]] && t=$(( t + v ))
    done
    echo "$t"
}
# server_pids CLUSTER walsender|other: the server processes of the bench's cluster CLUSTER, its WAL senders or the rest.
server_pids() { ps -o pid=,args= --ppid "$(head -1 "$WORK/$1/postmaster.pid")" | awk -v want="$2" '(want == "walsender") == ($0 ~ /walsender/) {print $1}'; }
# machine_ticks: the CPU ticks the whole machine has been busy so far, every core (user, nice, system, irq, softirq
# and steal in /proc/stat).
machine_ticks() { awk '/^cpu / {print $2 + $3 + $4 + $7 + $8 + $9; exit}' /proc/stat; }
# cpu_ticks PID: on one line, the CPU ticks used so far by PID (pgrelocate), the source's walsender, the source's other
# server processes, the target's server processes and pgbench, then the whole machine's busy ticks. A process that
# ended meanwhile is not counted (the source's sessions the cutover ends come after the last reading); the machine's
# reading holds what it used.
cpu_ticks() {
    echo "$(ticks "$1") $(ticks $(server_pids source walsender)) $(ticks $(server_pids source other)) $(ticks $(server_pids target other)) $(ticks $(pgrep -x pgbench)) $(machine_ticks)"
}
# cpu_share BEFORE AFTER SECONDS: each one's share of a core over the interval (two readings of cpu_ticks), then the
# rest of the machine's busy time (processes that ended within the interval, such as a verification's sessions on
# both servers, the kernel's network work, the bench's own sampling) and how busy the machine was, of all its cores.
cpu_share() {
    awk -v a="$1" -v b="$2" -v s="$3" -v hz="$(getconf CLK_TCK)" -v cores="$(nproc)" 'BEGIN {
        split(a, x, " "); split(b, y, " "); split("pgrelocate walsender source target pgbench", n, " ");
        d = (s > 0 ? s : 1) * hz / 100; named = 0
        for (i = 1; i <= 5; i++) { printf "%s%s %.0f%%", (i > 1 ? ", " : ""), n[i], (y[i] - x[i]) / d; named += y[i] - x[i] }
        if (6 in x && 6 in y) printf ", the rest %.0f%% (processes that ended meanwhile, the kernel); the machine %.0f%% busy of %d00%%", (y[6] - x[6] - named) / d, (y[6] - x[6]) / d, cores }'
}
