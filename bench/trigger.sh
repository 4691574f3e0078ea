# Sourced by bench/run (BENCH_ONLY=trigger; server started with awslambda
# preloaded, start_server restarting it, nginx as the static endpoint, $static
# set): what the article's awslambda_fn_async trigger costs an INSERT (issue 16,
# item 5).  pgbench, TRIGGER_CLIENTS (2) clients, one row per transaction,
# fsync on, TRIGGER_ROUNDS (7) interleaved rounds of TRIGGER_SECONDS (20) s of:
#   plain   the reading table without a trigger
#   async   with the awslambda_fn_async trigger, the dispatcher sending each
#           invocation as its own Invoke in the background
#   batch   the same trigger on a function of its own that
#           awslambda.async_batch_sizes batches by TRIGGER_BATCH (10)
#   paused  the async trigger with its function paused (awslambda_pause) for
#           the run: the rows are queued but the dispatcher sends nothing,
#           which tells the INSERT's own cost from the dispatcher's beside it
#           (resumed and drained afterwards)
# Per round: tps, WAL bytes per insert, the dispatcher's HTTP requests per
# insert made during the round and the invocations not yet sent when it ends
# (it keeps up if that is about 0), and the dispatcher's CPU time in it; then
# the queue is drained before the next contender starts.
# With TRIGGER_BEFORE_SO=path (another build's awslambda.so), every round runs
# the contenders under that build ("before") and under this one ("after"), the
# server restarted with the library swapped in between: both builds measured
# in the same run, under the same load.
# Writes $WORK/trigger.md.
t_secs=${TRIGGER_SECONDS:-20}
t_rounds=${TRIGGER_ROUNDS:-7}
t_clients=${TRIGGER_CLIENTS:-2}
t_batch=${TRIGGER_BATCH:-10}
t_libdir=$(pg_config --pkglibdir)
t_builds=after
if [ -n "${TRIGGER_BEFORE_SO:-}" ]; then
  cp "$t_libdir/awslambda.so" "$WORK/awslambda-after.so"
  cp "$TRIGGER_BEFORE_SO" "$WORK/awslambda-before.so"
  t_builds="before after"
fi
t_build=
# Runs the server with build $1's library (a restart; nothing when it has it).
t_use_build() {
  [ "$t_build" = "$1" ] && return
  if [ -n "${TRIGGER_BEFORE_SO:-}" ]; then
    awl_stop
    cp "$WORK/awslambda-$1.so" "$t_libdir/awslambda.so.new" && mv -f "$t_libdir/awslambda.so.new" "$t_libdir/awslambda.so"
    start_server
    for _ in $(seq 100); do psql -c "SELECT 1" >/dev/null 2>&1 && break; sleep 0.1; done
  fi
  t_build=$1
  t_warm
}
t_pending() { psql -c "SELECT count(*) FROM awslambda_invocations WHERE finished_at IS NULL"; }
t_drain() {
  for _ in $(seq 3000); do [ "$(t_pending)" = 0 ] && return; sleep 0.2; done
}
t_dispatcher() { psql -c "SELECT pid FROM pg_stat_activity WHERE backend_type = 'awslambda dispatcher' AND datname = 'postgres'"; }
t_calls() { psql -c "SELECT coalesce(sum(calls), 0) FROM awslambda_stat_functions WHERE kind = 'async' AND function_name = '$1'"; }
# Commits in the database (pgbench's and the dispatcher's) and WAL flushes so far.
t_commits() { psql -F ' ' -c "SELECT (SELECT xact_commit FROM pg_stat_database WHERE datname = 'postgres'), wal_sync FROM pg_stat_wal"; }
# One pgbench run of contender $1 under the current build: appends to $WORK/trig.$build.$1
# "tps wal_bytes/insert requests/insert not_sent dispatcher_cpu_share commits/insert flushes/insert".
t_run() {
  local t=$1 fn=lambdaTempReadingTrigger lsn0 calls0 cpu0 d out n tps lsn1 calls1 cpu1 left x0 f0 x1 f1
  [ "$t" = batch ] && fn=lambdaTempReadingBatch
  [ "$t" = paused ] && psql -c "SELECT awslambda_pause('$fn')" >/dev/null
  d=$(t_dispatcher)
  read -r x0 f0 < <(t_commits)
  lsn0=$(psql -c "SELECT pg_current_wal_insert_lsn()")
  calls0=$(t_calls "$fn")
  cpu0=$(cpu_seconds "$d")
  out=$(cd "$WORK" && as_user "$PGBIN/pgbench" -n -c "$t_clients" -j 2 -T "$t_secs" -f "$WORK/insert_$t.sql" postgres 2>&1 || true)
  cpu1=$(cpu_seconds "$d")
  left=$(t_pending)
  calls1=$(t_calls "$fn")
  n=$(echo "$out" | sed -n 's/^number of transactions actually processed: \([0-9]*\).*/\1/p')
  tps=$(echo "$out" | sed -n 's/^tps = \([0-9.]*\).*/\1/p' | head -n 1)
  lsn1=$(psql -c "SELECT pg_wal_lsn_diff(pg_current_wal_insert_lsn(), '$lsn0')")
  sleep 0.6   # the statistics reach the views at most a second later
  read -r x1 f1 < <(t_commits)
  [ "$t" = paused ] && psql -c "SELECT awslambda_resume('$fn')" >/dev/null
  # Drained before the line is printed: the caller reads it through a process
  # substitution and starts the next run as soon as it has the line.
  t_drain
  echo "$tps $lsn1 $n $((calls1 - calls0)) $left $cpu0 $cpu1 $((x1 - x0)) $((f1 - f0))"
}
# A short run of each trigger after a (re)start: plans made, caches warm.
t_warm() {
  psql -c "SELECT awslambda_fn_async('lambdaTest', '{}')" >/dev/null
  t_drain
  for t in async batch; do
    (cd "$WORK" && as_user "$PGBIN/pgbench" -n -c "$t_clients" -j 2 -T 2 -f "$WORK/insert_$t.sql" postgres >/dev/null 2>&1 || true)
    t_drain
  done
}

psql -c "ALTER SYSTEM SET awslambda.endpoint_url = '$static'" \
  -c "ALTER SYSTEM SET fsync = on" \
  -c "ALTER SYSTEM SET awslambda.async_batch_sizes = 'lambdaTempReadingBatch=$t_batch'" \
  -c "SELECT pg_reload_conf()" >/dev/null
psql -f bench/triggers.sql >/dev/null
psql -c "TRUNCATE awslambda_invocations" >/dev/null
for t in plain async batch; do
  printf '%s\n' "INSERT INTO reading_$t (sensor, reading) VALUES ('sensor-' || :client_id, random() * 40);" \
    >"$WORK/insert_$t.sql"
done
cp "$WORK/insert_async.sql" "$WORK/insert_paused.sql"
chmod 644 "$WORK"/insert_*.sql
t_contenders="plain async batch paused"
for b in $t_builds; do for t in $t_contenders; do : >"$WORK/trig.$b.$t"; done; done
t_load0=$(cut -d' ' -f1-3 /proc/loadavg)
for r in $(seq "$t_rounds"); do
  for b in $t_builds; do
    t_use_build "$b"
    for t in $t_contenders; do
      read -r tps wal n req left c0 c1 xc fl < <(t_run "$t")
      awk -v tps="$tps" -v wal="$wal" -v n="$n" -v req="$req" -v left="$left" -v c0="$c0" -v c1="$c1" -v s="$t_secs" -v xc="$xc" -v fl="$fl" \
        'BEGIN{printf "%.1f %.0f %.3f %d %.3f %.2f %.2f\n", tps, n ? wal / n : 0, n ? req / n : 0, left, (c1 - c0) / s, n ? xc / n : 0, n ? fl / n : 0}' \
        >>"$WORK/trig.$b.$t"
      echo "round $r $b $t: $(tail -n 1 "$WORK/trig.$b.$t")"
    done
  done
done
t_load1=$(cut -d' ' -f1-3 /proc/loadavg)
# Leave the server as it was: this build's library, the settings reset.
[ -n "${TRIGGER_BEFORE_SO:-}" ] && [ "$t_build" != after ] && { awl_stop; cp "$WORK/awslambda-after.so" "$t_libdir/awslambda.so.new"; mv -f "$t_libdir/awslambda.so.new" "$t_libdir/awslambda.so"; start_server; }
psql -c "ALTER SYSTEM RESET awslambda.async_batch_sizes" -c "ALTER SYSTEM RESET fsync" \
  -c "ALTER SYSTEM RESET awslambda.endpoint_url" -c "SELECT pg_reload_conf()" >/dev/null

# Column $2 of file $1: median, min, max.
t_col() { awk -v c="$2" '{print $c}' "$1" | sort -g | awk '{v[NR]=$1} END {m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2; print m, v[1], v[NR]}'; }
# Per-round ratios of contender $2 to plain, build $1 (the rounds' own baseline).
t_ratios() { paste -d' ' <(awk '{print $1}' "$WORK/trig.$1.$2") <(awk '{print $1}' "$WORK/trig.$1.plain") | awk '{printf "%.2f\n", $1 / $2}'; }
{
  echo "| build | contender | INSERT tps, median | min - max | ratio of medians | per-round ratio, median (min - max) | WAL bytes / insert | commits / insert | WAL flushes / insert | HTTP requests / insert | not sent at round end, median (max) | dispatcher CPU, share of one core |"
  echo "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
  for b in $t_builds; do
    read -r pm _ _ < <(t_col "$WORK/trig.$b.plain" 1)
    for t in $t_contenders; do
      f=$WORK/trig.$b.$t
      read -r m lo hi < <(t_col "$f" 1)
      read -r wal _ _ < <(t_col "$f" 2)
      read -r req _ _ < <(t_col "$f" 3)
      read -r left _ lmax < <(t_col "$f" 4)
      read -r cpu _ _ < <(t_col "$f" 5)
      read -r xc _ _ < <(t_col "$f" 6)
      read -r fl _ _ < <(t_col "$f" 7)
      label="no trigger"
      [ "$t" = async ] && label="awslambda_fn_async trigger"
      [ "$t" = batch ] && label="the same, micro-batches of $t_batch"
      [ "$t" = paused ] && label="the async trigger, its function paused (nothing sent)"
      if [ "$t" = plain ]; then rr="1.00"; req="-"; left="-"; lmax="-"; cpu="-"
      else
        t_ratios "$b" "$t" >"$WORK/ratio.$b.$t"
        read -r rm rlo rhi < <(t_col "$WORK/ratio.$b.$t" 1)
        rr="$(printf '%.2f (%.2f - %.2f)' "$rm" "$rlo" "$rhi")"
        req=$(printf '%.3f' "$req"); cpu=$(printf '%.0f%%' "$(awk -v c="$cpu" 'BEGIN{print c * 100}')")
      fi
      echo "| $b | $label | $(printf '%.0f' "$m") | $(printf '%.0f - %.0f' "$lo" "$hi") | $(awk -v a="$m" -v p="$pm" 'BEGIN{printf "%.2f", a / p}') | $rr | $(printf '%.0f' "$wal") | $xc | $fl | $req | $left ($lmax) | $cpu |"
    done
  done
  echo
  echo "$t_rounds interleaved rounds of $t_secs s per contender$( [ -n "${TRIGGER_BEFORE_SO:-}" ] && echo " and build"), $t_clients pgbench clients, fsync on;"
  echo "the queue drained after each run. Load average before and after: $t_load0 / $t_load1."
  echo "Rounds (tps):"
  for b in $t_builds; do for t in $t_contenders; do
    echo "$b $t: $(awk '{printf "%.0f ", $1}' "$WORK/trig.$b.$t")"
  done; done | sed 's/^/    /'
} >"$WORK/trigger.md"
