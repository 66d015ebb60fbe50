//! A virtual label printer: listens on TCP (and optionally a pseudo-terminal), decodes what it receives
//! with the printer language's own decoder, saves each printed label as `DIR/0001.png`, `0002.png`, …, and
//! answers status queries with the bytes the real printer would send.
//!
//! Faults make it misbehave on purpose, so the daemon's handling can be tested end to end:
//!
//! * `paper-out-after=N`: the roll ends after N labels; later labels wait in the buffer, unprinted, until
//!   [`VirtualPrinter::load_paper`].
//! * `head-open`: the head starts open; nothing prints until [`VirtualPrinter::close_head`].
//! * `slow=BYTES_PER_SEC`: the printer takes bytes no faster than this.
//! * `drop-after-bytes=N`: once N bytes have arrived, the TCP connection is reset (once), mid-label.
//! * `silent`: status queries go unanswered (a printer whose status channel died); labels still print.
//! * `ribbon-out-after=N`, `jam-after=N`, `head-hot-after=N`: the printer stops on that error after N
//!   labels; later labels wait, unprinted, until [`VirtualPrinter::clear_error`].
//!
//! A label is saved only when its last byte has arrived: one cut off by a dropped link is discarded, as a
//! real printer discards a half-received format.
//!
//! [`VirtualPrinter::start`] runs it on the caller's tokio runtime; [`VirtualPrinter::spawn`] gives it a
//! thread and runtime of its own, for synchronous callers such as tests.

use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::lang::Language;
use crate::printer::status::Details;

mod engine;
mod links;

pub use engine::Event;

/// One injected fault.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Fault {
    PaperOutAfter(u32),
    HeadOpen,
    Slow(u32),
    DropAfterBytes(u64),
    Silent,
    ErrorAfter(PrinterError, u32),
}

/// A printer error that stops printing until an operator clears it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PrinterError {
    RibbonOut,
    Jam,
    HeadHot,
}

impl PrinterError {
    pub const ALL: [PrinterError; 3] = [PrinterError::RibbonOut, PrinterError::Jam, PrinterError::HeadHot];

    pub fn name(self) -> &'static str {
        match self {
            PrinterError::RibbonOut => "ribbon-out",
            PrinterError::Jam => "jam",
            PrinterError::HeadHot => "head-hot",
        }
    }

    /// The condition the printer reports for it.
    pub(crate) fn apply(self, d: &mut Details) {
        match self {
            PrinterError::RibbonOut => d.ribbon_out = true,
            PrinterError::Jam => d.paper_jam = true,
            // ESC/POS reports an over-hot head as an automatically recoverable error.
            PrinterError::HeadHot => {
                d.over_temperature = true;
                d.recoverable_error = true;
            }
        }
    }
}

impl FromStr for Fault {
    type Err = String;
    fn from_str(s: &str) -> Result<Fault, String> {
        let (name, value) = s.split_once('=').map_or((s, None), |(n, v)| (n, Some(v)));
        let number = |what: &str| -> Result<u64, String> {
            let v = value.ok_or(format!("fault `{name}` needs a value: {name}={what}"))?;
            v.parse::<u64>().ok().filter(|&n| n > 0).ok_or(format!("fault `{name}`: `{v}` is not a positive whole number of {what}"))
        };
        match name {
            "paper-out-after" => Ok(Fault::PaperOutAfter(number("labels")?.min(u32::MAX as u64) as u32)),
            "head-open" if value.is_none() => Ok(Fault::HeadOpen),
            "head-open" => Err("fault `head-open` takes no value".into()),
            "slow" => Ok(Fault::Slow(number("bytes per second")?.min(u32::MAX as u64) as u32)),
            "drop-after-bytes" => Ok(Fault::DropAfterBytes(number("bytes")?)),
            "silent" if value.is_none() => Ok(Fault::Silent),
            "silent" => Err("fault `silent` takes no value".into()),
            _ => match PrinterError::ALL.into_iter().find(|e| name.strip_suffix("-after") == Some(e.name())) {
                Some(e) => Ok(Fault::ErrorAfter(e, number("labels")?.min(u32::MAX as u64) as u32)),
                None => Err(format!(
                    "unknown fault `{name}` (paper-out-after=N, head-open, slow=BYTES_PER_SEC, drop-after-bytes=N, silent, \
                     ribbon-out-after=N, jam-after=N, head-hot-after=N)"
                )),
            },
        }
    }
}

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Fault::PaperOutAfter(n) => write!(f, "paper-out-after={n}"),
            Fault::HeadOpen => write!(f, "head-open"),
            Fault::Slow(n) => write!(f, "slow={n}"),
            Fault::DropAfterBytes(n) => write!(f, "drop-after-bytes={n}"),
            Fault::Silent => write!(f, "silent"),
            Fault::ErrorAfter(e, n) => write!(f, "{}-after={n}", e.name()),
        }
    }
}

/// How to run a virtual printer.
#[derive(Clone, Debug)]
pub struct Config {
    pub lang: Language,
    pub dpi: u32,
    /// Where labels are saved as PNG. Created if missing.
    pub save_dir: PathBuf,
    pub faults: Vec<Fault>,
}

impl Config {
    pub fn new(lang: Language, dpi: u32, save_dir: impl Into<PathBuf>) -> Config {
        Config { lang, dpi, save_dir: save_dir.into(), faults: Vec::new() }
    }

    pub fn with_fault(mut self, f: Fault) -> Config {
        self.faults.push(f);
        self
    }

    fn slow(&self) -> Option<u32> {
        self.faults.iter().find_map(|f| if let Fault::Slow(n) = f { Some(*n) } else { None })
    }
}

/// A running virtual printer. Dropping it stops it.
pub struct VirtualPrinter {
    addr: SocketAddr,
    engine: Arc<Mutex<engine::Engine>>,
    config: Arc<Config>,
    stop: links::StopHandle,
    pty: Option<PathBuf>,
}

impl VirtualPrinter {
    /// Binds `listen` and serves on the current tokio runtime.
    pub async fn start(config: Config, listen: SocketAddr) -> std::io::Result<VirtualPrinter> {
        let engine = Arc::new(Mutex::new(engine::Engine::new(&config)?));
        let config = Arc::new(config);
        let (addr, stop) = links::serve_tcp(listen, engine.clone(), config.clone()).await?;
        Ok(VirtualPrinter { addr, engine, config, stop, pty: None })
    }

    /// Binds `listen` and serves from a thread with its own runtime; for callers without one.
    pub fn spawn(config: Config, listen: SocketAddr) -> std::io::Result<VirtualPrinter> {
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::Builder::new().name("virtual-printer".into()).spawn(move || {
            let rt = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
                Ok(rt) => rt,
                Err(e) => {
                    let _ = tx.send(Err(e));
                    return;
                }
            };
            rt.block_on(async move {
                match VirtualPrinter::start(config, listen).await {
                    Ok(vp) => {
                        let done = vp.stop.stopped();
                        let _ = tx.send(Ok(vp));
                        done.await;
                    }
                    Err(e) => {
                        let _ = tx.send(Err(e));
                    }
                }
            });
        })?;
        rx.recv().map_err(|_| std::io::Error::other("virtual printer thread ended before it started"))?
    }

    /// Also serves a pseudo-terminal pair and returns the path a serial client opens (`/dev/pts/N`).
    pub fn open_pty(&mut self) -> std::io::Result<PathBuf> {
        let path = links::serve_pty(self.engine.clone(), self.config.clone(), self.stop.clone())?;
        self.pty = Some(path.clone());
        Ok(path)
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn pty(&self) -> Option<&Path> {
        self.pty.as_deref()
    }

    /// The PNG files saved so far, in print order.
    pub fn saved(&self) -> Vec<PathBuf> {
        self.engine.lock().expect("engine lock").saved().to_vec()
    }

    /// Bytes received over every connection so far (tests use it to catch a label on the wire).
    pub fn bytes_received(&self) -> u64 {
        self.engine.lock().expect("engine lock").bytes_received()
    }

    /// Labels received but not printed (paper out, head open).
    pub fn waiting(&self) -> usize {
        self.engine.lock().expect("engine lock").waiting()
    }

    /// What happened so far (labels, queries, discarded partial labels, drops), oldest first.
    pub fn events(&self) -> Vec<Event> {
        self.engine.lock().expect("engine lock").events().to_vec()
    }

    /// The condition the printer reports in its status answers.
    pub fn condition(&self) -> Details {
        self.engine.lock().expect("engine lock").details()
    }

    /// A new roll: clears paper out and prints what waited.
    pub fn load_paper(&self) -> std::io::Result<()> {
        self.engine.lock().expect("engine lock").load_paper()
    }

    pub fn open_head(&self) {
        self.engine.lock().expect("engine lock").set_head_open(true).expect("opening the head prints nothing");
    }

    /// Closes the head and prints what waited.
    pub fn close_head(&self) -> std::io::Result<()> {
        self.engine.lock().expect("engine lock").set_head_open(false)
    }

    /// Stops (true) or resumes (false) answering status queries.
    pub fn set_silent(&self, silent: bool) {
        self.engine.lock().expect("engine lock").set_silent(silent);
    }

    /// Stops the printer on `error` now, as if it happened after the last label.
    pub fn raise_error(&self, error: PrinterError) {
        self.engine.lock().expect("engine lock").raise_error(error);
    }

    /// Clears the printer's error and prints what waited.
    pub fn clear_error(&self) -> std::io::Result<()> {
        self.engine.lock().expect("engine lock").clear_error()
    }

    /// Off and on again: a half-received label (a sender that died mid-label on a serial line) is
    /// forgotten, as a real printer forgets it.
    pub fn power_cycle(&self) {
        self.engine.lock().expect("engine lock").power_cycle();
    }

    /// Paper runs out now.
    pub fn paper_out(&self) {
        self.engine.lock().expect("engine lock").set_paper_out();
    }

    /// Resets the next connection that carries `n` more bytes (once), as a pulled cable does mid-label.
    pub fn drop_after(&self, n: u64) {
        self.engine.lock().expect("engine lock").drop_after(n);
    }

    /// Waits until at least `n` labels are saved or `timeout` passes; returns how many are saved.
    pub fn wait_for_saved(&self, n: usize, timeout: Duration) -> usize {
        let deadline = std::time::Instant::now() + timeout;
        loop {
            let have = self.saved().len();
            if have >= n || std::time::Instant::now() >= deadline {
                return have;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// Stops serving (also done on drop).
    pub fn stop(&self) {
        self.stop.stop();
    }
}

impl Drop for VirtualPrinter {
    fn drop(&mut self) {
        self.stop.stop();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_faults_and_names_bad_ones() {
        assert_eq!("paper-out-after=3".parse::<Fault>().unwrap(), Fault::PaperOutAfter(3));
        assert_eq!("head-open".parse::<Fault>().unwrap(), Fault::HeadOpen);
        assert_eq!("slow=9600".parse::<Fault>().unwrap(), Fault::Slow(9600));
        assert_eq!("drop-after-bytes=5000".parse::<Fault>().unwrap(), Fault::DropAfterBytes(5000));
        for (bad, says) in [
            ("paper-out-after", "needs a value"),
            ("slow=fast", "`fast` is not"),
            ("slow=0", "`0` is not"),
            ("head-open=1", "takes no value"),
            ("jam", "unknown fault `jam`"),
        ] {
            let e = bad.parse::<Fault>().unwrap_err();
            assert!(e.contains(says), "{bad}: {e}");
        }
        assert_eq!("silent".parse::<Fault>().unwrap(), Fault::Silent);
        assert_eq!("jam-after=2".parse::<Fault>().unwrap(), Fault::ErrorAfter(PrinterError::Jam, 2));
        assert!("silent=1".parse::<Fault>().unwrap_err().contains("takes no value"));
        for f in [
            Fault::PaperOutAfter(2),
            Fault::HeadOpen,
            Fault::Slow(100),
            Fault::DropAfterBytes(7),
            Fault::Silent,
            Fault::ErrorAfter(PrinterError::RibbonOut, 1),
            Fault::ErrorAfter(PrinterError::HeadHot, 3),
        ] {
            assert_eq!(f.to_string().parse::<Fault>().unwrap(), f);
        }
    }
}
