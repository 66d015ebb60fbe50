//! The HTTP API in-process on a free loopback port: routes match the OpenAPI document, bad input is a
//! 4xx naming the field, and the Host/Origin/token guard holds.

use crate::common;

use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};

use crate::common::http::{self, request};
use labeld::server::{self, AppState, ROUTES, Served, ServerOptions};

fn start(token: Option<&str>) -> SocketAddr {
    start_on(token, false)
}

fn start_on(token: Option<&str>, also_ipv6_loopback: bool) -> SocketAddr {
    let gate = Arc::new(labeld::compose::Gate::new(labeld::comply::Checker::new(None), common::template().clone()).unwrap());
    let state = Served::Preview(Arc::new(AppState::preview(common::fonts().clone(), gate)));
    let opts = ServerOptions {
        listen: "127.0.0.1:0".parse().unwrap(),
        also_ipv6_loopback,
        allowed_hosts: vec![],
        allowed_origins: vec!["https://seller.example".into()],
        token: token.map(String::from),
        limits: Default::default(),
    };
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
        rt.block_on(server::serve(state, opts, move |a| tx.send(a).unwrap(), std::future::pending())).unwrap();
    });
    rx.recv().unwrap()
}

fn server() -> SocketAddr {
    static ADDR: OnceLock<SocketAddr> = OnceLock::new();
    *ADDR.get_or_init(|| start(None))
}

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(common::fixtures().join("orders").join(name)).unwrap()
}

#[test]
fn openapi_document_matches_the_routes() {
    let doc = http::get(server(), "/v1/openapi.json").json();
    let mut documented: Vec<(String, String)> = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            documented.push((method.to_uppercase(), path.clone()));
        }
    }
    let mut routed: Vec<(String, String)> = ROUTES.iter().map(|r| (r.method.to_string(), r.path.to_string())).collect();
    documented.sort();
    routed.sort();
    assert_eq!(documented, routed);
    // And every route a preview-only server has is really served: not the fallback, not "method not
    // allowed". The station's routes are not there at all (tests/it/daemon.rs checks them on a daemon).
    for r in ROUTES {
        let path = r.path.replace("{id}", "1").replace("{name}", "none");
        let resp = request(server(), r.method, &path, &[("Content-Type", "application/json")], b"{}");
        assert_ne!(resp.status, 405, "{} {}", r.method, r.path);
        if r.station {
            assert_eq!((resp.status, resp.json()["error"]["code"].as_str()), (404, Some("no_such_route")), "{} {} on a preview-only server", r.method, r.path);
        } else if resp.status == 404 {
            assert_ne!(resp.json()["error"]["code"], "no_such_route", "{} {} is documented but not routed", r.method, r.path);
        }
    }
    let missing = http::get(server(), "/v1/nope");
    assert_eq!(missing.status, 404);
    assert_eq!(missing.json()["error"]["code"], "no_such_route");
}

#[test]
fn render_previews_png_and_pdf() {
    let png = http::post_json(server(), "/v1/render", &fixture("my-jnt-cod.json"));
    assert_eq!(png.status, 200, "{}", png.text());
    assert_eq!(png.header("content-type"), Some("image/png"));
    let raster = labeld::render::png::decode(&png.body).unwrap();
    assert_eq!((raster.width(), raster.height()), (799, 1199));
    let pdf = http::post_json(server(), "/v1/render?format=pdf&dpi=300", &fixture("th-flash-cod.json"));
    assert_eq!(pdf.status, 200, "{}", pdf.text());
    assert!(pdf.body.starts_with(b"%PDF-"));
}

#[test]
fn bad_input_is_a_4xx_naming_the_field() {
    let cases: Vec<(Vec<u8>, &str, u16, &str)> = vec![
        (b"{not json".to_vec(), "/v1/render", 400, ""),
        (br#"{"order_id": "1"}"#.to_vec(), "/v1/render", 400, "shipment"),
        (fixture("my-jnt-cod.json"), "/v1/render?dpi=600", 400, "dpi"),
        (fixture("my-jnt-cod.json"), "/v1/render?format=bmp", 400, "format"),
        (fixture("my-jnt-cod.json"), "/v1/render?colour=red", 400, "query"),
    ];
    for (body, path, status, field) in cases {
        let resp = http::post_json(server(), path, &body);
        assert_eq!(resp.status, status, "{path}: {}", resp.text());
        let err = resp.json();
        assert!(err["error"]["message"].as_str().is_some_and(|m| !m.is_empty()));
        if !field.is_empty() {
            assert_eq!(err["error"]["field"], field, "{path}: {err}");
        }
    }
    // Unknown field, with its path.
    let mut order: serde_json::Value = serde_json::from_slice(&fixture("my-jnt-cod.json")).unwrap();
    order["shipment"]["colour"] = "red".into();
    let resp = http::post_json(server(), "/v1/render", &serde_json::to_vec(&order).unwrap());
    assert_eq!(resp.status, 400);
    assert!(resp.json()["error"]["field"].as_str().unwrap().starts_with("shipment"), "{}", resp.text());
    // Too large: 413, still JSON.
    let big = vec![b' '; server::MAX_BODY + 10];
    let resp = http::post_json(server(), "/v1/render", &big);
    assert_eq!(resp.status, 413);
    assert_eq!(resp.json()["error"]["code"], "body_too_large");
}

#[test]
fn a_label_that_cannot_print_is_422_with_the_rule() {
    let mut order: serde_json::Value = serde_json::from_slice(&fixture("my-jnt-cod.json")).unwrap();
    // A private-use character: no font has it.
    order["recipient"]["name"] = "Nur \u{E000} Aisyah".into();
    let resp = http::post_json(server(), "/v1/render", &serde_json::to_vec(&order).unwrap());
    assert_eq!(resp.status, 422, "{}", resp.text());
    let err = resp.json();
    assert_eq!(err["error"]["code"], "refused");
    assert_eq!(err["error"]["detail"]["refusals"][0]["rule"], "missing_glyph");
    assert_eq!(err["error"]["field"], "recipient.name");
}

#[test]
fn foreign_hosts_and_origins_are_refused() {
    let resp = request(server(), "GET", "/healthz", &[("Host", "evil.example:8631")], b"");
    assert_eq!(resp.status, 403);
    assert_eq!(resp.json()["error"]["code"], "host_not_allowed");
    let resp = request(server(), "GET", "/healthz", &[("Origin", "https://evil.example")], b"");
    assert_eq!(resp.status, 403);
    assert_eq!(resp.json()["error"]["code"], "origin_not_allowed");
    let resp = request(server(), "GET", "/healthz", &[("Origin", "https://seller.example")], b"");
    assert_eq!(resp.status, 200);
    assert!(resp.header("access-control-allow-origin").is_none(), "no CORS wildcard");
}

#[test]
fn a_configured_token_is_required() {
    let addr = start(Some("t0ken"));
    assert_eq!(http::get(addr, "/healthz").status, 401);
    let ok = request(addr, "GET", "/healthz", &[("Authorization", "Bearer t0ken")], b"");
    assert_eq!(ok.status, 200);
    assert_eq!(ok.json()["status"], "ok");
}

#[test]
fn forged_hosts_and_doubled_headers_are_refused() {
    let addr = server();
    for forged in ["[::1]evil.example", "[::1]evil.example:80", "127.0.0.1:80:80", "localhost:"] {
        let resp = request(addr, "GET", "/healthz", &[("Host", forged)], b"");
        assert_eq!(resp.status, 403, "Host {forged}");
        assert_eq!(resp.json()["error"]["code"], "host_not_allowed");
    }
    // The allowed value first and a foreign one second: neither is believed.
    let order = fixture("my-jnt-cod.json");
    let host = addr.to_string();
    let two_origins = [("Content-Type", "application/json"), ("Origin", "https://seller.example"), ("Origin", "https://evil.example")];
    let resp = request(addr, "POST", "/v1/render", &two_origins, &order);
    assert_eq!(resp.status, 400, "{}", resp.text());
    assert_eq!(resp.json()["error"]["code"], "duplicate_header");
    assert_eq!(resp.json()["error"]["field"], "origin");
    let resp = request(addr, "POST", "/v1/render", &[("Content-Type", "application/json"), ("Host", &host), ("Host", "evil.example")], &order);
    assert_eq!(resp.status, 400, "{}", resp.text());
    assert_eq!(resp.json()["error"]["field"], "host");
}

#[test]
fn the_token_comes_only_from_a_bearer_header_of_any_case() {
    let addr = start(Some("t0ken-0123456789"));
    for scheme in ["Bearer", "bearer", "BEARER"] {
        let resp = request(addr, "GET", "/v1/openapi.json", &[("Authorization", &format!("{scheme} t0ken-0123456789"))], b"");
        assert_eq!(resp.status, 200, "{scheme}");
    }
    let cookie = request(addr, "GET", "/v1/openapi.json", &[("Cookie", "labeld_token=t0ken-0123456789")], b"");
    assert_eq!(cookie.status, 401, "a cookie does not carry the token");
    // HEAD on the page files is answered like GET (no token), without a body; on the API it is not exempt.
    for path in ["/", "/app.js", "/style.css"] {
        let resp = request(addr, "HEAD", path, &[], b"");
        assert_eq!(resp.status, 200, "HEAD {path}");
        assert!(resp.header("content-security-policy").is_some(), "HEAD {path}");
        assert!(resp.body.is_empty(), "HEAD {path} has a body");
    }
    assert_eq!(request(addr, "HEAD", "/healthz", &[], b"").status, 401);
}

#[test]
fn a_localhost_listen_also_answers_on_ipv6_loopback() {
    let v4 = start_on(None, true);
    let v6 = SocketAddr::from((std::net::Ipv6Addr::LOCALHOST, v4.port()));
    assert_eq!(http::get(v4, "/healthz").status, 200);
    let resp = request(v6, "GET", "/healthz", &[("Host", &format!("localhost:{}", v4.port()))], b"");
    assert_eq!(resp.status, 200, "{}", resp.text());
    let config = labeld::config::Config::parse("[server]\nlisten = \"localhost:8631\"\n", std::path::Path::new("labeld.toml"), &labeld::config::AnyDriver).unwrap();
    assert_eq!((config.server.listen.to_string().as_str(), config.server.localhost), ("127.0.0.1:8631", true));
}

#[test]
fn metrics_count_requests_by_route() {
    http::get(server(), "/healthz");
    let text = http::get(server(), "/metrics").text();
    assert!(text.contains("labeld_http_requests_total{route=\"/healthz\",status=\"200\"}"), "{text}");
    assert!(text.contains("# TYPE labeld_render_seconds histogram"));
}

#[test]
fn a_label_breaking_a_marketplace_rule_is_422_with_the_report() {
    let mut order: serde_json::Value = serde_json::from_slice(&fixture("my-jnt-cod.json")).unwrap();
    order["label_note"] = "Add us on WhatsApp +60 12-345 6789 for 10% off".into();
    let resp = http::post_json(server(), "/v1/render", &serde_json::to_vec(&order).unwrap());
    assert_eq!(resp.status, 422, "{}", resp.text());
    let err = resp.json();
    let rules: Vec<&str> = err["error"]["detail"]["refusals"].as_array().unwrap().iter().map(|r| r["rule"].as_str().unwrap()).collect();
    assert!(rules.contains(&"off_platform_contact"), "{err}");
    assert_eq!(err["error"]["field"], "label_note");
}

#[test]
fn the_web_page_is_served_with_a_strict_policy_and_without_the_token() {
    let addr = start(Some("t0ken"));
    for (path, ty) in [("/", "text/html"), ("/app.js", "text/javascript"), ("/style.css", "text/css")] {
        let resp = http::get(addr, path);
        assert_eq!(resp.status, 200, "{path}: the page's own files need no token");
        assert!(resp.header("content-type").unwrap().starts_with(ty), "{path}: {:?}", resp.header("content-type"));
        let csp = resp.header("content-security-policy").unwrap();
        assert!(csp.starts_with("default-src 'self'"), "{csp}");
        assert!(!csp.contains("unsafe-inline") && !csp.contains("unsafe-eval") && !csp.contains("http"), "{csp}");
        assert_eq!(resp.header("x-content-type-options"), Some("nosniff"));
        // Still only for an allowed Host and Origin.
        assert_eq!(request(addr, "GET", path, &[("Host", "evil.example")], b"").status, 403);
        assert_eq!(request(addr, "GET", path, &[("Origin", "https://evil.example")], b"").status, 403);
    }
    // The data behind it does need the token, and a POST to a page path is not exempt.
    assert_eq!(http::get(addr, "/v1/jobs").status, 401);
    assert_eq!(http::post_json(addr, "/", b"{}").status, 401);
    // Nothing on the page comes from elsewhere, and it never writes HTML from data.
    let html = http::get(addr, "/").text();
    let js = http::get(addr, "/app.js").text();
    for text in [&html, &js] {
        assert!(!text.contains("http://") && !text.contains("https://"), "no external URL");
        assert!(!text.contains("innerHTML") && !text.contains("<script>"), "no inline script, no innerHTML");
    }
    assert!(!html.contains("style="), "no inline styles (the policy would block them)");
}

/// `POST /v1/check` with `{"orders": [...]}`: one answer per order, in order; a tracking number repeated
/// within the batch on another order is a duplicate, as it would be when printed; the same orders checked
/// one by one are judged the same (duplicates aside).
#[test]
fn a_batch_check_answers_each_order_in_order() {
    let order = |name: &str| -> serde_json::Value { serde_json::from_slice(&fixture(name)).unwrap() };
    let good = order("my-jnt-cod.json");
    let mut linked = good.clone();
    linked["label_note"] = "Visit www.acme-shop.example for the manual".into();
    let mut twin = order("vn-ghn.json");
    twin["order_id"] = "VN-TWIN-1".into();
    twin["shipment"] = good["shipment"].clone();
    twin["sender"] = good["sender"].clone();
    let body = serde_json::json!({ "orders": [good, order("jp-dhl.json"), linked, twin] });
    let resp = http::post_json(server(), "/v1/check", body.to_string().as_bytes());
    assert_eq!(resp.status, 200, "{}", resp.text());
    let results = resp.json()["results"].as_array().unwrap().clone();
    let rules = |r: &serde_json::Value| -> Vec<String> {
        r["report"]["refusals"].as_array().unwrap().iter().map(|x| x["rule"].as_str().unwrap().to_string()).collect()
    };
    let ids: Vec<&str> = results.iter().map(|r| r["order_id"].as_str().unwrap()).collect();
    assert_eq!(ids, [good["order_id"].as_str().unwrap(), order("jp-dhl.json")["order_id"].as_str().unwrap(), good["order_id"].as_str().unwrap(), "VN-TWIN-1"]);
    let printable: Vec<bool> = results.iter().map(|r| r["printable"].as_bool().unwrap()).collect();
    assert_eq!(printable, [true, true, false, false], "{results:?}");
    // The same order twice (a fixed note) is not its own duplicate; another order with its number is.
    assert_eq!(rules(&results[2]), ["hyperlink"]);
    assert_eq!(rules(&results[3]), ["duplicate_tracking_number"]);
    // One by one, each answer is the same report.
    for (i, o) in body["orders"].as_array().unwrap().iter().enumerate().take(3) {
        let single = http::post_json(server(), "/v1/check", o.to_string().as_bytes()).json();
        assert_eq!((single["printable"].clone(), single["report"].clone()), (results[i]["printable"].clone(), results[i]["report"].clone()), "order {i}");
    }
}

#[test]
fn a_bad_batch_check_is_a_400_naming_the_order_and_field() {
    let good: serde_json::Value = serde_json::from_slice(&fixture("my-jnt-cod.json")).unwrap();
    let mut bad = good.clone();
    bad["items"][0]["qty"] = 0.into();
    let cases = [
        (serde_json::json!({ "orders": [good, bad] }), "orders[1].items[0].qty"),
        (serde_json::json!({ "orders": [] }), "orders"),
        (serde_json::json!({ "orders": vec![good.clone(); 501] }), "orders"),
        (serde_json::json!({ "orders": good }), "orders"),
        (serde_json::json!({ "orders": [good], "printer": "dock" }), "printer"),
    ];
    for (body, field) in cases {
        let resp = http::post_json(server(), "/v1/check", body.to_string().as_bytes());
        assert_eq!((resp.status, resp.json()["error"]["field"].as_str().map(str::to_string)), (400, Some(field.to_string())), "{}", resp.text());
    }
}
