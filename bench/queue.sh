# Sourced by bench/run (server started with awslambda preloaded, nginx as the
# static endpoint): whether the queue keeps its speed as its history grows.
#   A burst of BENCH_BURST (10,000) invocations committed in one transaction on
#   a fresh queue, its drain rate (COMMIT to the last one finished); then
#   BENCH_BURSTS (20) more bursts, a sustained trigger run (pgbench on the
#   article's trigger for BENCH_SUSTAIN_SECONDS, 60), and one more burst,
#   measured like the first.  Finished rows stay (async_retention 1 day),
#   autovacuum at its defaults, no VACUUM.  Ratio: last burst / first.
burst_n=${BENCH_BURST:-10000}
bursts=${BENCH_BURSTS:-20}
sustain=${BENCH_SUSTAIN_SECONDS:-60}
clients=${BENCH_TRIGGER_CLIENTS:-4}
psql -f bench/triggers.sql >/dev/null
printf '%s\n' "INSERT INTO reading_async (sensor, reading) VALUES ('sensor-' || :client_id, random() * 40);" \
  >"$WORK/insert_async.sql"
chmod 644 "$WORK/insert_async.sql"
queue_pending() { psql -c "SELECT count(*) FROM awslambda_invocations WHERE finished_at IS NULL"; }
# Waits until the invocation with id $1 (or, without one, every invocation) is
# finished, looking it up by id every 0.1 s: the wait costs the dispatcher
# nothing of the machine's two cores, whatever the table holds.
queue_wait_drained() {
  local i
  if [ -n "${1:-}" ]; then
    for i in $(seq 6000); do
      [ "$(psql -c "SELECT finished_at IS NOT NULL FROM awslambda_invocation('$1')")" = t ] && break
      sleep 0.1
    done
  fi
  for i in $(seq 6000); do
    [ "$(queue_pending)" = 0 ] && return
    sleep 0.2
  done
}
# One burst; prints its drain rate (invocations/s, COMMIT to the last finished).
queue_burst() {
  local out t0 last
  out=$(psql -c "BEGIN" \
    -c "SELECT (array_agg(awslambda_fn_async('lambdaTest', json_build_object('n', g)::text)))[$burst_n] FROM generate_series(1, $burst_n) g" \
    -c "SELECT clock_timestamp()" -c "COMMIT")
  last=$(echo "$out" | sed -n 1p)
  t0=$(echo "$out" | sed -n 2p)
  queue_wait_drained "$last"
  psql -c "SELECT round($burst_n / extract(epoch FROM max(finished_at) - '$t0'::timestamptz)) FROM awslambda_invocations WHERE finished_at > '$t0'"
}
queue_sizes() {
  psql -c "SELECT string_agg(format('%s %s (%s dead)', relname, pg_size_pretty(pg_total_relation_size(relid)), n_dead_tup), ', ' ORDER BY relname) FROM pg_stat_user_tables WHERE relname LIKE 'awslambda%'"
}
psql -c "TRUNCATE awslambda_invocations" >/dev/null
first=$(queue_burst)
echo "first burst: $first/s; $(queue_sizes)"
: >"$WORK/queue.bursts"
for i in $(seq "$bursts"); do
  queue_burst >>"$WORK/queue.bursts"
done
echo "bursts 1-$bursts: $(tr '\n' ' ' <"$WORK/queue.bursts")/s; $(queue_sizes)"
trig=$( (cd "$WORK" && as_user "$PGBIN/pgbench" -n -c "$clients" -j 2 -T "$sustain" -f "$WORK/insert_async.sql" postgres) \
  | sed -n 's/^tps = \([0-9.]*\).*/\1/p' | head -n 1)
queue_wait_drained
echo "sustained trigger run: $sustain s at $trig inserts/s; $(queue_sizes)"
last=$(queue_burst)
echo "last burst: $last/s; $(queue_sizes)"
echo "ratio last/first: $(awk -v a="$last" -v b="$first" 'BEGIN{printf "%.2f", a / b}')"
