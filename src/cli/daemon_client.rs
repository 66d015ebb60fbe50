//! How the commands that work through a running daemon (`batch`, `manifest`) reach its HTTP API.

use std::time::Duration;

/// An HTTP client for the daemon: statuses other than 2xx are answers to read, not transport errors.
pub fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_connect(Some(Duration::from_secs(5)))
        .timeout_global(Some(Duration::from_secs(120)))
        .build()
        .into()
}

/// The `Authorization` header value for a configured token.
pub fn bearer(token: Option<&str>) -> Option<String> {
    token.map(|t| format!("Bearer {t}"))
}
