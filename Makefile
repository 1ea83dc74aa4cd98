# make demo: a real migration between two throwaway local clusters.
# make demo-online: the same sample moved online while an application writes to it.
# make demo-online-pgbouncer: the same, the application writing through a PgBouncer the switch holds and repoints.
# make test: the test suite against real servers the harness starts itself, but its long tier (what CI runs).
# make test-all: the whole suite, the long tier too (tests/PgRelocate.Tests/Tier.cs; about 40 minutes on two cores).
CONFIG ?= Release
CLI := src/PgRelocate.Cli/bin/$(CONFIG)/net10.0/pgrelocate.dll
RESULTS := out/test-results
# The tool the tests run: packed for this platform as `make pack` packs it, and installed from there as users install
# it (scripts/test-tool.sh; see tests/.../Harness/CliRunner.cs and ToolInstallTests).
TEST_PACK_DIR := out/test-pack
TEST_TOOL_DIR := out/test-tool
# The tests left out: the long tier (see tests/PgRelocate.Tests/Tier.cs); empty runs them all.
TEST_FILTER ?= Tier!=Long

.PHONY: all setup setup-test build demo demo-online demo-online-pgbouncer test test-all pack clean

all: build

setup:
	@bash scripts/setup.sh

setup-test:
	@bash scripts/setup.sh test

build:
	dotnet build --nologo -v q -c $(CONFIG) PgRelocate.sln

demo: setup build
	dotnet $(CLI) demo

demo-online: setup build
	dotnet $(CLI) demo --online

demo-online-pgbouncer: setup build
	dotnet $(CLI) demo --online --pgbouncer

test: setup-test build
	rm -rf $(RESULTS)
	bash scripts/test-tool.sh $(CONFIG) $(TEST_PACK_DIR) $(TEST_TOOL_DIR)
	PGRELOCATE_TEST_CLI=$(abspath $(TEST_TOOL_DIR))/pgrelocate PGRELOCATE_TEST_PACK=$(abspath $(TEST_PACK_DIR)) \
		dotnet test --nologo -c $(CONFIG) --no-build tests/PgRelocate.Tests $(if $(TEST_FILTER),--filter "$(TEST_FILTER)") \
		--logger "trx;LogFileName=results.trx" --logger "console;verbosity=normal" \
		--results-directory $(RESULTS)

test-all:
	$(MAKE) test TEST_FILTER=

# make pack: the tool's packages in ./pack (see the .csproj): one a platform and the one that points to them, then,
# on a linux-x64 machine, that platform's compiled to native code in place of its first.
pack:
	@bash scripts/setup.sh native
	rm -rf pack
	dotnet pack --nologo -v q -c $(CONFIG) -o pack src/PgRelocate.Cli
	if [ "$$(uname -sm)" = "Linux x86_64" ]; then \
		dotnet pack --nologo -v q -c $(CONFIG) -o pack -r linux-x64 -p:NativeTool=true src/PgRelocate.Cli; fi

clean:
	rm -rf out src/*/bin src/*/obj tests/*/bin tests/*/obj
