# Sourced by bench/run (needs lib.sh's state and a running server): the
# synchronous-call comparison of issue 7 against a fast static endpoint
# (nginx answering the Invoke path), so the client's own cost is measured.
# Contenders run interleaved, round after round, and are compared by ratios:
#   floor      bench/floor.c: keep-alive libcurl POST loop, no PostgreSQL, no signing
#   loop       awslambda_fn timed call by call in a PL/pgSQL loop
#   statement  awslambda_fn one statement at a time (pgbench, one client)
#   plpython   the original PL/Python function (boto3 client and IMDS lookup per call)
# BENCH_CPU=N (default 1, as issue 16 measured) runs the client side (the floor,
# the server's backends) and nginx on CPU N only, so every contender pays the
# same hand-over between client and endpoint on one core; BENCH_CPU= (empty)
# or a one-CPU machine leaves them to the scheduler.
rounds=${BENCH_ROUNDS:-3}
ncalls=${BENCH_COMPARE_CALLS:-2000}
npy=${BENCH_PLPYTHON_CALLS:-100}
BENCH_CPU=${BENCH_CPU-1}
[ "$(nproc)" -gt 1 ] || BENCH_CPU=
PIN=
if [ -n "${BENCH_CPU:-}" ]; then
  PIN="taskset -c $BENCH_CPU"
  postmaster=$(head -n 1 "$WORK/data/postmaster.pid")
  taskset -pc "$BENCH_CPU" "$postmaster" >/dev/null	# backends started from now on inherit it
fi

make -s -C bench OUT="$WORK"
start_nginx

psql -c "ALTER SYSTEM SET awslambda.endpoint_url = '$static'" -c "SELECT pg_reload_conf()" >/dev/null
psql -f bench/plpython.sql >/dev/null
printf '%s\n' "SELECT awslambda_fn('lambdaTest', '{}');" >"$WORK/statement.sql"
chmod 644 "$WORK/statement.sql"
: >"$WORK/lat.floor"; : >"$WORK/lat.loop"; : >"$WORK/lat.statement"; : >"$WORK/lat.plpython"
chown "$RUN_AS" "$WORK"/lat.*
: >"$WORK/round_ratios"
median_of() { /usr/bin/python3 -c 'import statistics, sys; print(statistics.median(float(l) for l in open(sys.argv[1]) if l.strip()))' "$1"; }
for r in $(seq "$rounds"); do
  $PIN "$WORK/floor" "$static/2015-03-31/functions/lambdaTest/invocations" "$ncalls" "$WORK/round.floor"
  cat "$WORK/round.floor" >>"$WORK/lat.floor"
  PGOPTIONS="-c bench.calls=$ncalls" psql -f bench/loop_latency.sql >"$WORK/round.loop"
  cat "$WORK/round.loop" >>"$WORK/lat.loop"
  # The ratio within each round, floor and loop minutes apart at most.
  /usr/bin/python3 -c 'import sys; print(f"{float(sys.argv[2]) / float(sys.argv[1]):.2f}")' \
    "$(median_of "$WORK/round.floor")" "$(median_of "$WORK/round.loop")" >>"$WORK/round_ratios"
  (cd "$WORK" && as_user "$PGBIN/pgbench" -n -c 1 -t "$ncalls" -f "$WORK/statement.sql" \
     -l --log-prefix="$WORK/pgb" postgres >/dev/null 2>&1)
  awk '{print $3}' "$WORK"/pgb.* >>"$WORK/lat.statement"; rm -f "$WORK"/pgb.*
  PGOPTIONS="-c bench.calls=$npy -c bench.lambda_url=$static -c bench.imds_url=$MOCK_URL" \
    psql -f bench/plpython_latency.sql >>"$WORK/lat.plpython"
done
stop_nginx
psql -c "ALTER SYSTEM RESET awslambda.endpoint_url" -c "SELECT pg_reload_conf()" >/dev/null
placed="placed by the scheduler"
if [ -n "${BENCH_CPU:-}" ]; then
  taskset -pc "0-$(($(nproc) - 1))" "$postmaster" >/dev/null
  placed="on CPU $BENCH_CPU"
fi
PIN=

/usr/bin/python3 bench/analyze.py "$WORK/compare.md" "$WORK/compare.dat" \
  floor="$WORK/lat.floor" "awslambda_fn, PL/pgSQL loop"="$WORK/lat.loop" \
  "awslambda_fn, one statement each (pgbench)"="$WORK/lat.statement" \
  "original PL/Python + boto3"="$WORK/lat.plpython"
{
  echo
  echo "awslambda_fn (PL/pgSQL loop) / floor, median of each round: $(tr '\n' ' ' <"$WORK/round_ratios")"
  echo "(load average after the rounds: $(cut -d' ' -f1-3 /proc/loadavg); client and nginx $placed)"
} >>"$WORK/compare.md"
gnuplot <<GP
set terminal svg size 900,500 font "sans,12"
set output "bench/latency.svg"
set title "Per-call latency against a static endpoint (nginx), CDF"
set logscale x
set xlabel "microseconds per call (log scale)"
set ylabel "fraction of calls"
set key bottom right
plot "$WORK/compare.dat" index 0 with lines lw 2 title "libcurl floor (C)", \
     "" index 1 with lines lw 2 title "awslambda_fn, PL/pgSQL loop", \
     "" index 2 with lines lw 2 title "awslambda_fn, statement each", \
     "" index 3 with lines lw 2 title "original PL/Python + boto3"
GP
