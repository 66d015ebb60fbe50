//! `labeld virtual-printer --lang zpl|tspl|escpos|epl|cpcl --listen ADDR [--pty] --save DIR [--fault F]...`
//!
//! Runs an emulated printer until interrupted: it saves each label it receives as DIR/0001.png, … and
//! answers status queries. Faults: `paper-out-after=N`, `head-open`, `slow=BYTES_PER_SEC`,
//! `drop-after-bytes=N`, `silent`, `ribbon-out-after=N`, `jam-after=N`, `head-hot-after=N`.
//!
//! Lines on standard input change its condition while it runs (a soak test or a demo drives it so):
//! `paper-out`, `load-paper`, `open-head`, `close-head`, `silent`, `answer`, `ribbon-out`, `jam`,
//! `head-hot`, `clear-error`, `drop-after N` (reset the link after N more bytes), `power-cycle` (forget a
//! half-received label).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use labeld::lang::Language;
use labeld::virtual_printer::{Config, Event, Fault, PrinterError, VirtualPrinter};

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
    /// A fault to inject (repeatable): paper-out-after=N, head-open, slow=BYTES_PER_SEC, drop-after-bytes=N,
    /// silent, ribbon-out-after=N, jam-after=N, head-hot-after=N.
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
    let vp = std::sync::Arc::new(vp);
    let control = vp.clone();
    std::thread::spawn(move || control_from_stdin(&control));
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

/// Applies condition changes read from standard input, one command a line, until it closes.
fn control_from_stdin(vp: &VirtualPrinter) {
    use std::io::BufRead;
    for line in std::io::stdin().lock().lines() {
        let Ok(line) = line else { return };
        let mut words = line.split_whitespace();
        let done = match (words.next(), words.next()) {
            (Some("paper-out"), None) => Ok(vp.paper_out()),
            (Some("load-paper"), None) => vp.load_paper(),
            (Some("open-head"), None) => Ok(vp.open_head()),
            (Some("close-head"), None) => vp.close_head(),
            (Some("silent"), None) => Ok(vp.set_silent(true)),
            (Some("answer"), None) => Ok(vp.set_silent(false)),
            (Some("clear-error"), None) => vp.clear_error(),
            (Some("power-cycle"), None) => Ok(vp.power_cycle()),
            (Some("drop-after"), Some(n)) if n.parse::<u64>().is_ok() => Ok(vp.drop_after(n.parse().unwrap_or(1))),
            (Some(cmd), None) if PrinterError::ALL.iter().any(|e| e.name() == cmd) => {
                PrinterError::ALL.into_iter().filter(|e| e.name() == cmd).for_each(|e| vp.raise_error(e));
                Ok(())
            }
            (None, _) => continue,
            _ => {
                say!("unknown command {line:?} (paper-out, load-paper, open-head, close-head, silent, answer, ribbon-out, jam, head-hot, clear-error, drop-after N, power-cycle)");
                continue;
            }
        };
        match done {
            Ok(()) => say!("condition: {}", line.trim()),
            Err(e) => say!("cannot apply {}: {e}", line.trim()),
        }
    }
}
