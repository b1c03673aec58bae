# keygate: one plain Makefile.  `make` builds into build/, `make check` builds
# with AddressSanitizer and UndefinedBehaviorSanitizer into build/check/ and
# runs every test, `make bench` runs the benchmarks on the optimised build.

PREFIX  ?= /usr/local
BINDIR  ?= $(PREFIX)/bin
SBINDIR ?= $(PREFIX)/sbin
MANDIR  ?= $(PREFIX)/share/man
DESTDIR ?=

BUILD   ?= build
CC      ?= cc
FUZZCC  ?= clang
PKGS     = libnftnl libmnl libsodium libcjson sqlite3 libpq
CFLAGS  ?= -O2 -g
WARN     = -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes
SANFLAGS = -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer
ifeq ($(SAN),1)
CFLAGS  += $(SANFLAGS)
LDFLAGS += $(SANFLAGS)
endif
PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS))
PKG_LIBS   = $(shell pkg-config --libs $(PKGS))
BASE_CFLAGS = -std=gnu11 -D_GNU_SOURCE $(WARN) $(CFLAGS) $(PKG_CFLAGS) -MMD -MP

# Quiet unless V=1.
ifeq ($(V),1)
Q =
else
Q = @
endif

# The layering.  Every folder below is a library (no main(), no exit(), no
# options, no environment) or a program (its main(), options and dispatch).
# A folder compiles with its own folder and the folders it uses on its include
# path, nothing else, so an include of a layer above is a compile error.
# use_DIR lists what DIR uses, highest layer first (the link order).
LIB_DIRS  = grammar compiler/ir compiler/policy compiler/diff compiler/nft \
	runtime/base runtime/crypto runtime/tunnel runtime/control runtime/store runtime/netmap \
	runtime/agent
PROG_DIRS = compiler/aclc runtime/keygated runtime/keygate runtime/coord
use_grammar         =
use_compiler/ir     = grammar
use_compiler/policy = compiler/ir grammar
use_compiler/diff   = compiler/policy compiler/ir grammar
use_compiler/nft    = compiler/ir grammar
use_runtime/base    =
use_runtime/crypto  =
use_runtime/tunnel  = runtime/crypto runtime/base
use_runtime/control = runtime/crypto runtime/base
use_runtime/store   = runtime/base
use_runtime/netmap  = runtime/store runtime/control compiler/policy compiler/ir grammar runtime/crypto
use_runtime/agent   = compiler/nft compiler/policy compiler/ir grammar runtime/control runtime/tunnel runtime/crypto runtime/base
use_compiler/aclc   = compiler/nft compiler/diff compiler/policy compiler/ir grammar
use_runtime/keygated = runtime/agent compiler/nft compiler/policy compiler/ir grammar runtime/control runtime/tunnel runtime/crypto runtime/base
use_runtime/keygate = runtime/agent runtime/control runtime/tunnel runtime/crypto runtime/base
use_runtime/coord   = runtime/netmap runtime/store runtime/control compiler/diff compiler/policy compiler/ir grammar runtime/crypto runtime/base
# A program is built as its folder's name unless named here.
name_runtime/coord  = keygate-coord
# Tests, benchmarks and fuzz targets see every library.
use_tests = runtime/agent runtime/netmap compiler/nft compiler/diff compiler/policy compiler/ir grammar runtime/control runtime/store runtime/tunnel runtime/crypto runtime/base

incs  = $(addprefix -I,$(1) $(use_$(1)))
lib   = $(BUILD)/lib/lib$(notdir $(1)).a
libs  = $(foreach d,$(use_$(1)),$(call lib,$(d)))
obj   = $(patsubst %.c,$(BUILD)/obj/%.o,$(1))
srcs  = $(wildcard $(1)/*.c)

GRAMMAR_GEN = $(BUILD)/gen/hujson.tab.c $(BUILD)/gen/hujson.lex.c
GEN_HEADER  = $(BUILD)/gen/hujson.tab.h
LIBS        = $(foreach d,$(LIB_DIRS),$(call lib,$(d)))
prog  = $(BUILD)/$(or $(name_$(1)),$(notdir $(1)))
PROGS       = $(foreach d,$(PROG_DIRS),$(call prog,$(d)))

UNIT_SRC   = $(wildcard tests/unit/test_*.c)
UNIT_BINS  = $(patsubst tests/unit/%.c,$(BUILD)/tests/%,$(UNIT_SRC))
BENCH_SRC  = $(wildcard tests/bench/bench_*.c)
BENCH_BINS = $(patsubst tests/bench/%.c,$(BUILD)/bench/%,$(BENCH_SRC))
# Helper programs of the shell tests (tests/DIR/NAME.c -> BUILD/tests/DIR/NAME).
TOOL_SRC   = tests/coord/ctlclient.c
TOOL_BINS  = $(patsubst tests/%.c,$(BUILD)/tests/%,$(TOOL_SRC))
FUZZ_SRC   = $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_BINS  = $(patsubst tests/fuzz/%.c,$(BUILD)/fuzz/%,$(FUZZ_SRC))
MANPAGES   = $(wildcard man/*.[1578])

# Debian packages the build, the tests and the benchmarks need.
DEB_PKGS = build-essential pkg-config flex bison clang \
	libnftnl-dev libmnl-dev libsodium-dev libcjson-dev libsqlite3-dev libpq-dev postgresql \
	nftables iproute2 iputils-ping wireguard-tools wireguard-go iperf3 procps \
	python3 valgrind busybox qrencode
DEB_TOOLS = cc pkg-config flex bison clang nft ip ping busybox wg wireguard-go iperf3 python3 pg_ctlcluster

.PHONY: all tests check demo bench fuzz deps deps-ok install install-user clean golden-update
all: $(PROGS)
tests: all $(UNIT_BINS) $(BENCH_BINS) $(TOOL_BINS)

# One rule per library and per program, made from the lists above.
define library
$(call lib,$(1)): $(call obj,$(call srcs,$(1))) $(if $(filter grammar,$(1)),$(GRAMMAR_GEN:.c=.o))
	@mkdir -p $$(dir $$@)
	@echo "  AR      $$@"
	$$(Q)rm -f $$@ && ar rcs $$@ $$^
endef
define program
$(call prog,$(1)): $(call obj,$(call srcs,$(1))) $(call libs,$(1))
	@echo "  LD      $$@"
	$$(Q)$$(CC) $$(LDFLAGS) -o $$@ $$^ $$(PKG_LIBS) $$(LDLIBS)
endef
$(foreach d,$(LIB_DIRS),$(eval $(call library,$(d))))
$(foreach d,$(PROG_DIRS),$(eval $(call program,$(d))))

TEST_LIBS = $(foreach d,$(filter $(LIB_DIRS),$(use_tests)),$(call lib,$(d)))
$(BUILD)/tests/%: $(BUILD)/obj/tests/unit/%.o $(TEST_LIBS)
	@mkdir -p $(dir $@)
	@echo "  LD      $@"
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(PKG_LIBS) $(LDLIBS)
$(TOOL_BINS): $(BUILD)/tests/%: $(BUILD)/obj/tests/%.o $(TEST_LIBS)
	@mkdir -p $(dir $@)
	@echo "  LD      $@"
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(PKG_LIBS) $(LDLIBS)
$(BUILD)/bench/%: $(BUILD)/obj/tests/bench/%.o $(TEST_LIBS)
	@mkdir -p $(dir $@)
	@echo "  LD      $@"
	$(Q)$(CC) $(LDFLAGS) -o $@ $(filter %.o,$^) $(filter %.a,$^) $(PKG_LIBS) $(LDLIBS)
# aclc apply with the netlink backend's test hooks (a race, a fault), which
# aclc itself never sets: tests/apply/*.test drive it.
# apply.test drives aclc apply with test hooks through this program, which
# links aclc's command objects (not its main) with the libraries.
use_tests/apply = compiler/aclc $(use_tests)
ACLC_CMD_OBJ = $(call obj,$(filter-out compiler/aclc/aclc.c,$(call srcs,compiler/aclc)))
APPLY_HOOKS = $(BUILD)/tests/apply_hooks
tests: $(APPLY_HOOKS)
$(APPLY_HOOKS): $(BUILD)/obj/tests/apply/apply_hooks.o $(ACLC_CMD_OBJ) $(TEST_LIBS)
	@mkdir -p $(dir $@)
	@echo "  LD      $@"
	$(Q)$(CC) $(LDFLAGS) -o $@ $(filter %.o,$^) $(filter %.a,$^) $(PKG_LIBS) $(LDLIBS)

# A source compiles with its folder's include path (tests: every library's).
# Every object may include the generated parser header.
dir_of = $(if $(filter tests/apply,$(1)),tests/apply,$(if $(filter tests/%,$(1)),tests,$(1)))
$(BUILD)/obj/%.o: %.c | $(GEN_HEADER)
	@mkdir -p $(dir $@)
	@echo "  CC      $<"
	$(Q)$(CC) $(call incs,$(call dir_of,$(<D))) -I$(BUILD)/gen $(BASE_CFLAGS) -c -o $@ $<
# Generated code is not ours to make warning-free in every detail.
$(BUILD)/gen/%.o: $(BUILD)/gen/%.c
	@echo "  CC      $<"
	$(Q)$(CC) -Igrammar -I$(BUILD)/gen $(BASE_CFLAGS) -Wno-unused-function -Wno-missing-prototypes -c -o $@ $<

$(BUILD)/gen/hujson.tab.c $(BUILD)/gen/hujson.tab.h &: grammar/hujson.y
	@mkdir -p $(dir $@)
	@echo "  BISON   $<"
	$(Q)bison -Werror --defines=$(BUILD)/gen/hujson.tab.h -o $(BUILD)/gen/hujson.tab.c $<
$(BUILD)/gen/hujson.lex.c $(BUILD)/gen/hujson.lex.h &: grammar/hujson.l $(BUILD)/gen/hujson.tab.h
	@mkdir -p $(dir $@)
	@echo "  FLEX    $<"
	$(Q)flex --header-file=$(BUILD)/gen/hujson.lex.h -o $(BUILD)/gen/hujson.lex.c $<

# Fuzz targets: clang, libFuzzer, ASan+UBSan, built from the sources directly.
FUZZ_CFLAGS = -std=gnu11 -D_GNU_SOURCE $(call incs,tests) -I$(BUILD)/gen -g -O1 -fsanitize=fuzzer,address,undefined $(PKG_CFLAGS)
$(BUILD)/fuzz/%: tests/fuzz/%.c $(foreach d,$(LIB_DIRS),$(call srcs,$(d))) $(GRAMMAR_GEN)
	@mkdir -p $(dir $@)
	@echo "  FUZZ    $@"
	$(Q)$(FUZZCC) $(FUZZ_CFLAGS) -Wno-unused-function -o $@ $^ $(PKG_LIBS)
FUZZ_SECONDS ?= 60
fuzz: $(FUZZ_BINS)
	$(Q)tests/fuzz/run $(BUILD) $(FUZZ_SECONDS)

# `deps` installs; `deps-ok` installs only when a tool or library is missing.
deps:
	$(Q)tests/deps.sh install $(DEB_PKGS)
deps-ok:
	$(Q)tests/deps.sh ensure "$(DEB_TOOLS)" "$(PKGS)" $(DEB_PKGS)

check: deps-ok
	$(Q)$(MAKE) --no-print-directory BUILD=build/check SAN=1 CFLAGS="-O1 -g" tests
	$(Q)tests/run build/check

demo: deps-ok
	$(Q)$(MAKE) --no-print-directory all
	$(Q)examples/demo.sh $(BUILD)

bench: deps-ok
	$(Q)$(MAKE) --no-print-directory tests
	$(Q)tests/bench/run $(BUILD)

golden-update: all
	$(Q)tests/golden/update $(BUILD)

install: all
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(SBINDIR)
	for p in $(PROGS); do case $$p in *keygated|*keygate-coord) d=$(SBINDIR);; *) d=$(BINDIR);; esac; \
		install -m 755 $$p $(DESTDIR)$$d/; done
	for m in $(MANPAGES); do s=$${m##*.}; install -d $(DESTDIR)$(MANDIR)/man$$s; \
		install -m 644 $$m $(DESTDIR)$(MANDIR)/man$$s/; done
	$(Q)$(MAKE) --no-print-directory install-user

# The system user keygated runs as (keygated(8), SECURITY); made once, on
# this host only: a package (DESTDIR) makes it when it is installed.
install-user:
	$(Q)if [ -n "$(DESTDIR)" ]; then \
		echo "DESTDIR is set: create the system user keygate on the target (useradd --system keygate)"; \
	elif ! getent passwd keygate >/dev/null; then \
		useradd --system --user-group --home-dir /nonexistent --no-create-home \
			--shell /usr/sbin/nologin --comment "keygate daemons" keygate; \
	fi

clean:
	rm -rf build

.SECONDARY:
-include $(shell find $(BUILD)/obj $(BUILD)/gen -name '*.d' 2>/dev/null)
