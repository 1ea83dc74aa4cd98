# make demo: a real migration between two throwaway local clusters.
# make demo-online: the same sample moved online while an application writes to it.
# make test: the test suite against real servers the harness starts itself.
CONFIG ?= Release
CLI := src/PgRelocate.Cli/bin/$(CONFIG)/net10.0/pgrelocate.dll
RESULTS := out/test-results
# The command line the tests run, compiled ahead of time as the packed tool is (see tests/.../Harness/CliRunner.cs).
TEST_CLI_DIR := out/test-cli

.PHONY: all setup setup-test build demo demo-online test clean

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

test: setup-test build
	rm -rf $(RESULTS) $(TEST_CLI_DIR)
	dotnet publish --nologo -v q -c $(CONFIG) --use-current-runtime -p:SelfContainedComposite=true \
		-o $(TEST_CLI_DIR) src/PgRelocate.Cli
	PGRELOCATE_TEST_CLI=$(abspath $(TEST_CLI_DIR))/pgrelocate.dll dotnet test --nologo -c $(CONFIG) --no-build tests/PgRelocate.Tests \
		--logger "trx;LogFileName=results.trx" --logger "console;verbosity=normal" \
		--results-directory $(RESULTS)

clean:
	rm -rf out src/*/bin src/*/obj tests/*/bin tests/*/obj
