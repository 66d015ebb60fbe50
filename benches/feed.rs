//! Feed throughput: 500 orders (shared/fixtures/batches/batch-500.jsonl) through NATS JetStream into
//! the spool: `labeld publish`'s publisher into a work-queue stream, then a station's feed fetching,
//! committing (synchronous=FULL, spool on the real disk under target/) and acknowledging, until all
//! 500 are in the spool. Printing is not part of it (see benches/http.rs and batch.rs).
//! Needs `nats-server` on the PATH (Debian package nats-server); says "skipped" otherwise.
//! Run: `cargo bench --bench feed`.

use std::net::TcpListener;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_nats::jetstream;

use labeld::config::NatsFeedConfig;
use labeld::events::EventBus;
use labeld::feed::{self, Routes, publish};
use labeld::bins::BinPattern;
use labeld::station::Station;
use labeld::spool::{Kind, Spool};

const ROUNDS: usize = 7;

struct Broker(std::process::Child);

impl Drop for Broker {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn main() {
    // `cargo bench` passes --bench; a filter argument is accepted and ignored.
    if Command::new("nats-server").arg("--version").stdout(Stdio::null()).stderr(Stdio::null()).status().is_err() {
        eprintln!("skipped: nats-server not installed");
        return;
    }
    let store = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).expect("temp dir");
    let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let _broker = Broker(
        Command::new("nats-server")
            .args(["-js", "-a", "127.0.0.1", "-p", &port.to_string(), "-sd"])
            .arg(store.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start nats-server"),
    );
    let url = format!("nats://127.0.0.1:{port}");
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "nats-server did not start");
        std::thread::sleep(Duration::from_millis(20));
    }
    let batch = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/batches/batch-500.jsonl")).expect("batch");
    let lines: Vec<&str> = batch.lines().filter(|l| !l.trim().is_empty()).collect();
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();

    let mut publish_rates = Vec::new();
    let mut spool_rates = Vec::new();
    for round in 0..ROUNDS {
        let messages: Vec<(Vec<u8>, String)> = lines.iter().map(|l| publish::message(l, "label").unwrap()).collect();
        let mut cfg = NatsFeedConfig::new(vec![url.clone()], "WH-KUL-01", "pack-01");
        cfg.stream = format!("BENCH_{round}");
        cfg.subject = format!("bench{round}.<warehouse>.<station>");
        let spool = Arc::new(Spool::open(&store.path().join(format!("spool-{round}.db"))).unwrap());
        let (published, into_spool, redelivered) = rt.block_on(async {
            let js = jetstream::new(async_nats::connect(url.as_str()).await.unwrap());
            feed::bind(&js, &cfg).await.unwrap();
            let t = Instant::now();
            let p = publish::publish(&js, &cfg.subject(), messages).await.unwrap();
            let published = t.elapsed();
            assert_eq!(p.stored, lines.len());
            let t = Instant::now();
            let station = Arc::new(Station::detached(spool.clone(), EventBus::default(), Arc::new(BinPattern::default()), |_| {}));
            let h = feed::start(&cfg, Routes { printers: vec![("dock".into(), Kind::Label)] }, station);
            while h.state().acked < lines.len() as u64 {
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
            let into_spool = t.elapsed();
            let redelivered = h.state().redelivered;
            h.shutdown().await;
            (published, into_spool, redelivered)
        });
        assert_eq!(spool.counts().unwrap().iter().map(|(_, _, n)| n).sum::<u64>(), lines.len() as u64);
        let n = lines.len() as f64;
        println!(
            "round {round}: publish {:.0} orders/s ({:.0} ms), feed into the spool {:.0} orders/s ({:.0} ms), {redelivered} redelivered",
            n / published.as_secs_f64(),
            published.as_secs_f64() * 1e3,
            n / into_spool.as_secs_f64(),
            into_spool.as_secs_f64() * 1e3
        );
        publish_rates.push(n / published.as_secs_f64());
        spool_rates.push(n / into_spool.as_secs_f64());
    }
    let median = |v: &mut Vec<f64>| {
        v.sort_by(|a, b| a.total_cmp(b));
        (v[v.len() / 2], v[0], v[v.len() - 1])
    };
    let (p, pmin, pmax) = median(&mut publish_rates);
    let (s, smin, smax) = median(&mut spool_rates);
    println!("feed: 500 orders, {ROUNDS} rounds (median, min-max):");
    println!("  publish (labeld publish's publisher, Nats-Msg-Id, all acks): {p:.0} orders/s ({pmin:.0}-{pmax:.0})");
    println!("  feed into the spool (fetch 64, one commit per batch, ack each): {s:.0} orders/s ({smin:.0}-{smax:.0})");
}
