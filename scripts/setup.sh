#!/usr/bin/env bash
# Installs what building, the demo and the tests need on a Debian machine with the .NET SDK:
# the PostgreSQL 15 server and client, then the NuGet packages. Safe to run again: it skips what is there.
set -euo pipefail
cd "$(dirname "$0")/.."

as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

apt_updated=""
apt_install() {
  if [ -z "$apt_updated" ]; then as_root apt-get update -qq; apt_updated=1; fi
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

if [ ! -x /usr/lib/postgresql/15/bin/initdb ] || ! command -v pg_dump >/dev/null; then
  echo "setup: installing PostgreSQL 15 (server binaries for local clusters, pg_dump, pg_restore)"
  # Local clusters are made on demand in temporary folders; Debian's default cluster is not needed.
  as_root mkdir -p /etc/postgresql-common
  echo "create_main_cluster = false" | as_root tee /etc/postgresql-common/createcluster.conf >/dev/null
  apt_install postgresql-15 postgresql-client-15
fi

dotnet restore --nologo -v q PgRelocate.sln
