# Sourced by bench/run: awslambda_fn throughput with 1, 2, 4 and 8 pgbench
# clients against the static endpoint, with the latency spread and where the
# machine's CPU went (nginx, pgbench, the rest: PostgreSQL backends).
secs=${BENCH_SECONDS:-8}
start_nginx
psql -c "ALTER SYSTEM SET awslambda.endpoint_url = '$static'" -c "SELECT pg_reload_conf()" >/dev/null
printf '%s\n' "SELECT awslambda_fn('lambdaTest', '{}');" >"$WORK/statement.sql"
chmod 644 "$WORK/statement.sql"
{
  echo "| clients | calls/s | p50 | p99 | machine CPU busy | nginx | pgbench | PostgreSQL + rest |"
  echo "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
} >"$WORK/concurrency.md"
for c in 1 2 4 8; do
  read -r busy0 total0 <<<"$(machine_jiffies)"
  nginx_worker=$(pgrep -P "$(cat "$WORK/nginx.pid")" | head -n 1)
  nginx0=$(cpu_seconds "$nginx_worker")
  /usr/bin/time -f '%U %S' -o "$WORK/pgbench.time" \
    runuser -u "$RUN_AS" -- sh -c "cd '$WORK' && '$PGBIN/pgbench' -n -c $c -j $((c < 2 ? 1 : 2)) -T $secs \
      -f '$WORK/statement.sql' -l --log-prefix='$WORK/pgbconc' postgres > '$WORK/pgbench.out' 2>&1"
  read -r busy1 total1 <<<"$(machine_jiffies)"
  nginx1=$(cpu_seconds "$nginx_worker")
  tps=$(sed -n 's/^tps = \([0-9.]*\).*/\1/p' "$WORK/pgbench.out" | head -n 1)
  cat "$WORK"/pgbconc.* | awk '{print $3}' | sort -n >"$WORK/lat_conc.txt"; rm -f "$WORK"/pgbconc.*
  n=$(wc -l <"$WORK/lat_conc.txt")
  p50=$(sed -n "$(( (n + 1) / 2 ))p" "$WORK/lat_conc.txt")
  p99=$(sed -n "$(( n * 99 / 100 ))p" "$WORK/lat_conc.txt")
  ncpu=$(nproc)
  wall=$(awk -v a="$total0" -v b="$total1" -v n="$ncpu" 'BEGIN{print (b - a) / n}')
  awk -v c="$c" -v tps="$tps" -v p50="$p50" -v p99="$p99" -v b0="$busy0" -v b1="$busy1" \
      -v t0="$total0" -v t1="$total1" -v n0="$nginx0" -v n1="$nginx1" -v hz="$(getconf CLK_TCK)" \
      -v pgb="$(awk '{print $1 + $2}' "$WORK/pgbench.time")" -v ncpu="$ncpu" 'BEGIN {
        busy = (b1 - b0) / hz; total = (t1 - t0) / hz; ng = n1 - n0;
        printf "| %d | %.0f | %d µs | %d µs | %.0f%% of %d cores | %.0f%% | %.0f%% | %.0f%% |\n",
          c, tps, p50, p99, 100 * busy / total, ncpu, 100 * ng / busy, 100 * pgb / busy,
          100 * (busy - ng - pgb) / busy }' >>"$WORK/concurrency.md"
done
# Memory: one backend's RSS before and after many calls.
read -r rss0 rss1 <<<"$(PGOPTIONS="-c bench.calls=${BENCH_MEMORY_CALLS:-100000}" psql -f bench/memory.sql | tail -n 1)"
echo "- Memory: one backend's RSS before and after ${BENCH_MEMORY_CALLS:-100000} \`awslambda_fn\` calls (after 1,000 warm-up calls): $rss0 kB → $rss1 kB ($((rss1 - rss0)) kB)." >"$WORK/memory.md"
stop_nginx
psql -c "ALTER SYSTEM RESET awslambda.endpoint_url" -c "SELECT pg_reload_conf()" >/dev/null
