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

# The supervisor's stages, each a folder under supervisor/. A folder sees
# (-I) and links with only itself and the folders it names below, so an
# include or a call that climbs the stack fails the build (README: Layout).
LAYERS        := lib policy watch crash bundle report service ctl
LAYER_lib     :=
LAYER_policy  := lib
LAYER_watch   := lib policy
LAYER_crash   := lib policy watch
LAYER_bundle  := lib policy watch crash
LAYER_report  := lib policy watch crash bundle
LAYER_service := lib policy watch crash bundle report
LAYER_ctl     := lib policy watch crash bundle
LAYER_main    := $(LAYERS)
# crashbox-ship, the second binary (shipper/), stands beside main.
LAYER_shipper := lib policy watch crash bundle ctl
# Unit tests link the pure folders only: no supervision loop, no service.
PURE          := lib policy watch crash bundle report
# The -I flags of the layer a source path (supervisor/<layer>/x.c) is in.
layer_of      = $(if $(findstring /,$(1)),$(firstword $(subst /, ,$(1))),main)
layer_inc     = $(foreach d,$(filter-out main,$(call layer_of,$(1))) $(LAYER_$(call layer_of,$(1))),-Isupervisor/$(d))

SRCS    := supervisor/main.c $(foreach d,$(LAYERS),$(wildcard supervisor/$(d)/*.c))
HDRS    := $(foreach d,$(LAYERS),$(wildcard supervisor/$(d)/*.h))
OBJS    := $(SRCS:supervisor/%.c=$(BUILD)/obj/%.o)
SHIP_SRCS := $(wildcard shipper/*.c)
SHIP_OBJS := $(SHIP_SRCS:shipper/%.c=$(BUILD)/obj/shipper/%.o)
PUREOBJS := $(foreach d,$(PURE),$(filter $(BUILD)/obj/$(d)/%,$(OBJS)))
UNIT    := $(wildcard tests/unit/*.c)
HELPERS := $(patsubst tests/helpers/%.c,$(BUILD)/helpers/%,$(filter-out %/static-crasher.c,$(wildcard tests/helpers/*.c)))
EXAMPLES := $(patsubst examples/%/main.go,$(BUILD)/examples/%,$(wildcard examples/*/main.go))
# Static builds (CGO_ENABLED=0) for FROM-scratch images; the two examples
# that need cgo (a C crash, the race detector) cannot be static.
STATIC_EXAMPLES := $(filter-out %/cgo-segv %/data-race,$(EXAMPLES:$(BUILD)/examples/%=$(BUILD)/examples-static/%))

.PHONY: all test unit integration containers shim-test policies asan bench demo examples static-examples docker-context helpers fuzz fuzz-smoke static install clean deps test-all demo-run

all: $(BUILD)/crashbox $(BUILD)/crashbox-ship

$(BUILD)/obj/%.o: supervisor/%.c $(HDRS)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(call layer_inc,$*) -c $< -o $@

# The link rule of the layers: every symbol a folder's objects use and
# crashbox defines is defined in that folder or one it names below. shipper/
# (crashbox-ship) is held to it too, with its own stamp so that crashbox
# itself builds without libcurl's headers.
layer_objs = $(if $(filter main,$(1)),$(BUILD)/obj/main.o,$(if $(filter shipper,$(1)),$(SHIP_OBJS),$(filter $(BUILD)/obj/$(1)/%,$(OBJS))))
layer_dir  = $(if $(filter shipper,$(1)),shipper,supervisor/$(1))
define layer_check
@nm -g --defined-only $(OBJS) $(2) | awk 'NF==3{print $$3}' | sort -u > $@.all
@$(foreach l,$(1),\
  nm -u $(call layer_objs,$(l)) | awk 'NF{print $$NF}' | sort -u > $@.used && \
  nm -g --defined-only $(foreach d,$(l) $(LAYER_$(l)),$(call layer_objs,$(d))) | awk 'NF==3{print $$3}' | sort -u > $@.seen && \
  bad="$$(comm -23 $@.used $@.seen | comm -12 - $@.all)" && \
  { [ -z "$$bad" ] || { echo "layering: $(call layer_dir,$(l)) calls up into a higher folder:" $$bad >&2; exit 1; }; } &&) true
@rm -f $@.all $@.used $@.seen; touch $@
endef
$(BUILD)/layers.ok: $(OBJS)
	$(call layer_check,$(LAYERS) main)
$(BUILD)/layers-shipper.ok: $(OBJS) $(SHIP_OBJS)
	$(call layer_check,shipper,$(SHIP_OBJS))

# Only libc is loaded at start: libseccomp and libzstd are linked in (each
# shared library is an open, mmaps, mprotects and relocations at every
# start: 0.3 ms of CPU and 21 page faults, measured). crashbox does not use
# libcap (the unit tests check its names against it).
STATIC_LIBS := -lseccomp -lzstd
$(BUILD)/crashbox: $(OBJS) $(BUILD)/layers.ok
	$(CC) $(CFLAGS) $(LDFLAGS) $(OBJS) -o $@ $(filter-out $(STATIC_LIBS) -lcap,$(LDLIBS)) -Wl,-Bstatic $(STATIC_LIBS) -Wl,-Bdynamic


# crashbox-ship: the uploader to object storage, a second binary linked
# dynamically with libcurl so crashbox (and `make static`) stays free of
# TLS libraries. It takes what it needs of crashbox's modules from an archive.
CURL_CFLAGS := $(shell pkg-config --cflags libcurl 2>/dev/null)
CURL_LIBS   := $(shell pkg-config --libs libcurl 2>/dev/null || echo -lcurl)

$(BUILD)/obj/shipper/%.o: shipper/%.c $(wildcard shipper/*.h) $(HDRS)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(foreach d,$(LAYER_shipper),-Isupervisor/$(d)) $(CURL_CFLAGS) -c $< -o $@

$(BUILD)/libcrashbox.a: $(foreach d,$(LAYER_shipper),$(call layer_objs,$(d)))
	rm -f $@ && $(AR) rcs $@ $^

$(BUILD)/crashbox-ship: $(SHIP_OBJS) $(BUILD)/libcrashbox.a $(BUILD)/layers-shipper.ok
	$(CC) $(CFLAGS) $(LDFLAGS) $(SHIP_OBJS) $(BUILD)/libcrashbox.a -o $@ -Wl,--as-needed $(CURL_LIBS) $(LDLIBS)

$(BUILD)/helpers $(BUILD)/examples:
	mkdir -p $@

$(BUILD)/unit-tests: $(UNIT) $(PUREOBJS)
	$(CC) $(CFLAGS) $(foreach d,$(PURE),-Isupervisor/$(d)) $(UNIT) $(PUREOBJS) -o $@ $(LDLIBS) -lcriterion

# Helpers are the service side of tests: built plainly, never sanitized, so
# what they report about their process is what any program would see.
$(BUILD)/helpers/%: tests/helpers/%.c | $(BUILD)/helpers
	$(CC) -O2 -g -std=gnu11 -D_GNU_SOURCE $(WARN) $< -o $@

helpers: $(HELPERS)

$(BUILD)/examples/%: examples/%/main.go examples/go.mod $(wildcard shim/*.go examples/internal/*/*.go) | $(BUILD)/examples
	@test -n "$(GO)" || { echo "no Go toolchain (>= 1.23): run .ci/install-deps" >&2; exit 1; }
	cd examples && $(GOENV) $(GO) build $(GOBUILDFLAGS) -o $(abspath $@) ./$*

$(BUILD)/examples-static/%: examples/%/main.go examples/go.mod $(wildcard shim/*.go)
	@test -n "$(GO)" || { echo "no Go toolchain (>= 1.23): run .ci/install-deps" >&2; exit 1; }
	@mkdir -p $(@D)
	cd examples && CGO_ENABLED=0 $(GOENV) $(GO) build -trimpath -o $(abspath $@) ./$*

static-examples: $(STATIC_EXAMPLES)

# A fully static crashbox for scratch and distroless images: libseccomp
# and libzstd linked in, and nothing that needs NSS.
# Its own flags: never sanitized (a sanitizer runtime cannot link statically).
STATIC_DIR := $(BUILD)/static
STATIC_CFLAGS := -O2 -g -std=gnu11 -D_GNU_SOURCE -DCRASHBOX_VERSION='"$(VERSION)"' $(WARN) -pthread
$(STATIC_DIR)/obj/%.o: supervisor/%.c $(HDRS)
	@mkdir -p $(@D)
	$(CC) $(STATIC_CFLAGS) $(call layer_inc,$*) -c $< -o $@

$(STATIC_DIR)/crashbox: $(SRCS:supervisor/%.c=$(STATIC_DIR)/obj/%.o)
	$(CC) -static -s $(STATIC_CFLAGS) $^ -o $@ -lseccomp -lzstd -pthread
	@echo "static crashbox: $$(stat -c %s $@) bytes"

static: $(STATIC_DIR)/crashbox

# The test helper, static, for FROM-scratch container images.
$(BUILD)/helpers/cbhelper-static: tests/helpers/cbhelper.c | $(BUILD)/helpers
	$(CC) -static -O2 -std=gnu11 -D_GNU_SOURCE $(WARN) $< -o $@

# A static helper that crashes, for the empty-root test.
$(BUILD)/helpers/static-crasher: tests/helpers/static-crasher.c | $(BUILD)/helpers
	$(CC) -static -O2 -std=gnu11 -D_GNU_SOURCE $(WARN) $< -o $@

# The context of examples/docker/Dockerfile.scratch, an image that builds
# offline: `docker build -t api-with-crashbox $(BUILD)/docker-context`.
DOCKER_CONTEXT := $(BUILD)/docker-context
SERVICE ?= $(BUILD)/examples-static/nil-deref
docker-context: $(STATIC_DIR)/crashbox $(SERVICE) policies/hardened.policy examples/docker/Dockerfile.scratch
	rm -rf $(DOCKER_CONTEXT) && mkdir -p $(DOCKER_CONTEXT)
	cp examples/docker/Dockerfile.scratch $(DOCKER_CONTEXT)/Dockerfile
	cp $(STATIC_DIR)/crashbox $(DOCKER_CONTEXT)/crashbox
	cp $(SERVICE) $(DOCKER_CONTEXT)/api
	cp policies/hardened.policy $(DOCKER_CONTEXT)/service.policy
	cp examples/docker/passwd examples/docker/group $(DOCKER_CONTEXT)/

PREFIX  ?= /usr/local
DESTDIR ?=
install: $(BUILD)/crashbox $(BUILD)/crashbox-ship
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/man/man1 $(DESTDIR)$(PREFIX)/share/man/man5 \
	  $(DESTDIR)$(PREFIX)/share/crashbox/policies
	install -m 0755 $(BUILD)/crashbox $(DESTDIR)$(PREFIX)/bin/crashbox
	install -m 0644 man/crashbox.1 $(DESTDIR)$(PREFIX)/share/man/man1/crashbox.1
	install -m 0644 man/crashbox.policy.5 $(DESTDIR)$(PREFIX)/share/man/man5/crashbox.policy.5
	install -m 0644 policies/*.policy $(DESTDIR)$(PREFIX)/share/crashbox/policies/

# The race detector's report needs a -race build (and cgo).
$(BUILD)/examples/data-race $(BUILD)/examples/data-race-four: GOBUILDFLAGS = -race

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

# Integration tests, the container tier among them (test_containers.py:
# its own dockerd, FROM-scratch images of the static builds).
IT_DEPS := $(BUILD)/crashbox $(BUILD)/crashbox-ship helpers examples $(STATIC_DIR)/crashbox $(BUILD)/helpers/static-crasher \
           static-examples $(BUILD)/helpers/cbhelper-static docker-context
IT_ENV  := CRASHBOX=$(abspath $(BUILD)/crashbox) HELPERS=$(abspath $(BUILD)/helpers) \
           STATIC_CRASHBOX=$(abspath $(STATIC_DIR)/crashbox) EXAMPLES=$(abspath $(BUILD)/examples) \
           STATIC_EXAMPLES=$(abspath $(BUILD)/examples-static) DOCKER_CONTEXT=$(abspath $(DOCKER_CONTEXT))
integration: $(IT_DEPS)
	$(IT_ENV) python3 tests/integration/run.py

# The container tier alone.
containers: $(IT_DEPS)
	$(IT_ENV) python3 tests/integration/run.py test_containers.

# The Go shim's own tests (go test), with the toolchain the examples use.
shim-test:
	cd shim && $(GOENV) $(GO) test ./...

# `make test` and `make demo` each work on a fresh Debian 12 machine: they
# first install what is missing (.ci/install-deps, the script CI runs; one
# line when nothing is), then build. SKIP_DEPS=1 skips that step.
deps:
ifeq ($(SKIP_DEPS),)
	@echo "== .ci/install-deps: what this machine lacks to build crashbox (SKIP_DEPS=1 skips) =="
	@bash .ci/install-deps
endif

test: deps
	@$(MAKE) --no-print-directory test-all

test-all: unit policies shim-test integration fuzz-smoke

asan:
	$(MAKE) BUILD=build/asan CFLAGS="-O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined" \
	  LDFLAGS="-fsanitize=address,undefined" test

bench: $(BUILD)/crashbox helpers examples $(STATIC_DIR)/crashbox static-examples
	CRASHBOX=$(abspath $(BUILD)/crashbox) HELPERS=$(abspath $(BUILD)/helpers) \
	STATIC_CRASHBOX=$(abspath $(STATIC_DIR)/crashbox) STATIC_EXAMPLES=$(abspath $(BUILD)/examples-static) \
	EXAMPLES=$(abspath $(BUILD)/examples) python3 tests/bench/bench.py

# The main job on a bundled example: a Go service crashes under crashbox,
# which relays its stderr, snapshots it at exit_group and writes a bundle.
DEMO_DIR := $(BUILD)/demo-bundles
demo: deps
	@$(MAKE) --no-print-directory demo-run

demo-run: $(BUILD)/crashbox $(BUILD)/examples/nil-deref
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

# libFuzzer targets (clang), one per tests/fuzz/fuzz_*.c, each linked with
# every object of the folders it names (FUZZ_LAYERS_*, the pure ones unless
# it says; so a new dependency within them never leaves one unlinked, and
# one on a higher folder fails its build) and run from a seed corpus: the Go crash fixtures for the parser, the
# shipped policies for the policy parser. A crash or leak fails the target.
# `make fuzz` runs each for FUZZ_SECONDS; `make fuzz-smoke` (part of `make
# test`) builds them all and runs each for FUZZ_SMOKE_SECONDS, so none rots.
FUZZ_SECONDS       ?= 60
FUZZ_SMOKE_SECONDS ?= 10
FUZZ_CC      ?= clang
FUZZ_CFLAGS  := -g -O1 -std=gnu11 -D_GNU_SOURCE -DCRASHBOX_VERSION='"$(VERSION)"' -fsanitize=address,undefined \
                -fno-sanitize-recover=undefined $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
FUZZERS      := $(patsubst tests/fuzz/%.c,%,$(wildcard tests/fuzz/fuzz_*.c))
FUZZ_OBJS    := $(filter-out %/main.o,$(SRCS:supervisor/%.c=$(BUILD)/fuzz/obj/%.o))
FUZZ_LAYERS_fuzz_policy     := lib policy
FUZZ_LAYERS_fuzz_cgroupfind := lib policy watch
FUZZ_LAYERS_fuzz_goparse    := lib policy watch crash
fuzz_layers  = $(or $(FUZZ_LAYERS_$(1)),$(PURE))
fuzz_objs    = $(foreach d,$(call fuzz_layers,$(1)),$(filter $(BUILD)/fuzz/obj/$(d)/%,$(FUZZ_OBJS)))
FUZZ_SEEDS_fuzz_goparse := $(wildcard tests/fixtures/go1.*/*.txt)
FUZZ_SEEDS_fuzz_policy  := $(wildcard tests/fuzz/corpus-policy/*) $(wildcard policies/*.policy)
FUZZ_SEEDS_fuzz_index   := $(wildcard tests/fuzz/corpus-index/*)
FUZZ_OPTS_fuzz_goparse  := -max_len=65536
FUZZ_OPTS_fuzz_policy   := -max_len=8192
# cgroupfind's inputs are a mountinfo and a /proc/PID/cgroup, NUL-separated.
FUZZ_SEED_CMD_fuzz_cgroupfind = for d in tests/fixtures/cgroupfs/*/; do { cat $$d/mountinfo; printf '\0'; \
	  cat $$d/cgroup; } > $(BUILD)/fuzz/corpus-fuzz_cgroupfind/$$(basename $$d); done
FUZZ_OPTS_fuzz_cgroupfind := -max_len=16384

.SECONDARY: $(FUZZ_OBJS)
$(BUILD)/fuzz/obj/%.o: supervisor/%.c $(HDRS)
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_CFLAGS) $(call layer_inc,$*) -fsanitize=fuzzer-no-link -c $< -o $@

.SECONDEXPANSION:
$(BUILD)/fuzz/fuzz_%: tests/fuzz/fuzz_%.c $$(call fuzz_objs,fuzz_$$*)
	@command -v $(FUZZ_CC) >/dev/null || { echo "no $(FUZZ_CC) for the fuzzers: run .ci/install-deps" >&2; exit 1; }
	$(FUZZ_CC) $(FUZZ_CFLAGS) $(foreach d,$(call fuzz_layers,fuzz_$*),-Isupervisor/$(d)) -fsanitize=fuzzer $< \
	  $(call fuzz_objs,fuzz_$*) -o $@ $(LDLIBS)

# Runs one fuzzer ($1) for $2 seconds from a fresh copy of its seeds.
define run_fuzzer
	rm -rf $(BUILD)/fuzz/corpus-$(1) && mkdir -p $(BUILD)/fuzz/corpus-$(1)
	@for f in $(FUZZ_SEEDS_$(1)); do cp "$$f" "$(BUILD)/fuzz/corpus-$(1)/$$(echo "$$f" | tr / _)"; done
	$(FUZZ_SEED_CMD_$(1))
	$(BUILD)/fuzz/$(1) -max_total_time=$(2) -print_final_stats=0 $(FUZZ_OPTS_$(1)) $(BUILD)/fuzz/corpus-$(1) \
	  2>$(BUILD)/fuzz/$(1).log || { tail -n 40 $(BUILD)/fuzz/$(1).log >&2; exit 1; }
	@grep -h '^#[0-9]*.*DONE' $(BUILD)/fuzz/$(1).log | sed 's/^/$(1): /' || true

endef

fuzz: $(FUZZERS:%=$(BUILD)/fuzz/%)
	$(foreach f,$(FUZZERS),$(call run_fuzzer,$(f),$(FUZZ_SECONDS)))

fuzz-smoke: $(FUZZERS:%=$(BUILD)/fuzz/%)
	$(foreach f,$(FUZZERS),$(call run_fuzzer,$(f),$(FUZZ_SMOKE_SECONDS)))

clean:
	rm -rf $(BUILD)
