//! Prometheus text exposition of what the daemon does, written by hand: a handful of counters and
//! one histogram do not need a metrics framework. Labels carry route templates and states only,
//! never order data.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Upper bounds of the latency buckets, in seconds.
const BUCKETS: [f64; 10] = [0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 1.0, 5.0];

#[derive(Default)]
pub struct Histogram {
    /// Cumulative counts per bucket, then +Inf.
    counts: [AtomicU64; BUCKETS.len() + 1],
    sum_micros: AtomicU64,
}

impl Histogram {
    pub fn observe(&self, d: Duration) {
        let secs = d.as_secs_f64();
        for (i, le) in BUCKETS.iter().enumerate() {
            if secs <= *le {
                self.counts[i].fetch_add(1, Ordering::Relaxed);
            }
        }
        self.counts[BUCKETS.len()].fetch_add(1, Ordering::Relaxed);
        self.sum_micros.fetch_add(d.as_micros() as u64, Ordering::Relaxed);
    }

    fn write(&self, out: &mut String, name: &str, help: &str) {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} histogram");
        for (i, le) in BUCKETS.iter().enumerate() {
            let _ = writeln!(out, "{name}_bucket{{le=\"{le}\"}} {}", self.counts[i].load(Ordering::Relaxed));
        }
        let total = self.counts[BUCKETS.len()].load(Ordering::Relaxed);
        let _ = writeln!(out, "{name}_bucket{{le=\"+Inf\"}} {total}");
        let _ = writeln!(out, "{name}_sum {}", self.sum_micros.load(Ordering::Relaxed) as f64 / 1e6);
        let _ = writeln!(out, "{name}_count {total}");
    }
}

#[derive(Default)]
pub struct Metrics {
    /// (route template, status) → requests.
    http: Mutex<BTreeMap<(String, u16), u64>>,
    pub render_seconds: Histogram,
    pub labels_rendered: AtomicU64,
    pub labels_refused: AtomicU64,
}

impl Metrics {
    pub fn count_request(&self, route: &str, status: u16) {
        let mut http = self.http.lock().unwrap_or_else(|p| p.into_inner());
        *http.entry((route.to_string(), status)).or_default() += 1;
    }

    /// The exposition text; `extra` adds lines from parts that keep their own state (spool, printers).
    pub fn render(&self, extra: &str) -> String {
        let mut out = String::new();
        out.push_str("# HELP labeld_http_requests_total HTTP requests by route and status.\n# TYPE labeld_http_requests_total counter\n");
        for ((route, status), n) in self.http.lock().unwrap_or_else(|p| p.into_inner()).iter() {
            let _ = writeln!(out, "labeld_http_requests_total{{route=\"{route}\",status=\"{status}\"}} {n}");
        }
        let counter = |out: &mut String, name: &str, help: &str, v: &AtomicU64| {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} counter\n{name} {}", v.load(Ordering::Relaxed));
        };
        counter(&mut out, "labeld_labels_rendered_total", "Labels laid out, rasterised and verified.", &self.labels_rendered);
        counter(&mut out, "labeld_labels_refused_total", "Labels refused by a rule.", &self.labels_refused);
        self.render_seconds.write(&mut out, "labeld_render_seconds", "Time to lay out, rasterise and verify one label.");
        out.push_str(extra);
        out
    }
}
