# awslambda: call AWS Lambda from SQL.  Built with PGXS.

EXTENSION = awslambda aws_commons aws_lambda
MODULE_big = awslambda
OBJS = \
	src/api.o \
	src/awslambda.o \
	src/awsconfig.o \
	src/compat.o \
	src/confine.o \
	src/credentials.o \
	src/deliver.o \
	src/dispatcher.o \
	src/endpoint.o \
	src/flow.o \
	src/http.o \
	src/invoke.o \
	src/jsonutil.o \
	src/parse.o \
	src/partition.o \
	src/process.o \
	src/queue.o \
	src/sigv4.o \
	src/stats.o \
	src/sts.o

DATA = sql/awslambda--0.1.0.sql sql/awslambda--0.1.0--0.2.0.sql sql/awslambda--0.2.0--0.3.0.sql sql/awslambda--0.3.0--0.4.0.sql sql/awslambda--0.4.0--0.5.0.sql sql/aws_commons--1.0.sql sql/aws_lambda--1.0.sql
PGFILEDESC = "awslambda - invoke AWS Lambda functions from SQL"

# Regression tests need the mock Lambda endpoint and a server whose environment
# points at it; test/run sets both up and then calls "make installcheck".
REGRESS = seed kinesis_loop name_forms errors payloads cancel keepalive invoke fanout retries hostile faults aws_lambda privileges credentials_imds async invoke_api stats invoke_options
REGRESS_OPTS = --load-extension=awslambda

PKG_CONFIG ?= pkg-config
DEPS = libcurl json-c libcrypto
# The version (in the User-Agent) is the control file's, not a second copy.
AWL_VERSION := $(shell sed -n "s/^default_version = '\(.*\)'/\1/p" awslambda.control)
PG_CPPFLAGS = -Isrc -DAWL_VERSION='"$(AWL_VERSION)"' $(shell $(PKG_CONFIG) --cflags $(DEPS))
SHLIB_LINK = $(shell $(PKG_CONFIG) --libs $(DEPS))

EXTRA_CLEAN = test/unit/sigv4_test test/unit/parse_test test/unit/endpoint_test

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
$(OBJS): src/awslambda.h src/http.h src/parse.h src/partition.h src/pg_compat.h src/sigv4.h src/stats.h awslambda.control
