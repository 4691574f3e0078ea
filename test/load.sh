# Sourced by test/run after the regression set-ups (needs lib.sh's state):
# load and memory checks against the mock, with instance-metadata credentials.
#   1. pgbench, AWL_LOAD_CLIENTS sessions x AWL_LOAD_CALLS calls of
#      awslambda_fn: no failed call, and the mock counted exactly that many;
#   2. one session making AWL_RSS_CALLS calls: backend RSS after a warm-up
#      and at the end; growth must stay under 1 MB.
load_clients=${AWL_LOAD_CLIENTS:-8}
load_calls=${AWL_LOAD_CALLS:-10000}
rss_calls=${AWL_RSS_CALLS:-100000}

psql_q() { as_user "$PGBIN/psql" -X -q -At -d postgres "$@"; }
invokes() { psql_q -c "SELECT awslambda_fn('mockStats', '{}')::jsonb->>'invokes'"; }

awl_stop
awl_start AWS_EC2_METADATA_SERVICE_ENDPOINT="$MOCK_URL" || record "load: server start" fail
psql_q -c "CREATE EXTENSION IF NOT EXISTS awslambda"
# The mock is shared with every earlier test: no throttling left over from one.
psql_q -c "SELECT awslambda_fn('mockConfig', '{\"throttle_per_second\": 0}')" >/dev/null
printf '%s\n' "SELECT awslambda_fn('lambdaTest', '{\"load\": true}');" >"$WORK/load.sql"
chmod 644 "$WORK/load.sql"

before=$(invokes)
as_user "$PGBIN/pgbench" -n -c "$load_clients" -j 2 -t "$load_calls" \
  -f "$WORK/load.sql" postgres >"$WORK/pgbench.out" 2>&1
after=$(invokes)
sent=$((after - before - 1))     # the second mockStats call counts itself
tx_failed=$(sed -n 's/^number of failed transactions: \([0-9]*\).*/\1/p' "$WORK/pgbench.out")
done_tx=$(sed -n 's/^number of transactions actually processed: \([0-9]*\).*/\1/p' "$WORK/pgbench.out")
tps=$(sed -n 's/^tps = \([0-9.]*\) .*/\1/p' "$WORK/pgbench.out")
want=$((load_clients * load_calls))
if [ "${tx_failed:-x}" = 0 ] && [ "${done_tx:-0}" = "$want" ] && [ "$sent" = "$want" ]; then
  record "load ($load_clients sessions x $load_calls calls: 0 failed, mock counted $sent, $tps calls/s)" ok
else
  cat "$WORK/pgbench.out"
  record "load (failed=$tx_failed processed=$done_tx mock counted $sent of $want)" fail
fi

# RSS of one backend: warm up, read VmRSS, make the calls, read it again.
cat >"$WORK/rss.sql" <<SQL
SELECT count(awslambda_fn('lambdaTest', '{}')) FROM generate_series(1, 1000);
SELECT 'rss ' || substring(pg_read_file('/proc/' || pg_backend_pid() || '/status') FROM 'VmRSS:\s*(\d+)');
SELECT count(awslambda_fn('lambdaTest', json_build_object('i', i)::text)) FROM generate_series(1, $rss_calls) i;
SELECT 'rss ' || substring(pg_read_file('/proc/' || pg_backend_pid() || '/status') FROM 'VmRSS:\s*(\d+)');
SQL
chmod 644 "$WORK/rss.sql"
rss=$(psql_q -f "$WORK/rss.sql" | sed -n 's/^rss \([0-9]*\)$/\1/p')
rss_before=$(echo "$rss" | sed -n 1p)
rss_after=$(echo "$rss" | sed -n 2p)
if [ -n "$rss_before" ] && [ -n "$rss_after" ] && [ $((rss_after - rss_before)) -lt 1024 ]; then
  record "memory ($rss_calls calls in one session: backend RSS ${rss_before} kB -> ${rss_after} kB)" ok
else
  record "memory (backend RSS ${rss_before:-?} kB -> ${rss_after:-?} kB over $rss_calls calls)" fail
fi
# RSS of one backend across failing calls: each kind of fault many times,
# every error caught in PL/pgSQL (a subtransaction each), growth < 1 MB.
cat >"$WORK/rss_faults.sql" <<'SQL'
SET awslambda.max_attempts = 1;
CREATE FUNCTION pg_temp.faults(n int) RETURNS int AS $$
DECLARE
    failures int := 0;
    payloads text[] := ARRAY['{"garbage":true}', '{"reset":true}', '{"truncate":true}',
                             '{"status":429,"code":"TooManyRequestsException"}',
                             '{"status":500,"raw":"<html>oops</html>"}', '{"huge_header":150000}'];
BEGIN
    FOR i IN 1 .. n LOOP
        BEGIN
            PERFORM awslambda_fn('mockStatus', payloads[1 + i % 6]);
        EXCEPTION WHEN OTHERS THEN
            failures := failures + 1;
        END;
        BEGIN
            PERFORM awslambda_fn('noSuchFunction', '{}');
        EXCEPTION WHEN undefined_function THEN
            failures := failures + 1;
        END;
    END LOOP;
    RETURN failures;
END;
$$ LANGUAGE plpgsql;
SELECT pg_temp.faults(200);
SELECT 'rss ' || substring(pg_read_file('/proc/' || pg_backend_pid() || '/status') FROM 'VmRSS:\s*(\d+)');
SELECT 'failures ' || pg_temp.faults(FAULT_ROUNDS);
SELECT 'rss ' || substring(pg_read_file('/proc/' || pg_backend_pid() || '/status') FROM 'VmRSS:\s*(\d+)');
SELECT 'ok ' || awslambda_fn('lambdaTest', '{}');
SQL
fault_rounds=${AWL_FAULT_ROUNDS:-3000}
sed -i "s/FAULT_ROUNDS/$fault_rounds/" "$WORK/rss_faults.sql"
chmod 644 "$WORK/rss_faults.sql"
out=$(psql_q -f "$WORK/rss_faults.sql" 2>&1)
rss=$(echo "$out" | sed -n 's/^rss \([0-9]*\)$/\1/p')
rss_before=$(echo "$rss" | sed -n 1p)
rss_after=$(echo "$rss" | sed -n 2p)
failures=$(echo "$out" | sed -n 's/^failures \([0-9]*\)$/\1/p')
if [ "${failures:-0}" = $((2 * fault_rounds)) ] && echo "$out" | grep -q '^ok ' &&
   [ -n "$rss_before" ] && [ -n "$rss_after" ] && [ $((rss_after - rss_before)) -lt 1024 ]; then
  record "memory ($failures failing calls, each fault kind, errors caught: backend RSS ${rss_before} kB -> ${rss_after} kB, next call works)" ok
else
  echo "$out" | tail -n 20
  record "memory under faults (failures=${failures:-?}, RSS ${rss_before:-?} kB -> ${rss_after:-?} kB)" fail
fi
awl_stop
