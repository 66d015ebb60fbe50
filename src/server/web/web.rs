//! The packers' page at `/`: plain HTML, CSS and JavaScript compiled into the binary, no build
//! step and nothing fetched from elsewhere.
//!
//! The files hold no data: the page reads everything through the same `/v1` API as any client, so
//! the Host, Origin and token checks apply to every byte of buyer or job data. That is why the
//! three files themselves are served without the token (a packer must get the page to type it in).
//! The Content-Security-Policy allows only this origin; `blob:` images are the label previews the
//! page fetches with the token header and shows from memory.

use axum::http::header;
use axum::response::{IntoResponse, Response};

const INDEX_HTML: &str = include_str!("index.html");
const APP_JS: &str = include_str!("app.js");
const STYLE_CSS: &str = include_str!("style.css");

/// Paths of the page's own files: Host and Origin are checked, the token is not.
pub const PAGE_FILES: &[&str] = &["/", "/app.js", "/style.css"];

/// Only this origin, no inline script or style, no framing, no plugins.
pub const CONTENT_SECURITY_POLICY: &str =
    "default-src 'self'; img-src 'self' blob:; object-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/// Total size of the page's files in bytes (the figure README reports).
pub fn page_weight() -> usize {
    INDEX_HTML.len() + APP_JS.len() + STYLE_CSS.len()
}

fn file(content_type: &'static str, body: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
            (header::REFERRER_POLICY, "no-referrer"),
            // A new binary may bring a new page: always ask (the files are small).
            (header::CACHE_CONTROL, "no-cache"),
        ],
        body,
    )
        .into_response()
}

pub async fn index() -> Response {
    file("text/html; charset=utf-8", INDEX_HTML)
}

pub async fn app_js() -> Response {
    file("text/javascript; charset=utf-8", APP_JS)
}

pub async fn style_css() -> Response {
    file("text/css; charset=utf-8", STYLE_CSS)
}
