#!/usr/bin/env python3
"""Soak test for labeld: thousands of labels through `labeld serve` into three virtual printers while
faults are injected, then every tracking number is read back from the printers' PNGs.

Run by packaging/soak.sh (which builds labeld in release mode first). Everything runs on 127.0.0.1 and a
pty; it is bounded in count (--labels) and in time (--minutes), and stops by itself.

Printers: ZPL over TCP (dock), TSPL over a pty (serial), ESC/POS over TCP paced to 115200-baud serial
speed (desk; an 80 mm receipt printer: it gets printer test pages, since a 100 mm label does not fit it
and labeld refuses rather than clips). Faults, at random times: paper out and head open (then cleared), a
printer error (ribbon out, then cleared), links dropped mid-label, the serial printer silent on status for
a while, three SIGKILLs and one SIGTERM of `labeld serve` (each followed by a restart), and the spool's
disk full (a small tmpfs filled up, then freed).
"""

import argparse
import glob
import http.client
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def log(msg):
    print(f"soak: {msg}", file=sys.stderr, flush=True)


class VirtualPrinter:
    """`labeld virtual-printer` as a process; lines on its stdin change its condition."""

    def __init__(self, labeld, lang, save, pty=False, faults=()):
        args = [labeld, "virtual-printer", "--lang", lang, "--listen", "127.0.0.1:0", "--save", save]
        if pty:
            args.append("--pty")
        for f in faults:
            args += ["--fault", f]
        self.proc = subprocess.Popen(args, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        self.save = save
        self.addr = self.pty = None
        while self.addr is None or (pty and self.pty is None):
            line = self.proc.stdout.readline()
            if not line:
                raise RuntimeError(f"virtual printer {lang} exited")
            m = re.search(r"listening on tcp://(\S+)", line)
            if m:
                self.addr = m.group(1)
            m = re.search(r"on pty serial://(\S+)", line)
            if m:
                self.pty = m.group(1)
        # Keep reading its report so the pipe never fills.
        threading.Thread(target=lambda: [None for _ in self.proc.stdout], daemon=True).start()

    def send(self, command):
        self.proc.stdin.write(command + "\n")
        self.proc.stdin.flush()

    def stop(self):
        self.proc.terminate()
        self.proc.wait(10)


class Daemon:
    """`labeld serve`, restartable; tracks its peak resident memory."""

    def __init__(self, labeld, config, port, logfile):
        self.labeld, self.config, self.port, self.logfile = labeld, config, port, logfile
        self.proc = None
        self.peak_kb = 0
        self.lock = threading.Lock()

    def start(self):
        with open(self.logfile, "a") as out:
            self.proc = subprocess.Popen([self.labeld, "serve", "--config", self.config], stdout=out, stderr=out)
        end = time.time() + 60
        while time.time() < end:
            try:
                c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=2)
                c.request("GET", "/healthz")
                if c.getresponse().status == 200:
                    return
            except OSError:
                pass
            if self.proc.poll() is not None:
                raise RuntimeError(f"labeld serve exited with {self.proc.returncode}; see {self.logfile}")
            time.sleep(0.1)
        raise RuntimeError("labeld serve did not answer within 60 s")

    def sample_rss(self):
        p = self.proc
        if p is None or p.poll() is not None:
            return
        try:
            with open(f"/proc/{p.pid}/status") as f:
                for line in f:
                    if line.startswith("VmHWM:"):
                        self.peak_kb = max(self.peak_kb, int(line.split()[1]))
        except OSError:
            pass

    def signal(self, sig):
        with self.lock:
            self.sample_rss()
            self.proc.send_signal(sig)
            self.proc.wait(60)
            self.start()


def request(port, method, path, body=None, timeout=30):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    data = json.dumps(body).encode() if body is not None else None
    c.request(method, path, body=data, headers={"Content-Type": "application/json"} if data else {})
    r = c.getresponse()
    raw = r.read()
    return r.status, (json.loads(raw) if raw else None)


def make_orders(n, seed):
    """n distinct printable orders: the fixture batch with fresh order ids and tracking numbers."""
    with open(os.path.join(ROOT, "tests/fixtures/batches/batch-50.jsonl")) as f:
        base = [json.loads(l) for l in f if l.strip()]
    # Carriers whose numbers carry no check digit, so a fresh number is a valid one.
    checked = ("ups", "usps", "fedex", "dhl")
    base = [o for o in base if not any(c in o["shipment"]["carrier"].lower() for c in checked)]
    rng = random.Random(seed)
    out = []
    for i in range(n):
        o = json.loads(json.dumps(rng.choice(base)))
        o["order_id"] = f"SOAK{seed:04d}{i:06d}"
        o["shipment"]["tracking_number"] = f"SK{seed:04d}{i:07d}"
        o["shipment"].pop("package", None)
        out.append(o)
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--labeld", default=os.path.join(ROOT, "target/release/labeld"))
    ap.add_argument("--labels", type=int, default=2000)
    ap.add_argument("--minutes", type=float, default=10)
    ap.add_argument("--seed", type=int, default=13)
    ap.add_argument("--work", default=None)
    a = ap.parse_args()
    t0 = time.time()
    deadline = t0 + a.minutes * 60
    rng = random.Random(a.seed)
    work = a.work or f"/tmp/labeld-soak-{os.getpid()}"
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    spool_dir = os.path.join(work, "spool")
    os.makedirs(spool_dir)
    # The spool on its own small disk, so it can be filled.
    tmpfs = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=384m", "tmpfs", spool_dir], capture_output=True).returncode == 0
    if not tmpfs:
        log("cannot mount a tmpfs (needs root); the full-disk fault is skipped")

    dock = VirtualPrinter(a.labeld, "zpl", os.path.join(work, "png/dock"))
    serial = VirtualPrinter(a.labeld, "tspl", os.path.join(work, "png/serial"), pty=True)
    desk = VirtualPrinter(a.labeld, "escpos", os.path.join(work, "png/desk"), faults=["slow=11520"])
    port = free_port()
    config = os.path.join(work, "labeld.toml")
    with open(config, "w") as f:
        f.write(f'[server]\nlisten = "127.0.0.1:{port}"\n\n[spool]\npath = "{spool_dir}/spool.db"\n')
        f.write(f'\n[[printer]]\nname = "dock"\ndriver = "zebra-zd421-203"\nuri = "tcp://{dock.addr}"\n')
        f.write(f'\n[[printer]]\nname = "serial"\ndriver = "xprinter-xp420b"\nuri = "serial://{serial.pty}?baud=115200"\n')
        f.write(f'\n[[printer]]\nname = "desk"\ndriver = "escpos-80mm"\nuri = "tcp://{desk.addr}"\n')
    daemon = Daemon(a.labeld, config, port, os.path.join(work, "labeld.log"))
    daemon.start()

    orders = make_orders(a.labels, a.seed)
    by_tracking = {o["shipment"]["tracking_number"]: o for o in orders}
    # dock takes 60 %, serial 40 %; chunks of 1 (single submits) or 10-50 (batches).
    chunks, i = [], 0
    while i < len(orders):
        n = 1 if rng.random() < 0.5 else rng.randint(10, 50)
        chunks.append(("dock" if rng.random() < 0.6 else "serial", orders[i:i + n]))
        i += n
    pending = list(chunks)
    acked, latencies, refused = set(), [], {}
    test_pages = 0
    faults = {"kills": 0, "terms": 0, "drops": 0, "disk_full_refusals": 0, "power_cycles": 0}

    def after_restart():
        # A daemon killed mid-label leaves the serial printer inside a half-received bitmap, where it
        # takes the next status query for picture data and never answers: the packer switches it off and
        # on, as labeld's "no status answer" tells them to.
        end = time.time() + 6
        while time.time() < end:
            try:
                state = request(port, "GET", "/v1/printers/serial")[1]["state"]
            except OSError:
                state = None
            if state in ("ready", "printing"):
                return
            time.sleep(0.5)
        serial.send("power-cycle")
        faults["power_cycles"] += 1
    stop = threading.Event()

    def watch_rss():
        while not stop.is_set():
            daemon.sample_rss()
            time.sleep(0.25)

    threading.Thread(target=watch_rss, daemon=True).start()

    def submit(printer, chunk):
        body = {"printer": printer, "order": chunk[0]} if len(chunk) == 1 else {"printer": printer, "orders": chunk}
        t = time.perf_counter()
        try:
            status, resp = request(port, "POST", "/v1/jobs", body)
        except OSError:
            return False  # the daemon is down (killed, restarting): send it again later
        if status == 202:
            latencies.append((time.perf_counter() - t) * 1000)
            acked.update(o["shipment"]["tracking_number"] for o in chunk)
            return True
        refused[status] = refused.get(status, 0) + 1
        if status in (503, 507):
            return False
        raise RuntimeError(f"submit answered {status}: {resp}")

    # The fault schedule: (seconds into the submit phase, action).
    span = max(30.0, min(a.minutes * 60 * 0.4, 240))
    events = []
    for k in range(3):
        events.append((rng.uniform(0.1, 0.9) * span, "kill"))
    events.append((rng.uniform(0.2, 0.8) * span, "term"))
    for k in range(2):
        events.append((rng.uniform(0.1, 0.9) * span, "drop"))
    events += [(rng.uniform(0.1, 0.8) * span, f) for f in ("paper", "head", "ribbon", "silent")]
    if tmpfs:
        events.append((rng.uniform(0.3, 0.7) * span, "disk"))
    events.append((rng.uniform(0.1, 0.9) * span, "test-pages"))
    events.sort()
    log(f"schedule: {', '.join(f'{e} at {t:.0f}s' for t, e in events)}")

    def do(fault):
        nonlocal test_pages
        if fault == "kill":
            faults["kills"] += 1
            daemon.signal(signal.SIGKILL)
            after_restart()
        elif fault == "term":
            faults["terms"] += 1
            daemon.signal(signal.SIGTERM)
            after_restart()
        elif fault == "drop":
            faults["drops"] += 1
            (dock if faults["drops"] % 2 else desk).send(f"drop-after {rng.randint(500, 5000)}")
        elif fault == "paper":
            dock.send("paper-out"); time.sleep(2); dock.send("load-paper")
        elif fault == "head":
            serial.send("open-head"); time.sleep(2); serial.send("close-head")
        elif fault == "ribbon":
            dock.send("ribbon-out"); time.sleep(2); dock.send("clear-error")
        elif fault == "silent":
            serial.send("silent"); time.sleep(4); serial.send("answer")
        elif fault == "test-pages":
            for _ in range(5):
                try:
                    if request(port, "POST", "/v1/printers/desk/test-print")[0] == 202:
                        test_pages += 1
                except OSError:
                    pass
        elif fault == "disk":
            filler = os.path.join(spool_dir, "filler")
            subprocess.run(["dd", "if=/dev/zero", f"of={filler}", "bs=1M", "count=400"], capture_output=True)
            before = refused.get(507, 0) + refused.get(503, 0)
            # SQLite reuses free pages in its files first: keep submitting until the disk refuses (10 s at most).
            end = time.time() + 10
            while refused.get(507, 0) + refused.get(503, 0) == before and time.time() < end:
                if pending:
                    p, c = pending[0]
                    if submit(p, c):
                        pending.pop(0)
                time.sleep(0.05)
            faults["disk_full_refusals"] = refused.get(507, 0) + refused.get(503, 0) - before
            time.sleep(1)
            os.remove(filler)

    start = time.time()
    # Leave a quarter of the time (at least 45 s) for the queue to drain and the read-back.
    submit_until = deadline - max(45.0, a.minutes * 60 * 0.25)
    while (pending or events) and time.time() < submit_until:
        now = time.time() - start
        while events and events[0][0] <= now:
            _, e = events.pop(0)
            log(f"{now:6.1f}s fault: {e}")
            do(e)
        if pending:
            p, c = pending[0]
            if submit(p, c):
                pending.pop(0)
            else:
                time.sleep(0.2)
            # Submits spread over the fault schedule, so faults meet printers at work.
            time.sleep(rng.uniform(0.5, 1.5) * span * 0.8 / len(chunks))
        else:
            time.sleep(0.1)
    log(f"submitted {len(acked)} of {len(orders)} labels in {time.time() - start:.0f}s; waiting for them to settle")

    def documents():
        docs, before = [], None
        while True:
            st, resp = request(port, "GET", f"/v1/jobs?limit=1000&before={before}" if before else "/v1/jobs?limit=1000")
            batch = resp["documents"]
            docs += batch
            if len(batch) < 1000:
                return docs
            before = min(d["id"] for d in batch)

    settled = {"done", "held", "failed", "in_doubt", "cancelled"}
    while time.time() < deadline - 30:
        docs = documents()
        open_docs = [d for d in docs if d["state"] not in settled]
        if not open_docs:
            break
        time.sleep(2)
    stop.set()
    daemon.sample_rss()
    docs = documents()
    state_of = {}
    for d in docs:
        if d.get("tracking_number") in by_tracking and d.get("reprint_of") is None:
            state_of[d["tracking_number"]] = d["state"]
    time.sleep(2)

    # Read every label back from the PNGs with an independent decoder (zbar).
    pngs = sorted(glob.glob(os.path.join(work, "png/dock/*.png")) + glob.glob(os.path.join(work, "png/serial/*.png")))

    def codes(path):
        r = subprocess.run(["zbarimg", "-q", "--raw", "-Sdisable", "-Scode128.enable", path], capture_output=True, text=True)
        return [c for c in r.stdout.split() if c in by_tracking]

    seen = {}
    unread = 0
    with ThreadPoolExecutor(max_workers=2) as pool:
        for path, found in zip(pngs, pool.map(codes, pngs)):
            if not found:
                unread += 1
            for c in set(found):
                seen[c] = seen.get(c, 0) + 1
    once = sum(1 for t in acked if seen.get(t) == 1)
    twice = sum(1 for t in acked if seen.get(t, 0) > 1)
    in_doubt = [t for t in acked if state_of.get(t) == "in_doubt"]
    held = [t for t in acked if state_of.get(t) in ("held", "failed")]
    # Lost: acknowledged, not printed, and not accounted for as held or in doubt.
    lost = [t for t in acked if t not in seen and t not in in_doubt and t not in held]
    desk_pngs = len(glob.glob(os.path.join(work, "png/desk/*.png")))
    latencies.sort()
    p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] if latencies else float("nan")
    result = {
        "labels_submitted": len(acked),
        "printed_once": once,
        "printed_twice": twice,
        "lost": len(lost),
        "in_doubt": len(in_doubt),
        "in_doubt_that_printed": sum(1 for t in in_doubt if t in seen),
        "held_or_failed": len(held),
        "unreadable_pngs": unread,
        "test_pages_queued": test_pages,
        "test_pages_printed": desk_pngs,
        "sigkills": faults["kills"],
        "sigterms": faults["terms"],
        "links_dropped": faults["drops"],
        "disk_full_refusals": faults["disk_full_refusals"],
        "serial_printer_power_cycles": faults["power_cycles"],
        "refusals_by_status": refused,
        "submit_requests": len(latencies),
        "p99_submit_ms": round(p99, 1),
        "peak_rss_mb": round(daemon.peak_kb / 1024, 1),
        "seconds": round(time.time() - t0),
    }
    ok = (len(acked) == len(orders) and not lost and not twice
          and len(in_doubt) <= faults["kills"] + faults["terms"] + faults["drops"])
    result["pass"] = ok
    print(json.dumps(result, indent=2))
    if lost:
        log(f"lost: {lost[:10]}")
    daemon.proc.terminate()
    daemon.proc.wait(30)
    for p in (dock, serial, desk):
        p.stop()
    if tmpfs:
        subprocess.run(["umount", spool_dir])
    return 0 if ok else 1


def free_port():
    import socket
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


if __name__ == "__main__":
    sys.exit(main())
