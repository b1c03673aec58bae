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
PKGS     = libnftnl libmnl libsodium libcjson
CFLAGS  ?= -O2 -g
WARN     = -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes
SANFLAGS = -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer
ifeq ($(SAN),1)
CFLAGS  += $(SANFLAGS)
LDFLAGS += $(SANFLAGS)
endif
PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS))
PKG_LIBS   = $(shell pkg-config --libs $(PKGS))
INCLUDES   = -Igrammar -Icompiler -Iruntime -I$(BUILD)/gen
ALL_CFLAGS = -std=gnu11 -D_GNU_SOURCE $(INCLUDES) $(WARN) $(CFLAGS) $(PKG_CFLAGS) -MMD -MP

# Quiet unless V=1.
ifeq ($(V),1)
Q =
else
Q = @
endif

# Programs: one file with main() each; everything else in a directory is library.
PROG_SRC     = compiler/aclc.c runtime/keygated.c runtime/keygate.c
GRAMMAR_GEN  = $(if $(wildcard grammar/hujson.y),$(BUILD)/gen/hujson.tab.c $(BUILD)/gen/hujson.lex.c)
GEN_HEADER   = $(if $(wildcard grammar/hujson.y),$(BUILD)/gen/hujson.tab.h)
GRAMMAR_SRC  = $(wildcard grammar/*.c)
COMPILER_SRC = $(filter-out $(PROG_SRC),$(wildcard compiler/*.c))
RUNTIME_SRC  = $(filter-out $(PROG_SRC),$(wildcard runtime/*.c))

obj = $(patsubst %.c,$(BUILD)/obj/%.o,$(1))
LIBACLC_OBJ = $(call obj,$(GRAMMAR_SRC) $(COMPILER_SRC)) $(GRAMMAR_GEN:.c=.o)
LIBKG_OBJ   = $(call obj,$(RUNTIME_SRC))
LIBACLC = $(BUILD)/libaclc.a
LIBKG   = $(BUILD)/libkg.a
LIBS    = $(LIBACLC) $(LIBKG)

PROGS = $(foreach p,$(PROG_SRC),$(if $(wildcard $(p)),$(BUILD)/$(notdir $(p:.c=))))
UNIT_SRC   = $(wildcard tests/unit/test_*.c)
UNIT_BINS  = $(patsubst tests/unit/%.c,$(BUILD)/tests/%,$(UNIT_SRC))
BENCH_SRC  = $(wildcard tests/bench/bench_*.c)
BENCH_BINS = $(patsubst tests/bench/%.c,$(BUILD)/bench/%,$(BENCH_SRC))
FUZZ_SRC   = $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_BINS  = $(patsubst tests/fuzz/%.c,$(BUILD)/fuzz/%,$(FUZZ_SRC))
MANPAGES   = $(wildcard man/*.[158])

# Debian packages the build, the tests and the benchmarks need.
DEB_PKGS = build-essential pkg-config flex bison clang \
	libnftnl-dev libmnl-dev libsodium-dev libcjson-dev \
	nftables iproute2 iputils-ping wireguard-tools wireguard-go iperf3 procps \
	python3 valgrind busybox
DEB_TOOLS = cc pkg-config flex bison clang nft ip ping busybox wg wireguard-go iperf3 python3

.PHONY: all tests check demo bench fuzz deps deps-ok install clean golden-update
all: $(PROGS)
tests: all $(UNIT_BINS) $(BENCH_BINS)

$(BUILD)/%: $(BUILD)/obj/compiler/%.o $(LIBS)
	@echo "  LD      $@"
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(PKG_LIBS) $(LDLIBS)
$(BUILD)/%: $(BUILD)/obj/runtime/%.o $(LIBS)
	@echo "  LD      $@"
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(PKG_LIBS) $(LDLIBS)
$(BUILD)/tests/%: $(BUILD)/obj/tests/unit/%.o $(LIBS)
	@mkdir -p $(dir $@)
	@echo "  LD      $@"
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(PKG_LIBS) $(LDLIBS)
$(BUILD)/bench/%: $(BUILD)/obj/tests/bench/%.o $(LIBS)
	@mkdir -p $(dir $@)
	@echo "  LD      $@"
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(PKG_LIBS) $(LDLIBS)

$(LIBACLC): $(LIBACLC_OBJ)
	@echo "  AR      $@"
	$(Q)rm -f $@ && ar rcs $@ $^
$(LIBKG): $(LIBKG_OBJ)
	@echo "  AR      $@"
	$(Q)rm -f $@ && ar rcs $@ $^

# Every object may include the generated parser header.
$(BUILD)/obj/%.o: %.c | $(GEN_HEADER)
	@mkdir -p $(dir $@)
	@echo "  CC      $<"
	$(Q)$(CC) $(ALL_CFLAGS) -c -o $@ $<
# Generated code is not ours to make warning-free in every detail.
$(BUILD)/gen/%.o: $(BUILD)/gen/%.c
	@echo "  CC      $<"
	$(Q)$(CC) $(ALL_CFLAGS) -Wno-unused-function -Wno-missing-prototypes -c -o $@ $<

$(BUILD)/gen/hujson.tab.c $(BUILD)/gen/hujson.tab.h &: grammar/hujson.y
	@mkdir -p $(dir $@)
	@echo "  BISON   $<"
	$(Q)bison -Werror --defines=$(BUILD)/gen/hujson.tab.h -o $(BUILD)/gen/hujson.tab.c $<
$(BUILD)/gen/hujson.lex.c $(BUILD)/gen/hujson.lex.h &: grammar/hujson.l $(BUILD)/gen/hujson.tab.h
	@mkdir -p $(dir $@)
	@echo "  FLEX    $<"
	$(Q)flex --header-file=$(BUILD)/gen/hujson.lex.h -o $(BUILD)/gen/hujson.lex.c $<

# Fuzz targets: clang, libFuzzer, ASan+UBSan, built from the sources directly.
FUZZ_CFLAGS = -std=gnu11 -D_GNU_SOURCE $(INCLUDES) -g -O1 -fsanitize=fuzzer,address,undefined $(PKG_CFLAGS)
$(BUILD)/fuzz/%: tests/fuzz/%.c $(GRAMMAR_SRC) $(COMPILER_SRC) $(RUNTIME_SRC) $(GRAMMAR_GEN)
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
	for p in $(PROGS); do case $$p in *keygated) d=$(SBINDIR);; *) d=$(BINDIR);; esac; \
		install -m 755 $$p $(DESTDIR)$$d/; done
	for m in $(MANPAGES); do s=$${m##*.}; install -d $(DESTDIR)$(MANDIR)/man$$s; \
		install -m 644 $$m $(DESTDIR)$(MANDIR)/man$$s/; done

clean:
	rm -rf build

.SECONDARY:
-include $(shell find $(BUILD)/obj $(BUILD)/gen -name '*.d' 2>/dev/null)
