# awslambda: call AWS Lambda from SQL.  Built with PGXS.

EXTENSION = awslambda aws_commons aws_lambda
MODULE_big = awslambda
OBJS = \
	src/api.o \
	src/async_settings.o \
	src/awslambda.o \
	src/awsconfig.o \
	src/batch.o \
	src/callback.o \
	src/claim.o \
	src/cleanup.o \
	src/clock.o \
	src/confine.o \
	src/credentials.o \
	src/cursors.o \
	src/deliver.o \
	src/dispatcher.o \
	src/endpoint.o \
	src/errors.o \
	src/flow.o \
	src/http.o \
	src/http_perform.o \
	src/http_raw.o \
	src/http_reply.o \
	src/http_stream.o \
	src/imds.o \
	src/ini.o \
	src/invoke.o \
	src/jsonutil.o \
	src/launcher.o \
	src/outcome.o \
	src/parse.o \
	src/partition.o \
	src/pipeline.o \
	src/process.o \
	src/providers.o \
	src/queue.o \
	src/queue_check.o \
	src/queue_control.o \
	src/queue_insert.o \
	src/queue_pause.o \
	src/queue_table.o \
	src/rds_compat.o \
	src/region.o \
	src/reply.o \
	src/secret.o \
	src/signing.o \
	src/sigv4.o \
	src/sigv4_canon.o \
	src/slots.o \
	src/stats.o \
	src/stats_sql.o \
	src/stream.o \
	src/sts.o \
	src/target.o \
	src/url.o \
	src/utility.o

# Install and upgrade scripts live in extension/ (installed, like the control
# files, into PostgreSQL's share/extension); sql/ and expected/ hold only
# pg_regress's inputs and outputs.  Every script there is installed: a new
# upgrade script needs no line here.
DATA = $(sort $(wildcard extension/*--*.sql))
ifneq ($(wildcard sql/*--*.sql),)
$(error $(wildcard sql/*--*.sql): extension scripts belong in extension/ (sql/ is for pg_regress))
endif
PGFILEDESC = "awslambda - invoke AWS Lambda functions from SQL"

# Regression tests need the mock Lambda endpoint and a server whose environment
# points at it; test/run sets both up, one server per set-up of test/setups,
# and calls "make installcheck REGRESS=..." with each set-up's tests.  A plain
# "make installcheck" runs the first set-up's tests (and the TAP tests).
REGRESS = $(shell awk '$$1 == "setup" { n++ } n == 1 && $$1 == "test" { print $$2 }' test/setups)
REGRESS_OPTS = --load-extension=awslambda

# TAP tests (test/t/*.pl, PostgreSQL::Test::Cluster) through PGXS's
# prove_installcheck; they need the mock (MOCK_URL) and test/run runs them
# one at a time with "make installcheck REGRESS= PROVE_TESTS=test/t/NAME.pl".
TAP_TESTS = 1
PROVE_TESTS = test/t/*.pl

PKG_CONFIG ?= pkg-config
DEPS = libcurl json-c libcrypto zlib
# The version (in the User-Agent) is the control file's, not a second copy.
AWL_VERSION := $(shell sed -n "s/^default_version = '\(.*\)'/\1/p" awslambda.control)
PG_CPPFLAGS = -Isrc -DAWL_VERSION='"$(AWL_VERSION)"' $(shell $(PKG_CONFIG) --cflags $(DEPS))
SHLIB_LINK = $(shell $(PKG_CONFIG) --libs $(DEPS))

EXTRA_CLEAN = test/unit/sigv4_test test/unit/parse_test test/unit/endpoint_test test/unit/http_reply_test

PG_CONFIG ?= pg_config
PGXS := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)

# Extra warnings beyond PostgreSQL's defaults; the build must stay silent.
override CFLAGS += -Wall -Wextra -Wno-unused-parameter -Wno-missing-field-initializers

.PHONY: unittest check-valgrind
# The whole suite with the server under valgrind memcheck (as root, like test/run).
check-valgrind:
	AWL_VALGRIND=1 test/run

unittest:
	$(MAKE) -C test/unit run TESTDATA=$(TESTDATA)

# PGXS tracks no header dependencies here: rebuild everything when one changes.
$(OBJS): $(wildcard src/*.h) awslambda.control
