#!/bin/sh
# daemon.sh: the real daemon printing one batch, as whole processes on this machine. `labeld serve` with one
# Zebra ZD421 (203 dpi) on a `labeld virtual-printer --lang zpl` that decodes every label and saves it as a
# PNG; one HTTP submit of the first N orders of batch-500.jsonl; timed until the printer has saved all N.
#
#   packaging/bench/daemon.sh [N...]       # default: 100 500; one line of key=value per run on stdout
#
# Each run starts both processes afresh on an empty spool. Figures: wall from the submit to the last label
# saved, and the CPU (user + sys) of labeld and of the printer over the whole run, from /proc.
# BENCH_RUNS (default 3): runs per N. LABELD: the binary (default: the release build, built first).
# BENCH_OUT: the output directory. PERF=1 records `perf record ${PERF_ARGS:--g}` of labeld and of the
# printer during each run (perf-N-R.data, perf-printer-N-R.data).
set -eu

here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$(dirname "$here")")
out=${BENCH_OUT:-$root/target/bench}/daemon
runs=${BENCH_RUNS:-3}
fixtures=${LABELD_FIXTURES:-$root/tests/fixtures}
batch=$fixtures/batches/batch-500.jsonl
[ $# -gt 0 ] || set -- 100 500

for tool in curl jq python3; do
    command -v "$tool" >/dev/null || { echo "daemon.sh: missing $tool (apt-get install curl jq python3)" >&2; exit 2; }
done
B=${LABELD:-$root/target/release/labeld}
if [ -z "${LABELD:-}" ]; then
    (cd "$root" && cargo build --release --locked -q)
fi
[ -x "$B" ] || { echo "daemon.sh: no labeld binary at $B" >&2; exit 2; }
mkdir -p "$out"
cd "$out"

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
now_ns() { date +%s%N; }
# CPU seconds (user + sys) of a live process.
cpu_s() { awk -v hz="$(getconf CLK_TCK)" '{ printf "%.2f", ($14 + $15) / hz }' /proc/"$1"/stat; }

pids=
trap 'for p in $pids; do kill "$p" 2>/dev/null || true; done' EXIT

for n in "$@"; do
    head -n "$n" "$batch" | jq -sc '{printer: "dock-1", kind: "label", orders: .}' > "batch-$n.json"
    got=$(jq '.orders | length' "batch-$n.json")
    [ "$got" = "$n" ] || { echo "daemon.sh: batch-500.jsonl has $got orders, asked for $n" >&2; exit 2; }
    r=1
    while [ "$r" -le "$runs" ]; do
        d=run-$n-$r
        rm -rf "$d" && mkdir -p "$d/printed"
        vp_port=$(free_port)
        api=127.0.0.1:$(free_port)
        "$B" virtual-printer --lang zpl --listen "127.0.0.1:$vp_port" --save "$d/printed" > "$d/vp.log" 2>&1 &
        vp_pid=$!
        printf '[server]\nlisten = "%s"\n[spool]\npath = "spool.db"\n[[printer]]\nname = "dock-1"\ndriver = "zebra-zd421-203"\nuri = "tcp://127.0.0.1:%s"\n' \
            "$api" "$vp_port" > "$d/labeld.toml"
        RUST_LOG=warn "$B" serve --config "$d/labeld.toml" > "$d/serve.log" 2>&1 &
        serve_pid=$!
        pids="$vp_pid $serve_pid"
        for _ in $(seq 100); do curl -sf "http://$api/healthz" >/dev/null 2>&1 && break; sleep 0.1; done
        sleep 1
        if [ "${PERF:-0}" = 1 ]; then
            perf record -q ${PERF_ARGS:--g} -p "$serve_pid" -o "perf-$n-$r.data" > "$d/perf.log" 2>&1 &
            perf_pid=$!
            perf record -q ${PERF_ARGS:--g} -p "$vp_pid" -o "perf-printer-$n-$r.data" > "$d/perf-printer.log" 2>&1 &
            perf_vp_pid=$!
            sleep 0.5
        fi
        cpu0=$(cpu_s "$serve_pid"); vcpu0=$(cpu_s "$vp_pid")
        t0=$(now_ns)
        code=$(curl -s -o "$d/submit.json" -w '%{http_code}' -H 'Content-Type: application/json' --data-binary @"batch-$n.json" "http://$api/v1/jobs")
        [ "$code" = 202 ] || { echo "daemon.sh: submit answered $code: $(head -c 300 "$d/submit.json")" >&2; exit 1; }
        deadline=$(( $(date +%s) + 300 ))
        while [ "$(find "$d/printed" -name '*.png' | wc -l)" -lt "$n" ]; do
            [ "$(date +%s)" -lt "$deadline" ] || { echo "daemon.sh: not all $n labels printed in 300 s" >&2; exit 1; }
            sleep 0.02
        done
        t1=$(now_ns)
        cpu1=$(cpu_s "$serve_pid"); vcpu1=$(cpu_s "$vp_pid")
        if [ "${PERF:-0}" = 1 ]; then kill -INT "$perf_pid" "$perf_vp_pid"; wait "$perf_pid" "$perf_vp_pid" || true; fi
        kill -TERM "$serve_pid" "$vp_pid" 2>/dev/null || true
        wait "$serve_pid" 2>/dev/null || true
        wait "$vp_pid" 2>/dev/null || true
        pids=
        awk -v n="$n" -v r="$r" -v t0="$t0" -v t1="$t1" -v c0="$cpu0" -v c1="$cpu1" -v v0="$vcpu0" -v v1="$vcpu1" \
            -v la="$(cut -d' ' -f1 /proc/loadavg)" 'BEGIN {
            w = (t1 - t0) / 1e9; c = c1 - c0; v = v1 - v0
            printf "labels=%d run=%d wall_s=%.2f ms_per_label=%.1f labeld_cpu_s=%.2f labeld_cpu_ms_per_label=%.1f printer_cpu_s=%.2f load=%s\n",
                n, r, w, w * 1000 / n, c, c * 1000 / n, v, la }'
        r=$((r + 1))
    done
done
