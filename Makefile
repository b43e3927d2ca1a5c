# The front door. Every target runs scripts/setup first (it installs only what is missing) and
# builds what it needs under build/.
SHELL := /bin/bash
JOBS ?= $(shell nproc)
BUILD := build/release
CMAKE_FLAGS ?=
CLANG_CC := CC=clang-19 CXX=clang++-19
SOURCES = $(shell git ls-files '*.cpp' '*.hpp' 2>/dev/null)

.PHONY: all setup build run test test-release bench bench-quick test-asan test-tsan fuzz model torture format tidy clean

all: build

setup:
	@scripts/setup

$(BUILD)/CMakeCache.txt: | setup
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo $(CMAKE_FLAGS)

build: setup $(BUILD)/CMakeCache.txt
	cmake --build $(BUILD) -j $(JOBS)

# Setup, build, the tour and the quick benchmark.
run: build
	$(BUILD)/tools/conduit tour
	@if [ -x bench/run ]; then bench/run --quick --build $(BUILD); fi

# The whole suite, as CI runs it: the release build's tests, then the same tests built with
# ASan+UBSan and with TSan. Each of the three runs alone too.
test: test-release test-asan test-tsan

test-release: build
	ctest --test-dir $(BUILD) --output-on-failure -j $(JOBS) --timeout 600

bench: build
	bench/run --build $(BUILD)

bench-quick: build
	bench/run --quick --build $(BUILD)

# The Promela models in their larger configurations (about 15 minutes, ~11 GB); ctest checks the
# small ones (model/check without --full).
model: setup
	model/check --full build/model

# The crash torture: KILLS producers and consumers SIGKILLed at random and restarted, then every
# message accounted for (tests/torture/torture.cpp). ctest runs it with 1,000 kills.
KILLS ?= 10000
SEED ?= $(shell date +%s)
torture: setup $(BUILD)/CMakeCache.txt
	cmake --build $(BUILD) -j $(JOBS) --target torture
	$(BUILD)/tests/torture/torture --kills $(KILLS) --seed $(SEED)

# Sanitizer builds of the library and tests, with clang-19 (benchmarks and peers left out).
build/asan/CMakeCache.txt: | setup
	$(CLANG_CC) cmake -S . -B build/asan -DCMAKE_BUILD_TYPE=Debug -DCONDUIT_SANITIZE=address,undefined \
	  -DCONDUIT_BUILD_BENCH=OFF -DCONDUIT_FUZZ=ON $(CMAKE_FLAGS)
test-asan: setup build/asan/CMakeCache.txt
	cmake --build build/asan -j $(JOBS)
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	  ctest --test-dir build/asan --output-on-failure -j $(JOBS) --timeout 900

build/tsan/CMakeCache.txt: | setup
	$(CLANG_CC) cmake -S . -B build/tsan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCONDUIT_SANITIZE=thread \
	  -DCONDUIT_BUILD_BENCH=OFF $(CMAKE_FLAGS)
test-tsan: setup build/tsan/CMakeCache.txt
	cmake --build build/tsan -j $(JOBS)
	TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1 \
	  ctest --test-dir build/tsan --output-on-failure -j $(JOBS) --timeout 900

# The libFuzzer targets (fuzz/), ASan+UBSan, clang-19: each runs FUZZ_SECONDS on a copy of its
# seed corpus, one after another; the first crash or hang stops make (its input is kept under
# build/fuzz/fuzz/work/<target>/artifacts/). ctest -L fuzz runs them briefly in an asan build
# configured with -DCONDUIT_FUZZ=ON.
FUZZ_SECONDS ?= 600
FUZZ_TARGETS := segment ring framing url rpc
build/fuzz/CMakeCache.txt: | setup
	$(CLANG_CC) cmake -S . -B build/fuzz -DCMAKE_BUILD_TYPE=Debug -DCONDUIT_SANITIZE=address,undefined \
	  -DCONDUIT_FUZZ=ON -DCONDUIT_BUILD_BENCH=OFF -DCONDUIT_BUILD_TESTS=OFF \
	  -DCONDUIT_BUILD_EXAMPLES=OFF -DCONDUIT_BUILD_TOOLS=OFF $(CMAKE_FLAGS)
fuzz: setup build/fuzz/CMakeCache.txt
	cmake --build build/fuzz -j $(JOBS) --target $(addprefix fuzz_,$(FUZZ_TARGETS))
	for t in $(FUZZ_TARGETS); do \
	  fuzz/run build/fuzz/fuzz/fuzz_$$t fuzz/corpus/$$t $(FUZZ_SECONDS) || exit 1; done

format: setup
	clang-format-19 -i $(SOURCES)

tidy: setup $(BUILD)/CMakeCache.txt
	clang-tidy-19 -p $(BUILD) --quiet $(filter src/%.cpp,$(SOURCES))

clean:
	rm -rf build
