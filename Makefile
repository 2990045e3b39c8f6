# The front door. Every target configures, builds and installs (scripts/deps.sh) what it needs;
# flags live in CMakeLists.txt and CMakePresets.json, never here.
SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DELETE_ON_ERROR:
.DEFAULT_GOAL := help

PRESET ?= release
IMPL ?= reference
JOBS ?= $(shell nproc)
FUZZ_SECONDS ?= 60
FULL ?=
IMPLS ?= reference pcntl swoole
BUILD_DIR := build/$(PRESET)
REPORTS := build/reports
# The Bats files: srv_process_<ipc>.bats (the PROCESS suite over one more channel each) run as a
# second Bats process beside the main one; one merged JUnit report for both.
BATS_IPC_FILES := $(sort $(wildcard conformance/bats/srv_process_*.bats))
BATS_MAIN_FILES := $(filter-out $(BATS_IPC_FILES),$(sort $(wildcard conformance/bats/*.bats)))
export PROCSPEC_BUILD_DIR := $(abspath $(BUILD_DIR))
# Tells the suites which sanitizer (if any) the reference runs under: asan, tsan or empty.
export PROCSPEC_SANITIZER := $(filter asan tsan,$(PRESET))
# TSan: children of a threaded test process keep running instrumented code after fork.
export TSAN_OPTIONS ?= die_after_fork=0 halt_on_error=1 second_deadlock_stack=1
export ASAN_OPTIONS ?= detect_leaks=1 abort_on_error=1
export UBSAN_OPTIONS ?= print_stacktrace=1 halt_on_error=1

.PHONY: deps build conformance gtest bats bench report fuzz sanitize clang compare help clean

deps: ## check/install the Debian packages for building and testing
	scripts/deps.sh build test $(if $(filter asan tsan clang fuzz,$(PRESET)),sanitize)

build: deps ## configure and build PRESET (release | debug | clang | asan | tsan)
	@[[ -f $(BUILD_DIR)/CMakeCache.txt ]] || cmake --preset $(PRESET)
	cmake --build --preset $(PRESET) -j $(JOBS)

conformance: build ## GoogleTest (ctest) + Bats against IMPL; closes with "N passed, N failed"
	@mkdir -p $(REPORTS)
	@rm -f $(REPORTS)/gtest-$(PRESET).xml $(REPORTS)/bats-$(PRESET)-$(IMPL).xml
	ctest --test-dir $(BUILD_DIR) -j $(JOBS) --output-on-failure --output-junit ../reports/gtest-$(PRESET).xml || true
	@rm -rf $(REPORTS)/bats.tmp && mkdir -p $(REPORTS)/bats.tmp/main $(REPORTS)/bats.tmp/ipc
	@# The PROCESS suite over the extra channels (srv_process_<ipc>.bats) runs as a second Bats
	@# beside the main one (its tests mostly wait on sockets); its log is printed after the main run.
	@echo "bats: $(words $(BATS_IPC_FILES)) ipc variant file(s) run beside the main suite; their log follows it"
	IMPL=$(IMPL) bats --timing --report-formatter junit -o $(REPORTS)/bats.tmp/ipc $(BATS_IPC_FILES) \
	  >$(REPORTS)/bats.tmp/ipc.log 2>&1 & ipc=$$!; \
	IMPL=$(IMPL) bats --timing --report-formatter junit -o $(REPORTS)/bats.tmp/main $(BATS_MAIN_FILES) || true; \
	wait $$ipc || true; echo "---- bats: ipc variants ----"; cat $(REPORTS)/bats.tmp/ipc.log
	@# Bats 1.8.2 finishes writing its JUnit file after it exits: wait for the closing tags.
	@for r in main ipc; do for _ in $$(seq 100); do grep -qs '</testsuites>' $(REPORTS)/bats.tmp/$$r/report.xml && break; sleep 0.1; done; done
	@scripts/junit_merge.py $(REPORTS)/bats.tmp/main/report.xml $(REPORTS)/bats.tmp/ipc/report.xml \
	  >$(REPORTS)/bats-$(PRESET)-$(IMPL).xml || rm -f $(REPORTS)/bats-$(PRESET)-$(IMPL).xml
	@rm -rf $(REPORTS)/bats.tmp
	@scripts/spec_coverage.py
	scripts/junit_summary.py $(REPORTS)/gtest-$(PRESET).xml $(REPORTS)/bats-$(PRESET)-$(IMPL).xml

sanitize: ## the conformance suite under clang ASan+UBSan, then TSan
	scripts/deps.sh sanitize
	$(MAKE) --no-print-directory conformance PRESET=asan
	$(MAKE) --no-print-directory conformance PRESET=tsan

clang: ## build everything with clang++ 14 (the second supported compiler)
	$(MAKE) --no-print-directory build PRESET=clang

bench: ## the main job: benchmarks -> results/latest/*.json, then the report (FULL=1: whole matrix)
	scripts/deps.sh build bench
	$(MAKE) --no-print-directory build PRESET=release
	scripts/run_bench.sh $(if $(FULL),full,quick)
	scripts/server_bench.py $(if $(FULL),full,quick) || \
	  echo "make bench: some server configurations failed; the report shows which" >&2
	$(MAKE) --no-print-directory report

report: ## results/latest/*.json -> results/REPORT.md and plots
	scripts/deps.sh report
	/usr/bin/python3 scripts/report.py results

fuzz: ## libFuzzer on the frame decoder for FUZZ_SECONDS (default 60)
	scripts/deps.sh build fuzz
	@[[ -f build/fuzz/CMakeCache.txt ]] || cmake --preset fuzz
	cmake --build --preset fuzz -j $(JOBS)
	@mkdir -p build/fuzz/corpus
	build/fuzz/conformance/fuzz/frame_decoder_fuzz -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 \
	  build/fuzz/corpus conformance/fuzz/corpus

compare: build ## Bats + echo-server per implementation (IMPLS) -> results/IMPLEMENTATIONS.md
	scripts/deps.sh php
	scripts/compare.sh $(IMPLS)

help: ## this list
	@echo "procspec: make TARGET [PRESET=release] [IMPL=reference] [IMPLS='reference pcntl swoole'] [FULL=1] [FUZZ_SECONDS=60] [JOBS=n]"
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-12s %s\n",$$1,$$2}'

clean: ## remove build/ (results/ are kept: they are committed)
	rm -rf build
