#!/bin/sh
# smoke-install.sh: from `dpkg -i` to a running service that prints on a virtual printer, for real.
#
#   sudo packaging/smoke-install.sh [DEB]
#
# Installs the package on THIS machine (root, a throwaway machine or VM: it adds the labeld user and
# edits /etc/labeld/labeld.toml), checks what the package set up, runs the installed unit's ExecStart
# the way systemd would (as User=/Group= of the unit, NoNewPrivileges, UMask, a clean environment and
# a NOTIFY_SOCKET that must receive READY=1), points the installed config at a `labeld virtual-printer`
# on loopback, prints the test page (or, where the test-print route does not exist yet, the example
# order through POST /v1/jobs), checks the PNG the printer saved, stops the service with SIGTERM and
# purges the package. When systemd is PID 1 it uses `systemctl start labeld` instead of running
# ExecStart itself.
#
# DEB defaults to a fresh build: packaging/build-deb.sh around target/release/labeld.
# Exit 0: every step passed; otherwise the first failed step is named. The labeld account is left in
# place after purge (Debian practice), so a second run also exercises the "user exists" path.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
step() { printf '\n== %s\n' "$*"; }
ok() { printf 'ok   %s\n' "$*"; }
fail() { printf 'FAIL %s\n' "$*" >&2; exit 1; }

[ "$(id -u)" = 0 ] || fail "run as root (it installs a package)"
for tool in dpkg dpkg-deb curl python3 setpriv; do
    command -v "$tool" >/dev/null || fail "$tool is needed"
done
if dpkg-query -W -f='${Status}' labeld 2>/dev/null | grep -q installed; then
    fail "labeld is already installed; remove it first (dpkg -P labeld)"
fi

work=$(mktemp -d)
chmod 0755 "$work"
vp_pid= daemon_pid= notify_pid=
cleanup() {
    for pid in $daemon_pid $vp_pid $notify_pid; do kill "$pid" 2>/dev/null || true; done
    if [ -z "${KEEP:-}" ] && dpkg-query -W -f='${Status}' labeld 2>/dev/null | grep -q installed; then
        dpkg -P labeld >/dev/null 2>&1 || true
    fi
    rm -rf "$work"
}
trap cleanup EXIT

step "build the package"
deb=${1:-}
if [ -z "$deb" ]; then
    deb=$("$here/build-deb.sh")
fi
ok "$deb ($(stat -c %s "$deb") bytes)"
dpkg-deb -f "$deb" Package Version Depends | sed 's/^/     /'

step "dpkg -i"
dpkg -i "$deb" || fail "dpkg -i"
ok "installed: $(dpkg-query -W -f='${Package} ${Version} ${Status}' labeld)"

step "what the package set up"
getent passwd labeld >/dev/null || fail "no labeld user"
ok "user: $(getent passwd labeld)"
for g in lp dialout; do
    id -nG labeld | tr ' ' '\n' | grep -qx "$g" || fail "labeld is not in group $g"
done
ok "groups: $(id -nG labeld)"
[ "$(getent passwd labeld | cut -d: -f7)" != /bin/bash ] || fail "the service user has a login shell"
[ -d /var/lib/labeld ] || fail "/var/lib/labeld missing"
[ "$(stat -c '%U:%G %a' /var/lib/labeld)" = "labeld:labeld 750" ] || fail "/var/lib/labeld is $(stat -c '%U:%G %a' /var/lib/labeld), want labeld:labeld 750"
ok "/var/lib/labeld labeld:labeld 750"
[ "$(stat -c '%U:%G %a' /etc/labeld/labeld.toml)" = "root:labeld 640" ] || fail "/etc/labeld/labeld.toml is $(stat -c '%U:%G %a' /etc/labeld/labeld.toml), want root:labeld 640"
ok "/etc/labeld/labeld.toml root:labeld 640"
dpkg-query -W -f='${Conffiles}\n' labeld | grep -q '/etc/labeld/labeld.toml' || fail "labeld.toml is not a conffile"
ok "conffile: $(dpkg-query -W -f='${Conffiles}' labeld | xargs)"
for f in /usr/bin/labeld /lib/systemd/system/labeld.service /lib/udev/rules.d/60-labeld.rules /usr/share/doc/labeld/copyright; do
    [ -e "$f" ] || fail "$f missing"
done
ok "binary, unit, udev rules, docs in place; $(/usr/bin/labeld --version)"
if [ -d /run/udev ] && command -v udevadm >/dev/null; then
    ok "udev is running: postinst reloaded the rules"
else
    ok "udev not running here (container): postinst skipped the reload, as it should"
fi
unit=/lib/systemd/system/labeld.service
if command -v systemd-analyze >/dev/null; then
    if out=$(systemd-analyze verify --man=no "$unit" 2>&1); then
        ok "systemd-analyze verify $unit: no complaints"
    elif printf '%s' "$out" | grep -q 'labeld.service'; then
        printf '%s\n' "$out" >&2
        fail "systemd-analyze verify rejects the unit"
    else
        ok "systemd-analyze verify: nothing about labeld.service (other output: $(printf '%s' "$out" | head -n 2 | tr '\n' ' '))"
    fi
else
    ok "systemd-analyze not installed: unit not verified"
fi

step "labeld doctor (as root, the installed config)"
/usr/bin/labeld doctor --config /etc/labeld/labeld.toml | sed 's/^/     /' || true
[ ! -e /var/lib/labeld/spool.db ] || fail "doctor created the spool as root before the service ran"
ok "doctor left no root-owned spool behind"

step "a virtual ZPL printer on loopback"
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
vp_port=$(free_port)
mkdir "$work/printed"
/usr/bin/labeld virtual-printer --lang zpl --listen "127.0.0.1:$vp_port" --save "$work/printed" > "$work/vp.log" 2>&1 &
vp_pid=$!
for _ in $(seq 50); do grep -q listening "$work/vp.log" && break; sleep 0.1; done
grep -q listening "$work/vp.log" || fail "virtual printer did not start: $(cat "$work/vp.log")"
ok "$(head -n 1 "$work/vp.log")"

step "point the installed config at it"
listen=127.0.0.1:8631
if python3 -c 'import socket,sys; s=socket.socket(); s.bind(("127.0.0.1", 8631))' 2>/dev/null; then
    ok "default listen address $listen is free"
else
    listen=127.0.0.1:$(free_port)
    sed -i "s/^listen = \"127.0.0.1:8631\"/listen = \"$listen\"/" /etc/labeld/labeld.toml
    ok "8631 is taken on this machine; listen = \"$listen\" instead"
fi
cat >> /etc/labeld/labeld.toml <<EOF

[[printer]]
name = "dock-1"
driver = "zebra-zd421-203"
uri = "tcp://127.0.0.1:$vp_port"
EOF
/usr/bin/labeld doctor --config /etc/labeld/labeld.toml --json | python3 -c '
import json, sys
r = json.load(sys.stdin)
bad = [f["message"] for f in r["findings"] if f["area"] == "config" and f["status"] == "problem"]
sys.exit("config problems: %s" % bad if bad else 0)' || fail "the edited config is not valid"
ok "[[printer]] dock-1 = zebra-zd421-203 at tcp://127.0.0.1:$vp_port; doctor finds the config valid"

step "start the service"
exec_start=$(sed -n 's/^ExecStart=//p' "$unit")
user=$(sed -n 's/^User=//p' "$unit")
group=$(sed -n 's/^Group=//p' "$unit")
umask_=$(sed -n 's/^UMask=//p' "$unit")
if [ -d /run/systemd/system ]; then
    systemctl start labeld || fail "systemctl start labeld"
    daemon_pid=$(systemctl show -p MainPID --value labeld)
    ok "systemctl start labeld: active, pid $daemon_pid"
else
    # systemd is not PID 1 here: do what it would do with this unit. The datagram socket stands in for
    # systemd's NOTIFY_SOCKET; Type=notify means the service is up only once READY=1 arrives.
    sock=$work/notify.sock
    python3 - "$sock" > "$work/notify.log" <<'EOF' &
import os, socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
os.chmod(sys.argv[1], 0o666)
while True:
    msg = s.recv(4096).decode()
    print(msg.replace("\n", " "), flush=True)
    if "STOPPING=1" in msg:
        break
EOF
    notify_pid=$!
    for _ in $(seq 50); do [ -S "$sock" ] && break; sleep 0.1; done
    ok "systemd is not PID 1 ($(cat /proc/1/comm)): running ExecStart=$exec_start as $user:$group, NoNewPrivileges, UMask=$umask_"
    (cd / && exec env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8 NOTIFY_SOCKET="$sock" \
        setpriv --reuid="$user" --regid="$group" --init-groups --no-new-privs \
        sh -c "umask $umask_; exec $exec_start") > "$work/daemon.log" 2>&1 &
    daemon_pid=$!
    for _ in $(seq 300); do grep -q READY=1 "$work/notify.log" && break; kill -0 "$daemon_pid" 2>/dev/null || break; sleep 0.1; done
    grep -q READY=1 "$work/notify.log" || fail "no READY=1 on NOTIFY_SOCKET; daemon log: $(cat "$work/daemon.log")"
    ok "sd_notify: $(head -n 1 "$work/notify.log")"
fi
[ "$(stat -c %U /proc/"$daemon_pid")" = "$user" ] || fail "the daemon runs as $(stat -c %U /proc/"$daemon_pid"), not $user"
ok "pid $daemon_pid runs as $(stat -c %U /proc/"$daemon_pid"), groups $(id -nG "$user" | tr ' ' ','), NoNewPrivs $(sed -n 's/^NoNewPrivs:\t*//p' /proc/"$daemon_pid"/status)"
curl -sf "http://$listen/healthz" > "$work/health.json" || fail "GET /healthz"
ok "GET /healthz: $(cat "$work/health.json")"
ok "resident memory idle: $(sed -n 's/^VmRSS:\s*//p' /proc/"$daemon_pid"/status)"

step "print the test page"
code=$(curl -s -o "$work/resp.json" -w '%{http_code}' -X POST "http://$listen/v1/printers/dock-1/test-print")
if [ "$code" = 404 ] && grep -q no_such_route "$work/resp.json"; then
    ok "POST /v1/printers/dock-1/test-print: not on this build (404 no_such_route); printing the example order with POST /v1/jobs"
    printf '{"printer":"dock-1","kind":"label","order":%s}' "$(cat "$root/examples/order.json")" > "$work/job.json"
    code=$(curl -s -o "$work/resp.json" -w '%{http_code}' -H 'Content-Type: application/json' --data-binary @"$work/job.json" "http://$listen/v1/jobs")
    [ "$code" = 202 ] || fail "POST /v1/jobs answered $code: $(cat "$work/resp.json")"
    ok "POST /v1/jobs: 202 $(cat "$work/resp.json")"
    job=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["job"])' "$work/resp.json")
    for _ in $(seq 100); do
        state=$(curl -s "http://$listen/v1/jobs/$job" | python3 -c 'import json,sys; r=json.load(sys.stdin); d=r.get("documents") or [r]; print(d[0].get("state",""))')
        [ "$state" = done ] && break
        sleep 0.1
    done
    [ "$state" = done ] || fail "job $job is $state, not done"
    ok "GET /v1/jobs/$job: done"
else
    case "$code" in 2??) ok "POST /v1/printers/dock-1/test-print: $code $(cat "$work/resp.json")" ;; *) fail "test-print answered $code: $(cat "$work/resp.json")" ;; esac
fi
for _ in $(seq 100); do [ -e "$work/printed/0001.png" ] && break; sleep 0.1; done
[ -e "$work/printed/0001.png" ] || fail "the virtual printer saved no label: $(cat "$work/vp.log")"
python3 - "$work/printed/0001.png" <<'EOF' || fail "the saved label is not a 100x150 mm 203 dpi PNG"
import struct, sys
data = open(sys.argv[1], "rb").read()
assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
w, h, depth = struct.unpack(">IIB", data[16:25])
print("ok   saved %s: %dx%d dots, %d-bit (%.0fx%.0f mm at 203 dpi), %d bytes" % (sys.argv[1].rsplit("/", 1)[1], w, h, depth, w / 8, h / 8, len(data)))
assert 780 <= w <= 812 and 1180 <= h <= 1220, "size %dx%d" % (w, h)
EOF
ls -l /var/lib/labeld | sed 's/^/     /'
[ "$(stat -c '%U %a' /var/lib/labeld/spool.db)" = "labeld 640" ] || fail "spool.db is $(stat -c '%U %a' /var/lib/labeld/spool.db), want labeld 640 (UMask=0027)"
ok "spool /var/lib/labeld/spool.db owned by labeld, mode 640"

step "dpkg -i again (an upgrade keeps the edited config)"
dpkg -i "$deb" >/dev/null 2>&1 || fail "dpkg -i over the installed package"
grep -q "tcp://127.0.0.1:$vp_port" /etc/labeld/labeld.toml || fail "reinstalling lost the edits to /etc/labeld/labeld.toml"
[ "$(stat -c '%U:%G %a' /etc/labeld/labeld.toml)" = "root:labeld 640" ] || fail "reinstall left labeld.toml $(stat -c '%U:%G %a' /etc/labeld/labeld.toml)"
[ "$(stat -c '%U:%G %a' /var/lib/labeld)" = "labeld:labeld 750" ] || fail "reinstall changed /var/lib/labeld"
ok "config edits kept (conffile), root:labeld 640; spool directory untouched"

step "stop (SIGTERM, as systemctl stop does)"
if [ -d /run/systemd/system ]; then
    systemctl stop labeld || fail "systemctl stop"
    ok "systemctl stop labeld"
else
    kill -TERM "$daemon_pid"
    rc=0
    wait "$daemon_pid" || rc=$?
    daemon_pid=
    [ "$rc" = 0 ] || fail "the daemon exited with $rc after SIGTERM: $(tail -n 5 "$work/daemon.log")"
    ok "exited 0; sd_notify: $(tail -n 1 "$work/notify.log")"
fi
[ -f "$work/daemon.log" ] || journalctl -u labeld --no-pager > "$work/daemon.log" 2>/dev/null || : > "$work/daemon.log"
python3 - "$root/examples/order.json" "$work/daemon.log" <<'EOF' || fail "buyer data in the daemon's log"
import json, sys
r = json.load(open(sys.argv[1]))["recipient"]
log = open(sys.argv[2]).read()
leaks = [v for v in [r["name"], r["phone"], *r["address"]["lines"]] if v in log]
assert not leaks, leaks
print("ok   no buyer name, phone or address in the daemon's log (%d lines)" % log.count("\n"))
EOF

step "dpkg -P labeld"
dpkg -P labeld >/dev/null || fail "dpkg -P"
for f in /usr/bin/labeld /lib/systemd/system/labeld.service /lib/udev/rules.d/60-labeld.rules /etc/labeld /var/lib/labeld; do
    [ ! -e "$f" ] || fail "$f left behind after purge"
done
ok "purged: binary, unit, rules, config and spool gone; the labeld account stays (Debian practice)"
printf '\nsmoke-install: every step passed\n'
