#!/usr/bin/env bash
# A/B of span ingest between builds: one run of BINARY on a fresh data dir, measured whole.
# Starts `BINARY serve` under /usr/bin/time (Debian package `time`), sends TOTAL spans of the
# standard trace workload with `bench gen` (8 gRPC connections, flat out), stops the server
# with SIGTERM (its final flush included) and prints spans per server CPU-second, user and
# system time, peak RSS and minor page faults. Alternate the builds run by run (A B A B …) and compare pairs:
# the machines this runs on drift by ±15 % over minutes (docs/benchmarks.md).
#
# usage: scripts/bench-ab.sh LABEL BINARY TOTAL
#   e.g. for i in 1 2 3; do scripts/bench-ab.sh old /tmp/periscope-old 500000
#                           scripts/bench-ab.sh new target/release/periscope 500000; done
set -euo pipefail
label=$1; bin=$2; total=$3
if ss -ltn | grep -q ':4317 '; then
  echo "port 4317 is taken: stop the other server first" >&2
  exit 1
fi
dir=$(mktemp -d /tmp/bench-ab.XXXX)
trap 'rm -rf "$dir"' EXIT
/usr/bin/time -f "%U %S %M %R" -o "$dir/time" "$bin" serve --data-dir "$dir/data" >"$dir/server.log" 2>&1 &
time_pid=$!
for _ in $(seq 1 100); do ss -ltn | grep -q ':4317 ' && break; sleep 0.2; done
"$bin" bench gen --otlp-grpc 127.0.0.1:4317 --total "$total" --connections 8 >"$dir/gen.log" 2>&1
server_pid=$(pgrep -f "serve --data-dir $dir/data" | grep -v "^$time_pid\$" | head -1)
kill -TERM "$server_pid"
wait "$time_pid"
read -r user sys rss_kib minor_faults <"$dir/time"
python3 -c "
user, sys, rss, faults = $user, $sys, $rss_kib, $minor_faults
print(f'$label: {$total / (user + sys):.0f} spans per server CPU-second '
      f'(user {user} s, system {sys} s, peak RSS {rss / 1024:.0f} MiB, '
      f'{faults / 1000:.0f}k minor page faults)')"
