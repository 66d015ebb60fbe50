//! The virtual printer's mechanism, shared by all its links: paper, head, the buffer of labels waiting to
//! print, the files it prints to, and the status answers. One [`Session`] per connection holds that
//! connection's decoder.

use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use super::{Config, Fault, PrinterError};
use crate::bitmap::Bitmap;
use crate::lang::{self, Condition, Decoded, Language, Query, StreamDecoder};
use crate::printer::status::Details;

/// Something the virtual printer did; for tests and the command's log. Carries no label content.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    Printed { file: PathBuf, width: u32, height: u32 },
    /// A complete label arrived while the printer could not print; it waits in the buffer.
    Held { reason: &'static str },
    Answered { query: String, bytes: usize },
    /// The link closed before a label was complete; what had arrived is discarded.
    DiscardedPartial { problem: String },
    /// The stream could not be decoded; the decoder dropped the label in progress.
    DecodeError { problem: String },
    /// The drop-after-bytes fault reset a connection.
    Dropped { after_bytes: u64 },
}

pub struct Engine {
    lang: Language,
    dpi: u32,
    dir: PathBuf,
    paper_out_after: Option<u32>,
    drop_after_bytes: Option<u64>,
    paper_out: bool,
    head_open: bool,
    /// Status queries go unanswered.
    silent: bool,
    /// Power cycles so far: a pty link forgets a half-received label when this changes.
    pub(super) power_cycles: u64,
    /// An error that stops printing, and the label count it comes at.
    error_after: Option<(PrinterError, u32)>,
    error: Option<PrinterError>,
    printed: u32,
    waiting: VecDeque<Bitmap>,
    saved: Vec<PathBuf>,
    events: Vec<Event>,
    /// Bytes received over all connections, for drop-after-bytes.
    bytes_in: u64,
}

impl Engine {
    pub fn new(cfg: &Config) -> std::io::Result<Engine> {
        std::fs::create_dir_all(&cfg.save_dir)?;
        Ok(Engine {
            lang: cfg.lang,
            dpi: cfg.dpi,
            dir: cfg.save_dir.clone(),
            paper_out_after: cfg.faults.iter().find_map(|f| if let Fault::PaperOutAfter(n) = f { Some(*n) } else { None }),
            drop_after_bytes: cfg.faults.iter().find_map(|f| if let Fault::DropAfterBytes(n) = f { Some(*n) } else { None }),
            paper_out: false,
            head_open: cfg.faults.contains(&Fault::HeadOpen),
            silent: cfg.faults.contains(&Fault::Silent),
            power_cycles: 0,
            error_after: cfg.faults.iter().find_map(|f| if let Fault::ErrorAfter(e, n) = f { Some((*e, *n)) } else { None }),
            error: None,
            printed: 0,
            waiting: VecDeque::new(),
            saved: Vec::new(),
            events: Vec::new(),
            bytes_in: 0,
        })
    }

    pub fn saved(&self) -> &[PathBuf] {
        &self.saved
    }
    pub fn waiting(&self) -> usize {
        self.waiting.len()
    }
    pub fn bytes_received(&self) -> u64 {
        self.bytes_in
    }
    pub fn events(&self) -> &[Event] {
        &self.events
    }

    pub fn details(&self) -> Details {
        let mut d = Details {
            paper_out: self.paper_out,
            head_open: self.head_open,
            formats_in_buffer: Some(self.waiting.len() as u32),
            ..Details::default()
        };
        if let Some(e) = self.error {
            e.apply(&mut d);
        }
        d
    }

    fn can_print(&self) -> bool {
        !self.paper_out && !self.head_open && self.error.is_none()
    }

    /// Off and on again: whatever half label a link was receiving is forgotten.
    pub fn power_cycle(&mut self) {
        self.power_cycles += 1;
    }

    pub fn set_silent(&mut self, silent: bool) {
        self.silent = silent;
    }

    pub fn raise_error(&mut self, error: PrinterError) {
        self.error = Some(error);
    }

    pub fn clear_error(&mut self) -> std::io::Result<()> {
        self.error = None;
        self.error_after = None;
        self.drain()
    }

    pub fn set_paper_out(&mut self) {
        self.paper_out = true;
    }

    pub fn drop_after(&mut self, n: u64) {
        self.drop_after_bytes = Some(self.bytes_in + n.max(1));
    }

    /// Accounts for `n` newly arrived bytes; returns how many of them to take before the link must be
    /// dropped (the drop-after-bytes fault fires once).
    pub fn take_bytes(&mut self, n: usize) -> (usize, bool) {
        let before = self.bytes_in;
        self.bytes_in += n as u64;
        match self.drop_after_bytes {
            Some(limit) if self.bytes_in >= limit => {
                self.drop_after_bytes = None;
                self.events.push(Event::Dropped { after_bytes: limit });
                ((limit - before) as usize, true)
            }
            _ => (n, false),
        }
    }

    fn accept(&mut self, label: Bitmap) -> std::io::Result<()> {
        if self.can_print() && self.waiting.is_empty() {
            self.print(label)
        } else {
            let reason = match self.error {
                _ if self.head_open => "head open",
                _ if self.paper_out => "paper out",
                Some(e) => e.name(),
                None => "labels waiting before it",
            };
            self.events.push(Event::Held { reason });
            self.waiting.push_back(label);
            Ok(())
        }
    }

    fn print(&mut self, label: Bitmap) -> std::io::Result<()> {
        let file = self.dir.join(format!("{:04}.png", self.saved.len() + 1));
        // Write then rename: whoever watches the directory never sees half a PNG.
        let tmp = file.with_extension("png.part");
        std::fs::write(&tmp, crate::render::png::encode(&label, self.dpi))?;
        std::fs::rename(&tmp, &file)?;
        self.events.push(Event::Printed { file: file.clone(), width: label.width(), height: label.height() });
        self.saved.push(file);
        self.printed += 1;
        if self.paper_out_after == Some(self.printed) {
            self.paper_out = true;
        }
        if let Some((e, n)) = self.error_after
            && n == self.printed
        {
            self.error = Some(e);
        }
        Ok(())
    }

    /// Prints what waited, for as long as the printer can.
    fn drain(&mut self) -> std::io::Result<()> {
        while self.can_print() {
            let Some(label) = self.waiting.pop_front() else { break };
            self.print(label)?;
        }
        Ok(())
    }

    pub fn load_paper(&mut self) -> std::io::Result<()> {
        self.paper_out = false;
        // A fresh roll: the fault described the first one.
        self.paper_out_after = None;
        self.drain()
    }

    pub fn set_head_open(&mut self, open: bool) -> std::io::Result<()> {
        self.head_open = open;
        self.drain()
    }

    /// The bytes a real printer of this language sends for this query in the current condition;
    /// nothing while the `silent` fault holds.
    fn answer(&self, q: &Query) -> Vec<u8> {
        if self.silent {
            return Vec::new();
        }
        (self.lang.dialect().answer)(q, &Condition { details: self.details(), dpi: self.dpi })
    }
}

/// One connection's decoder, feeding the shared engine.
pub struct Session {
    engine: Arc<Mutex<Engine>>,
    decoder: Box<dyn StreamDecoder + Send>,
}

impl Session {
    pub fn new(engine: Arc<Mutex<Engine>>, cfg: &Config) -> Session {
        Session { engine, decoder: lang::decoder(cfg.lang, cfg.dpi) }
    }

    /// Feeds received bytes; returns what to send back.
    pub fn feed(&mut self, bytes: &[u8]) -> std::io::Result<Vec<u8>> {
        let decoded = self.decoder.push(bytes);
        self.apply(decoded)
    }

    /// The link closed normally: completes what the decoder holds; a half label is discarded.
    pub fn finish(mut self) -> std::io::Result<()> {
        match self.decoder.finish() {
            Ok(items) => self.apply(Ok(items)).map(|_| ()),
            Err(e) => {
                self.engine.lock().expect("engine lock").events.push(Event::DiscardedPartial { problem: e.to_string() });
                Ok(())
            }
        }
    }

    /// The link broke (reset, dropped): whatever the decoder holds is discarded, unfinished.
    pub fn abandon(self, why: &str) {
        self.engine.lock().expect("engine lock").events.push(Event::DiscardedPartial { problem: why.to_string() });
    }

    fn apply(&mut self, decoded: Result<Vec<Decoded>, lang::DecodeError>) -> std::io::Result<Vec<u8>> {
        let mut engine = self.engine.lock().expect("engine lock");
        let items = match decoded {
            Ok(items) => items,
            Err(e) => {
                engine.events.push(Event::DecodeError { problem: e.to_string() });
                return Ok(Vec::new());
            }
        };
        let mut reply = Vec::new();
        for item in items {
            match item {
                Decoded::Label(b) => engine.accept(b)?,
                Decoded::StatusQuery(q) => {
                    let answer = engine.answer(&q);
                    engine.events.push(Event::Answered { query: q.0.clone(), bytes: answer.len() });
                    reply.extend(answer);
                }
                Decoded::Other(_) => {}
            }
        }
        Ok(reply)
    }
}
