#!/usr/bin/env bash
# Builds side by side against the benchmark's nginx (the static Invoke
# endpoint), in one run: the floor (bench/floor.c), the hand-written request
# on a CONNECT_ONLY connection (bench/raw.c) and awslambda_fn timed call by
# call in a PL/pgSQL loop (bench/loop_latency.sql) on one server per build,
# contenders interleaved round by round, client side and nginx on one CPU.
#   bench/sidebyside.sh NAME=PGBINDIR [NAME=PGBINDIR ...]
# Each PGBINDIR is the bindir of a PostgreSQL with that build of awslambda
# installed.  BENCH_ROUNDS (5), BENCH_COMPARE_CALLS (2000), BENCH_CPU (1).
# Prints medians per round and over all rounds, and the ratios to the floor.
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${BENCH_ROUNDS:-5}
ncalls=${BENCH_COMPARE_CALLS:-2000}
cpu=${BENCH_CPU:-1}
RUN_AS=${AWL_RUN_AS:-postgres}
WORK=$(mktemp -d /tmp/awl-sidebyside.XXXXXX)
chown "$RUN_AS" "$WORK"; chmod 755 "$WORK"
PIN="taskset -c $cpu"
. bench/nginx.sh
as_user() { runuser -u "$RUN_AS" -- "$@"; }
names=() bins=()
for pair in "$@"; do names+=("${pair%%=*}"); bins+=("${pair#*=}"); done

make -s -C bench OUT="$WORK"
start_nginx
cleanup() {
  for i in "${!names[@]}"; do
    as_user "${bins[$i]}/pg_ctl" -D "$WORK/${names[$i]}" -m fast -w stop >/dev/null 2>&1 || true
  done
  stop_nginx; rm -rf "$WORK"
}
trap cleanup EXIT
for i in "${!names[@]}"; do
  d=$WORK/${names[$i]}
  as_user "${bins[$i]}/initdb" -D "$d" -A trust -U postgres --no-sync >/dev/null
  cat >>"$d/postgresql.conf" <<CONF
listen_addresses = ''
unix_socket_directories = '$WORK'
port = $((5600 + i))
fsync = off
awslambda.endpoint_url = '$static'
CONF
  as_user env -i PATH=/usr/bin:/bin LANG=C.UTF-8 AWS_ACCESS_KEY_ID=AKIDMOCKENV \
    AWS_SECRET_ACCESS_KEY=mock-env-secret-key AWS_REGION=us-east-1 \
    AWS_CONFIG_FILE=/nonexistent AWS_SHARED_CREDENTIALS_FILE=/nonexistent \
    $PIN "${bins[$i]}/pg_ctl" -D "$d" -l "$d.log" -w start >/dev/null
  as_user "${bins[$i]}/psql" -X -q -h "$WORK" -p $((5600 + i)) -d postgres -c 'CREATE EXTENSION awslambda'
done
url="$static/2015-03-31/functions/lambdaTest/invocations"
med() { /usr/bin/python3 -c 'import statistics, sys; print(f"{statistics.median(float(l) for f in sys.argv[1:] for l in open(f) if l.strip()):.1f}")' "$@"; }
for r in $(seq "$rounds"); do
  $PIN "$WORK/floor" "$url" "$ncalls" "$WORK/floor.$r"
  $PIN "$WORK/raw" "$url" "$ncalls" "$WORK/raw.$r"
  line="round $r: floor $(med "$WORK/floor.$r"), raw $(med "$WORK/raw.$r")"
  for i in "${!names[@]}"; do
    as_user env PGOPTIONS="-c bench.calls=$ncalls" "${bins[$i]}/psql" -X -q -At -h "$WORK" \
      -p $((5600 + i)) -d postgres -f bench/loop_latency.sql >"$WORK/lat.${names[$i]}.$r"
    line="$line, ${names[$i]} $(med "$WORK/lat.${names[$i]}.$r")"
  done
  echo "$line (us, medians)"
done
f=$(med "$WORK"/floor.*)
ratio() { /usr/bin/python3 -c "print(f'{$1/$f:.2f}')"; }
w=$(med "$WORK"/raw.*)
echo "all rounds: floor $f us; raw $w us ($(ratio "$w") x floor)"
for i in "${!names[@]}"; do
  m=$(med "$WORK/lat.${names[$i]}".*)
  per=""
  for r in $(seq "$rounds"); do
    per="$per $(/usr/bin/python3 -c "print(f'{$(med "$WORK/lat.${names[$i]}.$r")/$(med "$WORK/floor.$r"):.2f}')")"
  done
  echo "all rounds: ${names[$i]} $m us ($(ratio "$m") x floor; per round:$per)"
done
echo "(load average after the rounds: $(cut -d' ' -f1-3 /proc/loadavg); client side and nginx on CPU $cpu)"
