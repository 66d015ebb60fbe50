//! Connection limits and timeouts (issue 13, item 13), on a raw socket: a head that never finishes and a
//! chunked body that never ends are answered 408 and closed, connection 257 is answered 503, event
//! stream 33 is answered 429, and a kept-alive connection with nothing to do is closed. The timeouts are
//! shortened for the tests; the counts are the defaults.

use crate::common;

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::time::Duration;

use crate::common::http;
use crate::daemon::{config_text, start_with, wait_until};
use labeld::server::connections::Limits;
use labeld::server::{self, AppState, ServerOptions, Served, StationState};

fn quick() -> Limits {
    Limits {
        header_timeout: Duration::from_millis(300),
        body_timeout: Duration::from_millis(300),
        idle_timeout: Duration::from_millis(300),
        ..Limits::default()
    }
}

/// A station's server (the event stream is a station route) on a spool in a scratch directory, with
/// no printers to drive.
fn start(limits: Limits) -> SocketAddr {
    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap().keep();
    let spool = Arc::new(labeld::spool::Spool::open(&dir.join("spool.db")).unwrap());
    let station = Arc::new(labeld::station::Station::detached(
        spool.clone(),
        labeld::events::EventBus::default(),
        Arc::new(labeld::bins::BinPattern::default()),
        |_| {},
    ));
    let app = Arc::new(AppState { seen: spool, ..AppState::preview(common::fonts().clone(), Arc::new(labeld::compose::Gate::new(labeld::comply::Checker::new(None), common::template().clone()).unwrap())) });
    let state = Served::Station(Arc::new(StationState { app, station, feed: labeld::feed::Monitor::disabled() }));
    let opts = ServerOptions {
        listen: "127.0.0.1:0".parse().unwrap(),
        also_ipv6_loopback: false,
        allowed_hosts: vec![],
        allowed_origins: vec![],
        token: None,
        limits,
    };
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
        rt.block_on(server::serve(state, opts, move |a| tx.send(a).unwrap(), std::future::pending())).unwrap();
    });
    rx.recv().unwrap()
}

fn connect(addr: SocketAddr) -> TcpStream {
    let s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    s
}

/// Everything the server sends until it closes the connection.
fn until_closed(s: &mut TcpStream) -> String {
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).expect("the server closes the connection");
    String::from_utf8_lossy(&raw).into_owned()
}

fn status_of(response: &str) -> u16 {
    response.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap_or_else(|| panic!("not an HTTP response: {response:?}"))
}

fn error_code(response: &str) -> String {
    let body = response.split_once("\r\n\r\n").map(|(_, b)| b).unwrap_or("");
    let v: serde_json::Value = serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {response:?}"));
    v["error"]["code"].as_str().unwrap_or_default().to_string()
}

#[test]
fn a_head_that_never_finishes_is_408_and_closed() {
    let addr = start(quick());
    let mut partial = connect(addr);
    partial.write_all(format!("GET /healthz HTTP/1.1\r\nHost: {addr}\r\nAccept: app").as_bytes()).unwrap();
    let answer = until_closed(&mut partial);
    assert_eq!(status_of(&answer), 408, "{answer}");
    assert_eq!(error_code(&answer), "request_timeout");
    assert!(answer.contains("headers did not arrive within 0.3 s"), "{answer}");
    // A connection that sends nothing at all is closed the same way.
    let mut silent = connect(addr);
    assert_eq!(status_of(&until_closed(&mut silent)), 408);
    // The server still answers.
    assert_eq!(http::get(addr, "/healthz").status, 200);
}

#[test]
fn a_chunked_body_that_never_ends_is_408_and_closed() {
    let addr = start(quick());
    let mut s = connect(addr);
    let head = format!(
        "POST /v1/render HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
    );
    s.write_all(head.as_bytes()).unwrap();
    s.write_all(b"9\r\n{\"order_i\r\n").unwrap();
    let answer = until_closed(&mut s);
    assert_eq!(status_of(&answer), 408, "{answer}");
    assert_eq!(error_code(&answer), "request_timeout");
    assert!(answer.to_ascii_lowercase().contains("connection: close"), "{answer}");
    assert!(answer.contains("body did not arrive within 0.3 s"), "{answer}");
}

#[test]
fn a_kept_alive_connection_with_nothing_to_do_is_closed() {
    let addr = start(quick());
    let mut s = connect(addr);
    let request = format!("GET /healthz HTTP/1.1\r\nHost: {addr}\r\n\r\n");
    s.write_all(request.as_bytes()).unwrap();
    // One response, kept alive, then the server closes the idle connection: read_to_end returns.
    let answers = until_closed(&mut s);
    assert_eq!(answers.matches("HTTP/1.1 200").count(), 1, "{answers}");
    // A status line, not the digits: the body's timestamps may contain "408".
    assert!(!answers.contains("HTTP/1.1 408"), "an idle connection is closed without an answer: {answers}");
}

#[test]
fn a_request_in_time_on_a_kept_alive_connection_is_served() {
    // Long clocks: two requests on one connection both answer.
    let addr = start(Limits::default());
    let mut s = connect(addr);
    for _ in 0..2 {
        s.write_all(format!("GET /healthz HTTP/1.1\r\nHost: {addr}\r\n\r\n").as_bytes()).unwrap();
        let mut buf = [0u8; 4096];
        let n = s.read(&mut buf).unwrap();
        assert!(String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 200"));
    }
}

#[test]
fn connection_257_is_503_and_closed() {
    // A long head clock: the held connections stay open for the whole test.
    let limits = Limits { header_timeout: Duration::from_secs(600), ..Limits::default() };
    assert_eq!(limits.max_connections, 256);
    let addr = start(limits);
    let mut held: Vec<TcpStream> = (0..256).map(|_| connect(addr)).collect();
    // Connections are accepted in the order they were made: the next one is over the cap.
    let mut over = connect(addr);
    let answer = until_closed(&mut over);
    assert_eq!(status_of(&answer), 503, "{answer}");
    assert_eq!(error_code(&answer), "too_many_connections");
    assert!(answer.to_ascii_lowercase().contains("retry-after: 1"), "{answer}");
    // The held connections are served.
    let first = &mut held[0];
    first.write_all(format!("GET /healthz HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n").as_bytes()).unwrap();
    assert_eq!(status_of(&until_closed(first)), 200);
    // Closing connections frees their places.
    held.truncate(200);
    wait_until("a place to free up", Duration::from_secs(30), || {
        let mut s = connect(addr);
        s.write_all(format!("GET /healthz HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n").as_bytes()).unwrap();
        status_of(&until_closed(&mut s)) == 200
    });
}

/// Opens `GET /v1/events` and returns the socket with the response head read.
fn open_stream(addr: SocketAddr) -> (TcpStream, String) {
    let mut s = connect(addr);
    s.write_all(format!("GET /v1/events HTTP/1.1\r\nHost: {addr}\r\nAccept: text/event-stream\r\n\r\n").as_bytes()).unwrap();
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        if s.read(&mut byte).unwrap() == 0 {
            break;
        }
        head.push(byte[0]);
    }
    (s, String::from_utf8_lossy(&head).into_owned())
}

#[test]
fn event_stream_33_is_429_and_a_closed_one_frees_its_place() {
    let d = start_with(&[], "");
    let mut streams = Vec::new();
    for i in 0..32 {
        let (s, head) = open_stream(d.addr);
        assert_eq!(status_of(&head), 200, "stream {i}: {head}");
        streams.push(s);
    }
    let (mut s, head) = open_stream(d.addr);
    assert_eq!(status_of(&head), 429, "{head}");
    assert!(head.to_ascii_lowercase().contains("retry-after: 5"), "{head}");
    let rest = until_closed_or_body(&mut s);
    assert!(rest.contains("too_many_streams") && rest.contains("32 event streams"), "{rest}");
    // Other requests are not limited by the streams.
    assert_eq!(http::get(d.addr, "/healthz").status, 200);
    streams.pop();
    wait_until("a stream's place to free up", Duration::from_secs(30), || status_of(&open_stream(d.addr).1) == 200);
}

/// The body of a response whose head was read (its Content-Length), without waiting for a close.
fn until_closed_or_body(s: &mut TcpStream) -> String {
    let mut buf = vec![0u8; 4096];
    let n = s.read(&mut buf).unwrap();
    String::from_utf8_lossy(&buf[..n]).into_owned()
}

#[test]
fn an_event_stream_is_not_idle() {
    let mut cfg = config_text(&[], "127.0.0.1:0");
    cfg = cfg.replacen("[server]\n", "[server]\nidle_timeout = \"1s\"\nheader_timeout = \"1s\"\n", 1);
    let d = crate::daemon::start_config(&cfg, None);
    let (mut s, head) = open_stream(d.addr);
    assert_eq!(status_of(&head), 200, "{head}");
    // Well past both clocks, the stream is still open: a read waits rather than seeing the end.
    s.set_read_timeout(Some(Duration::from_secs(3))).unwrap();
    let mut buf = [0u8; 256];
    match s.read(&mut buf) {
        Ok(0) => panic!("the event stream was closed"),
        Ok(_) => {}
        Err(e) => assert!(matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut), "{e}"),
    }
}
