# make demo: a real migration between two throwaway local clusters.
# make test: the test suite against real servers the harness starts itself.
CONFIG ?= Release
CLI := src/PgRelocate.Cli/bin/$(CONFIG)/net10.0/pgrelocate.dll
RESULTS := out/test-results

.PHONY: all setup build demo test clean

all: build

setup:
	@bash scripts/setup.sh

build: setup
	dotnet build --nologo -v q -c $(CONFIG) --no-restore PgRelocate.sln

demo: build
	dotnet $(CLI) demo

test: build
	rm -rf $(RESULTS)
	dotnet test --nologo -c $(CONFIG) --no-build tests/PgRelocate.Tests \
		--logger "trx;LogFileName=results.trx" --logger "console;verbosity=normal" \
		--results-directory $(RESULTS)

clean:
	rm -rf out src/*/bin src/*/obj tests/*/bin tests/*/obj
