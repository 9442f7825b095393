# banger: build, test, demo, bench.
GO        ?= go
BIN       ?= bin
FUZZTIME  ?= 60s
export CGO_ENABLED ?= 0

.PHONY: all deps ci build test check unit fuzz demo bench clean

all: build

# banger-init is built first: the daemon finds it next to the banger binary.
build:
	$(GO) build -trimpath -ldflags='-s -w' -o $(BIN)/banger-init ./cmd/banger-init
	$(GO) build -trimpath -o $(BIN)/banger ./cmd/banger

# The README's test command: static checks, the whole suite, then each fuzzer briefly.
test: check unit fuzz

check:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "not gofmt-clean:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...

unit: build
	BANGER_BIN_DIR=$(CURDIR)/$(BIN) $(GO) test -count=1 -timeout 30m ./...

fuzz:
	@for target in $$(grep -rl --include='*_test.go' '^func Fuzz' internal e2e | xargs -n1 dirname | sort -u); do \
	  for f in $$(grep -h '^func Fuzz' $$target/*_test.go | sed 's/func \(Fuzz[A-Za-z0-9_]*\).*/\1/'); do \
	    echo "fuzz $$target $$f ($(FUZZTIME))"; \
	    $(GO) test -run='^$$' -fuzz="^$$f$$" -fuzztime=$(FUZZTIME) ./$$target || exit 1; \
	  done; \
	done

demo: deps build
	./scripts/demo.sh

bench: build
	./scripts/bench.sh

clean:
	rm -rf $(BIN)

deps:
	./scripts/install-deps.sh

# What a fresh machine needs to run the whole suite: packages, then the tests.
ci: deps test

# Boot time and exec round trip under TCG against a bare kernel+busybox boot (docs/benchmarks.md).
.PHONY: bench-boot
bench-boot: build
	./scripts/bench/boot.sh
