# Sourced by the benchmark scripts: a fast static Lambda endpoint (nginx with
# bench/nginx.conf) on a free loopback port.  start_nginx sets $static.
start_nginx() {
  local port
  port=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  sed -e "s|WORK|$WORK|g" -e "s|PORT|$port|" bench/nginx.conf >"$WORK/nginx.conf"
  ${PIN:+$PIN} nginx -c "$WORK/nginx.conf" -p "$WORK" &
  NGINX_PID=$!
  for _ in $(seq 50); do curl -s -o /dev/null "http://127.0.0.1:$port/" && break; sleep 0.1; done
  static="http://127.0.0.1:$port"
}

stop_nginx() {
  kill "$NGINX_PID" 2>/dev/null; wait "$NGINX_PID" 2>/dev/null || true
}

# CPU seconds (user + system) a process has used so far.
cpu_seconds() {
  awk -v hz="$(getconf CLK_TCK)" '{print ($14 + $15) / hz}' "/proc/$1/stat" 2>/dev/null || echo 0
}

# Busy and total jiffies of the whole machine.
machine_jiffies() {
  awk '/^cpu /{print $2+$3+$4+$7+$8, $2+$3+$4+$5+$6+$7+$8}' /proc/stat
}

# CPU time and run-queue wait (time runnable with no CPU free) of processes
# $@, summed, in ns (/proc/PID/schedstat; a process gone is skipped).
sched_ns() {
  local c=0 w=0 p x y
  for p in "$@"; do
    read -r x y _ 2>/dev/null <"/proc/$p/schedstat" || continue
    c=$((c + x)); w=$((w + y))
  done
  echo "$c $w"
}

# Jiffies the hypervisor stole and all jiffies, steal included (VMs only).
steal_jiffies() {
  awk '/^cpu /{print $9, $2+$3+$4+$5+$6+$7+$8+$9}' /proc/stat
}
