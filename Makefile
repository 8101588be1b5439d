# herald - one non-recursive GNU Makefile. Objects in $(BUILD), programs in bin/.
# Sources are found by folder: a new module is a new .c file, no edit here needed.

BUILD  ?= build
BIN    ?= bin
CC     ?= cc
CFLAGS ?= -O2 -g
V      ?= 0
Q      := $(if $(filter 1,$(V)),,@)

# Debian packages the build needs (make deps installs only the missing ones).
DEB_PKGS := libmicrohttpd-dev libjansson-dev libyaml-dev libcurl4-openssl-dev libsqlite3-dev \
            libpcre2-dev libsnappy-dev libprotobuf-c-dev protobuf-c-compiler libzstd-dev \
            zlib1g-dev pkg-config clang libclang-rt-14-dev python3 curl
PKGS   := libmicrohttpd jansson yaml-0.1 libcurl sqlite3 libpcre2-8 libprotobuf-c libzstd zlib

PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null) -lsnappy

HERALD_CFLAGS := -std=gnu11 -pthread -I. -I$(BUILD)/gen -Wall -Wextra -Wshadow \
                 -Wmissing-prototypes -Wno-unused-parameter -D_GNU_SOURCE $(PKG_CFLAGS)
ifeq ($(CI),true)
HERALD_CFLAGS += -Werror
endif
LDLIBS := $(PKG_LIBS) -pthread -lm

ifneq ($(SAN),)
comma := ,
BUILD := $(BUILD)/san-$(subst $(comma),-,$(SAN))
HERALD_CFLAGS += -fsanitize=$(SAN) -fno-sanitize-recover=all -fno-omit-frame-pointer
LDFLAGS += -fsanitize=$(SAN)
endif

# ---- sources -------------------------------------------------------------------------------
LIB_DIRS  := common config storage promql logql ruler alertmanager
LIB_SRCS  := $(foreach d,$(LIB_DIRS),$(wildcard $(d)/*.c))
PROTOS    := $(wildcard storage/proto/*.proto)
PROTO_C   := $(patsubst storage/proto/%.proto,$(BUILD)/gen/storage/proto/%.pb-c.c,$(PROTOS))
LIB_OBJS  := $(LIB_SRCS:%.c=$(BUILD)/%.o) $(PROTO_C:.c=.o)
LIB       := $(BUILD)/libherald.a

PROGS     := $(notdir $(wildcard cmd/*))
PROG_BINS := $(PROGS:%=$(BIN)/%)

UNIT_SRCS := $(wildcard tests/unit/test_*.c)
UNIT_BINS := $(UNIT_SRCS:tests/unit/%.c=$(BUILD)/tests/%)
TOOL_SRCS := $(wildcard tests/tools/*.c)
TOOL_BINS := $(TOOL_SRCS:tests/tools/%.c=$(BUILD)/tools/%)

FUZZ_SRCS := $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_BINS := $(FUZZ_SRCS:tests/fuzz/%.c=$(BUILD)/fuzz/%)

.PHONY: all deps run test unit unit-san integration conformance fuzz fuzz-smoke bench \
        check-headers format clean
.DEFAULT_GOAL := all
# Keep intermediate objects (tools, tests): no "rm" after the suite's last line.
.SECONDARY:

all: deps $(PROG_BINS) $(TOOL_BINS)

# ---- dependencies --------------------------------------------------------------------------
deps:
	$(Q)sh scripts/deps.sh $(DEB_PKGS)

# ---- build rules ---------------------------------------------------------------------------
$(BUILD)/gen/storage/proto/%.pb-c.c $(BUILD)/gen/storage/proto/%.pb-c.h: storage/proto/%.proto
	@mkdir -p $(BUILD)/gen
	$(Q)protoc-c --proto_path=. --c_out=$(BUILD)/gen $<

$(BUILD)/gen/%.pb-c.o: $(BUILD)/gen/%.pb-c.c
	$(Q)$(CC) $(HERALD_CFLAGS) -Wno-missing-prototypes $(CFLAGS) -c $< -o $@

# Every object may include generated protobuf headers: generate them first.
$(LIB_SRCS:%.c=$(BUILD)/%.o): | $(PROTO_C)

$(BUILD)/%.o: %.c
	@mkdir -p $(@D)
	@$(if $(filter 1,$(V)),,echo "  CC    $<")
	$(Q)$(CC) $(HERALD_CFLAGS) $(CFLAGS) -MMD -MP -c $< -o $@

$(LIB): $(LIB_OBJS)
	@mkdir -p $(@D)
	$(Q)rm -f $@ && ar rcs $@ $^

$(BIN)/%: $(BUILD)/cmd/%/main.o $(LIB)
	@mkdir -p $(@D)
	@echo "  LINK  $@"
	$(Q)$(CC) $(LDFLAGS) $^ $(LDLIBS) -o $@

# A program may have more files than main.c.
.SECONDEXPANSION:
$(PROG_BINS): $$(patsubst %.c,$(BUILD)/%.o,$$(wildcard cmd/$$(notdir $$@)/*.c))

$(BUILD)/tests/%: $(BUILD)/tests/unit/%.o $(LIB)
	@mkdir -p $(@D)
	$(Q)$(CC) $(LDFLAGS) $^ $(LDLIBS) -o $@

$(BUILD)/tools/%: $(BUILD)/tests/tools/%.o $(LIB)
	@mkdir -p $(@D)
	$(Q)$(CC) $(LDFLAGS) $^ $(LDLIBS) -o $@

# ---- run -----------------------------------------------------------------------------------
run: all
	$(Q)bash scripts/run.sh

# ---- tests ---------------------------------------------------------------------------------
# make test: unit tests (plain and under ASan+UBSan), golden/conformance, integration.
# The last line printed is "N passed, N failed".
test: all
	$(Q)$(MAKE) --no-print-directory SAN=address,undefined unit-bins
	$(Q)$(MAKE) --no-print-directory $(TOOL_BINS)
	$(Q)python3 tests/run_all.py --build $(BUILD) --san-build $(BUILD)/san-address-undefined

unit-bins: $(UNIT_BINS) $(TOOL_BINS)

unit: unit-bins
	$(Q)python3 tests/run_all.py --build $(BUILD) --only unit

conformance: all unit-bins
	$(Q)python3 tests/run_all.py --build $(BUILD) --only promql

integration: all
	$(Q)python3 tests/run_all.py --build $(BUILD) --only integration

# ---- fuzzing (clang + libFuzzer) -----------------------------------------------------------
FUZZ_BUILD := build/fuzz-build
FUZZ_SECONDS ?= 60
fuzz:
	$(Q)$(MAKE) --no-print-directory CC=clang BUILD=$(FUZZ_BUILD) \
	  CFLAGS="-O1 -g -fsanitize=fuzzer-no-link,address,undefined" \
	  LDFLAGS="-fsanitize=address,undefined" fuzz-bins
	$(Q)sh tests/fuzz/run.sh $(FUZZ_BUILD)/fuzz $(FUZZ_SECONDS)

fuzz-bins: $(FUZZ_BINS)

$(BUILD)/fuzz/%: $(BUILD)/tests/fuzz/%.o $(LIB)
	@mkdir -p $(@D)
	$(Q)$(CC) -fsanitize=fuzzer $(LDFLAGS) $^ $(LDLIBS) -o $@

# ---- benchmarks ----------------------------------------------------------------------------
bench: all
	$(Q)python3 tests/bench/run.py

# ---- hygiene -------------------------------------------------------------------------------
check-headers:
	$(Q)for h in $(foreach d,$(LIB_DIRS),$(wildcard $(d)/*.h)); do \
	  echo "#include \"$$h\"" | $(CC) $(HERALD_CFLAGS) -x c -fsyntax-only - || exit 1; done

format:
	$(Q)clang-format -i $(foreach d,$(LIB_DIRS) cmd/* tests/unit tests/fuzz,$(wildcard $(d)/*.[ch]))

clean:
	rm -rf build $(BIN)

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
