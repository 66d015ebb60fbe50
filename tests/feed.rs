//! The NATS JetStream job feed against a real nats-server: started here on a free port with a
//! temporary store when `nats-server` is installed, or the one at LABELD_TEST_NATS_URL. Without
//! either the tests say "skipped" and pass, unless LABELD_REQUIRE_NATS=1 (CI), where they fail.

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
use labeld::spool::{Filter, Kind, Spool};

const WAREHOUSE: &str = "WH-KUL-01";

fn shared() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/fixtures")
}

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
            if std::env::var("LABELD_REQUIRE_NATS").as_deref() == Ok("1") {
                panic!("nats-server not installed and LABELD_REQUIRE_NATS=1");
            }
            eprintln!("skipped: nats-server not installed");
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
    cfg.routes = Routes { printers: vec![("dock".into(), Kind::Label), ("desk".into(), Kind::Picklist)] };
    cfg
}

async fn context(nats: &Nats) -> jetstream::Context {
    let client = async_nats::connect(nats.url.as_str()).await.expect("connect");
    jetstream::new(client)
}

fn batch_lines() -> Vec<String> {
    std::fs::read_to_string(shared().join("batches/batch-500.jsonl")).unwrap().lines().filter(|l| !l.trim().is_empty()).map(String::from).collect()
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

fn documents(spool: &Spool) -> Vec<labeld::spool::Document> {
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
    for station in ["pack-01", "pack-02"] {
        let cfg = station_cfg(&nats, "two", station);
        let spool = open_spool(tmp.path(), station);
        let w = woken.clone();
        feeds.push((cfg.clone(), feed::start(&cfg, spool.clone(), EventBus::default(), move |p| {
            assert_eq!(p, "dock");
            w.fetch_add(1, Ordering::SeqCst);
        })));
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

    let h = feed::start(&cfg, spool.clone(), EventBus::default(), |_| {});
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
    let bad_order = std::fs::read_to_string(shared().join("orders-bad/missing-tracking.json")).unwrap();
    let poison: Vec<(Vec<u8>, String)> = vec![
        (std::fs::read(shared().join("orders-bad/not-json.json")).unwrap(), "p-notjson".into()),
        (serde_json::to_vec(&serde_json::from_str::<serde_json::Value>(&bad_order).unwrap()["order"]).unwrap(), "p-bad".into()),
        (serde_json::to_vec(&other_warehouse).unwrap(), "p-refused".into()),
        (serde_json::to_vec(&unknown_printer).unwrap(), "p-printer".into()),
        (b"[1, 2]".to_vec(), "p-array".into()),
    ];
    publish::publish(&js, &cfg.subject(), poison).await.unwrap();
    publish::publish(&js, &cfg.subject(), messages(&[good])).await.unwrap();

    let h = feed::start(&cfg, spool.clone(), EventBus::default(), |_| {});
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
    let h = feed::start(&cfg, spool.clone(), EventBus::default(), |_| {});
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
        docs.push(feed::parse(&m.unwrap().payload, WAREHOUSE, &cfg.routes).map_err(|(r, _)| r).unwrap());
    }
    assert_eq!(docs.len(), 20);
    spool.submit(docs).unwrap();
    drop(fetched);

    // The restarted station gets the same messages again after the ack wait.
    let h = feed::start(&cfg, spool.clone(), EventBus::default(), |_| panic!("a redelivered duplicate must not wake a printer"));
    wait_for("20 redelivered", Duration::from_secs(30), || h.state().acked >= 20).await;
    assert_eq!(documents(&spool).len(), 20);
    let mut consumer = feed::bind(&js, &cfg).await.unwrap();
    let info = consumer.info().await.unwrap();
    assert!(info.num_redelivered >= 1 || info.delivered.consumer_sequence > 20, "{info:?}");
    assert_eq!(info.num_ack_pending, 0);
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
    let h = feed::start(&cfg, spool.clone(), EventBus::default(), |_| {});
    wait_for("feed connected", Duration::from_secs(30), || h.state().state == "connected").await;
    h.shutdown().await;

    // Without the feed: three labels accepted (over HTTP, say), one printed, one cut off by a crash.
    let lines: Vec<String> = batch_lines().into_iter().take(3).collect();
    let docs: Vec<_> = lines.iter().map(|l| feed::parse(&publish::message(l, "label").unwrap().0, WAREHOUSE, &cfg.routes).map_err(|(r, _)| r).unwrap()).collect();
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

    let h = feed::start(&cfg, spool.clone(), EventBus::default(), |_| {});
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
    let batch = shared().join("batches/batch-50.jsonl");
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
        let _h = feed::start(&cfg, spool, EventBus::default(), |_| {});
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
            .args(["feed_child", "--exact", "--ignored", "--nocapture", "--test-threads=1"])
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
    let h = feed::start(&cfg, spool.clone(), EventBus::default(), |_| {});
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
