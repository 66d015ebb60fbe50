//! Who may talk to the daemon: Host and Origin allow-lists and the API token.
//!
//! The daemon listens on loopback, where any web page the packer has open could try to reach it. A
//! DNS-rebinding page arrives with its own name in `Host` (refused); a page from another site calling
//! with fetch() carries its `Origin` (refused unless allowed; there is no CORS wildcard). A token is
//! required whenever one is configured, and configuration refuses a non-loopback listen without one.

use std::net::{IpAddr, SocketAddr};

use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::error::ApiError;

/// The rules one server applies to every request.
#[derive(Debug, Clone)]
pub struct Guard {
    hosts: Vec<String>,
    origins: Vec<String>,
    token: Option<String>,
}

impl Guard {
    /// Hosts: the loopback names, the listen address, and `extra_hosts`. Origins: each of those hosts
    /// on the listen port over http (the packers' page itself), and `extra_origins`.
    pub fn new(listen: SocketAddr, extra_hosts: &[String], extra_origins: &[String], token: Option<String>) -> Guard {
        let mut hosts: Vec<String> = vec!["localhost".into(), "127.0.0.1".into(), "[::1]".into()];
        hosts.push(match listen.ip() {
            IpAddr::V6(ip) => format!("[{ip}]"),
            ip => ip.to_string(),
        });
        hosts.extend(extra_hosts.iter().map(|h| h.to_ascii_lowercase()));
        hosts.sort();
        hosts.dedup();
        let mut origins: Vec<String> = hosts.iter().map(|h| format!("http://{h}:{}", listen.port())).collect();
        origins.extend(extra_origins.iter().map(|o| o.trim_end_matches('/').to_ascii_lowercase()));
        Guard { hosts, origins, token: token.filter(|t| !t.is_empty()) }
    }

    /// Why a request is refused, or None if it may pass.
    pub fn check(&self, headers: &HeaderMap) -> Option<ApiError> {
        self.check_with(headers, true)
    }

    /// [`Guard::check`] for the web page's own files: Host and Origin only. They carry no data,
    /// and a packer needs the page before they can type the token into it.
    pub fn check_page_file(&self, headers: &HeaderMap) -> Option<ApiError> {
        self.check_with(headers, false)
    }

    fn check_with(&self, headers: &HeaderMap, needs_token: bool) -> Option<ApiError> {
        let host = headers.get(header::HOST).and_then(|h| h.to_str().ok()).unwrap_or("");
        if !self.hosts.iter().any(|h| h == &host_name(host)) {
            return Some(ApiError::new(StatusCode::FORBIDDEN, "host_not_allowed", format!("Host {host:?} is not one this server answers to")));
        }
        if let Some(origin) = headers.get(header::ORIGIN) {
            let origin = origin.to_str().unwrap_or("").trim_end_matches('/').to_ascii_lowercase();
            if !self.origins.contains(&origin) {
                return Some(ApiError::new(StatusCode::FORBIDDEN, "origin_not_allowed", format!("Origin {origin:?} may not call this server")));
            }
        }
        if let Some(token) = self.token.as_ref().filter(|_| needs_token)
            && !presented_tokens(headers).any(|t| constant_time_eq(t.as_bytes(), token.as_bytes()))
        {
            return Some(
                ApiError::new(StatusCode::UNAUTHORIZED, "token_required", "this server needs its API token: Authorization: Bearer TOKEN")
                    .with_header(header::WWW_AUTHENTICATE, "Bearer"),
            );
        }
        None
    }
}

/// The middleware: refuse before any handler runs.
pub async fn enforce(State(guard): State<std::sync::Arc<Guard>>, req: Request, next: Next) -> Response {
    let page_file = req.method() == axum::http::Method::GET && super::web::PAGE_FILES.contains(&req.uri().path());
    let refusal = if page_file { guard.check_page_file(req.headers()) } else { guard.check(req.headers()) };
    match refusal {
        Some(refusal) => refusal.into_response(),
        None => next.run(req).await,
    }
}

/// `Host` without its port, lower-case; IPv6 literals keep their brackets.
fn host_name(host: &str) -> String {
    let host = host.trim().to_ascii_lowercase();
    if host.starts_with('[') {
        return match host.find(']') {
            Some(end) => host[..=end].to_string(),
            None => host,
        };
    }
    match host.rsplit_once(':') {
        Some((name, port)) if port.chars().all(|c| c.is_ascii_digit()) => name.to_string(),
        _ => host,
    }
}

/// Tokens from `Authorization: Bearer` and from the `labeld_token` cookie the web page sets.
fn presented_tokens(headers: &HeaderMap) -> impl Iterator<Item = &str> {
    let bearer = headers
        .get_all(header::AUTHORIZATION)
        .into_iter()
        .filter_map(|v| v.to_str().ok())
        .filter_map(|v| v.strip_prefix("Bearer ").map(str::trim));
    let cookie = headers
        .get_all(header::COOKIE)
        .into_iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().strip_prefix("labeld_token="));
    bearer.chain(cookie)
}

/// Compares without an early exit, so response time does not tell how much of a guess was right.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    #[test]
    fn rebinding_hosts_and_foreign_origins_are_refused() {
        let g = Guard::new("127.0.0.1:8631".parse().unwrap(), &[], &[], None);
        assert!(g.check(&headers(&[("host", "127.0.0.1:8631")])).is_none());
        assert!(g.check(&headers(&[("host", "localhost:8631")])).is_none());
        assert!(g.check(&headers(&[("host", "LOCALHOST")])).is_none());
        assert_eq!(g.check(&headers(&[("host", "evil.example:8631")])).unwrap().code, "host_not_allowed");
        assert_eq!(g.check(&headers(&[])).unwrap().code, "host_not_allowed");
        assert!(g.check(&headers(&[("host", "127.0.0.1:8631"), ("origin", "http://127.0.0.1:8631")])).is_none());
        let e = g.check(&headers(&[("host", "127.0.0.1:8631"), ("origin", "https://evil.example")])).unwrap();
        assert_eq!(e.code, "origin_not_allowed");
        assert_eq!(g.check(&headers(&[("host", "127.0.0.1:8631"), ("origin", "null")])).unwrap().code, "origin_not_allowed");
    }

    #[test]
    fn token_is_required_when_configured() {
        let g = Guard::new("0.0.0.0:8631".parse().unwrap(), &["packing-pc.local".into()], &[], Some("s3cret".into()));
        let host = ("host", "packing-pc.local:8631");
        assert_eq!(g.check(&headers(&[host])).unwrap().code, "token_required");
        assert_eq!(g.check(&headers(&[host, ("authorization", "Bearer wrong")])).unwrap().code, "token_required");
        assert!(g.check(&headers(&[host, ("authorization", "Bearer s3cret")])).is_none());
        assert!(g.check(&headers(&[host, ("cookie", "a=b; labeld_token=s3cret")])).is_none());
        // The page's files need no token, but still the right Host and Origin.
        assert!(g.check_page_file(&headers(&[host])).is_none());
        assert_eq!(g.check_page_file(&headers(&[("host", "evil.example")])).unwrap().code, "host_not_allowed");
        let foreign = [host, ("origin", "http://evil.example")];
        assert_eq!(g.check_page_file(&headers(&foreign)).unwrap().code, "origin_not_allowed");
    }

    #[test]
    fn host_names_lose_their_port_only() {
        assert_eq!(host_name("[::1]:8631"), "[::1]");
        assert_eq!(host_name("Example.COM:80"), "example.com");
        assert_eq!(host_name("example.com"), "example.com");
    }
}
