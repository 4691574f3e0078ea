# Sourced by bench/run (server started with awslambda preloaded, nginx as the
# static endpoint, $static set): whether the queue keeps its speed as its
# history grows (issue 16).
#   fresh   BENCH_QUEUE_ROUNDS (3) bursts of BENCH_BURST (10,000) invocations,
#           each committed in one transaction on an emptied queue; drain rate
#           from COMMIT to the last one finished
#   history then BENCH_BURSTS (20) more bursts without emptying anything, a
#           sustained trigger run (pgbench on the article's trigger for
#           BENCH_SUSTAIN_SECONDS, 60, BENCH_TRIGGER_CLIENTS clients), and
#           BENCH_QUEUE_ROUNDS bursts measured like the fresh ones
# Finished rows stay (async_retention 1 day); autovacuum at its defaults; no
# VACUUM.  Ratio: median after the history / median fresh (target >= 0.8).
# Whether autovacuum came in between is luck: the whole is done a second time
# with autovacuum off for the queue's tables (BENCH_QUEUE_WORST=0 skips it),
# the case of an autovacuum that does not come in time.
# Writes $WORK/queue.md.
burst_n=${BENCH_BURST:-10000}
bursts=${BENCH_BURSTS:-20}
qrounds=${BENCH_QUEUE_ROUNDS:-3}
sustain=${BENCH_SUSTAIN_SECONDS:-60}
qclients=${BENCH_TRIGGER_CLIENTS:-4}
psql -c "ALTER SYSTEM SET awslambda.endpoint_url = '$static'" -c "SELECT pg_reload_conf()" >/dev/null
psql -f bench/triggers.sql >/dev/null
sleep 1  # the reload above restarts the dispatcher
printf '%s\n' "INSERT INTO reading_async (sensor, reading) VALUES ('sensor-' || :client_id, random() * 40);" \
  >"$WORK/insert_async.sql"
chmod 644 "$WORK/insert_async.sql"
qmed() { sort -n "$1" | awk '{v[NR]=$1} END {print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2}'; }
queue_pending() { psql -c "SELECT count(*) FROM awslambda_invocations WHERE finished_at IS NULL"; }
# Waits until the invocation with id $1 (or, without one, every invocation) is
# finished, looking it up by id every 0.1 s: the wait costs the dispatcher
# little of the machine's two cores, whatever the table holds.
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
# One burst; prints its drain rate (invocations/s, COMMIT to the last finished)
# and the dispatcher's CPU time per invocation (µs), which the machine's other
# load changes little.
queue_burst() {
  local out t0 last pid cpu0
  pid=$(psql -c "SELECT pid FROM pg_stat_activity WHERE backend_type = 'awslambda dispatcher' AND datname = 'postgres'")
  cpu0=$(cpu_seconds "$pid")
  out=$(psql -c "BEGIN" \
    -c "SELECT (array_agg(awslambda_fn_async('lambdaTest', json_build_object('n', g)::text)))[$burst_n] FROM generate_series(1, $burst_n) g" \
    -c "SELECT clock_timestamp()" -c "COMMIT")
  last=$(echo "$out" | sed -n 1p)
  t0=$(echo "$out" | sed -n 2p)
  queue_wait_drained "$last"
  echo "$(psql -c "SELECT round($burst_n / extract(epoch FROM max(finished_at) - '$t0'::timestamptz)) FROM awslambda_invocations WHERE finished_at > '$t0'") $(awk -v a="$cpu0" -v b="$(cpu_seconds "$pid")" -v n="$burst_n" 'BEGIN{printf "%.1f", (b - a) * 1e6 / n}')"
}
# Sizes (table + indexes + TOAST), dead rows and autovacuum runs of the queue's tables.
queue_sizes() {
  psql -c "SELECT string_agg(format('%s %s (%s dead rows, autovacuumed %s times)', relname,
             pg_size_pretty(pg_total_relation_size(relid)), n_dead_tup, autovacuum_count), '; ' ORDER BY relname)
             FROM pg_stat_user_tables WHERE relname LIKE 'awslambda_invocations%'"
}
queue_tables="SELECT c.oid::regclass FROM pg_class c WHERE c.relname IN ('awslambda_invocations', 'awslambda_invocations_pending')"
# One whole measurement ($1: a label); appends to $WORK/queue.md.
queue_measure() {
  local qfresh qafter qratio cfresh cafter cratio trig rows sizes_bursts sizes_sustain sizes_after
  : >"$WORK/queue.fresh"
  for r in $(seq "$qrounds"); do
    psql -c "TRUNCATE awslambda_invocations" >/dev/null
    queue_burst >>"$WORK/queue.fresh"
  done
  : >"$WORK/queue.bursts"
  for i in $(seq "$bursts"); do
    queue_burst >>"$WORK/queue.bursts"
  done
  sizes_bursts=$(queue_sizes)
  trig=$( (cd "$WORK" && as_user "$PGBIN/pgbench" -n -c "$qclients" -j 2 -T "$sustain" -f "$WORK/insert_async.sql" postgres) \
    | sed -n 's/^tps = \([0-9.]*\).*/\1/p' | head -n 1)
  queue_wait_drained
  sizes_sustain=$(queue_sizes)
  : >"$WORK/queue.after"
  for r in $(seq "$qrounds"); do
    queue_burst >>"$WORK/queue.after"
  done
  sizes_after=$(queue_sizes)
  rows=$(psql -c "SELECT count(*) FROM awslambda_invocations")
  qfresh=$(cut -d' ' -f1 "$WORK/queue.fresh" | qmed /dev/stdin)
  qafter=$(cut -d' ' -f1 "$WORK/queue.after" | qmed /dev/stdin)
  cfresh=$(cut -d' ' -f2 "$WORK/queue.fresh" | qmed /dev/stdin)
  cafter=$(cut -d' ' -f2 "$WORK/queue.after" | qmed /dev/stdin)
  qratio=$(awk -v a="$qafter" -v b="$qfresh" 'BEGIN{printf "%.2f", a / b}')
  cratio=$(awk -v a="$cafter" -v b="$cfresh" 'BEGIN{printf "%.2f", a / b}')
  echo "$qratio" >"$WORK/queue.ratio.$2"
  {
    echo "$1:"
    echo
    echo "| drain of $burst_n queued Events | median /s | rounds /s | dispatcher CPU µs / invocation (median) |"
    echo "| --- | ---: | --- | ---: |"
    echo "| fresh queue (emptied before each) | $(printf '%.0f' "$qfresh") | $(cut -d' ' -f1 "$WORK/queue.fresh" | tr '\n' ' ')| $cfresh |"
    echo "| after $bursts bursts and ${sustain} s of the trigger | $(printf '%.0f' "$qafter") | $(cut -d' ' -f1 "$WORK/queue.after" | tr '\n' ' ')| $cafter |"
    echo
    echo "**Ratio after history / fresh: $qratio** (target ≥ 0.8); dispatcher CPU per invocation after / fresh:"
    echo "$cratio. The $bursts bursts in between drained at"
    echo "$(cut -d' ' -f1 "$WORK/queue.bursts" | tr '\n' ' ')/s; the trigger run inserted $(printf '%.0f' "$trig") rows/s"
    echo "($qclients pgbench clients). At the end the queue held $rows finished rows, none removed"
    echo "(async_retention 1 day), no VACUUM. Sizes after the $bursts bursts:"
    echo "$sizes_bursts; after the trigger run: $sizes_sustain; at the end: $sizes_after."
    echo
  } >>"$WORK/queue.md"
}
: >"$WORK/queue.md"
queue_load0=$(cut -d' ' -f1-3 /proc/loadavg)
queue_measure "Autovacuum at its defaults" defaults
if [ "${BENCH_QUEUE_WORST:-1}" = 1 ]; then
  for t in $(psql -c "$queue_tables"); do psql -c "ALTER TABLE $t SET (autovacuum_enabled = off)"; done
  queue_measure "Autovacuum off for the queue's tables (it does not come in time)" worst
  for t in $(psql -c "$queue_tables"); do psql -c "ALTER TABLE $t RESET (autovacuum_enabled)"; done
fi
echo "Load average before and after: $queue_load0 / $(cut -d' ' -f1-3 /proc/loadavg)." >>"$WORK/queue.md"
psql -c "TRUNCATE awslambda_invocations" >/dev/null
psql -c "ALTER SYSTEM RESET awslambda.endpoint_url" -c "SELECT pg_reload_conf()" >/dev/null
