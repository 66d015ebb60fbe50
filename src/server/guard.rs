//! Who may talk to the daemon: Host and Origin allow-lists and the API token.
//!
//! The daemon listens on loopback, where any web page the packer has open could try to reach it. A
//! DNS-rebinding page arrives with its own name in `Host` (refused); a page from another site calling
//! with fetch() carries its `Origin` (refused unless allowed; there is no CORS wildcard). A token is
//! required whenever one is configured, and configuration refuses a non-loopback listen without one.

use std::net::{IpAddr, SocketAddr};

use axum::extract::{Request, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
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
        let host = match single(headers, header::HOST) {
            Ok(h) => h.unwrap_or(""),
            Err(e) => return Some(e),
        };
        if !host_name(host).is_some_and(|name| self.hosts.contains(&name)) {
            return Some(ApiError::new(StatusCode::FORBIDDEN, "host_not_allowed", format!("Host {host:?} is not one this server answers to")));
        }
        match single(headers, header::ORIGIN) {
            Err(e) => return Some(e),
            Ok(Some(origin)) => {
                let origin = origin.trim_end_matches('/').to_ascii_lowercase();
                if !self.origins.contains(&origin) {
                    return Some(ApiError::new(StatusCode::FORBIDDEN, "origin_not_allowed", format!("Origin {origin:?} may not call this server")));
                }
            }
            Ok(None) => {}
        }
        if let Some(token) = self.token.as_ref().filter(|_| needs_token)
            && !bearer_tokens(headers).any(|t| constant_time_eq(t.as_bytes(), token.as_bytes()))
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
    // HEAD is GET without the body, so a page file answers it on the same terms.
    let read = matches!(*req.method(), Method::GET | Method::HEAD);
    let page_file = read && super::web::PAGE_FILES.contains(&req.uri().path());
    let refusal = if page_file { guard.check_page_file(req.headers()) } else { guard.check(req.headers()) };
    match refusal {
        Some(refusal) => refusal.into_response(),
        None => next.run(req).await,
    }
}

/// The one value of a header that may appear at most once. Two `Host` or two `Origin` headers are
/// refused outright: checking only the first would let the second one through to whatever reads it.
fn single(headers: &HeaderMap, name: header::HeaderName) -> Result<Option<&str>, ApiError> {
    let mut values = headers.get_all(&name).into_iter();
    let first = values.next();
    if values.next().is_some() {
        return Err(ApiError::bad_request("duplicate_header", name.as_str(), format!("more than one {name} header")));
    }
    match first {
        None => Ok(None),
        Some(v) => v.to_str().map(Some).map_err(|_| ApiError::bad_request("bad_header", name.as_str(), format!("{name} is not visible ASCII"))),
    }
}

/// `Host` without its port, lower-case; IPv6 literals keep their brackets. `None` when it is not
/// `name`, `name:port`, `[v6]` or `[v6]:port` (so `[::1]evil.example` matches nothing).
fn host_name(host: &str) -> Option<String> {
    let host = host.trim().to_ascii_lowercase();
    let is_port = |p: &str| !p.is_empty() && p.len() <= 5 && p.bytes().all(|b| b.is_ascii_digit());
    let (name, port) = if host.starts_with('[') {
        let end = host.find(']')?;
        (&host[..=end], &host[end + 1..])
    } else {
        match host.find(':') {
            Some(i) => (&host[..i], &host[i..]),
            None => (host.as_str(), ""),
        }
    };
    let port_ok = port.is_empty() || port.strip_prefix(':').is_some_and(is_port);
    (port_ok && !name.is_empty()).then(|| name.to_string())
}

/// Tokens from `Authorization: Bearer TOKEN`; the scheme name is case-insensitive (RFC 9110 11.1).
fn bearer_tokens(headers: &HeaderMap) -> impl Iterator<Item = &str> {
    headers.get_all(header::AUTHORIZATION).into_iter().filter_map(|v| v.to_str().ok()).filter_map(|v| {
        let (scheme, token) = v.trim().split_once(' ')?;
        scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
    })
}

/// Compares in time that depends only on the length of `presented`, never on how much of it matches
/// or on the secret's length.
fn constant_time_eq(presented: &[u8], secret: &[u8]) -> bool {
    if secret.is_empty() {
        return false;
    }
    let mut diff = u8::from(presented.len() != secret.len());
    for (i, p) in presented.iter().enumerate() {
        diff |= p ^ secret[i % secret.len()];
    }
    std::hint::black_box(diff) == 0
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
        // The token travels in the Authorization header only; no cookie carries it.
        assert_eq!(g.check(&headers(&[host, ("cookie", "a=b; labeld_token=s3cret")])).unwrap().code, "token_required");
        // The scheme is case-insensitive; the token is not, and neither a prefix nor an extension passes.
        assert!(g.check(&headers(&[host, ("authorization", "bearer s3cret")])).is_none());
        assert!(g.check(&headers(&[host, ("authorization", "BEARER  s3cret")])).is_none());
        for wrong in ["Bearer S3CRET", "Bearer s3cre", "Bearer s3crets", "Basic s3cret", "s3cret", "Bearer"] {
            assert_eq!(g.check(&headers(&[host, ("authorization", wrong)])).unwrap().code, "token_required", "{wrong}");
        }
        // The page's files need no token, but still the right Host and Origin.
        assert!(g.check_page_file(&headers(&[host])).is_none());
        assert_eq!(g.check_page_file(&headers(&[("host", "evil.example")])).unwrap().code, "host_not_allowed");
        let foreign = [host, ("origin", "http://evil.example")];
        assert_eq!(g.check_page_file(&headers(&foreign)).unwrap().code, "origin_not_allowed");
    }

    #[test]
    fn host_names_lose_their_port_only() {
        assert_eq!(host_name("[::1]:8631").as_deref(), Some("[::1]"));
        assert_eq!(host_name("[::1]").as_deref(), Some("[::1]"));
        assert_eq!(host_name("Example.COM:80").as_deref(), Some("example.com"));
        assert_eq!(host_name("example.com").as_deref(), Some("example.com"));
        for bad in ["[::1]evil.example", "[::1]:8631evil", "[::1]:", "[::1", "localhost:", "localhost:80:80", "localhost:x", ":8631", "[::1]:123456"] {
            assert_eq!(host_name(bad), None, "{bad}");
        }
    }

    #[test]
    fn anything_after_the_bracket_but_a_port_is_refused() {
        let g = Guard::new("[::1]:8631".parse().unwrap(), &[], &[], None);
        assert!(g.check(&headers(&[("host", "[::1]:8631")])).is_none());
        for forged in ["[::1]evil.example", "[::1]evil.example:8631", "[::1]:8631.evil.example", "[::1]@evil.example"] {
            assert_eq!(g.check(&headers(&[("host", forged)])).unwrap().code, "host_not_allowed", "{forged}");
        }
    }

    #[test]
    fn duplicate_host_or_origin_headers_are_refused() {
        let g = Guard::new("127.0.0.1:8631".parse().unwrap(), &[], &[], None);
        let e = g.check(&headers(&[("host", "127.0.0.1:8631"), ("host", "127.0.0.1:8631")])).unwrap();
        assert_eq!((e.status.as_u16(), e.code, e.field.as_deref()), (400, "duplicate_header", Some("host")));
        let allowed = ("origin", "http://127.0.0.1:8631");
        let e = g.check(&headers(&[("host", "127.0.0.1:8631"), allowed, ("origin", "https://evil.example")])).unwrap();
        assert_eq!((e.status.as_u16(), e.code, e.field.as_deref()), (400, "duplicate_header", Some("origin")));
        // The page files are no exception.
        assert_eq!(g.check_page_file(&headers(&[("host", "127.0.0.1:8631"), allowed, allowed])).unwrap().code, "duplicate_header");
    }

    #[test]
    fn token_comparison_depends_on_the_presented_length_only() {
        assert!(constant_time_eq(b"s3cret-token", b"s3cret-token"));
        assert!(!constant_time_eq(b"s3cret-toke", b"s3cret-token"));
        // A presented token that repeats the secret is still the wrong length.
        assert!(!constant_time_eq(b"s3cret-tokens3cret-token", b"s3cret-token"));
        assert!(!constant_time_eq(b"", b"s3cret-token"));
        assert!(!constant_time_eq(b"", b""));
    }
}
