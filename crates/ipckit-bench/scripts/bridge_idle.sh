#!/bin/bash
# CPU used by two idle exporters, one of a POSIX queue and one of a FIFO, over SECS
# seconds (default 5), after 1.5 s to settle:
#   unshare --ipc -- bash crates/ipckit-bench/scripts/bridge_idle.sh target/release/ipckit [SECS]
# Needs nats-server on PATH; CPU time from /proc/PID/stat. Removes what it made.
set -eu
BIN=$1
SECS=${2:-5}
d=$(mktemp -d)
q=/ipckit-idle-$$
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
nats-server -a 127.0.0.1 -p "$port" -js -sd "$d/js" >/dev/null 2>&1 &
srv=$!
cleanup() {
    kill -INT "${p:-}" "${f:-}" 2>/dev/null || true
    wait "${p:-}" "${f:-}" 2>/dev/null || true
    kill "$srv" 2>/dev/null || true
    wait "$srv" 2>/dev/null || true
    rm -f "/dev/mqueue${q}"
    rm -rf "$d"
}
trap cleanup EXIT
sleep 0.7
mkfifo "$d/f"
url=nats://127.0.0.1:$port
"$BIN" bridge out --posix-queue "$q" --create --subject idle.p --server "$url" --state "$d/p.state" >/dev/null 2>&1 &
p=$!
"$BIN" bridge out --fifo "$d/f" --subject idle.f --server "$url" --state "$d/f.state" >/dev/null 2>&1 &
f=$!
sleep 1.5
ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
p0=$(ticks $p); f0=$(ticks $f)
sleep "$SECS"
p1=$(ticks $p); f1=$(ticks $f)
hz=$(getconf CLK_TCK)
awk -v a=$((p1 - p0)) -v b=$((f1 - f0)) -v hz="$hz" -v s="$SECS" \
    'BEGIN { printf "idle %s s: POSIX exporter %.1f %% of a core, FIFO exporter %.1f %%\n", s, 100 * a / hz / s, 100 * b / hz / s }'
