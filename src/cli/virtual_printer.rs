//! `labeld virtual-printer --lang zpl|tspl|escpos|epl|cpcl --listen ADDR [--pty] --save DIR [--fault F]...`
//!
//! Runs an emulated printer until interrupted: it saves each label it receives as DIR/0001.png, … and
//! answers status queries. Faults: `paper-out-after=N`, `head-open`, `slow=BYTES_PER_SEC`,
//! `drop-after-bytes=N`.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use labeld::lang::Language;
use labeld::virtual_printer::{Config, Event, Fault, VirtualPrinter};

#[derive(clap::Args)]
pub struct Args {
    /// Printer language to understand: zpl, tspl, escpos, epl or cpcl.
    #[arg(long, value_parser = |s: &str| s.parse::<Language>())]
    lang: Language,
    /// Address to listen on (port 0 picks a free one).
    #[arg(long, default_value = "127.0.0.1:9100")]
    listen: SocketAddr,
    /// Also serve a pseudo-terminal, for serial:// clients; its path is printed.
    #[arg(long)]
    pty: bool,
    /// Directory the printed labels are saved to, as 0001.png, 0002.png, …
    #[arg(long)]
    save: PathBuf,
    /// Printer resolution in dots per inch.
    #[arg(long, default_value_t = 203, value_parser = super::render::parse_dpi)]
    dpi: u32,
    /// A fault to inject (repeatable): paper-out-after=N, head-open, slow=BYTES_PER_SEC, drop-after-bytes=N.
    #[arg(long = "fault", value_name = "FAULT", value_parser = |s: &str| s.parse::<Fault>())]
    faults: Vec<Fault>,
}

/// Prints a line; a closed standard output (the reader went away) must not stop the printer.
macro_rules! say {
    ($($t:tt)*) => {{
        use std::io::Write;
        let _ = writeln!(std::io::stdout(), $($t)*);
    }};
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let config = Config { lang: args.lang, dpi: args.dpi, save_dir: args.save.clone(), faults: args.faults.clone() };
    let mut vp = VirtualPrinter::spawn(config, args.listen)
        .map_err(|e| anyhow::anyhow!("virtual printer: cannot listen on {}: {e}", args.listen))?;
    say!("virtual {} printer listening on tcp://{}", args.lang, vp.addr());
    if args.pty {
        let path = vp.open_pty().map_err(|e| anyhow::anyhow!("virtual printer: cannot open a pty: {e}"))?;
        say!("virtual {} printer on pty serial://{}", args.lang, path.display());
    }
    say!("saving labels to {}", args.save.display());
    for f in &args.faults {
        say!("fault: {f}");
    }
    // Report what happens, as it happens, until killed.
    let mut seen = 0;
    loop {
        let events = vp.events();
        for e in &events[seen..] {
            match e {
                Event::Printed { file, width, height } => say!("printed {} ({width}×{height} dots)", file.display()),
                Event::Held { reason } => say!("label received, not printed: {reason}"),
                Event::Answered { query, bytes } => say!("status query {query}: answered {bytes} bytes"),
                Event::DiscardedPartial { problem } => say!("partial label discarded: {problem}"),
                Event::DecodeError { problem } => say!("undecodable input: {problem}"),
                Event::Dropped { after_bytes } => say!("connection dropped after {after_bytes} bytes (fault)"),
            }
        }
        seen = events.len();
        std::thread::sleep(Duration::from_millis(100));
    }
}
