#!/usr/bin/env bash
# The tool the tests run, made as users get it: packed as `make pack` packs it (for this platform alone), then
# installed from that folder alone with `dotnet tool install`. `make test` runs it; the tests run the installed
# program (PGRELOCATE_TEST_CLI) and ToolInstallTests installs the same packages again (PGRELOCATE_TEST_PACK).
#   scripts/test-tool.sh CONFIG PACK_DIR TOOL_DIR
set -euo pipefail
cd "$(dirname "$0")/.."
config="$1" pack="$2" tool="$3"
project=src/PgRelocate.Cli
rid=$(dotnet --info | sed -n 's/^ *RID: *//p' | head -n 1)
rm -rf "$pack" "$tool"
if [ "$rid" = linux-x64 ]; then
  # The package that points to the platforms' packages; its linux-x64 package is replaced by the native one next,
  # so it is not compiled ahead of time here (the composite alone took minutes of both cores).
  dotnet pack --nologo -v q -c "$config" -o "$pack" -p:RuntimeIdentifiers="$rid" \
    -p:PublishReadyToRun=false -p:SelfContainedComposite=false "$project"
  dotnet pack --nologo -v q -c "$config" -o "$pack" -r "$rid" -p:NativeTool=true "$project"
else
  dotnet pack --nologo -v q -c "$config" -o "$pack" -p:RuntimeIdentifiers="$rid" "$project"
fi
# Only the packed folder as a source, and a package cache of its own: nothing is fetched, nothing left behind.
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cat > "$work/nuget.config" <<CONFIG
<?xml version="1.0" encoding="utf-8"?>
<configuration>
  <packageSources>
    <clear />
    <add key="pack" value="$(cd "$pack" && pwd)" />
  </packageSources>
</configuration>
CONFIG
NUGET_PACKAGES="$work/packages" dotnet tool install PgRelocate.Tool --tool-path "$tool" --configfile "$work/nuget.config" >/dev/null
"$tool/pgrelocate" --version
