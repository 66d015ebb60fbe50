//! The label rules over HTTP: every text of the independent corpus (dev and held-out splits), each in the field it
//! names of the fixture order, through `POST /v1/check` of a `labeld serve` pinned to one core (`taskset -c 0`;
//! unpinned where taskset is missing, which the output says). `cargo bench --bench check_http`.
//!
//! Reports texts per second of wall time and per second of the server's CPU time (from /proc), which is the
//! one-core figure whatever else the machine is doing. The client is 4 keep-alive connections on the other cores.
//! Two rounds of measurement: one order per request, then the batch form (`{"orders": [...]}`, 100 orders a
//! request), which must refuse exactly the same texts.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const CONNECTIONS: usize = 4;
const ROUNDS: usize = 5;

fn corpus_bodies() -> Vec<Vec<u8>> {
    let root = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let base: serde_json::Value = serde_json::from_slice(&std::fs::read(root.join("tests/fixtures/orders/my-jnt-cod.json")).unwrap()).unwrap();
    let mut out = vec![];
    for split in ["independent-dev.tsv", "independent-heldout.tsv"] {
        for line in std::fs::read_to_string(root.join("tests/comply").join(split)).unwrap().lines() {
            if line.trim().is_empty() || line.starts_with('#') {
                continue;
            }
            let cols: Vec<&str> = line.splitn(5, '\t').collect();
            let (field, text) = (cols[2], cols[4]);
            let mut o = base.clone();
            let slot = match field {
                "label_note" => &mut o["label_note"],
                "items[0].name" => &mut o["items"][0]["name"],
                "items[0].sku" => &mut o["items"][0]["sku"],
                "items[0].variant" => &mut o["items"][0]["variant"],
                "sender.name" => &mut o["sender"]["name"],
                "sender.address.lines[0]" => &mut o["sender"]["address"]["lines"][0],
                "recipient.name" => &mut o["recipient"]["name"],
                "recipient.address.lines[0]" => &mut o["recipient"]["address"]["lines"][0],
                "recipient.phone" => &mut o["recipient"]["phone"],
                other => panic!("field {other}"),
            };
            *slot = text.into();
            out.push(serde_json::to_vec(&o).unwrap());
        }
    }
    out
}

struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start(dir: &std::path::Path) -> (Server, SocketAddr, bool) {
    let addr = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let cfg = dir.join("labeld.toml");
    std::fs::write(&cfg, format!("[server]\nlisten = \"{addr}\"\n[spool]\npath = \"spool.db\"\n")).unwrap();
    let labeld = env!("CARGO_BIN_EXE_labeld");
    let pinned = Command::new("taskset").arg("--version").stdout(Stdio::null()).stderr(Stdio::null()).status().is_ok_and(|s| s.success());
    let mut cmd = if pinned {
        let mut c = Command::new("taskset");
        c.args(["-c", "0", labeld]);
        c
    } else {
        Command::new(labeld)
    };
    let child = cmd.args(["serve", "--config"]).arg(&cfg).stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap();
    let server = Server(child);
    let t0 = Instant::now();
    while TcpStream::connect(addr).is_err() {
        assert!(t0.elapsed() < Duration::from_secs(30), "labeld serve did not come up");
        std::thread::sleep(Duration::from_millis(20));
    }
    (server, addr, pinned)
}

/// The server's CPU time so far (all its threads, user and system), from the kernel's per-process CPU clock:
/// nanoseconds, where /proc's clock ticks (10 ms) were a tenth of a batch round.
fn cpu_time(pid: u32) -> Duration {
    let mut clock: libc::clockid_t = 0;
    assert_eq!(unsafe { libc::clock_getcpuclockid(pid as libc::pid_t, &mut clock) }, 0, "no CPU clock for the server");
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    assert_eq!(unsafe { libc::clock_gettime(clock, &mut ts) }, 0, "the server's CPU clock could not be read");
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

/// Sends every body once over one keep-alive connection; returns how many were refused.
fn client(addr: SocketAddr, bodies: &[Vec<u8>]) -> usize {
    let s = TcpStream::connect(addr).unwrap();
    s.set_nodelay(true).unwrap();
    let mut w = s.try_clone().unwrap();
    let mut r = BufReader::new(s);
    let mut refused = 0;
    for body in bodies {
        let mut req = format!("POST /v1/check HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n", body.len()).into_bytes();
        req.extend_from_slice(body);
        w.write_all(&req).unwrap();
        let mut status = String::new();
        r.read_line(&mut status).unwrap();
        let mut len = 0;
        loop {
            let mut h = String::new();
            r.read_line(&mut h).unwrap();
            if h == "\r\n" {
                break;
            }
            if let Some(v) = h.to_ascii_lowercase().strip_prefix("content-length:") {
                len = v.trim().parse().unwrap();
            }
        }
        let mut answer = vec![0; len];
        r.read_exact(&mut answer).unwrap();
        assert!(status.starts_with("HTTP/1.1 200"), "{status}{}", String::from_utf8_lossy(&answer));
        const REFUSED: &[u8] = b"\"printable\":false,";
        refused += answer.windows(REFUSED.len()).filter(|w| *w == REFUSED).count();
    }
    refused
}

/// The same orders as `{"orders": [...]}` bodies of `per` orders each.
fn batches(bodies: &[Vec<u8>], per: usize) -> Vec<Vec<u8>> {
    bodies
        .chunks(per)
        .map(|chunk| {
            let mut b = b"{\"orders\":[".to_vec();
            for (i, o) in chunk.iter().enumerate() {
                if i > 0 {
                    b.push(b',');
                }
                b.extend_from_slice(o);
            }
            b.extend_from_slice(b"]}");
            b
        })
        .collect()
}

fn main() {
    let singles = corpus_bodies();
    let texts = singles.len();
    let dir = tempfile::tempdir().unwrap();
    let (server, addr, pinned) = start(dir.path());
    let pid = server.0.id();
    // Warm up (first requests open the spool, fill caches).
    client(addr, &singles[..200]);
    let mut refused_singly = None;
    for (form, bodies) in [("one order a request", singles.clone()), ("100 orders a request", batches(&singles, 100))] {
        let refused = measure(addr, pid, pinned, texts, form, &bodies);
        match refused_singly {
            None => refused_singly = Some(refused),
            Some(r) => assert_eq!(refused, r, "the batch form refused other texts than one by one"),
        }
    }
}

/// Sends `bodies` (all `texts` orders) ROUNDS times over CONNECTIONS connections, prints the rates and
/// returns how many orders a round refused.
fn measure(addr: SocketAddr, pid: u32, pinned: bool, texts: usize, form: &str, bodies: &[Vec<u8>]) -> usize {
    let mut rates = vec![];
    let mut cpu_rates = vec![];
    let mut refused = 0;
    for _ in 0..ROUNDS {
        let cpu0 = cpu_time(pid);
        let t0 = Instant::now();
        let chunks: Vec<Vec<Vec<u8>>> = (0..CONNECTIONS).map(|c| bodies.iter().skip(c).step_by(CONNECTIONS).cloned().collect()).collect();
        let threads: Vec<_> = chunks.into_iter().map(|chunk| std::thread::spawn(move || client(addr, &chunk))).collect();
        refused = threads.into_iter().map(|t| t.join().unwrap()).sum::<usize>();
        let wall = t0.elapsed();
        let cpu = cpu_time(pid) - cpu0;
        rates.push(texts as f64 / wall.as_secs_f64());
        cpu_rates.push(texts as f64 / cpu.as_secs_f64());
    }
    rates.sort_by(f64::total_cmp);
    cpu_rates.sort_by(f64::total_cmp);
    println!(
        "POST /v1/check, {form}, {texts} texts × {ROUNDS} rounds, {CONNECTIONS} keep-alive connections, server {}: median {:.0} texts/s wall ({:.0}–{:.0}); median {:.0} texts per server CPU second ({:.0}–{:.0}); {refused} refused per round",
        if pinned { "pinned to one core" } else { "NOT pinned (no taskset)" },
        rates[ROUNDS / 2],
        rates[0],
        rates[ROUNDS - 1],
        cpu_rates[ROUNDS / 2],
        cpu_rates[0],
        cpu_rates[ROUNDS - 1],
    );
    refused
}
