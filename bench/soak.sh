# Sourced by bench/run (server started with awslambda preloaded, nginx as the
# static endpoint, $static set): the article's trigger under pgbench at full
# speed for SOAK_MINUTES (10; 2 for a quick check), SOAK_CLIENTS (2) pgbench
# clients, the dispatcher sending in the background.  Every SOAK_INTERVAL
# seconds (60) it records inserts/s, invocations sent/s, the queue depth, the
# oldest queued invocation's age, and the sizes (with indexes and TOAST) of the
# pending table, of its indexes alone, and of the finished rows' table; and the
# dispatcher's CPU time per invocation sent, which the machine's other load
# does not change (a slower queue would show there first).
# Writes $WORK/soak.md, $WORK/soak.dat and bench/soak.svg.
soak_minutes=${SOAK_MINUTES:-10}
soak_interval=${SOAK_INTERVAL:-60}
soak_clients=${SOAK_CLIENTS:-2}
soak_seconds=$((soak_minutes * 60))
psql -c "ALTER SYSTEM SET awslambda.endpoint_url = '$static'" -c "SELECT pg_reload_conf()" >/dev/null
psql -f bench/triggers.sql >/dev/null
psql -c "TRUNCATE awslambda_invocations" >/dev/null
# A first invocation, sent by the dispatcher the reload restarted.
psql -c "SELECT awslambda_fn_async('lambdaTest', '{}')" >/dev/null
for _ in $(seq 100); do
  [ "$(psql -c "SELECT count(*) FROM awslambda_invocations WHERE finished_at IS NULL")" = 0 ] && break
  sleep 0.1
done
printf '%s\n' "INSERT INTO reading_async (sensor, reading) VALUES ('sensor-' || :client_id, random() * 40);" \
  >"$WORK/soak_insert.sql"
chmod 644 "$WORK/soak_insert.sql"
# One sample: inserts so far, sent in (since, now], depth, oldest age (s), sizes (bytes).
soak_sample() {
  psql -F ' ' -c "SELECT (SELECT coalesce(max(id), 0) FROM reading_async),
      (SELECT count(*) FROM ONLY awslambda_invocations WHERE finished_at > '$1' AND finished_at <= '$2'),
      (SELECT count(*) FROM awslambda_invocations WHERE finished_at IS NULL),
      (SELECT coalesce(round(GREATEST(extract(epoch FROM '$2'::timestamptz - min(enqueued_at)), 0)::numeric, 1), 0)
         FROM awslambda_invocations WHERE finished_at IS NULL AND status = 'queued'),
      pg_total_relation_size('awslambda_invocations_pending'),
      pg_indexes_size('awslambda_invocations_pending'),
      pg_total_relation_size('awslambda_invocations')"
}
load0=$(cut -d' ' -f1-3 /proc/loadavg)
(cd "$WORK" && as_user "$PGBIN/pgbench" -n -c "$soak_clients" -j 2 -T "$soak_seconds" -f "$WORK/soak_insert.sql" postgres \
  >"$WORK/soak.pgbench" 2>&1) &
soak_pid=$!
start=$(psql -c "SELECT clock_timestamp()")
prev=$start
prev_ins=0
# The dispatcher that the reload above started (the old one leaves at once).
soak_pid() { psql -c "SELECT pid FROM pg_stat_activity WHERE backend_type = 'awslambda dispatcher' AND datname = 'postgres'"; }
soak_dispatcher=$(soak_pid)
prev_cpu=$(cpu_seconds "$soak_dispatcher")
: >"$WORK/soak.dat"
for m in $(seq "$soak_minutes"); do
  sleep "$soak_interval"
  now=$(psql -c "SELECT clock_timestamp()")
  read -r ins sent depth age psize pisize hsize < <(soak_sample "$prev" "$now")
  secs=$(psql -c "SELECT extract(epoch FROM '$now'::timestamptz - '$prev'::timestamptz)")
  cpu=$(cpu_seconds "$soak_dispatcher")
  if [ "$(soak_pid)" != "$soak_dispatcher" ]; then  # restarted: this minute's CPU is not known
    soak_dispatcher=$(soak_pid); cpu=$(cpu_seconds "$soak_dispatcher"); prev_cpu=$cpu; sent_cpu_unknown=1
  fi
  cpu_per=$(awk -v c="$cpu" -v p="$prev_cpu" -v s="$sent" 'BEGIN{printf "%.1f", s ? (c - p) * 1e6 / s : 0}')
  [ -n "${sent_cpu_unknown:-}" ] && cpu_per=n/a
  sent_cpu_unknown=
  echo "$m $(awk -v i="$((ins - prev_ins))" -v s="$sent" -v t="$secs" 'BEGIN{printf "%.0f %.0f", i / t, s / t}') $depth $age $psize $pisize $hsize $cpu_per" \
    >>"$WORK/soak.dat"
  prev=$now
  prev_ins=$ins
  prev_cpu=$cpu
done
wait "$soak_pid"
load1=$(cut -d' ' -f1-3 /proc/loadavg)
for _ in $(seq 3000); do
  [ "$(psql -c "SELECT count(*) FROM awslambda_invocations WHERE finished_at IS NULL")" = 0 ] && break
  sleep 0.2
done
drained=$(psql -c "SELECT CASE WHEN max(finished_at) > '$prev' THEN 'what was queued at the end was sent '
  || round(extract(epoch FROM max(finished_at) - '$prev'::timestamptz)::numeric, 1) || ' s after the last sample'
  ELSE 'nothing was left to send after the last sample' END FROM awslambda_invocations")
mb() { awk -v b="$1" 'BEGIN{printf "%.1f", b / 1048576}'; }
first_sent=$(awk 'NR == 1 {print $3}' "$WORK/soak.dat")
last_sent=$(awk 'END {print $3}' "$WORK/soak.dat")
soak_ratio=$(awk -v a="$last_sent" -v b="$first_sent" 'BEGIN{printf "%.2f", a / b}')
{
  echo "| minute | inserts/s | sent/s | queue depth | oldest queued (s) | pending table (MB) | its indexes (MB) | finished rows' table (MB) | dispatcher CPU µs / sent |"
  echo "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
  while read -r m i s d a p pi h c; do
    echo "| $m | $i | $s | $d | $a | $(mb "$p") | $(mb "$pi") | $(mb "$h") | $c |"
  done <"$WORK/soak.dat"
  echo
  echo "**Sent/s in the last minute / the first: $soak_ratio** (target ≥ 0.9). $soak_clients pgbench clients"
  echo "for $soak_minutes min ($(sed -n 's/^number of transactions actually processed: \([0-9]*\).*/\1/p' "$WORK/soak.pgbench") rows inserted);"
  echo "$drained. Load average before and"
  echo "after: $load0 / $load1. Queue depth and oldest age are sampled at each minute's end; the"
  echo "finished rows' table grows by design (async_retention 1 day keeps every row)."
} >"$WORK/soak.md"
gnuplot <<GP
set terminal svg size 900,750 font "sans,12"
set output "bench/soak.svg"
set multiplot layout 3,1 title "Soak: the article's trigger under pgbench, $soak_clients clients, $soak_minutes min"
set key outside right
set xlabel "minute"
set xrange [0.5:$soak_minutes.5]
set ylabel "per second"
set yrange [0:*]
plot "$WORK/soak.dat" using 1:2 with linespoints lw 2 title "inserts", \
     "" using 1:3 with linespoints lw 2 title "sent"
set ylabel "rows / ms"
plot "$WORK/soak.dat" using 1:4 with linespoints lw 2 title "queue depth", \
     "" using 1:(\$5 * 1000) with linespoints lw 2 title "oldest queued (ms)"
set ylabel "MB"
plot "$WORK/soak.dat" using 1:(\$6 / 1048576) with linespoints lw 2 title "pending table", \
     "" using 1:(\$7 / 1048576) with linespoints lw 2 title "its indexes", \
     "" using 1:(\$8 / 1048576) with linespoints lw 2 title "finished rows"
unset multiplot
GP
psql -c "ALTER SYSTEM RESET awslambda.endpoint_url" -c "SELECT pg_reload_conf()" >/dev/null
