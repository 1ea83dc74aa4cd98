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

# build_cli: builds pgrelocate as its linux-x64 tool package holds it (compiled to native code, see the .csproj)
# into out/bench-cli, and sets CLI to the program.
build_cli() {
    echo "Building pgrelocate ..." >&2
    bash "$ROOT_DIR/scripts/setup.sh" native >&2
    dotnet publish "$ROOT_DIR/src/PgRelocate.Cli" -c Release --use-current-runtime -p:NativeTool=true \
        --nologo -v q -o "$ROOT_DIR/out/bench-cli" >/dev/null
    CLI="$ROOT_DIR/out/bench-cli/pgrelocate"
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
# on a throwaway bench, the same settings for every cluster and tool, plus the SETTINGs given ("key = value").
start_cluster() {
    local dir="$WORK/$1" port="$2"
    shift 2
    "${RUNAS[@]}" "$PGBIN/initdb" -D "$dir" -U postgres -A trust --no-sync -E UTF8 --locale C.UTF-8 >/dev/null
    {
        cat <<CONF
port = $port
listen_addresses = '127.0.0.1'
unix_socket_directories = '$WORK'
fsync = off
full_page_writes = off
shared_buffers = 256MB
max_wal_size = 8GB
max_connections = 100
CONF
        printf '%s\n' "$@"
    } >>"$dir/postgresql.conf"
    "${RUNAS[@]}" "$PGBIN/pg_ctl" -D "$dir" -l "$dir.log" -w start >/dev/null
}

# stop_clusters NAME ...: stops them at once, and removes the work folder unless KEEP is set.
stop_clusters() {
    local c
    for c in "$@"; do
        [ -d "$WORK/$c" ] && "${RUNAS[@]}" "$PGBIN/pg_ctl" -D "$WORK/$c" -m immediate -w stop >/dev/null 2>&1 || true
    done
    [ -n "${KEEP:-}" ] || rm -rf "$WORK"
}
