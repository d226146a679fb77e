# fsmem: build, test, demo and benchmark. No configure step.
#
#   make          build/libfsmem.so build/libfsmem.a build/fsmem
#   make check    every test (ends with "N passed, N failed, N skipped")
#   make demo     a program that needs more memory than it may have, with and without fsmem
#   make bench    benchmark tables and plots (slow)
#   make stress   the long multithreaded stress run
#   make deps     install the Debian packages that tests and benchmarks use (root)

CC       ?= cc
CXX      ?= c++
OPT      ?= -O2
BASEFLAGS = -std=gnu11 -g $(OPT) -Wall -Wextra -Wshadow -Wno-unused-parameter \
            -fno-builtin-malloc -fno-builtin-calloc -fno-builtin-realloc \
            -fno-builtin-free -fno-strict-aliasing -D_GNU_SOURCE -Iinclude -Isrc
LIBFLAGS  = $(BASEFLAGS) -fPIC -fvisibility=hidden -ftls-model=initial-exec
SANFLAGS  = -std=gnu11 -g -O1 -Wall -Wextra -Wno-unused-parameter -D_GNU_SOURCE -Iinclude -Isrc \
            -fsanitize=address,undefined -fno-omit-frame-pointer \
            -fno-sanitize-recover=undefined -DFSMEM_NO_INTERPOSE

LIB_SRC  := $(sort $(wildcard src/*/*.c))
LIB_OBJ  := $(LIB_SRC:%.c=build/obj/%.o)
LIB_HDR  := $(wildcard src/*/*.h) include/fsmem.h
TOOL_SRC := tools/fsmem.c src/util/settings.c src/util/msg.c

# Test programs: plain executables (the tests preload or link fsmem themselves).
PROG_C   := $(wildcard tests/progs/*.c)
PROG_CXX := $(wildcard tests/progs/*.cc)
PROGS    := $(PROG_C:tests/progs/%.c=build/tests/%) $(PROG_CXX:tests/progs/%.cc=build/tests/%)
# The same C programs statically linked against libfsmem.a.
STATIC_PROGS := $(PROG_C:tests/progs/%.c=build/tests/static/%)
# Allocator unit tests: the library's own sources under ASan and UBSan.
UNIT_SRC := $(wildcard tests/unit/*.c)
UNITS    := $(UNIT_SRC:tests/unit/%.c=build/unit/%)

VERSION  := $(shell sed -n 's/^#define FSMEM_VERSION "\(.*\)"/\1/p' include/fsmem.h)

.PHONY: all check demo bench stress deps clean unit progs
all: build/libfsmem.so build/libfsmem.a build/fsmem

build/obj/%.o: %.c $(LIB_HDR)
	@mkdir -p $(dir $@)
	$(CC) $(LIBFLAGS) -c $< -o $@

build/libfsmem.so: $(LIB_OBJ)
	$(CC) -shared -Wl,-z,now -Wl,-z,defs -Wl,-soname,libfsmem.so -o $@ $(LIB_OBJ) -lpthread

build/libfsmem.a: $(LIB_OBJ)
	rm -f $@
	ar rcs $@ $(LIB_OBJ)

build/fsmem: $(TOOL_SRC) $(LIB_HDR)
	@mkdir -p build
	$(CC) $(BASEFLAGS) -DFSMEM_LAUNCHER -o $@ $(TOOL_SRC)

build/tests/%: tests/progs/%.c tests/progs/progs.h
	@mkdir -p $(dir $@)
	$(CC) -std=gnu11 -O2 -g -Wall -Wextra -D_GNU_SOURCE -Iinclude -o $@ $< -lpthread -lm

build/tests/%: tests/progs/%.cc
	@mkdir -p $(dir $@)
	$(CXX) -std=c++17 -O2 -g -Wall -Wextra -Iinclude -o $@ $< -lpthread

build/tests/static/%: tests/progs/%.c tests/progs/progs.h build/libfsmem.a
	@mkdir -p $(dir $@)
	$(CC) -std=gnu11 -O2 -g -Wall -Wextra -D_GNU_SOURCE -Iinclude -o $@ $< build/libfsmem.a -lpthread -lm

build/unit/%: tests/unit/%.c $(LIB_SRC) $(LIB_HDR)
	@mkdir -p $(dir $@)
	$(CC) $(SANFLAGS) -o $@ $< $(LIB_SRC) -lpthread

progs: $(PROGS) $(STATIC_PROGS)
unit: $(UNITS)

check: all progs unit
	@tests/run.sh

demo: all
	@demo/run.sh

bench: all progs
	@bench/run.sh

stress: all progs
	@FSMEM_STRESS_SECONDS=$${FSMEM_STRESS_SECONDS:-60} tests/stress.sh

deps:
	tools/deps.sh --bench

clean:
	rm -rf build
