# The two commands: `make demo` and `make test`. Everything else is a step they use.
#   make demo [DEMO_ARGS="--rows 100000"]     install what is missing, build, run the demo
#   make test [SANITIZE=1]                    install, build, start test servers, run all tests
#   make build | deps | format | clean

SANITIZE ?= 0
BUILD_TYPE ?= RelWithDebInfo
ifeq ($(SANITIZE),1)
BUILD_DIR ?= build-asan
CMAKE_FLAGS += -DSTRATA_SANITIZE=ON
else
BUILD_DIR ?= build
endif
JOBS ?= $(shell nproc)
# Let ccache reuse objects across checkouts in different folders (CI builds a fresh clone).
export CCACHE_BASEDIR := $(CURDIR)
export CCACHE_NOHASHDIR := 1
DEMO_ARGS ?=

.PHONY: all deps test-deps build demo test format clean

all: build

deps:
	@scripts/setup

test-deps:
	@scripts/setup --test

build: deps
	@if [ ! -f $(BUILD_DIR)/build.ninja ]; then \
	  cmake -S . -B $(BUILD_DIR) -G Ninja -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) $(CMAKE_FLAGS); fi
	@cmake --build $(BUILD_DIR) -j $(JOBS)

demo: build
	./$(BUILD_DIR)/strata demo $(DEMO_ARGS)

test: test-deps build
	@scripts/run-tests $(BUILD_DIR)

format:
	@git ls-files '*.cc' '*.h' | xargs clang-format -i

clean:
	rm -rf build build-asan
