//! `labeld serve` (the daemon) and `labeld demo` (the daemon against in-process virtual printers).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::Context;
use labeld::daemon::{self, Setup};
use labeld::lang::Language;
use labeld::order::Order;
use labeld::printer::profile::Profiles;
use labeld::spool::{Filter, Spool, State};
use labeld::virtual_printer::{self, VirtualPrinter};

#[derive(clap::Args)]
pub struct ServeArgs {
    /// The configuration file.
    #[arg(long, short = 'c', default_value = "/etc/labeld/labeld.toml")]
    config: PathBuf,
}

#[derive(clap::Args)]
pub struct DemoArgs {
    /// Where the virtual printers save the labels they receive, as PNG.
    #[arg(long, default_value = "labeld-demo")]
    out: PathBuf,
    /// More orders to print: every *.json file in DIR (one order each).
    #[arg(long, value_name = "DIR")]
    orders: Vec<PathBuf>,
    /// Keep the daemon running after the demo batch (Ctrl-C stops it).
    #[arg(long)]
    serve: bool,
}

/// Logs go to stderr; `RUST_LOG` picks the level (default info). Colour only on a terminal: journald,
/// files and CI logs would keep the escape codes as text.
fn init_logs() {
    use std::io::IsTerminal;
    let filter = tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let ansi = std::io::stderr().is_terminal();
    let _ = tracing_subscriber::fmt().with_env_filter(filter).with_ansi(ansi).with_writer(std::io::stderr).try_init();
}

pub fn serve(args: ServeArgs) -> anyhow::Result<ExitCode> {
    init_logs();
    let profiles = Profiles::builtin();
    let config = match daemon::load_config(&args.config, &profiles) {
        Ok(c) => c,
        Err(e) => {
            // Every problem at once, each with file:line:column.
            eprintln!("{e}");
            return Ok(ExitCode::from(2));
        }
    };
    let setup = Setup::new(config, profiles)?;
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    rt.block_on(daemon::run(setup, |addr| tracing::info!(%addr, "listening"), daemon::stop_signal()))?;
    Ok(ExitCode::SUCCESS)
}

const EXAMPLE_ORDER: &str = include_str!("../../examples/order.json");

pub fn demo(args: DemoArgs) -> anyhow::Result<ExitCode> {
    init_logs();
    let mut orders: Vec<(String, Order)> = vec![("examples/order.json".into(), Order::from_json_bytes(EXAMPLE_ORDER.as_bytes())?)];
    for dir in &args.orders {
        let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
            .with_context(|| format!("reading {}", dir.display()))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "json"))
            .collect();
        files.sort();
        for f in files {
            let bytes = std::fs::read(&f)?;
            match Order::from_json_bytes(&bytes) {
                Ok(o) => orders.push((f.display().to_string(), o)),
                Err(e) => eprintln!("skipped {}: {e}", f.display()),
            }
        }
    }
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    let tmp = tempdir()?;
    // One ZPL and one TSPL printer, as a warehouse with a Zebra and a TSC would have.
    let printers = [("zebra", "zebra-zd421-203", Language::Zpl), ("tsc", "tsc-te200", Language::Tspl)];
    let profiles = Profiles::builtin();
    let mut vps = Vec::new();
    // The documented address when it is free (so the web page is where README says), any port otherwise.
    let listen = if std::net::TcpListener::bind("127.0.0.1:8631").is_ok() { "127.0.0.1:8631" } else { "127.0.0.1:0" };
    let mut toml = format!("[server]\nlisten = \"{listen}\"\n\n[spool]\npath = \"spool.db\"\n");
    for (name, driver, lang) in printers {
        let profile = profiles.get(driver)?;
        let dir = args.out.join(name);
        let vp = VirtualPrinter::spawn(virtual_printer::Config::new(lang, profile.dpi, &dir), "127.0.0.1:0".parse()?)?;
        toml.push_str(&format!("\n[[printer]]\nname = \"{name}\"\ndriver = \"{driver}\"\nuri = \"tcp://{}\"\nrole = \"label\"\n", vp.addr()));
        vps.push((name, dir, vp));
    }
    let config_path = tmp.join("labeld.toml");
    std::fs::write(&config_path, &toml)?;
    let config = daemon::load_config(&config_path, &profiles).map_err(|e| anyhow::anyhow!("{e}"))?;
    let spool_path = config.spool.path.clone();
    let setup = Setup::new(config, profiles)?;
    let (addr_tx, addr_rx) = std::sync::mpsc::channel();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let keep = args.serve;
    let handle = rt.spawn(daemon::run(
        setup,
        move |a| {
            let _ = addr_tx.send(a);
        },
        async move {
            if keep {
                daemon::stop_signal().await
            } else {
                let _ = stop_rx.await;
            }
        },
    ));
    let addr = addr_rx.recv_timeout(Duration::from_secs(30)).context("the daemon did not start")?;
    // Each order goes in as an order backend sends it: POST /v1/jobs, answered after the spool commit.
    let spool = Spool::open(&spool_path)?;
    let agent: ureq::Agent = ureq::Agent::config_builder().http_status_as_error(false).timeout_global(Some(Duration::from_secs(30))).build().into();
    let started = Instant::now();
    let mut submitted = 0usize;
    for (i, (source, order)) in orders.iter().enumerate() {
        let printer = printers[i % printers.len()].0;
        let body = serde_json::json!({ "printer": printer, "kind": "label", "order": order });
        let mut resp = agent.post(&format!("http://{addr}/v1/jobs")).content_type("application/json").send(body.to_string().as_bytes())?;
        if resp.status().as_u16() == 202 {
            submitted += 1;
        } else {
            let answer = resp.body_mut().read_to_string().unwrap_or_default();
            eprintln!("{source}: the daemon answered {}: {}", resp.status(), answer.trim());
        }
    }
    let deadline = Instant::now() + Duration::from_secs(120);
    let docs = loop {
        let docs = spool.list(&Filter { limit: Some(1000), ..Filter::default() })?;
        let settled = docs.iter().all(|d| matches!(d.state, State::Done | State::Held | State::Failed | State::InDoubt | State::Cancelled));
        if (settled && docs.len() >= submitted.min(1)) || Instant::now() > deadline {
            break docs;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let elapsed = started.elapsed();
    for (_, _, vp) in &vps {
        vp.wait_for_saved(docs.iter().filter(|d| d.state == State::Done).count().min(1), Duration::from_millis(500));
    }
    println!("{:<4} {:<8} {:<24} {:<22} {:<8} detail", "doc", "printer", "order", "tracking", "state");
    let mut by_state: BTreeMap<&str, usize> = BTreeMap::new();
    for d in docs.iter().rev() {
        *by_state.entry(d.state.as_str()).or_default() += 1;
        let detail = match (&d.report, &d.error) {
            (Some(r), _) => r["refusals"]
                .as_array()
                .map(|a| a.iter().map(|x| format!("{}@{}", x["rule"].as_str().unwrap_or("?"), x["path"].as_str().unwrap_or("?"))).collect::<Vec<_>>().join(", "))
                .unwrap_or_default(),
            (None, Some(e)) => e.clone(),
            _ => String::new(),
        };
        println!(
            "{:<4} {:<8} {:<24} {:<22} {:<8} {}",
            d.id,
            d.printer,
            d.order_id.as_deref().unwrap_or("-"),
            d.tracking_number.as_deref().unwrap_or("-"),
            d.state.as_str(),
            detail
        );
    }
    let summary: Vec<String> = by_state.iter().map(|(s, n)| format!("{n} {s}")).collect();
    println!("\n{} documents in {:.1} s: {}", docs.len(), elapsed.as_secs_f64(), summary.join(", "));
    for (name, dir, vp) in &vps {
        println!("{name}: {} PNG(s) in {}", vp.saved().len(), dir.display());
    }
    println!("web page: http://{addr}/   API: http://{addr}/v1/jobs");
    if keep {
        println!("serving; Ctrl-C stops");
    } else {
        let _ = stop_tx.send(());
    }
    rt.block_on(handle)??;
    let _ = std::fs::remove_dir_all(&tmp);
    Ok(ExitCode::SUCCESS)
}

/// A fresh private directory for the demo's config and spool.
fn tempdir() -> anyhow::Result<PathBuf> {
    let dir = std::env::temp_dir().join(format!("labeld-demo-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}
