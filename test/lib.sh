# Shared by test/run, test/demo and test/package: a throwaway PostgreSQL server
# (the major of pg_config on PATH, or of AWL_PGBIN, its bindir) and the
# mock Lambda endpoint, both run as an unprivileged OS user in a private
# directory.  PostgreSQL refuses to run as root; the mock does not need to.
# Source it, then call awl_setup (sets WORK, MOCK_PORT, PGHOST, PGPORT).

PGBIN=${AWL_PGBIN:-$(pg_config --bindir)}
RUN_AS=${AWL_RUN_AS:-postgres}

# How the server runs under valgrind memcheck with AWL_VALGRIND=1 (and the
# checker's self-test, test/valgrind_selftest.py).  Stacks 50 frames deep, not
# 12: a frame of ours under a dozen of libcurl's or the server's still shows.
AWL_VALGRIND_OPTS="--quiet --track-origins=yes --read-var-info=yes --num-callers=50 \
--leak-check=full --show-leak-kinds=definite --errors-for-leak-kinds=definite"

# Runs a command as $RUN_AS (or directly when we already are that user).
as_user() {
  if [ "$(id -un)" = "$RUN_AS" ]; then "$@"; else runuser -u "$RUN_AS" -- "$@"; fi
}

awl_setup() {
  local top=$1
  WORK=$(mktemp -d /tmp/awslambda.XXXXXX)
  chmod 755 "$WORK"
  # A copy the unprivileged user may write into (pg_regress results, logs).
  mkdir "$WORK/src"
  (cd "$top" && tar --exclude=.git -cf - .) | tar -C "$WORK/src" -xf -
  chown -R "$RUN_AS" "$WORK"

  # A self-signed certificate for the mock's HTTPS port (TLS verification tests).
  mkdir -p "$WORK/tls"
  openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=127.0.0.1 \
    -addext subjectAltName=IP:127.0.0.1 -keyout "$WORK/tls/key.pem" -out "$WORK/tls/cert.pem" \
    >/dev/null 2>&1 || { echo "openssl could not make a test certificate"; return 1; }
  /usr/bin/python3 "$WORK/src/test/mock/mock_lambda.py" \
    --port-file "$WORK/mock.port" --log "$WORK/mock.log" --secrets-log "$WORK/mock.secrets" \
    --tls-cert "$WORK/tls/cert.pem" --tls-key "$WORK/tls/key.pem" --tls-port-file "$WORK/mock.tlsport" &
  MOCK_PID=$!
  for _ in $(seq 100); do [ -s "$WORK/mock.port" ] && break; sleep 0.1; done
  [ -s "$WORK/mock.port" ] || { echo "mock Lambda did not start"; cat "$WORK/mock.log"; return 1; }
  MOCK_PORT=$(cat "$WORK/mock.port")
  MOCK_TLS_PORT=$(cat "$WORK/mock.tlsport")
  MOCK_URL="http://127.0.0.1:$MOCK_PORT"

  as_user "$PGBIN/initdb" -D "$WORK/data" -A trust -U postgres --no-sync -E UTF8 --locale=C >"$WORK/initdb.log"
  cat >>"$WORK/data/postgresql.conf" <<CONF
listen_addresses = ''
unix_socket_directories = '$WORK'
port = 5432
fsync = off
awslambda.endpoint_url = '$MOCK_URL'
log_line_prefix = '%m [%p] '
CONF
  export PGHOST=$WORK PGPORT=5432 PGUSER=postgres MOCK_PORT MOCK_URL MOCK_TLS_PORT
}

# Starts the server with exactly the given environment (NAME=value ...), so
# no AWS variable leaks in from the caller's shell; PGOPTS adds server options.
awl_start() {
  local postgres=$PGBIN/postgres
  if [ "${AWL_VALGRIND:-}" ]; then
    postgres=$WORK/postgres-valgrind
    cat >"$postgres" <<SH
#!/bin/sh
exec valgrind $AWL_VALGRIND_OPTS --log-file=$WORK/valgrind.%p.log $PGBIN/postgres "\$@"
SH
    chmod 755 "$postgres"
  fi
  # No ~/.aws of the machine's postgres user leaks in either; a set-up may override.
  as_user env -i PATH=/usr/bin:/bin LANG=C.UTF-8 \
    AWS_CONFIG_FILE="$WORK/no-aws-config" AWS_SHARED_CREDENTIALS_FILE="$WORK/no-aws-credentials" "$@" \
    "$PGBIN/pg_ctl" -D "$WORK/data" -l "$WORK/server.log" -p "$postgres" -t 300 -w \
    ${PGOPTS:+-o "$PGOPTS"} start >/dev/null
}

awl_stop() {
  as_user "$PGBIN/pg_ctl" -D "$WORK/data" -m fast -t 300 -w stop >/dev/null 2>&1 || true
}

awl_teardown() {
  awl_stop
  [ -n "${MOCK_PID:-}" ] && kill "$MOCK_PID" 2>/dev/null && wait "$MOCK_PID" 2>/dev/null
  [ "${AWL_KEEP:-}" ] || rm -rf "$WORK"
}
