//! The NATS JetStream job feed against a real nats-server: started here on a free port with a
//! temporary store when `nats-server` is installed, or the one at LABELD_TEST_NATS_URL. Without
//! either the tests say "skipped" and pass, unless LABELD_REQUIRE_NATS=1 (CI), where they fail.

use crate::common;

use std::collections::{BTreeMap, BTreeSet};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use async_nats::jetstream;
use futures_util::StreamExt;

use labeld::config::NatsFeedConfig;
use labeld::events::EventBus;
use labeld::feed::{self, FeedEvent, Routes, publish};
use labeld::bins::BinPattern;
use labeld::spool::{Filter, Kind, Spool};

const WAREHOUSE: &str = "WH-KUL-01";

/// A nats-server this test owns (or an external one it cannot restart).
struct Nats {
    url: String,
    port: u16,
    store: Option<tempfile::TempDir>,
    child: Option<Child>,
}

impl Nats {
    fn start() -> Option<Nats> {
        if let Ok(url) = std::env::var("LABELD_TEST_NATS_URL") {
            return Some(Nats { url, port: 0, store: None, child: None });
        }
        let found = Command::new("nats-server").arg("--version").stdout(Stdio::null()).stderr(Stdio::null()).status().is_ok();
        if !found {
            common::skip("LABELD_REQUIRE_NATS", "nats-server is not installed");
            return None;
        }
        let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let mut n = Nats { url: format!("nats://127.0.0.1:{port}"), port, store: Some(tempfile::tempdir().unwrap()), child: None };
        n.spawn();
        Some(n)
    }

    fn spawn(&mut self) {
        let store = self.store.as_ref().unwrap().path();
        let child = Command::new("nats-server")
            .args(["-js", "-a", "127.0.0.1", "-p", &self.port.to_string(), "-sd"])
            .arg(store)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start nats-server");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(Instant::now() < deadline, "nats-server did not listen on {}", self.port);
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn restartable(&self) -> bool {
        self.child.is_some()
    }

    /// kill -9, as a crashed broker.
    fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            c.kill().unwrap();
            c.wait().unwrap();
        }
    }
}

impl Drop for Nats {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Names unique per test, so tests can share an external server.
fn station_cfg(nats: &Nats, tag: &str, station: &str) -> NatsFeedConfig {
    let mut cfg = NatsFeedConfig::new(vec![nats.url.clone()], WAREHOUSE, station);
    cfg.stream = format!("LABELS_{tag}");
    cfg.subject = format!("{tag}.<warehouse>.<station>");
    cfg.max_in_flight = 50;
    cfg.ack_wait = Duration::from_secs(2);
    cfg
}

async fn context(nats: &Nats) -> jetstream::Context {
    let client = async_nats::connect(nats.url.as_str()).await.expect("connect");
    jetstream::new(client)
}

fn batch_lines() -> Vec<String> {
    std::fs::read_to_string(common::fixtures().join("batches/batch-500.jsonl")).unwrap().lines().filter(|l| !l.trim().is_empty()).map(String::from).collect()
}

fn buyer_names() -> Vec<String> {
    batch_lines()
        .iter()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["recipient"]["name"].as_str().unwrap().to_owned())
        .collect()
}

fn messages(lines: &[String]) -> Vec<(Vec<u8>, String)> {
    lines.iter().map(|l| publish::message(l, "label").unwrap()).collect()
}

fn open_spool(dir: &Path, name: &str) -> Arc<Spool> {
    Arc::new(Spool::open(&dir.join(format!("{name}.db"))).unwrap())
}

/// The test station's printers: a label printer and a pick-list printer.
fn routes() -> Routes {
    Routes { printers: vec![("dock".into(), Kind::Label), ("desk".into(), Kind::Picklist)] }
}

/// A station on `spool` whose printers are not driven here: `wake` hears which printer has new work.
fn station(spool: Arc<Spool>, wake: impl Fn(&str) + Send + Sync + 'static) -> Arc<labeld::station::Station> {
    Arc::new(labeld::station::Station::detached(spool, EventBus::default(), Arc::new(BinPattern::default()), wake))
}

fn documents(spool: &Spool) -> Vec<labeld::spool::Record> {
    let mut all = Vec::new();
    let mut before = None;
    loop {
        let page = spool.list(&Filter { before, limit: Some(1000), ..Filter::default() }).unwrap();
        let Some(last) = page.last() else { break };
        before = Some(last.id);
        all.extend(page);
    }
    all
}

async fn wait_for(what: &str, limit: Duration, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Collects events published on `labels.events.WAREHOUSE.>` in the background.
async fn collect_events(nats: &Nats) -> Arc<std::sync::Mutex<Vec<(String, Vec<u8>)>>> {
    let client = async_nats::connect(nats.url.as_str()).await.unwrap();
    let mut sub = client.subscribe(format!("labels.events.{WAREHOUSE}.>")).await.unwrap();
    client.flush().await.unwrap();
    let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
    let out = seen.clone();
    tokio::spawn(async move {
        let _client = client;
        while let Some(m) = sub.next().await {
            out.lock().unwrap().push((m.subject.to_string(), m.payload.to_vec()));
        }
    });
    seen
}

fn events_of(seen: &std::sync::Mutex<Vec<(String, Vec<u8>)>>) -> Vec<(String, FeedEvent)> {
    seen.lock().unwrap().iter().map(|(s, b)| (s.clone(), serde_json::from_slice(b).unwrap())).collect()
}

fn assert_no_buyer_names(seen: &std::sync::Mutex<Vec<(String, Vec<u8>)>>) {
    let names = buyer_names();
    for (_, body) in seen.lock().unwrap().iter() {
        let text = String::from_utf8_lossy(body);
        for n in &names {
            assert!(!text.contains(n.as_str()), "an event carries a buyer name: {text}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn five_hundred_orders_to_two_stations_land_once_each_with_events() {
    let Some(nats) = Nats::start() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let seen = collect_events(&nats).await;
    let lines = batch_lines();
    let (a_lines, b_lines): (Vec<_>, Vec<_>) = lines.iter().cloned().enumerate().partition(|(i, _)| i % 2 == 0);
    let a_lines: Vec<String> = a_lines.into_iter().map(|(_, l)| l).collect();
    let b_lines: Vec<String> = b_lines.into_iter().map(|(_, l)| l).collect();

    let mut feeds = Vec::new();
    let mut spools = Vec::new();
    let woken = Arc::new(AtomicUsize::new(0));
    for name in ["pack-01", "pack-02"] {
        let cfg = station_cfg(&nats, "two", name);
        let spool = open_spool(tmp.path(), name);
        let w = woken.clone();
        feeds.push((cfg.clone(), feed::start(&cfg, routes(), station(spool.clone(), move |p| {
            assert_eq!(p, "dock");
            w.fetch_add(1, Ordering::SeqCst);
        }))));
        spools.push(spool);
    }
    for (_, h) in &feeds {
        wait_for("feed connected", Duration::from_secs(10), || h.state().state == "connected").await;
    }
    let js = context(&nats).await;
    let p = publish::publish(&js, &feeds[0].0.subject(), messages(&a_lines)).await.unwrap();
    assert_eq!(p, publish::Published { stored: 250, duplicates: 0 });
    let p = publish::publish(&js, &feeds[1].0.subject(), messages(&b_lines)).await.unwrap();
    assert_eq!(p.stored, 250);

    for s in &spools {
        wait_for("250 documents", Duration::from_secs(60), || documents(s).len() >= 250).await;
    }
    for (spool, expected) in spools.iter().zip([&a_lines, &b_lines]) {
        let docs = documents(spool);
        assert_eq!(docs.len(), 250);
        let want: BTreeSet<String> =
            expected.iter().map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["order_id"].as_str().unwrap().to_owned()).collect();
        let got: BTreeSet<String> = docs.iter().map(|d| d.order_id.clone().unwrap()).collect();
        assert_eq!(got, want, "each station's spool holds exactly its own orders");
    }
    assert_eq!(woken.load(Ordering::SeqCst), 500);
    wait_for("500 accepted events", Duration::from_secs(10), || events_of(&seen).iter().filter(|(_, e)| e.event == "accepted").count() >= 500).await;
    let events = events_of(&seen);
    let mut per_subject: BTreeMap<String, usize> = BTreeMap::new();
    for (subject, e) in &events {
        assert_eq!(e.event, "accepted");
        assert!(e.order_id.is_some() && e.tracking_number.is_some());
        *per_subject.entry(subject.clone()).or_default() += 1;
    }
    assert_eq!(per_subject.get("labels.events.WH-KUL-01.pack-01"), Some(&250));
    assert_eq!(per_subject.get("labels.events.WH-KUL-01.pack-02"), Some(&250));
    assert_no_buyer_names(&seen);
    for (_, h) in feeds {
        assert_eq!(h.state().acked, 250);
        h.shutdown().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn duplicates_by_message_id_or_key_make_one_document() {
    let Some(nats) = Nats::start() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let cfg = station_cfg(&nats, "dup", "pack-01");
    let spool = open_spool(tmp.path(), "dup");
    let js = context(&nats).await;
    feed::bind(&js, &cfg).await.unwrap();
    let lines: Vec<String> = batch_lines().into_iter().take(10).collect();
    let first = publish::publish(&js, &cfg.subject(), messages(&lines)).await.unwrap();
    assert_eq!(first.stored, 10);
    // The same Nats-Msg-Id again: JetStream drops it.
    let again = publish::publish(&js, &cfg.subject(), messages(&lines)).await.unwrap();
    assert_eq!(again, publish::Published { stored: 0, duplicates: 10 });
    // Another message id, same key: stored by the stream, a duplicate in the spool.
    let other_ids: Vec<_> = messages(&lines).into_iter().map(|(b, k)| (b, format!("retry-{k}"))).collect();
    assert_eq!(publish::publish(&js, &cfg.subject(), other_ids).await.unwrap().stored, 10);

    let h = feed::start(&cfg, routes(), station(spool.clone(), |_| {}));
    wait_for("20 messages handled", Duration::from_secs(30), || h.state().acked >= 20).await;
    assert_eq!(documents(&spool).len(), 10);
    h.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn poison_messages_are_terminated_with_an_event_and_not_redelivered() {
    let Some(nats) = Nats::start() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let cfg = station_cfg(&nats, "poison", "pack-09");
    let spool = open_spool(tmp.path(), "poison");
    let seen = collect_events(&nats).await;
    let js = context(&nats).await;
    feed::bind(&js, &cfg).await.unwrap();

    let good = batch_lines()[0].clone();
    let mut other_warehouse: serde_json::Value = serde_json::from_str(&good).unwrap();
    other_warehouse["sender"]["warehouse_id"] = "WH-SGP-02".into();
    other_warehouse["order_id"] = "refused-1".into();
    let mut unknown_printer: serde_json::Value = serde_json::from_str(&batch_lines()[1]).unwrap();
    unknown_printer["printer"] = "nowhere".into();
    let bad_order = std::fs::read_to_string(common::fixtures().join("orders-bad/missing-tracking.json")).unwrap();
    let poison: Vec<(Vec<u8>, String)> = vec![
        (std::fs::read(common::fixtures().join("orders-bad/not-json.json")).unwrap(), "p-notjson".into()),
        (serde_json::to_vec(&serde_json::from_str::<serde_json::Value>(&bad_order).unwrap()["order"]).unwrap(), "p-bad".into()),
        (serde_json::to_vec(&other_warehouse).unwrap(), "p-refused".into()),
        (serde_json::to_vec(&unknown_printer).unwrap(), "p-printer".into()),
        (b"[1, 2]".to_vec(), "p-array".into()),
    ];
    publish::publish(&js, &cfg.subject(), poison).await.unwrap();
    publish::publish(&js, &cfg.subject(), messages(&[good])).await.unwrap();

    let h = feed::start(&cfg, routes(), station(spool.clone(), |_| {}));
    wait_for("5 rejections", Duration::from_secs(30), || h.state().terminated >= 5 && h.state().acked >= 1).await;
    // Past the ack wait: a message that was not terminated would be back by now.
    tokio::time::sleep(cfg.ack_wait * 2).await;
    let state = h.state();
    assert_eq!((state.terminated, state.acked), (5, 1));
    assert_eq!(documents(&spool).len(), 1);
    let mut consumer = feed::bind(&js, &cfg).await.unwrap();
    let info = consumer.info().await.unwrap();
    assert_eq!((info.num_pending, info.num_ack_pending, info.num_redelivered), (0, 0, 0));

    let events = events_of(&seen);
    let rejected: Vec<&FeedEvent> = events.iter().map(|(_, e)| e).filter(|e| e.event == "rejected").collect();
    assert_eq!(rejected.len(), 5);
    let reasons: Vec<&str> = rejected.iter().map(|e| e.reason.as_deref().unwrap()).collect();
    assert!(reasons.iter().any(|r| r.starts_with("invalid: not JSON")), "{reasons:?}");
    assert!(reasons.iter().any(|r| r.starts_with("invalid: bad order at shipment.tracking_number")), "{reasons:?}");
    assert!(reasons.iter().any(|r| r.starts_with("refused: sender.warehouse_id")), "{reasons:?}");
    assert!(reasons.iter().any(|r| r.starts_with("refused: printer")), "{reasons:?}");
    assert!(rejected.iter().any(|e| e.order_id.as_deref() == Some("refused-1")));
    assert!(rejected.iter().all(|e| e.stream_sequence.is_some()));
    assert_no_buyer_names(&seen);
    h.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broker_restart_mid_stream_reconnects_and_the_rest_land_once() {
    let Some(mut nats) = Nats::start() else { return };
    if !nats.restartable() {
        eprintln!("skipped: broker restart needs a nats-server this test starts (LABELD_TEST_NATS_URL is set)");
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let mut cfg = station_cfg(&nats, "restart", "pack-01");
    cfg.max_in_flight = 5;
    let spool = open_spool(tmp.path(), "restart");
    let lines: Vec<String> = batch_lines().into_iter().take(300).collect();
    {
        let js = context(&nats).await;
        feed::bind(&js, &cfg).await.unwrap();
        assert_eq!(publish::publish(&js, &cfg.subject(), messages(&lines[..200])).await.unwrap().stored, 200);
    }
    let h = feed::start(&cfg, routes(), station(spool.clone(), |_| {}));
    wait_for("some documents", Duration::from_secs(30), || documents(&spool).len() >= 20).await;
    nats.kill();
    let at_kill = documents(&spool).len();
    assert!(at_kill < 200, "the broker went away mid-stream ({at_kill} of 200 in)");
    wait_for("feed reconnecting", Duration::from_secs(10), || h.state().state == "reconnecting").await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    nats.spawn();
    wait_for("feed connected again", Duration::from_secs(30), || h.state().state == "connected").await;
    {
        let js = context(&nats).await;
        assert_eq!(publish::publish(&js, &cfg.subject(), messages(&lines[200..])).await.unwrap().stored, 100);
    }
    wait_for("300 documents", Duration::from_secs(90), || documents(&spool).len() >= 300).await;
    let docs = documents(&spool);
    assert_eq!(docs.len(), 300);
    let ids: BTreeSet<_> = docs.iter().map(|d| d.order_id.clone()).collect();
    assert_eq!(ids.len(), 300);
    h.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crash_between_spool_commit_and_ack_redelivers_into_one_document() {
    let Some(nats) = Nats::start() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let cfg = station_cfg(&nats, "crash", "pack-01");
    let spool = open_spool(tmp.path(), "crash");
    let js = context(&nats).await;
    let consumer = feed::bind(&js, &cfg).await.unwrap();
    let lines: Vec<String> = batch_lines().into_iter().take(20).collect();
    publish::publish(&js, &cfg.subject(), messages(&lines)).await.unwrap();

    // A station that commits to its spool and dies before acknowledging.
    let mut fetched = consumer.fetch().max_messages(20).expires(Duration::from_secs(2)).messages().await.unwrap();
    let mut docs = Vec::new();
    while let Some(m) = fetched.next().await {
        docs.push(feed::parse(&m.unwrap().payload, WAREHOUSE, &routes()).map_err(|(r, _)| r).unwrap());
    }
    assert_eq!(docs.len(), 20);
    spool.submit(docs).unwrap();
    drop(fetched);

    // The restarted station gets the same messages again after the ack wait.
    let h = feed::start(&cfg, routes(), station(spool.clone(), |_| panic!("a redelivered duplicate must not wake a printer")));
    wait_for("20 redelivered", Duration::from_secs(30), || h.state().acked >= 20).await;
    assert_eq!(documents(&spool).len(), 20);
    // An ack is a plain publish the broker handles after the feed has counted it, so ask the broker.
    let mut consumer = feed::bind(&js, &cfg).await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    let info = loop {
        let info = consumer.info().await.unwrap().clone();
        if info.num_ack_pending == 0 || Instant::now() > deadline {
            break info;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(info.num_redelivered >= 1 || info.delivered.consumer_sequence > 20, "{info:?}");
    assert_eq!(info.num_ack_pending, 0, "{info:?}");
    h.shutdown().await;
}

/// Job events come from the spool's audit log, so what happened while the feed was away (labels
/// printed during a broker outage, sends a crash left in doubt) is told once it is back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_owed_while_the_feed_was_away_are_published_when_it_is_back() {
    let Some(nats) = Nats::start() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let cfg = station_cfg(&nats, "owed", "pack-01");
    let spool = open_spool(tmp.path(), "owed");
    let seen = collect_events(&nats).await;
    let h = feed::start(&cfg, routes(), station(spool.clone(), |_| {}));
    wait_for("feed connected", Duration::from_secs(30), || h.state().state == "connected").await;
    h.shutdown().await;

    // Without the feed: three labels accepted (over HTTP, say), one printed, one cut off by a crash.
    let lines: Vec<String> = batch_lines().into_iter().take(3).collect();
    let docs: Vec<_> = lines.iter().map(|l| feed::parse(&publish::message(l, "label").unwrap().0, WAREHOUSE, &routes()).map_err(|(r, _)| r).unwrap()).collect();
    let ids: Vec<i64> = spool.submit(docs).unwrap().documents.iter().map(|a| a.document).collect();
    for (id, sent) in [(ids[0], true), (ids[1], false)] {
        spool.claim(id).unwrap();
        spool.mark_ready_and_sending(id, b"^XA^XZ", "zpl").unwrap();
        if sent {
            spool.mark_sent(id).unwrap();
            spool.mark_done(id).unwrap();
        }
    }
    assert_eq!(spool.recover().unwrap().in_doubt, [ids[1]]);
    assert!(events_of(&seen).is_empty(), "nothing was published while the feed was away");

    let h = feed::start(&cfg, routes(), station(spool.clone(), |_| {}));
    let want = |e: &[(String, FeedEvent)]| {
        let has = |name: &str, id: i64| e.iter().any(|(_, e)| e.event == name && e.document == Some(id));
        ids.iter().all(|&id| has("accepted", id)) && has("printed", ids[0]) && has("in_doubt", ids[1])
    };
    wait_for("the owed events", Duration::from_secs(30), || want(&events_of(&seen))).await;
    let events = events_of(&seen);
    let in_doubt = events.iter().find(|(_, e)| e.event == "in_doubt").unwrap();
    assert!(in_doubt.1.reason.as_deref().unwrap().contains("restart"), "{:?}", in_doubt.1);
    assert!(events.iter().all(|(s, _)| s == "labels.events.WH-KUL-01.pack-01"));
    assert_eq!(events.len(), 5, "each change told once: {events:?}");
    assert_no_buyer_names(&seen);
    h.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn labeld_publish_counts_stored_and_duplicates_and_refuses_a_bad_batch() {
    let Some(nats) = Nats::start() else { return };
    let bin = env!("CARGO_BIN_EXE_labeld");
    let batch = common::fixtures().join("batches/batch-50.jsonl");
    let run = |args: &[&str]| {
        let out = Command::new(bin).args(args).output().unwrap();
        (out.status.success(), String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr))
    };
    let subject = "cli.WH-KUL-01.pack-01";
    let common = ["--subject", subject, "--server", &nats.url, "--stream", "LABELS_cli", "--stream-subjects", "cli.*.*"];
    let mut first: Vec<&str> = vec!["publish", batch.to_str().unwrap(), "--create-stream"];
    first.extend(common);
    // Blocking here is fine: the broker is another process.
    let (ok, out) = run(&first);
    assert!(ok, "{out}");
    assert!(out.contains("published 50 order(s) to cli.WH-KUL-01.pack-01: 50 stored, 0 duplicate(s)"), "{out}");
    let mut again: Vec<&str> = vec!["publish", batch.to_str().unwrap()];
    again.extend(common);
    let (ok, out) = run(&again);
    assert!(ok, "{out}");
    assert!(out.contains("0 stored, 50 duplicate(s)"), "{out}");

    let tmp = tempfile::tempdir().unwrap();
    let bad = tmp.path().join("bad.jsonl");
    let mut text = std::fs::read_to_string(&batch).unwrap();
    text.push_str("{\"order_id\": \"x\"}\n");
    std::fs::write(&bad, text).unwrap();
    let mut with_bad: Vec<&str> = vec!["publish", bad.to_str().unwrap()];
    with_bad.extend(common);
    let (ok, out) = run(&with_bad);
    assert!(!ok);
    assert!(out.contains("bad.jsonl:51:") && out.contains("nothing published"), "{out}");
    let js = context(&nats).await;
    let mut stream = js.get_stream("LABELS_cli").await.unwrap();
    assert_eq!(stream.info().await.unwrap().state.messages, 50);
}

const CHILD_ENV: &str = "LABELD_FEED_CHILD";

/// Not a test on its own: the station process that `station_sigkill_mid_batch_prints_each_once` kills.
#[test]
#[ignore = "run by station_sigkill_mid_batch_prints_each_once as its child process"]
fn feed_child() {
    let Ok(spec) = std::env::var(CHILD_ENV) else { return };
    let (url, dir) = spec.split_once('|').unwrap();
    let nats = Nats { url: url.to_string(), port: 0, store: None, child: None };
    let mut cfg = station_cfg(&nats, "kill", "pack-01");
    cfg.max_in_flight = 5;
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let spool = open_spool(Path::new(dir), "kill");
        let _h = feed::start(&cfg, routes(), station(spool, |_| {}));
        tokio::time::sleep(Duration::from_secs(120)).await;
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn station_sigkill_mid_batch_prints_each_once() {
    let Some(nats) = Nats::start() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let mut cfg = station_cfg(&nats, "kill", "pack-01");
    cfg.max_in_flight = 5;
    let spool = open_spool(tmp.path(), "kill");
    let lines: Vec<String> = batch_lines().into_iter().take(300).collect();
    let js = context(&nats).await;
    feed::bind(&js, &cfg).await.unwrap();
    assert_eq!(publish::publish(&js, &cfg.subject(), messages(&lines)).await.unwrap().stored, 300);

    for round in 1..=2 {
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args(["feed::feed_child", "--exact", "--ignored", "--nocapture", "--test-threads=1"])
            .env(CHILD_ENV, format!("{}|{}", nats.url, tmp.path().display()))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let target = 60 * round;
        wait_for("the child station to spool some", Duration::from_secs(60), || documents(&spool).len() >= target).await;
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        let at_kill = documents(&spool).len();
        assert!(at_kill < 300, "round {round}: killed mid-stream ({at_kill} of 300 in)");
    }
    let h = feed::start(&cfg, routes(), station(spool.clone(), |_| {}));
    wait_for("300 documents", Duration::from_secs(90), || documents(&spool).len() >= 300).await;
    let mut consumer = feed::bind(&js, &cfg).await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let info = consumer.info().await.unwrap();
        if info.num_pending == 0 && info.num_ack_pending == 0 {
            break;
        }
        assert!(Instant::now() < deadline, "still in flight: {info:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let docs = documents(&spool);
    assert_eq!(docs.len(), 300);
    assert_eq!(docs.iter().map(|d| d.key.clone()).collect::<BTreeSet<_>>().len(), 300);
    h.shutdown().await;
}

// ---- real `labeld serve` stations: /healthz and /metrics, and the end-to-end run of issue 7 ----

use std::net::SocketAddr;

use crate::common::http;
use labeld::lang::Language;
use labeld::virtual_printer::{Config as VpConfig, Fault, VirtualPrinter};

/// One warehouse station: a `labeld serve` process with its own spool, config and log, printing on
/// a virtual printer in this test process (which saves each label it receives as a PNG).
struct Station {
    name: &'static str,
    config: PathBuf,
    log: PathBuf,
    addr: SocketAddr,
    printer: VirtualPrinter,
    child: Option<Child>,
    /// RUST_LOG for the process.
    rust_log: &'static str,
}

impl Station {
    fn new(root: &Path, name: &'static str, nats: &Nats, tag: &str, faults: &[Fault]) -> Station {
        let dir = root.join(name);
        std::fs::create_dir_all(&dir).unwrap();
        let mut vp = VpConfig::new(Language::Zpl, 203, dir.join("png"));
        for f in faults {
            vp = vp.with_fault(f.clone());
        }
        let printer = VirtualPrinter::spawn(vp, "127.0.0.1:0".parse().unwrap()).unwrap();
        let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
        let config = dir.join("labeld.toml");
        std::fs::write(
            &config,
            format!(
                "[server]\nlisten = \"{addr}\"\n\n[spool]\npath = \"spool.db\"\n\n\
                 [[printer]]\nname = \"dock\"\ndriver = \"zebra-zd421-203\"\nuri = \"tcp://{}\"\n\n\
                 [feed.nats]\nservers = [\"{}\"]\nwarehouse = \"{WAREHOUSE}\"\nstation = \"{name}\"\n\
                 stream = \"LABELS_{tag}\"\nsubject = \"{tag}.<warehouse>.<station>\"\nmax_in_flight = \"20\"\nack_wait = \"5s\"\n",
                printer.addr(),
                nats.url
            ),
        )
        .unwrap();
        let log = dir.join("labeld.log");
        Station { name, config, log, addr, printer, child: None, rust_log: "info" }
    }

    fn subject(&self, tag: &str) -> String {
        format!("{tag}.{WAREHOUSE}.{}", self.name)
    }

    fn start(&mut self) {
        let log = std::fs::OpenOptions::new().create(true).append(true).open(&self.log).unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_labeld"))
            .args(["serve", "--config"])
            .arg(&self.config)
            .env("RUST_LOG", self.rust_log)
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap();
        self.child = Some(child);
        wait_until("the station to listen", Duration::from_secs(60), || {
            if let Some(Ok(Some(status))) = self.child.as_mut().map(|c| c.try_wait()) {
                panic!("{}: labeld exited with {status}: {}", self.name, std::fs::read_to_string(&self.log).unwrap_or_default());
            }
            std::net::TcpStream::connect(self.addr).is_ok()
        });
    }

    /// kill -9: no chance to finish a label or acknowledge a message.
    fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            c.kill().unwrap();
            c.wait().unwrap();
        }
    }

    fn health(&self) -> serde_json::Value {
        let r = http::get(self.addr, "/healthz");
        assert_eq!(r.status, 200, "/healthz is 200 whatever the broker does: {}", r.text());
        r.json()
    }

    fn feed_state(&self) -> String {
        self.health()["feed"]["state"].as_str().unwrap().to_owned()
    }

    fn metrics(&self) -> String {
        http::get(self.addr, "/metrics").text()
    }

    /// Every document in the station's spool, from the API.
    fn documents(&self) -> Vec<serde_json::Value> {
        let mut all = Vec::new();
        let mut before = String::new();
        loop {
            let page = http::get(self.addr, &format!("/v1/jobs?printer=dock&limit=1000{before}")).json();
            let docs = page["documents"].as_array().unwrap().clone();
            let Some(last) = docs.last() else { break };
            before = format!("&before={}", last["id"]);
            all.extend(docs);
        }
        all
    }

    /// Documents that reached a final state (done, held, failed, cancelled, in_doubt), from the
    /// spool counts in /healthz (cheaper to ask often than the document list).
    fn settled(&self) -> u64 {
        let h = self.health();
        ["done", "held", "failed", "cancelled", "in_doubt"].iter().filter_map(|k| h["spool"]["documents"][k].as_u64()).sum()
    }
}

impl Drop for Station {
    fn drop(&mut self) {
        self.kill();
    }
}

fn wait_until(what: &str, limit: Duration, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !done() {
        assert!(Instant::now() < deadline, "timed out after {limit:?} waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// `labeld publish`, the backend's tool, as a process. Retried while a just-restarted broker is not
/// answering yet: a repeat is dropped by the stream (`Nats-Msg-Id`), so retrying is safe.
fn labeld_publish(nats: &Nats, file: &Path, subject: &str, tag: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let out = Command::new(env!("CARGO_BIN_EXE_labeld"))
            .args(["publish"])
            .arg(file)
            .args(["--subject", subject, "--server", &nats.url, "--create-stream", "--stream", &format!("LABELS_{tag}")])
            .args(["--stream-subjects", &format!("{tag}.*.*")])
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
        if out.status.success() {
            return text;
        }
        assert!(Instant::now() < deadline, "labeld publish kept failing: {text}");
        std::thread::sleep(Duration::from_millis(300));
    }
}

fn write_lines(path: &Path, lines: &[String]) {
    std::fs::write(path, lines.join("\n") + "\n").unwrap();
}

/// Tracking numbers read back from the labels a printer saved, each PNG decoded once (decoding is
/// the slow part of the test in a debug build, so it runs while the stations are still printing).
#[derive(Default)]
struct Readback {
    read: BTreeMap<PathBuf, String>,
}

impl Readback {
    /// Decodes the PNGs saved since the last call, on two threads.
    fn update(&mut self, printer: &VirtualPrinter) {
        let new: Vec<PathBuf> = printer.saved().into_iter().filter(|p| !self.read.contains_key(p)).collect();
        let half = new.len().div_ceil(2).max(1);
        let decoded: Vec<(PathBuf, String)> = std::thread::scope(|scope| {
            let parts: Vec<_> = new.chunks(half).map(|part| scope.spawn(move || part.iter().map(|p| (p.clone(), read_tracking(p))).collect::<Vec<_>>())).collect();
            parts.into_iter().flat_map(|h| h.join().unwrap()).collect()
        });
        self.read.extend(decoded);
    }

    fn tracking(&self) -> Vec<String> {
        self.read.values().cloned().collect()
    }
}

fn read_tracking(path: &Path) -> String {
    let bytes = std::fs::read(path).unwrap();
    let raster = packed_png(&bytes).unwrap_or_else(|| labeld::render::png::decode(&bytes).unwrap());
    labeld::barcode::verify::read_code128(&raster).unwrap_or_else(|| panic!("{}: no tracking barcode reads", path.display()))
}

/// A 1-bit PNG (what the virtual printer saves) straight into a bitmap, without expanding it to
/// 8-bit grey first: a tenth of the work of the general decoder, which counts 500 times over.
fn packed_png(bytes: &[u8]) -> Option<labeld::bitmap::Bitmap> {
    let mut decoder = png::Decoder::new(std::io::Cursor::new(bytes));
    decoder.set_transformations(png::Transformations::IDENTITY);
    let mut reader = decoder.read_info().ok()?;
    let mut buf = vec![0; reader.output_buffer_size()?];
    let info = reader.next_frame(&mut buf).ok()?;
    if info.color_type != png::ColorType::Grayscale || info.bit_depth != png::BitDepth::One {
        return None;
    }
    buf.truncate(info.buffer_size());
    // PNG grey is 0 = black; the bitmap is 1 = black.
    labeld::bitmap::Bitmap::from_packed(info.width, info.height, buf.iter().map(|b| !b).collect())
}

/// Tracking numbers read back from every label a station's printer saved.
fn printed_tracking(s: &Station) -> Vec<String> {
    let mut r = Readback::default();
    r.update(&s.printer);
    r.tracking()
}

fn order_field(line: &str, pointer: &str) -> String {
    serde_json::from_str::<serde_json::Value>(line).unwrap().pointer(pointer).and_then(|v| v.as_str()).unwrap().to_owned()
}

/// Buyer data in the fixture orders: names, phones, address lines.
fn buyer_data(lines: &[String]) -> Vec<String> {
    let mut out = BTreeSet::new();
    for l in lines {
        let v: serde_json::Value = serde_json::from_str(l).unwrap();
        let r = &v["recipient"];
        for s in [&r["name"], &r["phone"]].into_iter().chain(r["address"]["lines"].as_array().unwrap()) {
            if let Some(s) = s.as_str().filter(|s| s.trim().len() >= 6) {
                out.insert(s.trim().to_owned());
            }
        }
    }
    out.into_iter().collect()
}

#[test]
fn healthz_and_metrics_follow_the_broker_away_and_back_and_jobs_published_meanwhile_print() {
    let Some(mut nats) = Nats::start() else { return };
    if !nats.restartable() {
        eprintln!("skipped: a broker restart needs a nats-server this test starts (LABELD_TEST_NATS_URL is set)");
        return;
    }
    let tag = "health";
    let root = tempfile::tempdir().unwrap();
    // Slow enough that the station is still printing when the broker goes away.
    let mut st = Station::new(root.path(), "pack-01", &nats, tag, &[Fault::Slow(100_000)]);
    st.start();
    wait_until("the feed to connect", Duration::from_secs(30), || st.feed_state() == "connected");
    let feed = st.health()["feed"].clone();
    assert_eq!(feed["server"], nats.url.as_str(), "{feed}");
    assert_eq!(feed["stream"], "LABELS_health", "{feed}");
    assert_eq!(feed["subject"], st.subject(tag).as_str(), "{feed}");
    assert_eq!(feed["consumer"], "labeld-WH-KUL-01-pack-01", "{feed}");
    let since = feed["since"].as_str().unwrap();
    time::OffsetDateTime::parse(since, &time::format_description::well_known::Rfc3339).unwrap_or_else(|e| panic!("since {since}: {e}"));
    assert!(st.metrics().contains("labeld_feed_connected 1\n"));

    let lines = batch_lines();
    let first = root.path().join("first.jsonl");
    write_lines(&first, &lines[..20]);
    labeld_publish(&nats, &first, &st.subject(tag), tag);
    wait_until("a few labels", Duration::from_secs(60), || st.printer.saved().len() >= 2);

    nats.kill();
    wait_until("the feed to notice", Duration::from_secs(30), || ["reconnecting", "disconnected"].contains(&st.feed_state().as_str()));
    let away = st.health();
    assert!(away["feed"]["last_error"].is_string(), "{away}");
    let metrics = st.metrics();
    assert!(metrics.contains("labeld_feed_connected 0\n"), "{metrics}");
    // The spool keeps the station printing while the broker is away.
    let at_outage = st.printer.saved().len();
    assert!(at_outage < 20, "the outage came mid-batch ({at_outage} of 20 printed)");
    wait_until("printing to go on without the broker", Duration::from_secs(60), || st.printer.saved().len() > at_outage);
    assert_ne!(st.feed_state(), "connected");

    nats.spawn();
    // Published as soon as the broker is back, while the station may still be reconnecting.
    let second = root.path().join("second.jsonl");
    write_lines(&second, &lines[20..30]);
    labeld_publish(&nats, &second, &st.subject(tag), tag);
    wait_until("the feed to reconnect", Duration::from_secs(60), || st.feed_state() == "connected");
    wait_until("all 30 labels", Duration::from_secs(90), || st.settled() >= 30);
    let docs = st.documents();
    assert_eq!(docs.len(), 30);
    assert!(docs.iter().all(|d| d["state"] == "done"), "{docs:?}");
    // The test's quick 1-bit reader sees what the project's PNG decoder sees.
    let first_png = std::fs::read(&st.printer.saved()[0]).unwrap();
    assert_eq!(packed_png(&first_png), Some(labeld::render::png::decode(&first_png).unwrap()));
    let mut printed = printed_tracking(&st);
    printed.sort();
    let mut want: Vec<String> = lines[..30].iter().map(|l| order_field(l, "/shipment/tracking_number")).collect();
    want.sort();
    assert_eq!(printed, want, "each of the 30 printed exactly once");

    let feed = st.health()["feed"].clone();
    assert_eq!(feed["state"], "connected", "{feed}");
    assert!(feed["acked"].as_u64().unwrap() >= 30 && feed["received"].as_u64().unwrap() >= 30, "{feed}");
    assert_eq!(feed["terminated"], 0, "{feed}");
    let metrics = st.metrics();
    assert!(metrics.contains("labeld_feed_connected 1\n"), "{metrics}");
    let reconnects: u64 = metrics
        .lines()
        .find_map(|l| l.strip_prefix("labeld_feed_reconnects_total "))
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no labeld_feed_reconnects_total in {metrics}"));
    assert!(reconnects >= 1, "{metrics}");
    assert!(metrics.contains("labeld_feed_messages_total{outcome=\"acked\"}"), "{metrics}");
}

/// Every event on `labels.events.WAREHOUSE.>`, from the stream the test keeps as the backend would.
async fn stored_events(js: &jetstream::Context, stream: &str) -> Vec<(String, Vec<u8>)> {
    let stream = js.get_stream(stream).await.unwrap();
    let consumer = stream
        .create_consumer(jetstream::consumer::pull::Config { deliver_policy: jetstream::consumer::DeliverPolicy::All, ..Default::default() })
        .await
        .unwrap();
    let mut out = Vec::new();
    loop {
        let mut batch = consumer.fetch().max_messages(1000).expires(Duration::from_millis(500)).messages().await.unwrap();
        let mut got = 0;
        while let Some(Ok(m)) = batch.next().await {
            got += 1;
            out.push((m.subject.to_string(), m.payload.to_vec()));
            let _ = m.ack().await;
        }
        if got == 0 {
            return out;
        }
    }
}

/// Issue 7's "done when": 500 orders published to two stations of one warehouse, two `labeld serve`
/// processes with their own spools and printers, one SIGKILLed mid-batch and restarted, the broker
/// restarted mid-batch; every order prints exactly once and the events tell about each.
#[test]
fn five_hundred_orders_two_daemons_sigkill_and_broker_restart_print_once_with_events() {
    let Some(mut nats) = Nats::start() else { return };
    if !nats.restartable() {
        eprintln!("skipped: a broker restart needs a nats-server this test starts (LABELD_TEST_NATS_URL is set)");
        return;
    }
    let started = Instant::now();
    let tag = "e2e";
    let root = tempfile::tempdir().unwrap();
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
    // The backend's record of every event: a stream, so none is missed while the broker restarts.
    let events_stream = "EVENTS_e2e";
    rt.block_on(async {
        let js = context(&nats).await;
        js.get_or_create_stream(jetstream::stream::Config {
            name: events_stream.into(),
            subjects: vec![format!("labels.events.{WAREHOUSE}.>")],
            storage: jetstream::stream::StorageType::File,
            ..Default::default()
        })
        .await
        .unwrap();
    });

    let lines = batch_lines();
    assert_eq!(lines.len(), 500);
    let tracking_of: BTreeMap<String, String> =
        lines.iter().map(|l| (order_field(l, "/order_id"), order_field(l, "/shipment/tracking_number"))).collect();
    assert_eq!(tracking_of.values().collect::<BTreeSet<_>>().len(), 500, "the fixture has 500 distinct tracking numbers");
    // Station A takes the even lines, B the odd ones; each share goes out in two halves.
    let share = |parity: usize| -> Vec<String> { lines.iter().enumerate().filter(|(i, _)| i % 2 == parity).map(|(_, l)| l.clone()).collect() };
    let (a_lines, b_lines) = (share(0), share(1));
    let files: Vec<PathBuf> = ["a1", "a2", "b1", "b2"].iter().map(|n| root.path().join(format!("{n}.jsonl"))).collect();
    write_lines(&files[0], &a_lines[..125]);
    write_lines(&files[1], &a_lines[125..]);
    write_lines(&files[2], &b_lines[..125]);
    write_lines(&files[3], &b_lines[125..]);

    // Slow links: the kill and the broker restart land while labels are still going out.
    let slow = [Fault::Slow(200_000)];
    let mut a = Station::new(root.path(), "pack-01", &nats, tag, &slow);
    let mut b = Station::new(root.path(), "pack-02", &nats, tag, &slow);
    a.start();
    b.start();
    for s in [&a, &b] {
        wait_until("the feeds to connect", Duration::from_secs(30), || s.feed_state() == "connected");
    }
    let out = labeld_publish(&nats, &files[0], &a.subject(tag), tag);
    assert!(out.contains("published 125 order(s)"), "{out}");
    let out = labeld_publish(&nats, &files[2], &b.subject(tag), tag);
    assert!(out.contains("published 125 order(s)"), "{out}");

    // kill -9 station A mid-batch, while a label is on the wire: bytes have come in since the last
    // label was saved (status queries are a few bytes; a label is kilobytes).
    wait_until("station A to print some", Duration::from_secs(60), || a.printer.saved().len() >= 20);
    let deadline = Instant::now() + Duration::from_secs(30);
    let (mut saved, mut mark) = (0, 0);
    loop {
        let (n, bytes) = (a.printer.saved().len(), a.printer.bytes_received());
        if n != saved {
            (saved, mark) = (n, bytes);
        } else if bytes > mark + 2_000 || Instant::now() > deadline {
            break;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    a.kill();
    let a_at_kill = a.printer.saved().len();
    assert!(a_at_kill < 125, "A was killed mid-batch ({a_at_kill} of 125 printed)");

    // The broker restarts (kill -9, same port and store) while B is printing.
    wait_until("station B to print some", Duration::from_secs(60), || b.printer.saved().len() >= 30);
    nats.kill();
    let b_at_outage = b.printer.saved().len();
    wait_until("B to see the broker gone", Duration::from_secs(30), || b.feed_state() != "connected");
    nats.spawn();
    // The second halves go out once the broker is back, A still down, B maybe still reconnecting.
    let out = labeld_publish(&nats, &files[1], &a.subject(tag), tag);
    assert!(out.contains("published 125 order(s)"), "{out}");
    let out = labeld_publish(&nats, &files[3], &b.subject(tag), tag);
    assert!(out.contains("published 125 order(s)"), "{out}");
    a.start();

    let (mut a_read, mut b_read) = (Readback::default(), Readback::default());
    wait_until("both stations to settle all 250 each", Duration::from_secs(150), || {
        a_read.update(&a.printer);
        b_read.update(&b.printer);
        a.settled() == 250 && b.settled() == 250
    });
    let settled_after = started.elapsed();

    // In-doubt labels (the kill came mid-send) were sent once and never again on their own.
    let a_docs = a.documents();
    let b_docs = b.documents();
    let in_doubt: Vec<&serde_json::Value> = a_docs.iter().chain(&b_docs).filter(|d| d["state"] == "in_doubt").collect();
    for d in &in_doubt {
        assert_eq!(d["attempts"], 1, "an in-doubt label is never re-sent silently: {d}");
    }
    // The printer discards a label cut short (it prints whole labels or nothing); the spool cannot
    // know how far it got, so each one cut short must be in doubt, and not printed.
    let partials = |s: &Station| s.printer.events().iter().filter(|e| matches!(e, labeld::virtual_printer::Event::DiscardedPartial { .. })).count();
    let cut_short = partials(&a);
    assert_eq!(partials(&b), 0, "B's link never broke");
    // Documents are per station: the in-doubt ones are A's (the one killed).
    assert!(in_doubt.iter().all(|d| a_docs.contains(d)), "only the killed station has in-doubt labels: {in_doubt:?}");
    let count = |tracking: &[String]| {
        let mut n: BTreeMap<String, usize> = BTreeMap::new();
        for t in tracking {
            *n.entry(t.clone()).or_default() += 1;
        }
        n
    };
    a_read.update(&a.printer);
    b_read.update(&b.printer);
    let before = count(&[a_read.tracking(), b_read.tracking()].concat());
    assert!(before.values().all(|&n| n == 1), "a label printed twice: {:?}", before.iter().filter(|(_, n)| **n > 1).collect::<Vec<_>>());
    // The operator's part for each in-doubt label: look at the printer; reprint what did not come out.
    let mut reprinted = 0;
    let mut in_doubt_printed = 0;
    for d in &in_doubt {
        let t = d["tracking_number"].as_str().unwrap();
        match before.get(t).copied().unwrap_or(0) {
            1 => in_doubt_printed += 1,
            0 => {
                let r = http::post_json(a.addr, &format!("/v1/documents/{}/reprint", d["id"]), br#"{"reason":"not at the printer after a crash"}"#);
                assert!(r.status < 300, "{}", r.text());
                reprinted += 1;
            }
            n => panic!("in-doubt {t} printed {n} times"),
        }
    }
    assert!(cut_short <= reprinted, "{cut_short} label(s) cut short at the printer, {reprinted} in doubt and not printed");
    wait_until("the reprints", Duration::from_secs(60), || a.printer.saved().len() + b.printer.saved().len() >= 500);
    a_read.update(&a.printer);
    b_read.update(&b.printer);
    let (a_printed, b_printed) = (a_read.tracking(), b_read.tracking());
    let want: BTreeMap<String, usize> = tracking_of.values().map(|t| (t.clone(), 1)).collect();
    assert_eq!(count(&[a_printed.clone(), b_printed].concat()), want, "every order printed exactly once across both stations");
    // Each station printed exactly its own share.
    let a_tracking: BTreeSet<String> = a_printed.into_iter().collect();
    assert_eq!(a_tracking, a_lines.iter().map(|l| order_field(l, "/shipment/tracking_number")).collect());

    // Nothing left in flight at the broker.
    // Counters start again with a process: A's are since its restart.
    let (a_redelivered, b_redelivered) = (a.health()["feed"]["redelivered"].as_u64().unwrap(), b.health()["feed"]["redelivered"].as_u64().unwrap());
    rt.block_on(async {
        let js = context(&nats).await;
        for st in ["pack-01", "pack-02"] {
            let mut c: jetstream::consumer::PullConsumer =
                js.get_consumer_from_stream(format!("labeld-{WAREHOUSE}-{st}"), format!("LABELS_{tag}")).await.unwrap();
            let deadline = Instant::now() + Duration::from_secs(30);
            loop {
                let info = c.info().await.unwrap();
                if info.num_pending == 0 && info.num_ack_pending == 0 {
                    break;
                }
                assert!(Instant::now() < deadline, "{st}: still in flight: {info:?}");
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
    });

    // Events: accepted and printed for every order (in_doubt instead of printed for one that came
    // out before the kill), none rejected, and no buyer data anywhere in them.
    let in_doubt_orders: BTreeSet<String> = in_doubt.iter().map(|d| d["order_id"].as_str().unwrap().to_owned()).collect();
    let mut seen = Vec::new();
    let missing = |seen: &[(String, Vec<u8>)]| -> Vec<String> {
        let mut by_order: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for (_, body) in seen {
            let e: FeedEvent = serde_json::from_slice(body).unwrap();
            if let Some(o) = e.order_id {
                by_order.entry(o).or_default().insert(e.event);
            }
        }
        tracking_of
            .keys()
            .filter(|o| {
                let got = by_order.get(*o).cloned().unwrap_or_default();
                let done = got.contains("printed") || (in_doubt_orders.contains(*o) && got.contains("in_doubt"));
                !(got.contains("accepted") && done)
            })
            .cloned()
            .collect()
    };
    wait_until("events for every order", Duration::from_secs(30), || {
        seen = rt.block_on(async { stored_events(&context(&nats).await, events_stream).await });
        missing(&seen).is_empty()
    });
    let mut counts: BTreeMap<String, usize> = BTreeMap::new();
    for (subject, body) in &seen {
        let e: FeedEvent = serde_json::from_slice(body).unwrap();
        assert_eq!(subject, &format!("labels.events.{WAREHOUSE}.{}", e.station));
        *counts.entry(e.event).or_default() += 1;
    }
    assert_eq!(counts.get("rejected"), None, "{counts:?}");
    let buyer = buyer_data(&lines);
    assert!(buyer.len() >= 10, "buyer strings to look for: {buyer:?}");
    for (_, body) in &seen {
        let text = String::from_utf8_lossy(body);
        for s in &buyer {
            assert!(!text.contains(s.as_str()), "an event carries buyer data {s:?}: {text}");
        }
    }
    for st in [&a, &b] {
        let log = std::fs::read_to_string(&st.log).unwrap();
        for s in &buyer {
            assert!(!log.contains(s.as_str()), "{}'s log carries buyer data {s:?}", st.name);
        }
    }
    eprintln!(
        "e2e: 500 orders settled in {:.1} s (test {:.1} s); A killed at {a_at_kill} printed ({cut_short} label cut short at the printer), B at {b_at_outage} when the broker went; \
         in doubt after the kill: {} ({in_doubt_printed} had printed, {reprinted} reprinted by the operator); \
         messages redelivered to A after its restart: {a_redelivered}, to B: {b_redelivered}; events: {counts:?}",
        settled_after.as_secs_f64(),
        started.elapsed().as_secs_f64(),
        in_doubt.len()
    );
}

/// Issue 13 defect 3: the text a rule refused can be a buyer's name, address or phone. Held documents
/// whose refused texts are exactly those are listed, previewed, counted, logged and announced (SSE
/// and NATS), and none of those strings appears anywhere but on the label.
#[test]
fn refused_buyer_text_appears_in_no_listing_event_metric_log_or_preview() {
    let Some(nats) = Nats::start() else { return };
    let tag = "leak";
    let root = tempfile::tempdir().unwrap();
    let mut st = Station::new(root.path(), "pack-01", &nats, tag, &[]);
    st.rust_log = "debug";
    st.start();
    wait_until("the feed to connect", Duration::from_secs(30), || st.feed_state() == "connected");
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
    let nats_events = rt.block_on(collect_events(&nats));
    let sse = Sse::open(st.addr);

    let base: serde_json::Value = serde_json::from_slice(&std::fs::read(common::fixtures().join("orders/my-jnt-cod.json")).unwrap()).unwrap();
    // Each refused text holds a needle found nowhere else: a name, an address (with a phone in it), a phone.
    let name = "Qistina Humaira binti Mohd Faizal Azhari ".repeat(8);
    let address = "Blok Cempaka Pangsapuri Seri Kenanga, call 019-876 5432, ".repeat(10);
    let note = "WhatsApp 017-662 4419 for a discount";
    let mut orders = Vec::new();
    for (i, edit) in [
        &(|o: &mut serde_json::Value| o["recipient"]["name"] = name.trim().into()) as &dyn Fn(&mut serde_json::Value),
        &|o| o["recipient"]["address"]["lines"][0] = address.trim().into(),
        &|o| o["label_note"] = note.into(),
    ]
    .into_iter()
    .enumerate()
    {
        let mut o = base.clone();
        o["order_id"] = format!("LEAK-{i}").into();
        o["shipment"]["tracking_number"] = format!("63582877100{i}").into();
        edit(&mut o);
        orders.push(o);
    }
    let needles = ["Qistina Humaira", "Cempaka Pangsapuri", "019-876 5432", "876 5432", "017-662 4419", "662 4419"];
    for o in &orders {
        let resp = http::post_json(st.addr, "/v1/jobs", serde_json::json!({"printer": "dock", "order": o}).to_string().as_bytes());
        assert_eq!(resp.status, 202, "{}", resp.text());
    }
    wait_until("three held documents", Duration::from_secs(60), || st.documents().iter().filter(|d| d["state"] == "held").count() == 3);
    let docs = st.documents();
    let rules: BTreeSet<String> = docs.iter().flat_map(|d| d["report"]["refusals"].as_array().unwrap().iter().map(|r| r["rule"].as_str().unwrap().to_owned())).collect();
    assert!(rules.contains("overflow") && rules.contains("off_platform_contact"), "{rules:?}");

    // Every way to read the station back.
    let mut seen: Vec<(String, String)> = Vec::new();
    let mut get = |what: &str, path: &str| {
        let r = http::get(st.addr, path);
        seen.push((what.to_owned(), r.text()));
    };
    get("GET /v1/jobs", "/v1/jobs?limit=1000");
    get("GET /v1/jobs?state=held", "/v1/jobs?state=held");
    for d in &docs {
        get("GET /v1/jobs/{id}", &format!("/v1/jobs/{}", d["job"]));
        get("preview", &format!("/v1/documents/{}/preview.png", d["id"]));
    }
    get("healthz", "/healthz");
    get("metrics", "/metrics");
    get("printers", "/v1/printers");
    // The outbox publishes within a second of each change.
    wait_until("the held events on NATS", Duration::from_secs(30), || events_of(&nats_events).iter().filter(|(_, e)| e.event == "held").count() >= 3);
    seen.push(("SSE".into(), sse.close()));
    for (subject, body) in nats_events.lock().unwrap().iter() {
        seen.push((format!("NATS {subject}"), String::from_utf8_lossy(body).into_owned()));
    }
    st.kill();
    seen.push(("log".into(), std::fs::read_to_string(&st.log).unwrap()));
    assert!(seen.iter().any(|(w, t)| w == "log" && t.contains("held by a rule")), "the log covers the holds");
    for (what, text) in &seen {
        for n in needles {
            assert!(!text.contains(n), "{what} carries refused buyer text {n:?}:\n{text}");
        }
    }
}

/// A `GET /v1/events` reader on its own thread; `close` returns everything it received.
struct Sse {
    stop: std::sync::mpsc::Sender<()>,
    thread: std::thread::JoinHandle<String>,
}

impl Sse {
    fn open(addr: SocketAddr) -> Sse {
        use std::io::{Read, Write};
        let (stop, stopped) = std::sync::mpsc::channel::<()>();
        let mut s = std::net::TcpStream::connect(addr).unwrap();
        s.set_read_timeout(Some(Duration::from_millis(200))).unwrap();
        write!(s, "GET /v1/events HTTP/1.1\r\nHost: {addr}\r\n\r\n").unwrap();
        let thread = std::thread::spawn(move || {
            let mut out = Vec::new();
            let mut buf = [0u8; 8192];
            while stopped.try_recv().is_err() {
                match s.read(&mut buf) {
                    Ok(0) => break,
                    Ok(n) => out.extend_from_slice(&buf[..n]),
                    Err(_) => {}
                }
            }
            String::from_utf8_lossy(&out).into_owned()
        });
        Sse { stop, thread }
    }

    fn close(self) -> String {
        let _ = self.stop.send(());
        self.thread.join().unwrap()
    }
}

/// Marketplace label documents as feed messages (base64 in the message), into a `labeld serve`
/// station and out of its virtual printer in ZPL, each label page's tracking barcode read back with
/// zbarimg; a document that is not what it says is terminated with a `rejected` event and stores nothing.
#[test]
fn marketplace_documents_over_the_feed_print_and_a_bad_one_is_terminated() {
    use base64::Engine;
    let Some(nats) = Nats::start() else { return };
    let zbar = common::zbar::available("marketplace_documents_over_the_feed").is_some();
    let root = tempfile::tempdir().unwrap();
    let mut s = Station::new(root.path(), "docs-01", &nats, "mdoc", &[]);
    s.start();
    let docs = common::fixtures().join("docs");
    let manifest: BTreeMap<String, String> = serde_json::from_slice(&std::fs::read(docs.join("manifest.json")).unwrap()).unwrap();
    let printable: Vec<(String, String)> =
        manifest.into_iter().filter(|(f, _)| !["a5-label.pdf", "letter.pdf", "thin-bars.pdf"].contains(&f.as_str())).collect();
    let mut lines: Vec<String> = printable
        .iter()
        .map(|(file, tn)| {
            let ct = if file.ends_with(".png") { "image/png" } else { "application/pdf" };
            let data = base64::engine::general_purpose::STANDARD.encode(std::fs::read(docs.join(file)).unwrap());
            serde_json::json!({"kind": "document", "order_id": format!("FEED-{file}"), "tracking_number": tn,
                "document": {"content_type": ct, "data": data}})
            .to_string()
        })
        .collect();
    // A PNG that says it is a PDF.
    let png = base64::engine::general_purpose::STANDARD.encode(std::fs::read(docs.join("label-203.png")).unwrap());
    lines.push(serde_json::json!({"kind": "document", "order_id": "FEED-BAD", "tracking_number": "TBAD",
        "document": {"content_type": "application/pdf", "data": png}}).to_string());
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(async {
        let js = context(&nats).await;
        publish::ensure_stream(&js, "LABELS_mdoc", "mdoc.*.*").await.unwrap();
        let msgs: Vec<_> = lines.iter().map(|l| publish::message(l, "label").unwrap()).collect();
        assert_eq!(msgs.last().unwrap().1, "document:FEED-BAD:TBAD");
        assert_eq!(publish::publish(&js, &s.subject("mdoc"), msgs).await.unwrap().stored, lines.len());
    });
    wait_until("every document printed", Duration::from_secs(120), || s.settled() >= printable.len() as u64);
    wait_until("the bad one terminated", Duration::from_secs(30), || s.health()["feed"]["terminated"].as_u64() == Some(1));
    let stored = s.documents();
    assert_eq!(stored.len(), printable.len(), "{stored:?}");
    assert!(stored.iter().all(|d| d["kind"] == "document" && d["state"] == "done"), "{stored:?}");
    let pages = printable.len() + 1; // label-slip.pdf has two pages
    assert_eq!(s.printer.wait_for_saved(pages, Duration::from_secs(30)), pages);
    if zbar {
        let saved = s.printer.saved();
        let read = common::zbar::code128(&saved.iter().map(|p| p.as_path()).collect::<Vec<_>>());
        for (file, tn) in &printable {
            assert!(read.contains(tn), "{file}: {tn} not read back from the printed pages ({read:?})");
        }
    }
}
