# drover: one non-recursive build (`make help`).
#
# Each top-level directory builds one library or binary, and gets only the -I
# paths it may use, so an include that points the wrong way fails to build:
#   coordinator, agent -> proto, inventory -> common.
# Objects go under $(BUILD). `make test` and `make demo` install what is
# missing first (`make deps`), then re-enter make so pkg-config sees it.

BUILD   ?= build
CC      ?= cc
O       ?= -O2 -g
SAN     ?=
V       ?= 0
Q       := $(if $(filter 1,$(V)),,@)

# Debian 12 packages: libraries, test peers, tools. `make deps` installs the
# missing ones.
DEB_PKGS := build-essential pkg-config clang libclang-rt-14-dev clang-format \
	cppcheck libssh2-1-dev libssl-dev libzmq3-dev libsodium-dev libmsgpack-dev libcurl4-openssl-dev \
	libcmocka-dev libyaml-dev libjansson-dev libsqlite3-dev \
	openssh-server openssh-client curl iproute2 util-linux procps psmisc \
	python3 tzdata git etcd-server

PKGS     := libssh2 libcrypto libzmq libsodium msgpack libcurl yaml-0.1 jansson sqlite3
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null)
CMOCKA_LIBS := $(shell pkg-config --libs cmocka 2>/dev/null)

WARN := -std=c11 -Wall -Wextra -Werror -Wpedantic -Wshadow \
	-Wstrict-prototypes -Wmissing-prototypes -Wformat=2 -Wvla \
	-Wwrite-strings
CFLAGS   := $(O) $(WARN) -D_GNU_SOURCE -fno-common $(SAN) $(PKG_CFLAGS) \
	$(EXTRA_CFLAGS)
DEPFLAGS  = -MMD -MP
LDFLAGS  := $(SAN) $(EXTRA_LDFLAGS)
LDLIBS   := $(PKG_LIBS) -lm

# What each directory may include.
common_INC      := -Icommon
inventory_INC   := -Iinventory -Icommon
proto_INC       := -Iproto -Icommon
coordinator_INC := -Icoordinator -Iinventory -Iproto -Icommon
agent_INC       := -Iagent -Iproto -Icommon
examples_INC    :=
tests_INC       := -Icoordinator -Iagent -Iinventory -Iproto -Icommon
bench_INC       := -Icoordinator -Iinventory -Iproto -Icommon
dir_of = $(firstword $(subst /, ,$(1)))

common_SRC      := $(wildcard common/*.c)
inventory_SRC   := $(wildcard inventory/*.c)
proto_SRC       := $(wildcard proto/*.c)
coordinator_SRC := $(filter-out coordinator/main.c,$(wildcard coordinator/*.c))
agent_SRC       := $(filter-out agent/main.c,$(wildcard agent/*.c))

obj = $(patsubst %.c,$(BUILD)/obj/%.o,$(1))

LIB_COMMON := $(BUILD)/libcommon.a
LIB_INV    := $(BUILD)/libinventory.a
LIB_PROTO  := $(BUILD)/libproto.a
LIB_COORD  := $(BUILD)/libcoordinator.a
LIB_AGENT  := $(BUILD)/libagent.a
# Link order: users before what they use.
ALL_LIBS   := $(LIB_COORD) $(LIB_AGENT) $(LIB_INV) $(LIB_PROTO) $(LIB_COMMON)

DROVER    := $(BUILD)/drover
AGENT_BIN := $(BUILD)/drover-agent
DEMO_APP  := $(BUILD)/demo-app
# a command over coordinator/etcd.c for tests/integration/test_etcd_client.sh
ETCD_CLIENT := $(BUILD)/tests/etcd-client
BINS      := $(DROVER) $(DEMO_APP) $(ETCD_CLIENT) \
	$(if $(wildcard agent/main.c),$(AGENT_BIN))

UNIT_SRC   := $(sort $(wildcard tests/unit/*/test_*.c))
UNIT_BINS  := $(patsubst %.c,$(BUILD)/%,$(UNIT_SRC))
FUZZ_SRC   := $(sort $(wildcard tests/fuzz/fuzz_*.c))

.PHONY: all deps test unit integration fuzz fuzz-short check lint format \
	demo bench deb clean help docs-cli reliability
.DEFAULT_GOAL := all

all: $(BINS) $(UNIT_BINS)

help:
	@echo "make            build drover, drover-agent, demo-app and the tests"
	@echo "make deps       install the Debian packages that are missing"
	@echo "make test       deps + build + unit, integration and short fuzz tests"
	@echo "make check      the same tests built with ASan + UBSan"
	@echo "make lint       clang-format, cppcheck, banned functions"
	@echo "make docs-cli   docs/cli.md's reference from drover's option tables"
	@echo "make fuzz-short the short libFuzzer runs of make test (FUZZ_RUNS=20000)"
	@echo "make fuzz       long libFuzzer runs (FUZZ_SECONDS=300)"
	@echo "make reliability random operations on a mixed fleet, checked against"
	@echo "                the hosts (RELIABILITY_MINUTES=30, SEED=N; docs/reliability.md)"
	@echo "make demo       a rolling deploy on a local fleet of 6 sshd hosts"
	@echo "make bench      side-by-side benchmarks (bench/)"
	@echo "make deb        drover and drover-agent .deb packages"

# --- dependencies ----------------------------------------------------------
deps:
	$(Q)missing=""; for p in $(DEB_PKGS); do \
		dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | \
			grep -q 'ok installed' || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
		echo "deps: installing$$missing"; \
		sudo=""; [ "$$(id -u)" -ne 0 ] && sudo=sudo; \
		$$sudo apt-get update -q && \
		DEBIAN_FRONTEND=noninteractive $$sudo apt-get install -y -q \
			--no-install-recommends $$missing; \
	fi

# --- compile ---------------------------------------------------------------
$(BUILD)/obj/%.o: %.c
	@mkdir -p $(@D)
	@$(if $(Q),echo "  CC      $<")
	$(Q)$(CC) $(CFLAGS) $($(call dir_of,$<)_INC) $(DEPFLAGS) -c $< -o $@

$(LIB_COMMON): $(call obj,$(common_SRC))
$(LIB_INV):    $(call obj,$(inventory_SRC))
$(LIB_PROTO):  $(call obj,$(proto_SRC))
$(LIB_COORD):  $(call obj,$(coordinator_SRC))
$(LIB_AGENT):  $(call obj,$(agent_SRC))
$(ALL_LIBS):
	@mkdir -p $(@D)
	$(Q)rm -f $@ && ar rcs $@ $^ $(if $^,,$(BUILD)/empty.o)

$(BUILD)/empty.o:
	@mkdir -p $(@D)
	$(Q)echo 'extern int drover_empty_; int drover_empty_;' | \
		$(CC) -x c -c - -o $@
$(ALL_LIBS): | $(BUILD)/empty.o

$(DROVER): $(call obj,coordinator/main.c) $(ALL_LIBS)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(LDFLAGS) -o $@ $< $(ALL_LIBS) $(LDLIBS)

$(AGENT_BIN): $(call obj,agent/main.c) $(ALL_LIBS)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(LDFLAGS) -o $@ $< $(ALL_LIBS) $(LDLIBS)

$(DEMO_APP): $(call obj,examples/demo-app/demo_app.c)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(LDFLAGS) -o $@ $^

$(ETCD_CLIENT): $(call obj,tests/integration/etcd_client.c) $(ALL_LIBS)
	@mkdir -p $(@D)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(LDFLAGS) -o $@ $< $(ALL_LIBS) $(LDLIBS)

$(BUILD)/tests/unit/%: $(BUILD)/obj/tests/unit/%.o $(ALL_LIBS)
	@mkdir -p $(@D)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(LDFLAGS) -o $@ $< $(ALL_LIBS) $(LDLIBS) $(CMOCKA_LIBS)

# --- tests -----------------------------------------------------------------
# `make test` is the README's test command and what CI runs.
test: deps
	$(Q)$(MAKE) --no-print-directory all
	$(Q)$(MAKE) --no-print-directory fuzz-bins BUILD=$(BUILD)/fuzz
	$(Q)BUILD=$(BUILD) tests/run.sh all

unit: all
	$(Q)BUILD=$(BUILD) tests/run.sh unit

integration: all
	$(Q)BUILD=$(BUILD) tests/run.sh integration

# ASan + UBSan: the same suites over sanitized binaries.
check: deps
	$(Q)$(MAKE) --no-print-directory all BUILD=build/san O="-O1 -g" \
		SAN="-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all"
	$(Q)ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
		UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
		BUILD=build/san tests/run.sh unit integration

# The random-operations suite for a set time (docs/reliability.md). Its
# fleet's addresses differ from the short run's in `make test`, so both can
# run at once; FLEET_NET, FLEET_PORT, FLEET_APP_PORT, AGENTS_NET and
# AGENTS_PORT override them.
RELIABILITY_MINUTES ?= 30
reliability: all
	$(Q)TOP=$(CURDIR) BUILD=$(BUILD) DROVER=$${DROVER:-$(CURDIR)/$(DROVER)} \
		DROVER_AGENT=$${DROVER_AGENT:-$(CURDIR)/$(AGENT_BIN)} \
		DEMO_APP=$${DEMO_APP:-$(CURDIR)/$(DEMO_APP)} \
		FLEET_NET=$${FLEET_NET:-127.0.48} FLEET_PORT=$${FLEET_PORT:-24601} \
		FLEET_APP_PORT=$${FLEET_APP_PORT:-24602} \
		AGENTS_NET=$${AGENTS_NET:-127.0.49} AGENTS_PORT=$${AGENTS_PORT:-24603} \
		python3 tests/reliability/driver.py --minutes $(RELIABILITY_MINUTES) \
		$(if $(SEED),--seed $(SEED))

# libFuzzer harnesses: everything rebuilt with clang under $(BUILD)/fuzz.
# A sanitizer report must fail the run: UBSan, unlike ASan, prints and
# carries on unless told not to recover.
FUZZ_SAN := -fsanitize=fuzzer-no-link,address,undefined \
	-fno-sanitize-recover=all -fno-omit-frame-pointer
FUZZ_LINK := -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all
FUZZ_BINS = $(patsubst tests/fuzz/%.c,$(BUILD)/%,$(FUZZ_SRC))
.PHONY: fuzz-bins
fuzz-bins:
	$(Q)$(if $(FUZZ_SRC),$(MAKE) --no-print-directory CC=clang \
		O="-O1 -g" SAN="$(FUZZ_SAN)" BUILD=$(BUILD) $(FUZZ_BINS),true)

$(BUILD)/fuzz_%: $(BUILD)/obj/tests/fuzz/fuzz_%.o $(ALL_LIBS)
	$(Q)$(CC) $(FUZZ_LINK) -o $@ $< $(ALL_LIBS) $(LDLIBS)

# The short runs `make test` does (FUZZ_RUNS inputs per harness, over the
# corpus); `make fuzz` runs each harness for FUZZ_SECONDS.
fuzz-short: deps
	$(Q)$(MAKE) --no-print-directory fuzz-bins BUILD=$(BUILD)/fuzz
	$(Q)BUILD=$(BUILD) tests/run.sh fuzz

FUZZ_SECONDS ?= 300
fuzz: deps
	$(Q)$(MAKE) --no-print-directory fuzz-bins BUILD=build/fuzz
	$(Q)BUILD=build FUZZ_SECONDS=$(FUZZ_SECONDS) tests/run.sh fuzz-long

# --- lint ------------------------------------------------------------------
C_FILES = $(shell git ls-files '*.c' '*.h' 2>/dev/null)
lint:
	$(Q)clang-format --dry-run -Werror $(C_FILES)
	$(Q)cppcheck --quiet --error-exitcode=1 --inline-suppr \
		--enable=warning,portability,performance \
		--suppress=missingIncludeSystem -D__GNUC__ \
		$(common_INC) $(coordinator_INC) $(agent_INC) \
		common inventory proto coordinator agent examples
	$(Q)if git grep -nE '\b(strcpy|strcat|sprintf|vsprintf|strtok|atoi|atol|gets|strncpy)\s*\(' \
		-- '*.c' '*.h' ':!tests/'; then \
		echo "lint: banned function (no bound, or no error: use snprintf, strtol, xstrndup)"; exit 1; fi
	@echo "lint: clean"

format:
	$(Q)clang-format -i $(C_FILES)

# docs/cli.md's reference is generated from the commands' option tables;
# tests/integration/test_docs_examples.sh fails when it is stale.
docs-cli: all
	$(Q)tests/integration/lib/cli_md.py $(BUILD)/drover docs/cli.md --write

# --- demo, bench -----------------------------------------------------------
demo: deps
	$(Q)$(MAKE) --no-print-directory all
	$(Q)BUILD=$(BUILD) examples/demo/run-demo.sh

bench: deps
	$(Q)$(MAKE) --no-print-directory all
	$(Q)BUILD=$(BUILD) bench/run.sh

# drover and drover-agent as Debian packages (packaging/deb).
deb: all
	$(Q)packaging/deb/build.sh $(BUILD)

clean:
	rm -rf build build-* build/

-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)
