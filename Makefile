# crashbox — see README.md. `make` builds build/crashbox; `make test` runs
# every test; `make asan` runs them under ASan+UBSan; `make bench` measures.

CC      ?= cc
BUILD   ?= build
VERSION := 0.1.0
PKGS    := libseccomp libcap libzstd

WARN    := -Wall -Wextra -Wformat=2 -Wshadow -Wstrict-prototypes \
           -Wmissing-prototypes -Wimplicit-fallthrough
ifneq ($(CI),)
WARN    += -Werror
endif
CFLAGS  ?= -O2 -g
override CFLAGS += -std=gnu11 -D_GNU_SOURCE -DCRASHBOX_VERSION='"$(VERSION)"' $(WARN) -pthread
override LDLIBS += -pthread
override CFLAGS += $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
override LDLIBS += $(shell pkg-config --libs $(PKGS) 2>/dev/null || echo -lseccomp -lcap -lzstd)

# Go >= 1.23: Debian 12 has it in bookworm-backports under /usr/lib/go-1.23.
GO      ?= $(firstword $(wildcard /usr/lib/go-1.2[3-9]/bin/go) $(shell command -v go 2>/dev/null))
GOENV   := GOTOOLCHAIN=local GOFLAGS=-mod=mod GOPROXY=off GOCACHE=$(abspath $(BUILD))/gocache

SRCS    := $(wildcard supervisor/*.c)
OBJS    := $(SRCS:supervisor/%.c=$(BUILD)/obj/%.o)
LIBOBJS := $(filter-out $(BUILD)/obj/main.o,$(OBJS))
UNIT    := $(wildcard tests/unit/*.c)
HELPERS := $(patsubst tests/helpers/%.c,$(BUILD)/helpers/%,$(filter-out %/static-crasher.c,$(wildcard tests/helpers/*.c)))
EXAMPLES := $(patsubst examples/%/main.go,$(BUILD)/examples/%,$(wildcard examples/*/main.go))

.PHONY: all test unit integration shim-test policies asan bench demo examples helpers fuzz static install clean

all: $(BUILD)/crashbox

$(BUILD)/obj/%.o: supervisor/%.c $(wildcard supervisor/*.h) | $(BUILD)/obj
	$(CC) $(CFLAGS) -c $< -o $@

$(BUILD)/crashbox: $(OBJS)
	$(CC) $(CFLAGS) $(LDFLAGS) $^ -o $@ $(LDLIBS)

$(BUILD)/obj $(BUILD)/helpers $(BUILD)/examples:
	mkdir -p $@

$(BUILD)/unit-tests: $(UNIT) $(LIBOBJS)
	$(CC) $(CFLAGS) -Isupervisor $(UNIT) $(LIBOBJS) -o $@ $(LDLIBS) -lcriterion

# Helpers are the service side of tests: built plainly, never sanitized, so
# what they report about their process is what any program would see.
$(BUILD)/helpers/%: tests/helpers/%.c | $(BUILD)/helpers
	$(CC) -O2 -g -std=gnu11 -D_GNU_SOURCE $(WARN) $< -o $@

helpers: $(HELPERS)

$(BUILD)/examples/%: examples/%/main.go examples/go.mod $(wildcard shim/*.go examples/internal/*/*.go) | $(BUILD)/examples
	@test -n "$(GO)" || { echo "no Go toolchain (>= 1.23): run .ci/install-deps" >&2; exit 1; }
	cd examples && $(GOENV) $(GO) build $(GOBUILDFLAGS) -o $(abspath $@) ./$*

# A fully static crashbox for scratch and distroless images: libseccomp,
# libcap and libzstd linked in, and nothing that needs NSS.
# Its own flags: never sanitized (a sanitizer runtime cannot link statically).
STATIC_DIR := $(BUILD)/static
STATIC_CFLAGS := -O2 -g -std=gnu11 -D_GNU_SOURCE -DCRASHBOX_VERSION='"$(VERSION)"' $(WARN) -pthread
$(STATIC_DIR)/obj/%.o: supervisor/%.c $(wildcard supervisor/*.h)
	@mkdir -p $(@D)
	$(CC) $(STATIC_CFLAGS) -c $< -o $@

$(STATIC_DIR)/crashbox: $(SRCS:supervisor/%.c=$(STATIC_DIR)/obj/%.o)
	$(CC) -static -s $(STATIC_CFLAGS) $^ -o $@ -lseccomp -lcap -lzstd -pthread
	@echo "static crashbox: $$(stat -c %s $@) bytes"

static: $(STATIC_DIR)/crashbox

# A static helper that crashes, for the empty-root test.
$(BUILD)/helpers/static-crasher: tests/helpers/static-crasher.c | $(BUILD)/helpers
	$(CC) -static -O2 -std=gnu11 -D_GNU_SOURCE $(WARN) $< -o $@

PREFIX  ?= /usr/local
DESTDIR ?=
install: $(BUILD)/crashbox
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/man/man1 $(DESTDIR)$(PREFIX)/share/man/man5 \
	  $(DESTDIR)$(PREFIX)/share/crashbox/policies
	install -m 0755 $(BUILD)/crashbox $(DESTDIR)$(PREFIX)/bin/crashbox
	install -m 0644 man/crashbox.1 $(DESTDIR)$(PREFIX)/share/man/man1/crashbox.1
	install -m 0644 man/crashbox.policy.5 $(DESTDIR)$(PREFIX)/share/man/man5/crashbox.policy.5
	install -m 0644 policies/*.policy $(DESTDIR)$(PREFIX)/share/crashbox/policies/

# The race detector's report needs a -race build (and cgo).
$(BUILD)/examples/data-race: GOBUILDFLAGS = -race

examples: $(EXAMPLES)

# The unit tests read fixtures, and one real Go binary for its build info.
unit: $(BUILD)/unit-tests $(BUILD)/examples/clean
	$(BUILD)/unit-tests --jobs 2

# Golden normalized dumps of the shipped policies, and dump -> re-parse:
# the normalized form parses back to itself.
policies: $(BUILD)/crashbox
	@for p in policies/*.policy; do \
	  ok=tests/golden/$$(basename $$p .policy).ok; \
	  $(BUILD)/crashbox check $$p | diff -u $$ok - || { echo "golden dump differs: $$p" >&2; exit 1; }; \
	  $(BUILD)/crashbox check $$ok | diff -u $$ok - || { echo "dump does not re-parse to itself: $$ok" >&2; exit 1; }; \
	done; echo "policies: golden dumps match and re-parse to themselves"

integration: $(BUILD)/crashbox helpers examples $(STATIC_DIR)/crashbox $(BUILD)/helpers/static-crasher
	CRASHBOX=$(abspath $(BUILD)/crashbox) HELPERS=$(abspath $(BUILD)/helpers) \
	STATIC_CRASHBOX=$(abspath $(STATIC_DIR)/crashbox) \
	EXAMPLES=$(abspath $(BUILD)/examples) \
	  python3 tests/integration/run.py

# The Go shim's own tests (go test), with the toolchain the examples use.
shim-test:
	cd shim && $(GOENV) $(GO) test ./...

test: unit policies shim-test integration

asan:
	$(MAKE) BUILD=build/asan CFLAGS="-O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined" \
	  LDFLAGS="-fsanitize=address,undefined" test

bench: $(BUILD)/crashbox helpers examples $(STATIC_DIR)/crashbox
	CRASHBOX=$(abspath $(BUILD)/crashbox) HELPERS=$(abspath $(BUILD)/helpers) \
	STATIC_CRASHBOX=$(abspath $(STATIC_DIR)/crashbox) \
	EXAMPLES=$(abspath $(BUILD)/examples) python3 tests/bench/bench.py

# The main job on a bundled example: a Go service crashes under crashbox,
# which relays its stderr, snapshots it at exit_group and writes a bundle.
DEMO_DIR := $(BUILD)/demo-bundles
demo: $(BUILD)/crashbox $(BUILD)/examples/nil-deref
	@rm -rf $(DEMO_DIR) && mkdir -p $(DEMO_DIR)
	@echo "== crashbox -d $(DEMO_DIR) -- examples/nil-deref =="
	@$(BUILD)/crashbox -p policies/default.policy -d $(DEMO_DIR) -- $(BUILD)/examples/nil-deref; \
	  echo "== crashbox exited with status $$? (the service's own) =="
	@echo "== the bundle =="
	@ls -l $(DEMO_DIR)
	@tar --zstd -tvf $(DEMO_DIR)/*.tar.zst
	@echo "== manifest.json: crash, memory, snapshot =="
	@tar --zstd -xOf $(DEMO_DIR)/*.tar.zst manifest.json | python3 -c 'import json,sys; m=json.load(sys.stdin); \
	  print(json.dumps({k: m[k] for k in ("service", "exit", "crash", "memory", "go", "snapshot")}, indent=2))'

# libFuzzer targets (clang), each run for FUZZ_SECONDS from a seed corpus:
# the Go crash fixtures for the parser, the shipped policies for the policy
# parser. A crash or leak fails the target.
FUZZ_SECONDS ?= 60
FUZZ_CFLAGS  := -g -O1 -std=gnu11 -D_GNU_SOURCE -fsanitize=fuzzer,address,undefined -Isupervisor
FUZZ_goparse := supervisor/goparse.c supervisor/json.c supervisor/util.c
FUZZ_policy  := supervisor/policy.c supervisor/units.c supervisor/diag.c supervisor/util.c supervisor/sigtable.c
FUZZ_cgroupfind := supervisor/cgroup.c supervisor/util.c

$(BUILD)/fuzz/fuzz_%: tests/fuzz/fuzz_%.c $(wildcard supervisor/*.c supervisor/*.h)
	@mkdir -p $(@D)
	clang $(FUZZ_CFLAGS) $< $(FUZZ_$*) -o $@

fuzz: $(BUILD)/fuzz/fuzz_goparse $(BUILD)/fuzz/fuzz_policy $(BUILD)/fuzz/fuzz_cgroupfind
	mkdir -p $(BUILD)/fuzz/corpus-goparse $(BUILD)/fuzz/corpus-policy $(BUILD)/fuzz/corpus-cgroupfind
	cp tests/fixtures/go1.*/*.txt $(BUILD)/fuzz/corpus-goparse/ 2>/dev/null || true
	cp tests/fuzz/corpus-policy/* $(BUILD)/fuzz/corpus-policy/
	for d in tests/fixtures/cgroupfs/*/; do { cat $$d/mountinfo; printf '\0'; cat $$d/cgroup; } \
	    > $(BUILD)/fuzz/corpus-cgroupfind/$$(basename $$d); done
	$(BUILD)/fuzz/fuzz_goparse -max_total_time=$(FUZZ_SECONDS) -max_len=65536 $(BUILD)/fuzz/corpus-goparse
	$(BUILD)/fuzz/fuzz_policy -max_total_time=$(FUZZ_SECONDS) -max_len=8192 $(BUILD)/fuzz/corpus-policy
	$(BUILD)/fuzz/fuzz_cgroupfind -max_total_time=$(FUZZ_SECONDS) -max_len=16384 $(BUILD)/fuzz/corpus-cgroupfind

clean:
	rm -rf $(BUILD)
