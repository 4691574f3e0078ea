# Sourced by bench/run (server started with awslambda preloaded): what
# asynchronous invocations cost and how fast the dispatcher sends them, against
# the static endpoint.
#   triggers  pgbench INSERT throughput into a table without a trigger, with an
#             awslambda_fn_async trigger (queued, the dispatcher sending in the
#             background) and with an awslambda_fn trigger (a call per row);
#             interleaved rounds, ratios to no trigger
#   drain     10,000 invocations committed at once: time until all are sent
#   latency   commit to the dispatcher's claim of a single invocation
secs=${BENCH_SECONDS:-8}
rounds=${BENCH_ROUNDS:-3}
clients=${BENCH_TRIGGER_CLIENTS:-4}
start_nginx
psql -c "ALTER SYSTEM SET awslambda.endpoint_url = '$static'" -c "SELECT pg_reload_conf()" >/dev/null
psql -f bench/triggers.sql >/dev/null
for t in plain async sync; do
  printf '%s\n' "INSERT INTO reading_$t (sensor, reading) VALUES ('sensor-' || :client_id, random() * 40);" \
    >"$WORK/insert_$t.sql"
  : >"$WORK/tps.$t"
done
chmod 644 "$WORK"/insert_*.sql
med() { sort -n "$1" | awk '{v[NR]=$1} END {print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2}'; }
wait_drained() {
  for _ in $(seq 3000); do
    [ "$(psql -c "SELECT count(*) FROM awslambda_invocations WHERE finished_at IS NULL")" = 0 ] && return
    sleep 0.1
  done
}
# Two durability settings: fsync on (PostgreSQL's default; each commit waits
# for the disk) and off (the test set-up's, where the CPU alone limits).
: >"$WORK/triggers.md"
for fsync in on off; do
  psql -c "ALTER SYSTEM SET fsync = $fsync" -c "SELECT pg_reload_conf()" >/dev/null
  for t in plain async sync; do : >"$WORK/tps.$t"; done
  for r in $(seq "$rounds"); do
    for t in plain async sync; do
      (cd "$WORK" && as_user "$PGBIN/pgbench" -n -c "$clients" -j 2 -T "$secs" -f "$WORK/insert_$t.sql" postgres) \
        | sed -n 's/^tps = \([0-9.]*\).*/\1/p' | head -n 1 >>"$WORK/tps.$t"
      wait_drained    # the next contender does not share the machine with a backlog
    done
  done
  plain=$(med "$WORK/tps.plain")
  {
    echo "fsync = $fsync:"
    echo
    echo "| table | INSERT tps (median of $rounds × ${secs} s, $clients clients) | rounds | ratio to no trigger |"
    echo "| --- | ---: | --- | ---: |"
    for t in plain async sync; do
      m=$(med "$WORK/tps.$t")
      label=$t
      [ "$t" = plain ] && label="no trigger"
      [ "$t" = async ] && label="awslambda_fn_async trigger"
      [ "$t" = sync ] && label="awslambda_fn trigger"
      echo "| $label | $(printf '%.0f' "$m") | $(tr '\n' ' ' <"$WORK/tps.$t" | xargs printf '%.0f ') | $(awk -v a="$m" -v b="$plain" 'BEGIN{printf "%.2f", a / b}') |"
    done
    echo
  } >>"$WORK/triggers.md"
done
psql -c "ALTER SYSTEM RESET fsync" -c "SELECT pg_reload_conf()" >/dev/null
queued=$(psql -c "SELECT count(*) FROM reading_async")
not_sent=$(psql -c "SELECT count(*) FROM awslambda_invocations WHERE status <> 'sent'")
echo "The async trigger queued $queued invocations over all rounds; $not_sent of them not sent at the end." >>"$WORK/triggers.md"

# Drain rate: 10,000 committed in one transaction, sent by the dispatcher.
psql -c "TRUNCATE awslambda_invocations" >/dev/null
rss() { awk '/^VmRSS/ {print $2}' "/proc/$1/status"; }
dispatcher=$(psql -c "SELECT pid FROM pg_stat_activity WHERE backend_type = 'awslambda dispatcher' AND datname = 'postgres'")
drss0=$(rss "$dispatcher")
: >"$WORK/drain"
for r in $(seq "$rounds"); do
  t0=$(psql -c "BEGIN" \
    -c "SELECT count(awslambda_fn_async('lambdaTest', json_build_object('n', g)::text)) FROM generate_series(1, 10000) g" \
    -c "SELECT clock_timestamp()" -c "COMMIT" | tail -n 1)
  wait_drained
  psql -c "SELECT round(10000 / extract(epoch FROM max(finished_at) - '$t0'::timestamptz)) FROM awslambda_invocations" >>"$WORK/drain"
  psql -c "TRUNCATE awslambda_invocations" >/dev/null
done
drain=$(med "$WORK/drain")
drss1=$(rss "$dispatcher")

# Commit to claim, one invocation at a time.
: >"$WORK/claim"
for i in $(seq 50); do
  t0=$(psql -c "BEGIN" -c "SELECT awslambda_fn_async('lambdaTest', '{\"latency\": $i}') IS NULL" \
    -c "SELECT clock_timestamp()" -c "COMMIT" | tail -n 1)
  wait_drained
  psql -c "SELECT round(extract(epoch FROM last_attempt_at - '$t0'::timestamptz) * 1000, 2) FROM awslambda_invocations WHERE payload = '{\"latency\": $i}'" >>"$WORK/claim"
done
{
  echo "- Drain: 10,000 invocations committed in one transaction, sent as Event with"
  echo "  awslambda.max_concurrency = $(psql -c 'SHOW awslambda.max_concurrency'): median **$(printf '%.0f' "$drain") invocations/s**"
  echo "  (rounds: $(tr '\n' ' ' <"$WORK/drain")/s), from COMMIT to the last one recorded."
  echo "- Commit to claim (the dispatcher has the invocation and starts sending), 50 single"
  echo "  commits: median $(med "$WORK/claim") ms, max $(sort -n "$WORK/claim" | tail -n 1) ms."
  echo "- Memory: the dispatcher's RSS before and after sending the $((rounds * 10000)) drain invocations:"
  echo "  $drss0 kB → $drss1 kB ($((drss1 - drss0)) kB)."
} >"$WORK/drain.md"
# Micro-batches (awslambda.async_batch_sizes): 10,000 Events committed at once,
# sent one per Invoke and in batches of 10 and 100, rounds interleaved.
for n in 1 10 100; do : >"$WORK/batch.$n"; done
for r in $(seq "$rounds"); do
  for n in 1 10 100; do
    setting=""
    [ "$n" -gt 1 ] && setting="lambdaTest=$n"
    old=$(psql -c "SELECT pid FROM pg_stat_activity WHERE backend_type = 'awslambda dispatcher' AND datname = 'postgres'")
    psql -c "ALTER SYSTEM SET awslambda.async_batch_sizes = '$setting'" -c "SELECT pg_reload_conf()" >/dev/null
    for _ in $(seq 100); do   # the reload restarts the dispatcher
      now=$(psql -c "SELECT pid FROM pg_stat_activity WHERE backend_type = 'awslambda dispatcher' AND datname = 'postgres'")
      [ -n "$now" ] && [ "$now" != "$old" ] && break
      psql -c "SELECT awslambda_fn_async('lambdaTest', '{}') IS NULL" >/dev/null; wait_drained; sleep 0.1
    done
    psql -c "TRUNCATE awslambda_invocations" >/dev/null
    t0=$(psql -c "BEGIN" \
      -c "SELECT count(awslambda_fn_async('lambdaTest', json_build_object('n', g)::text)) FROM generate_series(1, 10000) g" \
      -c "SELECT clock_timestamp()" -c "COMMIT" | tail -n 1)
    wait_drained
    psql -c "SELECT round(10000 / extract(epoch FROM max(finished_at) - '$t0'::timestamptz)) FROM awslambda_invocations" >>"$WORK/batch.$n"
  done
done
psql -c "ALTER SYSTEM RESET awslambda.async_batch_sizes" -c "SELECT pg_reload_conf()" >/dev/null
{
  echo "- Micro-batches: 10,000 Events committed at once, invocations delivered per second"
  echo "  (median of $rounds interleaved rounds), by \`awslambda.async_batch_sizes\`:"
  for n in 1 10 100; do
    echo "  batches of $n: **$(printf '%.0f' "$(med "$WORK/batch.$n")")/s** (rounds: $(tr '\n' ' ' <"$WORK/batch.$n")), $(awk -v a="$(med "$WORK/batch.$n")" -v b="$(med "$WORK/batch.1")" 'BEGIN{printf "%.1f", a / b}')× one per Invoke."
  done
} >>"$WORK/drain.md"
stop_nginx
psql -c "ALTER SYSTEM RESET awslambda.endpoint_url" -c "SELECT pg_reload_conf()" >/dev/null
