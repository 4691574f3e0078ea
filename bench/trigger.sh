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
# Round r starts with the r-th contender (each runs first in turn), every
# run right after a CHECKPOINT and into WAL segments made beforehand.  Per
# run: tps, WAL bytes per insert, commits and WAL flushes per insert, the
# time of one WAL flush (track_wal_io_timing: with fsync on, the disk's pace,
# which moves from run to run and sets the tps), the dispatcher's HTTP
# requests per insert made during the run and the invocations not yet sent
# when it ends (it keeps up if that is about 0), the dispatcher's CPU time in
# it, and, from 1 s after its start to 1 s before its end, the CPU time and
# the run-queue wait (/proc/PID/schedstat) of pgbench's backends per insert
# and the share of the machine's time the hypervisor stole; then the queue
# is drained before the next contender starts.
# Then TRIGGER_CPU_ROUNDS (3) rounds of TRIGGER_CPU_SECONDS (10) s with fsync
# off: what the trigger costs in CPU alone, steady where the disk is not.
# With TRIGGER_BEFORE_SO=path (another build's awslambda.so), every round runs
# the contenders under that build ("before") and under this one ("after"), the
# server restarted with the library swapped in between: both builds measured
# in the same run, under the same load.
# Writes $WORK/trigger.md.
t_secs=${TRIGGER_SECONDS:-20}
t_rounds=${TRIGGER_ROUNDS:-7}
t_clients=${TRIGGER_CLIENTS:-2}
t_batch=${TRIGGER_BATCH:-10}
t_cpu_rounds=${TRIGGER_CPU_ROUNDS:-3}
t_cpu_secs=${TRIGGER_CPU_SECONDS:-10}
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
# Commits in the database (pgbench's and the dispatcher's), WAL flushes and their milliseconds so far.
t_commits() { psql -F ' ' -c "SELECT (SELECT xact_commit FROM pg_stat_database WHERE datname = 'postgres'), wal_sync, wal_sync_time FROM pg_stat_wal"; }
# Inserts made so far (the reading tables share reading_plain's id sequence:
# CREATE TABLE ... LIKE copies its default).
t_inserted() { psql -c "SELECT last_value FROM reading_plain_id_seq"; }
# One pgbench run of contender $1 for $2 seconds under the current build:
# "tps wal_bytes inserts requests not_sent cpu0 cpu1 commits flushes flush_ms
#  window_inserts backend_cpu_ns backend_wait_ns steal_jiffies total_jiffies".
# The last five are measured from 1 s after the start to 1 s before the end,
# over pgbench's own two backends.
t_run() {
  local t=$1 secs=$2 fn=lambdaTempReadingTrigger lsn0 calls0 cpu0 d pb n tps lsn1 calls1 cpu1 left x0 f0 x1 f1 ms0 ms1
  local bp i0 i1 bc0 bw0 bc1 bw1 st0 tt0 st1 tt1
  [ "$t" = batch ] && fn=lambdaTempReadingBatch
  [ "$t" = paused ] && psql -c "SELECT awslambda_pause('$fn')" >/dev/null
  psql -c "CHECKPOINT" >/dev/null
  d=$(t_dispatcher)
  read -r x0 f0 ms0 < <(t_commits)
  lsn0=$(psql -c "SELECT pg_current_wal_insert_lsn()")
  calls0=$(t_calls "$fn")
  cpu0=$(cpu_seconds "$d")
  (cd "$WORK" && as_user "$PGBIN/pgbench" -n -c "$t_clients" -j 2 -T "$secs" -f "$WORK/insert_$t.sql" postgres >"$WORK/pgbench.out" 2>&1 || true) &
  pb=$!
  sleep 1
  bp=$(psql -c "SELECT pid FROM pg_stat_activity WHERE application_name = 'pgbench' AND backend_type = 'client backend'")
  i0=$(t_inserted); read -r bc0 bw0 < <(sched_ns $bp); read -r st0 tt0 < <(steal_jiffies)
  sleep $((secs > 2 ? secs - 2 : 1))
  i1=$(t_inserted); read -r bc1 bw1 < <(sched_ns $bp); read -r st1 tt1 < <(steal_jiffies)
  wait "$pb"
  cpu1=$(cpu_seconds "$d")
  left=$(t_pending)
  calls1=$(t_calls "$fn")
  n=$(sed -n 's/^number of transactions actually processed: \([0-9]*\).*/\1/p' "$WORK/pgbench.out")
  tps=$(sed -n 's/^tps = \([0-9.]*\).*/\1/p' "$WORK/pgbench.out" | head -n 1)
  lsn1=$(psql -c "SELECT pg_wal_lsn_diff(pg_current_wal_insert_lsn(), '$lsn0')")
  sleep 0.6   # the statistics reach the views at most a second later
  read -r x1 f1 ms1 < <(t_commits)
  [ "$t" = paused ] && psql -c "SELECT awslambda_resume('$fn')" >/dev/null
  # Drained before the line is printed: the caller reads it through a process
  # substitution and starts the next run as soon as it has the line.
  t_drain
  echo "$tps $lsn1 $n $((calls1 - calls0)) $left $cpu0 $cpu1 $((x1 - x0)) $((f1 - f0)) $(awk -v a="$ms0" -v b="$ms1" 'BEGIN{print b - a}')" \
    "$((i1 - i0)) $((bc1 - bc0)) $((bw1 - bw0)) $((st1 - st0)) $((tt1 - tt0))"
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

# Every run starts from a checkpoint, and none falls inside a run; the WAL
# segments a run writes into were made beforehand (recycled, not created and
# zero-filled while pgbench waits on the disk).
psql -c "ALTER SYSTEM SET awslambda.endpoint_url = '$static'" \
  -c "ALTER SYSTEM SET fsync = on" \
  -c "ALTER SYSTEM SET min_wal_size = '2GB'" -c "ALTER SYSTEM SET max_wal_size = '8GB'" \
  -c "ALTER SYSTEM SET checkpoint_timeout = '1h'" -c "ALTER SYSTEM SET track_wal_io_timing = on" \
  -c "ALTER SYSTEM SET awslambda.async_batch_sizes = 'lambdaTempReadingBatch=$t_batch'" \
  -c "SELECT pg_reload_conf()" >/dev/null
psql -f bench/triggers.sql >/dev/null
psql -c "TRUNCATE awslambda_invocations" >/dev/null
psql -c "CREATE TABLE t_wal_warm AS SELECT g, repeat('x', 200) AS pad FROM generate_series(1, 1500000) AS g" \
  -c "DROP TABLE t_wal_warm" -c "CHECKPOINT" >/dev/null
for t in plain async batch; do
  printf '%s\n' "INSERT INTO reading_$t (sensor, reading) VALUES ('sensor-' || :client_id, random() * 40);" \
    >"$WORK/insert_$t.sql"
done
cp "$WORK/insert_async.sql" "$WORK/insert_paused.sql"
chmod 644 "$WORK"/insert_*.sql
t_contenders="plain async batch paused"
t_modes=on
[ "$t_cpu_rounds" -gt 0 ] && t_modes="on off"
for b in $t_builds; do for m in $t_modes; do for t in $t_contenders; do : >"$WORK/trig.$b.$m.$t"; done; done; done
t_load0=$(cut -d' ' -f1-3 /proc/loadavg)
# Round r starts its contenders at the r-th: each runs first, second, ... in
# turn, so that a drift of the disk's speed within a round favours none.
t_rotated() { local r=$1; shift; local a=("$@") k=$((r % $#)); echo "${a[@]:k}" "${a[@]:0:k}"; }
# Round $1 with fsync $2 ($3 seconds a run), each build in turn: appends to
# $WORK/trig.BUILD.$2.CONTENDER "tps wal_bytes/insert requests/insert not_sent
# dispatcher_cpu_share commits/insert flushes/insert ms/flush
# backend_cpu_us/insert backend_wait_us/insert steal_share".
t_round() {
  local b t tps wal n req left c0 c1 xc fl fms wn bc bw st tt
  for b in $t_builds; do
    t_use_build "$b"
    for t in $(t_rotated $(($1 - 1)) $t_contenders); do
      read -r tps wal n req left c0 c1 xc fl fms wn bc bw st tt < <(t_run "$t" "$3")
      awk -v tps="$tps" -v wal="$wal" -v n="$n" -v req="$req" -v left="$left" -v c0="$c0" -v c1="$c1" -v s="$3" -v xc="$xc" -v fl="$fl" -v fms="$fms" \
        -v wn="$wn" -v bc="$bc" -v bw="$bw" -v st="$st" -v tt="$tt" \
        'BEGIN{printf "%.1f %.0f %.3f %d %.3f %.2f %.2f %.3f %.1f %.1f %.3f\n", tps, n ? wal / n : 0, n ? req / n : 0, left, (c1 - c0) / s, n ? xc / n : 0, n ? fl / n : 0, fl ? fms / fl : 0,
          wn ? bc / wn / 1000 : 0, wn ? bw / wn / 1000 : 0, tt ? st / tt : 0}' \
        >>"$WORK/trig.$b.$2.$t"
      echo "round $1 fsync $2 $b $t: $(tail -n 1 "$WORK/trig.$b.$2.$t")"
    done
  done
}
for r in $(seq "$t_rounds"); do t_round "$r" on "$t_secs"; done
if [ "$t_cpu_rounds" -gt 0 ]; then
  # A reload restarts the dispatcher: warm again (t_use_build warms only on a swap).
  psql -c "ALTER SYSTEM SET fsync = off" -c "SELECT pg_reload_conf()" >/dev/null
  sleep 2
  t_warm
  for r in $(seq "$t_cpu_rounds"); do t_round "$r" off "$t_cpu_secs"; done
fi
t_load1=$(cut -d' ' -f1-3 /proc/loadavg)
# Leave the server as it was: this build's library, the settings reset.
[ -n "${TRIGGER_BEFORE_SO:-}" ] && [ "$t_build" != after ] && { awl_stop; cp "$WORK/awslambda-after.so" "$t_libdir/awslambda.so.new"; mv -f "$t_libdir/awslambda.so.new" "$t_libdir/awslambda.so"; start_server; }
psql -c "ALTER SYSTEM RESET awslambda.async_batch_sizes" -c "ALTER SYSTEM RESET fsync" \
  -c "ALTER SYSTEM RESET min_wal_size" -c "ALTER SYSTEM RESET max_wal_size" -c "ALTER SYSTEM RESET checkpoint_timeout" \
  -c "ALTER SYSTEM RESET track_wal_io_timing" \
  -c "ALTER SYSTEM RESET awslambda.endpoint_url" -c "SELECT pg_reload_conf()" >/dev/null

# Column $2 of file $1: median, min, max.
t_col() { awk -v c="$2" '{print $c}' "$1" | sort -g | awk '{v[NR]=$1} END {m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2; print m, v[1], v[NR]}'; }
# Per-round ratios of contender $2 to plain, series $1 (BUILD.FSYNC; the rounds' own baseline).
t_ratios() { paste -d' ' <(awk '{print $1}' "$WORK/trig.$1.$2") <(awk '{print $1}' "$WORK/trig.$1.plain") | awk '{printf "%.2f\n", $1 / $2}'; }
{
  echo "| build | fsync | contender | INSERT tps, median | min - max | ratio of medians | per-round ratio, median (min - max) | WAL bytes / insert | commits / insert | WAL flushes / insert | one WAL flush, ms | HTTP requests / insert | not sent at round end, median (max) | dispatcher CPU, share of one core | client backends' CPU / insert, µs | their run-queue wait / insert, µs | stolen by the hypervisor |"
  echo "| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
  for mode in $t_modes; do for b in $t_builds; do
    read -r pm _ _ < <(t_col "$WORK/trig.$b.$mode.plain" 1)
    for t in $t_contenders; do
      f=$WORK/trig.$b.$mode.$t
      read -r m lo hi < <(t_col "$f" 1)
      read -r wal _ _ < <(t_col "$f" 2)
      read -r req _ _ < <(t_col "$f" 3)
      read -r left _ lmax < <(t_col "$f" 4)
      read -r cpu _ _ < <(t_col "$f" 5)
      read -r xc _ _ < <(t_col "$f" 6)
      read -r fl _ _ < <(t_col "$f" 7)
      read -r fms _ _ < <(t_col "$f" 8)
      read -r bcpu _ _ < <(t_col "$f" 9)
      read -r bwait _ _ < <(t_col "$f" 10)
      read -r steal _ _ < <(t_col "$f" 11)
      fms=$(printf '%.3f' "$fms"); [ "$mode" = off ] && fms="-"
      label="no trigger"
      [ "$t" = async ] && label="awslambda_fn_async trigger"
      [ "$t" = batch ] && label="the same, micro-batches of $t_batch"
      [ "$t" = paused ] && label="the async trigger, its function paused (nothing sent)"
      if [ "$t" = plain ]; then rr="1.00"; req="-"; left="-"; lmax="-"; cpu="-"
      else
        t_ratios "$b.$mode" "$t" >"$WORK/ratio.$b.$mode.$t"
        read -r rm rlo rhi < <(t_col "$WORK/ratio.$b.$mode.$t" 1)
        rr="$(printf '%.2f (%.2f - %.2f)' "$rm" "$rlo" "$rhi")"
        req=$(printf '%.3f' "$req"); cpu=$(printf '%.0f%%' "$(awk -v c="$cpu" 'BEGIN{print c * 100}')")
      fi
      echo "| $b | $mode | $label | $(printf '%.0f' "$m") | $(printf '%.0f - %.0f' "$lo" "$hi") | $(awk -v a="$m" -v p="$pm" 'BEGIN{printf "%.2f", a / p}') | $rr | $(printf '%.0f' "$wal") | $xc | $fl | $fms | $req | $left ($lmax) | $cpu | $(printf '%.0f' "$bcpu") | $(printf '%.0f' "$bwait") | $(awk -v v="$steal" 'BEGIN{printf "%.1f%%", v * 100}') |"
    done
  done; done
  echo
  echo "fsync on: $t_rounds interleaved rounds of $t_secs s per contender$( [ -n "${TRIGGER_BEFORE_SO:-}" ] && echo " and build"), each round starting at the next contender,"
  echo "every run right after a checkpoint$( [ "$t_cpu_rounds" -gt 0 ] && echo "; fsync off: $t_cpu_rounds rounds of $t_cpu_secs s"). $t_clients pgbench clients; the queue"
  echo "drained after each run. Load average before and after: $t_load0 / $t_load1."
  echo "Rounds (tps; with fsync on, then the milliseconds of one WAL flush):"
  for mode in $t_modes; do for b in $t_builds; do for t in $t_contenders; do
    echo "$b fsync $mode $t: $(awk '{printf "%.0f ", $1}' "$WORK/trig.$b.$mode.$t")$( [ "$mode" = on ] && awk 'BEGIN{printf "/ "} {printf "%.3f ", $8}' "$WORK/trig.$b.$mode.$t")"
  done; done; done | sed 's/^/    /'
} >"$WORK/trigger.md"
