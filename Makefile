# PGXS build of the extension: `make && make install`.
# The core library, unit tests, simulator and benchmarks build with CMake
# (see CMakeLists.txt); `make test` and `make demo` run the README commands.

EXTENSION = contractor_verify
EXTVERSION = $(shell sed -n "s/^default_version = '\(.*\)'/\1/p" $(EXTENSION).control)
MODULE_big = contractor_verify

CORE_SRCS = $(sort $(wildcard src/core/*.cpp))
PG_SRCS = $(sort $(wildcard src/pg/*.cpp))
OBJS = $(CORE_SRCS:.cpp=.o) $(PG_SRCS:.cpp=.o)

# The current version's install script is src/sql/*.sql concatenated; released
# versions' scripts and the upgrade scripts between versions are kept as they
# shipped, so ALTER EXTENSION ... UPDATE works from every released version.
SQL_PARTS = $(sort $(wildcard src/sql/*.sql))
DATA_built = $(EXTENSION)--$(EXTVERSION).sql
DATA = $(sort $(wildcard src/sql/released/*.sql)) $(sort $(wildcard src/sql/updates/*.sql))

# pg_regress: every file in sql/ is a test, run in name order.
REGRESS = $(patsubst sql/%.sql,%,$(sort $(wildcard sql/*.sql)))
REGRESS_OPTS = --load-extension=$(EXTENSION)

CURL_CFLAGS := $(shell pkg-config --cflags libcurl 2>/dev/null)
CURL_LIBS := $(shell pkg-config --libs libcurl 2>/dev/null || echo -lcurl)
ICU_CFLAGS := $(shell pkg-config --cflags icu-uc 2>/dev/null)
ICU_LIBS := $(shell pkg-config --libs icu-uc 2>/dev/null || echo -licuuc)

PG_CPPFLAGS = -Isrc $(CURL_CFLAGS) $(ICU_CFLAGS)
# NDEBUG: no assert() checks in release code (nlohmann/json runs one in every
# value it builds and destroys), as in the CMake build of the core and its tests.
PG_CXXFLAGS = -std=c++17 -DNDEBUG -Wall -Wextra -Wno-unused-parameter -Wno-missing-field-initializers \
	-Wno-register -MMD -MP
SHLIB_LINK = $(CURL_LIBS) $(ICU_LIBS) -lstdc++ -Wl,--version-script=$(CURDIR)/src/pg/exports.map

# No LLVM bitcode for JIT inlining: it would need clang++ for C++ sources.
override with_llvm = no

PG_CONFIG ?= pg_config
PGXS := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)

# The core zone never sees Postgres headers: compile it without them.
$(CORE_SRCS:.cpp=.o): override CPPFLAGS = -Isrc $(CURL_CFLAGS) $(ICU_CFLAGS)

$(DATA_built): $(SQL_PARTS) $(EXTENSION).control
	cat $(SQL_PARTS) > $@

EXTRA_CLEAN = $(OBJS:.o=.d) build

-include $(OBJS:.o=.d)

.PHONY: test demo bench
test:
	./scripts/test.sh
demo:
	./scripts/demo.sh
bench:
	./scripts/bench.sh
