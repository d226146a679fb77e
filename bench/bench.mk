# Builds the benchmark programs into build/bench/. Invoked by bench/run.sh:
#
#   make -f bench/bench.mk          (from the repository root)
#
# -fno-builtin-malloc etc. keep the compiler from removing or merging the
# allocations the workloads exist to make.

CC       ?= cc
B        := build/bench
WFLAGS    = -std=gnu11 -O2 -g -Wall -Wextra -D_GNU_SOURCE -fno-strict-aliasing \
            -fno-builtin-malloc -fno-builtin-calloc -fno-builtin-realloc -fno-builtin-free
WORKLOADS := larson churn prodcons realloc arrays mixed access

all: $(WORKLOADS:%=$(B)/%) $(B)/runner $(B)/libmemkind_shim.so

$(B)/%: bench/%.c bench/common.h
	@mkdir -p $(B)
	$(CC) $(WFLAGS) -o $@ $< -lpthread

$(B)/runner: bench/runner.c
	@mkdir -p $(B)
	$(CC) -std=gnu11 -O2 -g -Wall -Wextra -o $@ $< -lpthread

# The shim links memkind dynamically (libmemkind0, from libmemkind-dev).
$(B)/libmemkind_shim.so: bench/memkind_shim.c
	@mkdir -p $(B)
	$(CC) -std=gnu11 -O2 -g -Wall -Wextra -fPIC -shared -ftls-model=initial-exec \
	    -o $@ $< -lmemkind -lpthread

.PHONY: all
