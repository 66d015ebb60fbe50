//! A document job's file as it arrives: base64 in the request, or a URL fetched once, at submit time,
//! from a host the warehouse allows. Whatever comes is checked before anything is stored: the declared
//! content type against the bytes, the size against `[documents] max_bytes`, and the document against
//! the reader's limits (truncated, encrypted, no pages, too many, a page too large, a decompression bomb).
//! A problem names the request field it is about (`document.url`, `documents[3].data`).

use std::io::Read;

use base64::Engine;

use super::{Kind, Unreadable, limits, pdf, png};

/// `[documents]`: allowed URL hosts and the size and time limits.
pub use crate::config::Documents as Settings;

/// A document's file as accepted: its checked type, its bytes, and where it was fetched from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Taken {
    pub content_type: &'static str,
    pub bytes: Vec<u8>,
    /// The host it was fetched from, when it came as a URL.
    pub source_host: Option<String>,
}

/// Where a document's bytes are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// Base64 in the request.
    Data(String),
    /// Fetched once from an allowed host.
    Url(String),
}

/// The file part of a document job, as the caller sent it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Incoming {
    pub content_type: String,
    pub source: Source,
}

/// Why a document is not accepted: the field it is about (under the caller's prefix), a code and a
/// sentence. Never the document's content.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct Rejected {
    pub field: String,
    /// `invalid`, `host_not_allowed`, `fetch_failed`, `too_large`, `content_mismatch`, `document_unreadable`.
    pub code: &'static str,
    pub message: String,
}

/// Reads, fetches and checks `incoming`; `prefix` is where it sits in the request (`document`,
/// `documents[2]`). The result is what the spool stores.
pub fn take(incoming: &Incoming, prefix: &str, settings: &Settings) -> Result<Taken, Rejected> {
    let reject = |field: &str, code, message: String| Rejected { field: format!("{prefix}.{field}"), code, message };
    let declared = Kind::from_content_type(&incoming.content_type).ok_or_else(|| {
        reject("content_type", "invalid", format!("{:?} is not application/pdf or image/png", incoming.content_type))
    })?;
    let (field, bytes, host) = match &incoming.source {
        Source::Data(text) => {
            // Base64 is 4/3 of the bytes: refuse an oversized text before decoding it.
            if text.len() / 4 * 3 > settings.max_bytes + 3 {
                return Err(reject("data", "too_large", format!("the document is over {} bytes ([documents] max_bytes)", settings.max_bytes)));
            }
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(text.trim())
                .map_err(|e| reject("data", "invalid", format!("not base64 ({e})")))?;
            ("data", bytes, None)
        }
        Source::Url(url) => {
            let (bytes, host) = fetch(url, settings).map_err(|(code, message)| reject("url", code, message))?;
            ("url", bytes, Some(host))
        }
    };
    if bytes.len() > settings.max_bytes {
        return Err(reject(field, "too_large", format!("the document is {} bytes; at most {} are accepted ([documents] max_bytes)", bytes.len(), settings.max_bytes)));
    }
    match Kind::sniff(&bytes) {
        Some(k) if k == declared => {}
        Some(k) => {
            return Err(reject(field, "content_mismatch", format!("the content is {}, not {} as content_type says", k.content_type(), declared.content_type())));
        }
        None => return Err(reject(field, "document_unreadable", Unreadable::NotADocument.to_string())),
    }
    readable(&bytes, declared).map_err(|e| reject(field, "document_unreadable", e.to_string()))?;
    Ok(Taken { content_type: declared.content_type(), bytes, source_host: host })
}

/// The reader's limits, without drawing a page: what would make the document unprintable whatever the
/// printer.
pub fn readable(bytes: &[u8], kind: Kind) -> Result<(), Unreadable> {
    if bytes.len() > limits::MAX_BYTES {
        return Err(Unreadable::TooBig { bytes: bytes.len() });
    }
    match kind {
        Kind::Pdf => pdf::Pdf::open(bytes).map(|_| ()),
        Kind::Png => png::Png::decode(bytes).map(|_| ()),
    }
}

/// The host a URL names, if it is an http(s) URL at all.
fn host_of(url: &str) -> Result<(String, Option<u16>), String> {
    let uri: ureq::http::Uri = url.parse().map_err(|e| format!("not a URL ({e})"))?;
    match uri.scheme_str() {
        Some("https") | Some("http") => {}
        _ => return Err("only http and https URLs are fetched".into()),
    }
    let host = uri.host().filter(|h| !h.is_empty()).ok_or("the URL names no host")?;
    Ok((host.trim_start_matches('[').trim_end_matches(']').to_ascii_lowercase(), uri.port_u16()))
}

fn allowed(host: &str, port: Option<u16>, list: &[String]) -> bool {
    list.iter().any(|a| {
        let a = a.to_ascii_lowercase();
        a == host || port.is_some_and(|p| a == format!("{host}:{p}"))
    })
}

/// Fetches `url` once: an allowed host, no redirects (one could lead anywhere), at most `max_bytes`,
/// within `fetch_timeout`. Errors are (code, message); the message names the host, never the path
/// (a signed URL's query is a credential).
fn fetch(url: &str, settings: &Settings) -> Result<(Vec<u8>, String), (&'static str, String)> {
    let (host, port) = host_of(url).map_err(|m| ("invalid", m))?;
    if !allowed(&host, port, &settings.allowed_hosts) {
        let list = if settings.allowed_hosts.is_empty() { "none are allowed".to_string() } else { settings.allowed_hosts.join(", ") };
        return Err(("host_not_allowed", format!("host {host:?} is not in [documents] allowed_hosts ({list})")));
    }
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .max_redirects(0)
        .timeout_global(Some(settings.fetch_timeout))
        .build()
        .into();
    let failed = |e: ureq::Error| match e {
        ureq::Error::Timeout(_) => ("fetch_failed", format!("fetching from {host} took longer than {} s ([documents] fetch_timeout)", settings.fetch_timeout.as_secs_f32())),
        ureq::Error::BodyExceedsLimit(_) => ("too_large", format!("the document at {host} is over {} bytes ([documents] max_bytes)", settings.max_bytes)),
        other => ("fetch_failed", format!("fetching from {host} failed: {other}")),
    };
    let mut response = agent.get(url).call().map_err(failed)?;
    let status = response.status();
    if status != 200 {
        return Err(("fetch_failed", format!("{host} answered {status}; the document was not fetched (URLs are short-lived: ask for a fresh one)")));
    }
    let mut bytes = Vec::new();
    response
        .body_mut()
        .with_config()
        .limit(settings.max_bytes as u64)
        .reader()
        .read_to_end(&mut bytes)
        .map_err(|e| match e.into_inner().and_then(|i| i.downcast::<ureq::Error>().ok()) {
            Some(e) => failed(*e),
            None => ("fetch_failed", format!("reading the document from {host} failed")),
        })?;
    Ok((bytes, host))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn max_bytes_may_not_exceed_what_the_reader_takes() {
        assert_eq!(crate::config::MAX_DOCUMENT_BYTES, limits::MAX_BYTES);
    }

    #[test]
    fn hosts_match_by_name_or_name_and_port() {
        let list = vec!["docs.example.com".to_string(), "127.0.0.1:8080".to_string()];
        assert!(allowed("docs.example.com", None, &list));
        assert!(allowed("docs.example.com", Some(443), &list));
        assert!(allowed("127.0.0.1", Some(8080), &list));
        assert!(!allowed("127.0.0.1", Some(9090), &list));
        assert!(!allowed("evil.example.com", None, &list));
        assert_eq!(host_of("https://Docs.Example.com/a?sig=1").unwrap(), ("docs.example.com".into(), None));
        assert!(host_of("file:///etc/passwd").is_err());
    }

    #[test]
    fn a_wrong_content_type_and_bad_base64_name_their_field() {
        let settings = Settings::default();
        let png = Incoming { content_type: "image/gif".into(), source: Source::Data("AAAA".into()) };
        assert_eq!(take(&png, "document", &settings).unwrap_err().field, "document.content_type");
        let bad = Incoming { content_type: "application/pdf".into(), source: Source::Data("not base64!".into()) };
        let e = take(&bad, "documents[2]", &settings).unwrap_err();
        assert_eq!((e.field.as_str(), e.code), ("documents[2].data", "invalid"));
        let png_as_pdf = Incoming {
            content_type: "application/pdf".into(),
            source: Source::Data(base64::engine::general_purpose::STANDARD.encode(b"\x89PNG\r\n\x1a\n0000")),
        };
        assert_eq!(take(&png_as_pdf, "document", &settings).unwrap_err().code, "content_mismatch");
        let url = Incoming { content_type: "application/pdf".into(), source: Source::Url("https://elsewhere.example/x.pdf".into()) };
        let e = take(&url, "document", &settings).unwrap_err();
        assert_eq!((e.field.as_str(), e.code), ("document.url", "host_not_allowed"));
        assert!(e.message.contains("\"elsewhere.example\""), "{}", e.message);
    }
}
