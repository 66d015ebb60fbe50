//! Submit latency over loopback, bounded: `cargo bench --bench http`.
//!
//! 1. Idle printer: 200 orders one at a time (after a first that opens the link), time from sending
//!    `POST /v1/jobs` to the first bytes of the label arriving at the printer (a proxy in front of a
//!    virtual printer watching for `~DY`, the PNG object a ZD421 gets first, or `^XA`).
//! 2. Load: 200 submits from 4 threads; the time to the 202 (spool commit included), then until
//!    all are printed.
//!
//! A plain harness: the figures are percentiles over a fixed number of requests, not criterion's
//! statistics, because each sample changes the spool (a submit cannot be repeated as-is).

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use labeld::daemon::{self, Setup};
use labeld::lang::Language;
use labeld::printer::profile::Profiles;
use labeld::virtual_printer::{Config as VpConfig, VirtualPrinter};

type FirstBytes = Arc<(Mutex<Vec<Instant>>, Condvar)>;

/// Forwards to `to`, noting when a read holds a label's start: `~DY` (the graphic sent ahead of the
/// format) or `^XA`. Status queries (`~HS`) hold neither.
fn proxy(to: SocketAddr, seen: FirstBytes) -> SocketAddr {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    std::thread::spawn(move || {
        for client in l.incoming() {
            let Ok(mut client) = client else { continue };
            let Ok(mut upstream) = TcpStream::connect(to) else { continue };
            // A relay must not hold back small writes (Nagle): the printer's three-line status answer
            // would wait for labeld's delayed ACK, 40 ms that no real printer link has.
            let _ = client.set_nodelay(true);
            let _ = upstream.set_nodelay(true);
            let (mut c2, mut u2) = (client.try_clone().unwrap(), upstream.try_clone().unwrap());
            std::thread::spawn(move || {
                let _ = std::io::copy(&mut u2, &mut c2);
            });
            let seen = seen.clone();
            std::thread::spawn(move || {
                let mut buf = [0u8; 65536];
                loop {
                    let n = match client.read(&mut buf) {
                        Ok(0) | Err(_) => break,
                        Ok(n) => n,
                    };
                    if buf[..n].windows(3).any(|w| w == b"~DY" || w == b"^XA") {
                        let (m, cv) = &*seen;
                        m.lock().unwrap().push(Instant::now());
                        cv.notify_all();
                    }
                    if upstream.write_all(&buf[..n]).is_err() {
                        break;
                    }
                }
            });
        }
    });
    addr
}

fn post(addr: SocketAddr, body: &[u8]) -> u16 {
    let mut s = TcpStream::connect(addr).unwrap();
    // One write, no Nagle: a body sent as a second small write waits for the server's delayed ACK
    // (40 ms on Linux), which would be measured as labeld's latency.
    s.set_nodelay(true).unwrap();
    let mut request =
        format!("POST /v1/jobs HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n", body.len())
            .into_bytes();
    request.extend_from_slice(body);
    s.write_all(&request).unwrap();
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    std::str::from_utf8(&out[9..12]).unwrap().parse().unwrap()
}

fn pct(v: &mut [Duration], p: f64) -> Duration {
    v.sort();
    v[((v.len() as f64 - 1.0) * p).round() as usize]
}

fn main() {
    let shared = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/batches/batch-50.jsonl");
    let orders: Vec<serde_json::Value> =
        std::fs::read_to_string(shared).unwrap().lines().filter(|l| !l.is_empty()).map(|l| serde_json::from_str(l).unwrap()).collect();
    let out = tempfile::tempdir().unwrap();
    let vp = VirtualPrinter::spawn(VpConfig::new(Language::Zpl, 203, out.path()), "127.0.0.1:0".parse().unwrap()).unwrap();
    let seen: FirstBytes = Arc::new((Mutex::new(Vec::new()), Condvar::new()));
    let via = proxy(vp.addr(), seen.clone());
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("labeld.toml");
    std::fs::write(
        &cfg,
        format!("[server]\nlisten = \"127.0.0.1:0\"\n[spool]\npath = \"spool.db\"\n[[printer]]\nname = \"p\"\ndriver = \"zebra-zd421-203\"\nuri = \"tcp://{via}\"\n"),
    )
    .unwrap();
    let profiles = Profiles::builtin();
    let setup = Setup::new(daemon::load_config(&cfg, &profiles).unwrap(), profiles).unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
        rt.block_on(daemon::run(setup, move |a| tx.send(a).unwrap(), std::future::pending())).unwrap();
    });
    let addr = rx.recv().unwrap();

    // 1. Idle printer, one at a time.
    let idle_n = 201;
    let mut idle = Vec::new();
    for (i, o) in orders.iter().cycle().take(idle_n).enumerate() {
        let body = serde_json::json!({"printer": "p", "order": o, "key": format!("idle-{i}")}).to_string();
        let before = seen.0.lock().unwrap().len();
        let t0 = Instant::now();
        assert_eq!(post(addr, body.as_bytes()), 202);
        let (m, cv) = &*seen;
        let g = cv.wait_timeout_while(m.lock().unwrap(), Duration::from_secs(30), |v| v.len() == before).unwrap().0;
        // The label's first read; a label can hold more than one marker, so later ones are skipped by
        // waiting for the printer to save it before the next submit.
        idle.push(g[before] - t0);
        drop(g);
        vp.wait_for_saved(i + 1, Duration::from_secs(30));
    }
    // The first submit also opens the printer link and warms the caches; report it on its own.
    let first = idle.remove(0);
    println!(
        "idle printer, submit → first label byte ({} orders after the first): p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms; the first after start: {:.1} ms",
        idle.len(),
        pct(&mut idle, 0.5).as_secs_f64() * 1e3,
        pct(&mut idle, 0.99).as_secs_f64() * 1e3,
        pct(&mut idle, 1.0).as_secs_f64() * 1e3,
        first.as_secs_f64() * 1e3
    );

    // 2. 200 submits from 4 threads.
    let t0 = Instant::now();
    let lat = Arc::new(Mutex::new(Vec::new()));
    let threads: Vec<_> = (0..4)
        .map(|t| {
            let (orders, lat) = (orders.clone(), lat.clone());
            std::thread::spawn(move || {
                for i in 0..50 {
                    let body = serde_json::json!({"printer": "p", "order": orders[i % orders.len()], "key": format!("load-{t}-{i}")}).to_string();
                    let s = Instant::now();
                    assert_eq!(post(addr, body.as_bytes()), 202);
                    lat.lock().unwrap().push(s.elapsed());
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    let accepted = t0.elapsed();
    let printed = vp.wait_for_saved(idle_n + 200, Duration::from_secs(600));
    let all = t0.elapsed();
    let mut lat = lat.lock().unwrap().clone();
    println!(
        "200 submits from 4 threads: 202 in p50 {:.1} ms, p99 {:.1} ms; all accepted in {:.2} s; {} labels printed in {:.1} s ({:.1} labels/s)",
        pct(&mut lat, 0.5).as_secs_f64() * 1e3,
        pct(&mut lat, 0.99).as_secs_f64() * 1e3,
        accepted.as_secs_f64(),
        printed - idle_n,
        all.as_secs_f64(),
        (printed - idle_n) as f64 / all.as_secs_f64()
    );
}
