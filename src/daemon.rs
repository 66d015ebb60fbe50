//! The daemon: config → spool → workers → HTTP server, until SIGTERM or SIGINT.
//!
//! Startup order matters for "never lose, never duplicate": the spool is recovered (interrupted
//! renders re-queued, interrupted sends marked in doubt) before any worker starts, and the HTTP
//! server is the last to come up, so nothing is acknowledged that no worker could print. On a stop
//! signal the server stops accepting, each worker finishes the label it is sending, and documents
//! rendered ahead go back to the queue.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use tokio::sync::watch;

use crate::comply::Checker;
use crate::compose::Gate;
use crate::config::Config;
use crate::events::EventBus;
use crate::printer::profile::{FlowControl, Profiles};
use crate::server::{self, AppState, Served, ServerOptions, StationState};
use crate::spool::Spool;
use crate::station::Station;
use crate::template::{self, Template};
use crate::text::{FontConfig, Fonts};
use crate::transport::speed::LinkSpeed;
use crate::transport::{Connector, Flow, Uri};
use crate::worker::{PrinterSpec, Shared, Workers};

/// How often the spool is purged of buyer data past the retention period.
const PURGE_EVERY: Duration = Duration::from_secs(3600);

/// The loaded, checked pieces a daemon runs with.
pub struct Setup {
    pub config: Config,
    pub profiles: Profiles,
    pub gate: Arc<Gate>,
    pub fonts: Arc<Fonts>,
    /// Opens the printers' links: [`crate::transport::open`]; tests wrap it (a paced UART).
    pub connect: Connector,
}

/// Every profile name, for checking `driver = ...` in the config.
pub fn driver_names(profiles: &Profiles) -> Vec<String> {
    profiles.all().iter().map(|p| p.name.clone()).collect()
}

impl Setup {
    /// Loads fonts, the label template and the rules for `config`.
    pub fn new(config: Config, profiles: Profiles) -> anyhow::Result<Setup> {
        let fonts = Fonts::load(&FontConfig::default()).context("loading fonts")?;
        let template = Template::load(template::DEFAULT)?;
        let checker = Checker::for_config(&config)?;
        let gate = Gate::new(checker, template).map_err(|report| {
            let lines: Vec<String> = report.refusals.iter().map(|r| r.to_string()).collect();
            anyhow::anyhow!("the label template breaks the label rules:\n  {}", lines.join("\n  "))
        })?;
        Ok(Setup { config, profiles, gate: Arc::new(gate), fonts: Arc::new(fonts), connect: crate::transport::connector() })
    }

    fn printer_specs(&self) -> anyhow::Result<Vec<PrinterSpec>> {
        self.config
            .printers
            .iter()
            .map(|p| {
                let profile = self.profiles.get(&p.driver).with_context(|| format!("printer {}: driver {}", p.name, p.driver))?;
                // A serial URI without baud or flow control talks at the model's own defaults.
                let flow = match profile.serial.flow_control {
                    FlowControl::None => Flow::None,
                    FlowControl::Hardware => Flow::RtsCts,
                    FlowControl::Software => Flow::XonXoff,
                };
                let uri: Uri = p.uri.clone().with_serial_defaults(profile.serial.baud, flow);
                let speed = LinkSpeed::of(&uri, p.link_bytes_per_second);
                // Blind only when the config says so, or the printer answers no query (`status_query =
                // "none"`) over a link with no status of its own (USB has the class's port status).
                let status_channel = p.status_channel && (profile.status.is_some() || matches!(uri, Uri::Usb { .. }));
                Ok(PrinterSpec {
                    name: p.name.clone(),
                    role: p.role,
                    uri,
                    profile,
                    speed,
                    max_label_seconds: p.max_label_seconds,
                    status_channel,
                    fit: if p.fit_scale { crate::marketdoc::Fit::Scale } else { crate::marketdoc::Fit::Refuse },
                })
            })
            .collect()
    }
}

/// Runs the daemon until `shutdown` resolves. `on_bound` receives the HTTP address once listening.
pub async fn run(
    setup: Setup,
    on_bound: impl FnOnce(SocketAddr) + Send + 'static,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let spool_path = setup.config.spool.path.clone();
    let spool = tokio::task::spawn_blocking(move || Spool::open(&spool_path)).await??;
    spool.set_deadlines(setup.config.deadlines);
    let spool = Arc::new(spool);
    let recovery = {
        let spool = spool.clone();
        tokio::task::spawn_blocking(move || spool.recover()).await??
    };
    tracing::info!(
        spool = %setup.config.spool.path.display(),
        requeued = recovery.requeued.len(),
        in_doubt = recovery.in_doubt.len(),
        completed = recovery.completed.len(),
        "spool recovered"
    );
    let events = EventBus::default();
    let (stop_tx, stop_rx) = watch::channel(false);
    let specs = setup.printer_specs()?;
    let bins = Arc::new(setup.config.bins.clone());
    let shared = Shared { spool: spool.clone(), gate: setup.gate.clone(), fonts: setup.fonts.clone(), events: events.clone(), bins: bins.clone(), connect: setup.connect.clone(),
        slips: setup.config.documents.slips.clone(), peers: Default::default() };
    let workers = Workers::start(shared, specs, stop_rx.clone());
    let station = Arc::new(Station::new(spool.clone(), workers, events.clone(), bins).with_documents(setup.config.documents.clone()));
    let monitor = match &setup.config.feed_nats {
        Some(cfg) => crate::feed::Monitor::new(cfg, Some(events.clone())),
        None => crate::feed::Monitor::disabled(),
    };

    // The NATS feed, when configured, submits through the same station as the HTTP API.
    let feed = match &setup.config.feed_nats {
        Some(cfg) => crate::feed::start_with(monitor.clone(), cfg, crate::feed::Routes::of(&setup.config.printers), station.clone()),
        None => crate::feed::FeedHandle::disabled(),
    };

    // Buyer data leaves the spool after the retention period.
    let retention = setup.config.spool.retention;
    let purge = {
        let spool = spool.clone();
        let mut stop = stop_rx.clone();
        tokio::spawn(async move {
            loop {
                let s = spool.clone();
                match tokio::task::spawn_blocking(move || s.purge(time::OffsetDateTime::now_utc(), retention)).await {
                    Ok(Ok(n)) if n > 0 => tracing::info!(documents = n, "purged buyer data past retention"),
                    Ok(Err(e)) => tracing::error!(error = %e, "purging the spool"),
                    _ => {}
                }
                tokio::select! {
                    _ = tokio::time::sleep(PURGE_EVERY) => {}
                    _ = stop.changed() => break,
                }
            }
        })
    };

    let app = AppState {
        fonts: (*setup.fonts).clone(),
        gate: setup.gate.clone(),
        seen: spool.clone(),
        metrics: Default::default(),
        started: Instant::now(),
    };
    let served = Served::Station(Arc::new(StationState { app: Arc::new(app), station: station.clone(), feed: monitor }));
    let s = &setup.config.server;
    let opts = ServerOptions {
        listen: s.listen,
        also_ipv6_loopback: s.localhost,
        allowed_hosts: s.allowed_hosts.clone(),
        allowed_origins: s.allowed_origins.clone(),
        token: s.token.as_ref().map(|t| t.expose().to_string()),
        limits: s.limits,
    };
    let (server_stop_tx, server_stop_rx) = tokio::sync::oneshot::channel::<()>();
    // systemd (Type=notify) learns the daemon is ready once the API listens.
    let on_bound = move |addr| {
        on_bound(addr);
        crate::packaging_support::notify_ready();
    };
    let server = tokio::spawn(server::serve(served, opts, on_bound, async move {
        let _ = server_stop_rx.await;
    }));
    let mut server = server;
    tokio::select! {
        _ = shutdown => tracing::info!("stopping: finishing labels being sent"),
        r = &mut server => {
            // The server could not start (port taken) or died: stop the workers too.
            feed.shutdown().await;
            let _ = stop_tx.send(true);
            station.workers().join().await;
            return match r {
                Ok(Ok(())) => Ok(()),
                Ok(Err(e)) => Err(anyhow::Error::new(e).context("HTTP server")),
                Err(e) => Err(anyhow::anyhow!("HTTP server task: {e}")),
            };
        }
    }
    crate::packaging_support::notify_stopping();
    let _ = server_stop_tx.send(());
    feed.shutdown().await;
    let _ = stop_tx.send(true);
    station.workers().join().await;
    let _ = purge.await;
    let _ = tokio::time::timeout(Duration::from_secs(5), server).await;
    tracing::info!("stopped");
    Ok(())
}

/// Resolves on SIGTERM or SIGINT.
pub async fn stop_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = match signal(SignalKind::terminate()) {
        Ok(s) => s,
        Err(_) => return std::future::pending().await,
    };
    tokio::select! {
        _ = term.recv() => {}
        _ = tokio::signal::ctrl_c() => {}
    }
}

/// Loads `path` with every problem reported at once.
pub fn load_config(path: &Path, profiles: &Profiles) -> Result<Config, crate::config::ConfigError> {
    Config::load(path, &driver_names(profiles))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_serial_uri_without_baud_talks_at_the_profiles_rate() {
        let profiles = Profiles::builtin();
        let text = r#"
[[printer]]
name = "dock-1"
driver = "zebra-zd421-203"
uri = "serial:///dev/ttyS0"

[[printer]]
name = "dock-2"
driver = "zebra-zd421-203"
uri = "serial:///dev/ttyS1?baud=115200&flow=none"
"#;
        let config = Config::parse(text, Path::new("labeld.toml"), &driver_names(&profiles)).unwrap();
        let zebra = profiles.get("zebra-zd421-203").unwrap();
        let setup = Setup::new(config, profiles.clone()).unwrap();
        let specs = setup.printer_specs().unwrap();
        let expected = format!("serial:///dev/ttyS0?baud={}&flow=rtscts", zebra.serial.baud);
        assert_eq!(zebra.serial.flow_control, FlowControl::Hardware, "the ZD421 profile asks for RTS/CTS");
        assert_eq!(specs[0].uri.to_string(), expected);
        assert_eq!(specs[1].uri.to_string(), "serial:///dev/ttyS1?baud=115200&flow=none", "what the URI says wins");
    }
}
