# Front door. `make` builds into build/; `make run` starts a demo stack in a
# network namespace; `make test` builds the sanitizer build and runs every test.
PREFIX ?= /usr/local
JOBS ?= $(shell nproc)
CC ?= cc

.PHONY: all build run test unit e2e fuzz bench install format format-check clean

all: build

build:
	@cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
	@cmake --build build -j $(JOBS)

# Test build: AddressSanitizer + UndefinedBehaviorSanitizer, unit/flow/sim tests.
build-test/.configured: CMakeLists.txt
	@cmake -S . -B build-test -DCMAKE_BUILD_TYPE=Debug -DUSTACK_SANITIZE=ON -DUSTACK_TESTS=ON >/dev/null
	@touch $@

unit: build-test/.configured
	@cmake --build build-test -j $(JOBS)
	@cd build-test && ctest --output-on-failure -j $(JOBS)

e2e: build-test/.configured
	@cmake --build build-test -j $(JOBS)
	@USTACK_BIN=$(CURDIR)/build-test/ustack tests/e2e/run.sh

fuzz:
	@cmake -S . -B build-fuzz -DCMAKE_C_COMPILER=clang -DUSTACK_FUZZ=ON >/dev/null
	@cmake --build build-fuzz -j $(JOBS)
	@tests/fuzz-smoke.sh build-fuzz/fuzz

test: build unit e2e fuzz
	@echo "all tests passed"

run: build
	@scripts/demo.sh

bench: build
	@bench/run.sh

install: build
	@cmake --install build --prefix $(PREFIX)

format:
	@clang-format -i $$(git ls-files '*.c' '*.h')

format-check:
	@clang-format --dry-run -Werror $$(git ls-files '*.c' '*.h')

clean:
	rm -rf build build-test build-fuzz
