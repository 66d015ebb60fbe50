//! Print workers: one tokio task per configured printer, moving its documents from the spool to paper.
//!
//! For each document: claim it, get its printer bytes from [`Gate::printer_bytes`] (the spool is the
//! duplicate tracker), store the bytes and start sending in one commit, send, then mark it sent and
//! done. The worker keeps the state machine and the link; what bytes a document becomes is compose's. What can go wrong, and what it becomes:
//!
//! * a marketplace rule refuses the order → `held`, with the report;
//! * it cannot be rendered or encoded at all → `failed`;
//! * the link breaks before the first byte → back to `ready`, the same bytes are retried with capped
//!   exponential backoff;
//! * the link breaks after bytes left → `in_doubt`: never re-sent without an operator's reprint;
//! * the printer reports an error right after the label (ribbon out, jam, head too hot) → `in_doubt`
//!   with that condition as the reason;
//! * the label would take longer on the link than the printer's `max_label_seconds` → `held` as
//!   `link_too_slow` with the figures, before a byte goes (a send that times out half way is in doubt).
//!
//! The send deadline comes from the link's speed ([`LinkSpeed`]: the baud rate for serial links). The
//! printer's status is read before every send and periodically while idle: paper out, head open, paused,
//! offline, or no answer at all pause the queue (nothing is dropped) until the printer answers ready.
//! Only a printer whose profile or config says it has no status channel (`status = "none"`) is sent
//! to blind, and it shows as `no_status`. The next document
//! is rendered while the current one is sent, so a busy printer never waits for the renderer. A submit
//! wakes the worker at once through its [`Notify`]. Logs and events carry order ids and tracking
//! numbers only.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use time::OffsetDateTime;
use tokio::sync::{Notify, watch};

use crate::batch::Outcome;
use crate::compose::test_page::TestPage;
use crate::compose::{ComposeError, Content, Gate, Target};
use crate::config::Role;
use crate::events::{Event, EventBus, Subject};
use crate::marketdoc::Part;
use crate::printer::profile::Profile;
use crate::printer::status::{self, PrinterState};
use crate::spool::{Record, ScanState, Spool, SpoolError, State, StoredContent};
use crate::text::Fonts;
use crate::transport::speed::LinkSpeed;
use crate::transport::{Connector, Transport, TransportError, Uri};

/// How long a status query may take.
const STATUS_TIMEOUT: Duration = Duration::from_millis(800);
/// How often an idle printer's status is read.
const IDLE_POLL: Duration = Duration::from_secs(5);
/// How often a paused (paper out, head open, offline) printer is read to see whether it is back.
const PAUSED_POLL: Duration = Duration::from_millis(300);
/// Backoff after a link error: doubles from the first value up to the cap.
const BACKOFF_FIRST: Duration = Duration::from_millis(200);
const BACKOFF_CAP: Duration = Duration::from_secs(10);

/// A configured printer as the worker runs it.
#[derive(Debug, Clone)]
pub struct PrinterSpec {
    pub name: String,
    pub role: Role,
    pub uri: Uri,
    pub profile: Profile,
    /// How fast the link carries bytes: the send deadline and the `link_too_slow` check use it.
    pub speed: LinkSpeed,
    /// A label that would take longer than this on the link is held, not sent.
    pub max_label_seconds: u32,
    /// False when the profile or config says the link carries no status answers: then, and only
    /// then, labels are sent without a status check.
    pub status_channel: bool,
    /// Whether a marketplace page too large for the media is shrunk (`fit = "scale"`) or refused.
    pub fit: crate::marketdoc::Fit,
}

/// What a printer is doing, as its worker last saw it (the API shows it as `server::api::Printer`).
#[derive(Debug, Clone, PartialEq)]
pub struct PrinterView {
    pub name: String,
    pub role: &'static str,
    pub driver: String,
    pub language: String,
    pub dpi: u32,
    /// `ready`, `printing`, `paper_out`, `head_open`, `paused`, `offline`, `error` (ribbon out, jam, head
    /// too hot), `silent` (answered before, not now), `unknown` (never answered), `no_status` (no status
    /// channel: labels go blind), `starting`.
    pub state: String,
    /// False for a printer sent to blind (`status = "none"`).
    pub status_channel: bool,
    /// The printer's own conditions or the link error, when not ready.
    pub detail: Option<String>,
    /// Paused by an operator (`POST /v1/printers/{name}/pause`).
    pub held_by_operator: bool,
}

/// The shared handle to one worker: wake it, pause it, read its state.
pub struct PrinterHandle {
    pub spec: PrinterSpec,
    wake: Notify,
    operator_pause: AtomicBool,
    view: Mutex<PrinterView>,
}

impl PrinterHandle {
    fn new(spec: PrinterSpec) -> PrinterHandle {
        let view = PrinterView {
            name: spec.name.clone(),
            role: spec.role.as_str(),
            driver: spec.profile.name.clone(),
            language: spec.profile.language.to_string(),
            dpi: spec.profile.dpi,
            state: "starting".into(),
            status_channel: spec.status_channel,
            detail: None,
            held_by_operator: false,
        };
        PrinterHandle { spec, wake: Notify::new(), operator_pause: AtomicBool::new(false), view: Mutex::new(view) }
    }

    /// Something was queued (or resumed): look at the spool now.
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    pub fn view(&self) -> PrinterView {
        self.view.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    pub fn set_operator_pause(&self, paused: bool) {
        self.operator_pause.store(paused, Ordering::SeqCst);
        self.view.lock().unwrap_or_else(|p| p.into_inner()).held_by_operator = paused;
        self.wake();
    }

    fn operator_paused(&self) -> bool {
        self.operator_pause.load(Ordering::SeqCst)
    }
}

/// Everything the workers share.
#[derive(Clone)]
pub struct Shared {
    pub spool: Arc<Spool>,
    pub gate: Arc<Gate>,
    pub fonts: Arc<Fonts>,
    pub events: EventBus,
    /// The warehouse's bin labels (`[picklist]`), for the walking order on pick lists.
    pub bins: Arc<crate::bins::BinPattern>,
    /// Opens printer links.
    pub connect: Connector,
    /// `[documents] slips`: the printer marketplace packing slips go to, when not the job's own.
    pub slips: Option<String>,
    /// Every printer's handle, filled by [`Workers::start`]: a worker wakes the slips printer.
    pub peers: Arc<BTreeMap<String, Arc<PrinterHandle>>>,
}

/// All workers, by printer name.
pub struct Workers {
    printers: BTreeMap<String, Arc<PrinterHandle>>,
    tasks: Mutex<Vec<tokio::task::JoinHandle<()>>>,
}

impl Workers {
    /// Starts one worker per printer on the current runtime. They stop, after finishing the label
    /// being sent, when `stop` becomes true.
    pub fn start(mut shared: Shared, printers: Vec<PrinterSpec>, stop: watch::Receiver<bool>) -> Workers {
        let map: BTreeMap<String, Arc<PrinterHandle>> =
            printers.into_iter().map(|spec| (spec.name.clone(), Arc::new(PrinterHandle::new(spec)))).collect();
        shared.peers = Arc::new(map.clone());
        let mut tasks = Vec::new();
        for handle in map.values().cloned() {
            let worker = Worker { shared: shared.clone(), handle, stop: stop.clone(), link: Mutex::new(None), last_state: None, answered: false };
            tasks.push(tokio::spawn(worker.run()));
        }
        Workers { printers: map, tasks: Mutex::new(tasks) }
    }

    /// No printers: a station whose printers are driven elsewhere.
    pub fn none() -> Workers {
        Workers { printers: BTreeMap::new(), tasks: Mutex::new(Vec::new()) }
    }

    pub fn get(&self, name: &str) -> Option<&Arc<PrinterHandle>> {
        self.printers.get(name)
    }

    pub fn all(&self) -> impl Iterator<Item = &Arc<PrinterHandle>> {
        self.printers.values()
    }

    /// The printer a document of `kind` goes to when the caller names none: the first of that role.
    pub fn first_with_role(&self, role: Role) -> Option<&Arc<PrinterHandle>> {
        self.printers.values().find(|p| p.spec.role == role)
    }

    pub fn wake(&self, name: &str) {
        if let Some(p) = self.printers.get(name) {
            p.wake();
        }
    }

    /// Waits for every worker to finish (after `stop` was set).
    pub async fn join(&self) {
        let tasks = std::mem::take(&mut *self.tasks.lock().unwrap_or_else(|p| p.into_inner()));
        for t in tasks {
            let _ = t.await;
        }
    }
}

/// A document rendered and ready to go, held in memory until the printer takes it.
struct Rendered {
    doc: Record,
    bytes: Vec<u8>,
    format: String,
    /// Already `ready` in the spool (a retried send, or found at startup): only `mark_sending` left.
    stored: bool,
}

/// What rendering one claimed document came to.
enum RenderOutcome {
    Ready(Box<Rendered>),
    /// Held or failed; already recorded.
    Settled,
}

struct Worker {
    shared: Shared,
    handle: Arc<PrinterHandle>,
    stop: watch::Receiver<bool>,
    /// Behind a mutex only so the worker is `Sync`; one task uses it.
    link: Mutex<Option<Box<dyn Transport>>>,
    last_state: Option<(String, Option<String>)>,
    /// The printer has answered a status query since the worker started: silence now is a fault.
    answered: bool,
}

impl Worker {
    fn name(&self) -> &str {
        &self.handle.spec.name
    }

    fn take_link(&self) -> Option<Box<dyn Transport>> {
        self.link.lock().unwrap_or_else(|p| p.into_inner()).take()
    }

    fn put_link(&self, link: Option<Box<dyn Transport>>) {
        *self.link.lock().unwrap_or_else(|p| p.into_inner()) = link;
    }

    fn stopping(&self) -> bool {
        *self.stop.borrow()
    }

    async fn run(mut self) {
        let mut backoff = BACKOFF_FIRST;
        // Documents left `ready` by a previous run (a send failed before its first byte) go first.
        let mut next: Option<Rendered> = self.leftover_ready().await;
        while !self.stopping() {
            if self.handle.operator_paused() {
                self.set_state("paused", Some("paused by an operator".into()));
                self.wait(IDLE_POLL).await;
                continue;
            }
            // Render (or take the already-rendered) next document before touching the printer.
            let current = match next.take() {
                Some(r) => r,
                None => match self.claim_and_render().await {
                    Some(r) => r,
                    None => {
                        // Idle: wait for a submit, reading the status now and then.
                        self.ensure_link_and_status().await;
                        self.wait(IDLE_POLL).await;
                        continue;
                    }
                },
            };
            // The printer must be there and able to print before the first byte goes.
            if !self.ensure_link_and_status().await {
                next = Some(current);
                self.wait_or_backoff(&mut backoff).await;
                continue;
            }
            // Start sending, and render the next one meanwhile.
            // Rendering ahead needs the spool only, never the link.
            let (shared, handle) = (self.shared.clone(), self.handle.clone());
            let ahead = async move { claim_and_render_with(&shared, &handle).await };
            let send = self.send(current);
            let (sent, rendered_ahead) = tokio::join!(send, ahead);
            next = rendered_ahead;
            match sent {
                SendResult::Done => backoff = BACKOFF_FIRST,
                SendResult::Retry(r) => {
                    // Keep the order: the retried document goes before the one rendered ahead.
                    if let Some(ahead) = next.take() {
                        release(&self.shared, &ahead.doc).await;
                    }
                    next = Some(*r);
                    self.wait_or_backoff(&mut backoff).await;
                }
                SendResult::Lost => self.wait_or_backoff(&mut backoff).await,
            }
        }
        // Stopping: a document rendered ahead but never sent goes back to the queue.
        if let Some(r) = next.take() {
            release(&self.shared, &r.doc).await;
        }
        tracing::info!(printer = self.name(), "worker stopped");
    }

    async fn leftover_ready(&self) -> Option<Rendered> {
        let spool = self.shared.spool.clone();
        let name = self.name().to_string();
        let found = blocking(move || {
            let filter = crate::spool::Filter { printer: Some(name), states: vec![State::Ready], limit: Some(1000), ..Default::default() };
            let mut docs = spool.list(&filter)?;
            // Labels waiting for a scan (or released by one) are not this run's: `take_released` hands them out.
            docs.retain(|d| d.scan.is_none());
            docs.sort_by_key(|d| d.id);
            for d in docs {
                if let Some(r) = spool.rendered(d.id)? {
                    return Ok(Some((d, r)));
                }
            }
            Ok(None)
        })
        .await;
        match found {
            Ok(Some((doc, r))) => Some(Rendered { doc, bytes: r.bytes, format: r.format, stored: true }),
            Ok(None) => None,
            Err(e) => {
                tracing::error!(printer = self.name(), error = %e, "reading the spool");
                None
            }
        }
    }

    async fn claim_and_render(&self) -> Option<Rendered> {
        claim_and_render_with(&self.shared, &self.handle).await
    }

    /// Waits for a submit, a resume, a stop, or `timeout`.
    async fn wait(&mut self, timeout: Duration) {
        let mut stop = self.stop.clone();
        tokio::select! {
            _ = self.handle.wake.notified() => {}
            _ = tokio::time::sleep(timeout) => {}
            _ = stop.changed() => {}
        }
    }

    async fn wait_or_backoff(&mut self, backoff: &mut Duration) {
        let d = *backoff;
        *backoff = (*backoff * 2).min(BACKOFF_CAP);
        let mut stop = self.stop.clone();
        tokio::select! {
            _ = tokio::time::sleep(d) => {}
            _ = stop.changed() => {}
        }
    }

    /// Opens the link if needed and reads the status. True when a label may be sent now: the printer
    /// answered ready (or printing), or it has no status channel at all.
    async fn ensure_link_and_status(&mut self) -> bool {
        let protocol = self.handle.spec.profile.status;
        let (uri, connect) = (self.handle.spec.uri.clone(), self.shared.connect.clone());
        let blind = !self.handle.spec.status_channel;
        let link = self.take_link();
        let (link, result) = tokio::task::spawn_blocking(move || {
            let mut link = match link {
                Some(l) => l,
                None => match connect(&uri) {
                    Ok(l) => l,
                    Err(e) => return (None, Err(e)),
                },
            };
            if blind {
                return (Some(link), Ok(None));
            }
            let st = status::probe(link.as_mut(), protocol, STATUS_TIMEOUT);
            (Some(link), Ok(Some(st)))
        })
        .await
        .unwrap_or_else(|e| (None, Err(TransportError::Io { link: String::new(), sent: 0, reason: e.to_string() })));
        self.put_link(link);
        let st = match result {
            Err(e) => {
                self.set_state("offline", Some(e.to_string()));
                return false;
            }
            Ok(None) => {
                self.set_state("no_status", Some("no status channel (status = \"none\"): labels are sent without checking the printer".into()));
                return true;
            }
            Ok(Some(st)) => st,
        };
        let (state, detail) = describe(&st, self.answered);
        if !matches!(st.state, PrinterState::Unknown(_)) {
            self.answered = true;
        }
        if matches!(st.state, PrinterState::Offline) {
            // The link may be stale: open it afresh next time.
            self.put_link(None);
        }
        self.set_state(state, detail);
        if st.state.accepts_labels() {
            return true;
        }
        // Paused queue: poll faster so it resumes as soon as the printer is back.
        let mut stop = self.stop.clone();
        tokio::select! {
            _ = tokio::time::sleep(PAUSED_POLL) => {}
            _ = stop.changed() => {}
        }
        false
    }

    fn set_state(&mut self, state: &str, detail: Option<String>) {
        let now = (state.to_string(), detail.clone());
        if self.last_state.as_ref() == Some(&now) {
            return;
        }
        self.last_state = Some(now);
        {
            let mut v = self.handle.view.lock().unwrap_or_else(|p| p.into_inner());
            v.state = state.to_string();
            v.detail = detail.clone();
        }
        tracing::info!(printer = self.name(), state, detail = detail.as_deref().unwrap_or(""), "printer state");
        self.shared.events.publish(Event::Printer { printer: self.name().to_string(), state: state.to_string(), detail });
    }

    /// Sends one rendered document over the link.
    async fn send(&mut self, r: Rendered) -> SendResult {
        let spool = self.shared.spool.clone();
        let id = r.doc.id;
        // Bytes and the start of the send in one commit: after it, a crash means in doubt.
        let commit = {
            let (bytes, format, stored) = (r.bytes.clone(), r.format.clone(), r.stored);
            blocking(move || if stored { spool.mark_sending(id) } else { spool.mark_ready_and_sending(id, &bytes, &format) }).await
        };
        if let Err(e) = commit {
            // Nothing was sent and nothing changed (a full disk, a locked file): try the same bytes again.
            tracing::error!(printer = self.name(), document = id, error = %e, "cannot start sending; will retry");
            return SendResult::Retry(Box::new(r));
        }
        publish(&self.shared, &r.doc, State::Sending, None);
        let Some(mut link) = self.take_link() else {
            return self.unsend(r, "no link to the printer").await;
        };
        let bytes = r.bytes.clone();
        let speed = self.handle.spec.speed;
        let deadline = Instant::now() + speed.send_deadline(bytes.len());
        let (link, result) = tokio::task::spawn_blocking(move || {
            let res = link.write_all(&bytes, deadline);
            (link, res)
        })
        .await
        .expect("send task panicked");
        let spool = self.shared.spool.clone();
        match result {
            Ok(()) => {
                // Every byte left the host. Whether the printer took them shows on the next read: a
                // TCP peer that dropped the link mid-label is only noticed there. Ask for the status.
                let _ = blocking({
                    let spool = spool.clone();
                    move || spool.mark_sent(id)
                })
                .await;
                let protocol = self.handle.spec.profile.status;
                let blind = !self.handle.spec.status_channel;
                // A serial driver may still hold the label's tail: the answer comes after it.
                let wait = STATUS_TIMEOUT + speed.drain_time(r.bytes.len());
                let (link, after) = tokio::task::spawn_blocking(move || {
                    let mut link = link;
                    let st = if blind { status::Status::unknown("no status channel") } else { status::probe(link.as_mut(), protocol, wait) };
                    (link, st)
                })
                .await
                .expect("status task panicked");
                if matches!(after.state, PrinterState::Offline) {
                    let why = after_send_fault(&after);
                    tracing::warn!(printer = self.name(), document = id, order_id = r.doc.order_id.as_deref().unwrap_or(""),
                        tracking = r.doc.tracking_number.as_deref().unwrap_or(""), reason = %why, "fault right after the send: in doubt");
                    let w = why.clone();
                    if let Err(e) = blocking(move || spool.mark_in_doubt(id, &w)).await {
                        tracing::error!(printer = self.name(), document = id, error = %e, "recording in doubt");
                    }
                    publish(&self.shared, &r.doc, State::InDoubt, Some(why.clone()));
                    let (state, detail) = describe(&after, true);
                    self.set_state(state, detail);
                    if !after.details.link_down {
                        // The printer itself answered; keep the link for the next status read.
                        self.put_link(Some(link));
                    }
                    return SendResult::Lost;
                }
                self.put_link(Some(link));
                match blocking(move || spool.mark_done(id)).await {
                    Ok(()) => {
                        tracing::info!(printer = self.name(), document = id, order_id = r.doc.order_id.as_deref().unwrap_or(""),
                            tracking = r.doc.tracking_number.as_deref().unwrap_or(""), "printed");
                        publish(&self.shared, &r.doc, State::Done, None);
                    }
                    Err(e) => tracing::error!(printer = self.name(), document = id, error = %e, "recording a sent label"),
                }
                SendResult::Done
            }
            Err(e) if e.sent() == 0 => {
                // Nothing left the host: the same bytes can go again once the link is back.
                drop(link);
                self.set_state("offline", Some(e.to_string()));
                self.unsend(r, &e.to_string()).await
            }
            Err(e) => {
                drop(link);
                let why = e.to_string();
                tracing::warn!(printer = self.name(), document = id, order_id = r.doc.order_id.as_deref().unwrap_or(""),
                    tracking = r.doc.tracking_number.as_deref().unwrap_or(""), error = %why, "link broke mid-label: in doubt");
                let w = why.clone();
                if let Err(e) = blocking(move || spool.mark_in_doubt(id, &w)).await {
                    tracing::error!(printer = self.name(), document = id, error = %e, "recording in doubt");
                }
                publish(&self.shared, &r.doc, State::InDoubt, Some(why.clone()));
                self.set_state("offline", Some(why));
                SendResult::Lost
            }
        }
    }

    async fn unsend(&mut self, mut r: Rendered, why: &str) -> SendResult {
        let spool = self.shared.spool.clone();
        let (id, w) = (r.doc.id, why.to_string());
        if let Err(e) = blocking(move || spool.unsend(id, &w)).await {
            tracing::error!(printer = self.name(), document = id, error = %e, "unsend");
            return SendResult::Lost;
        }
        publish(&self.shared, &r.doc, State::Ready, Some(why.to_string()));
        r.stored = true;
        SendResult::Retry(Box::new(r))
    }
}

/// The state name and detail the API shows for a status answer. `answered`: the printer answered
/// before, so silence now is a fault of its own.
fn describe(st: &status::Status, answered: bool) -> (&'static str, Option<String>) {
    let conditions = Some(st.conditions().join(", ")).filter(|s| !s.is_empty());
    match &st.state {
        PrinterState::Ready => ("ready", None),
        PrinterState::Printing => ("printing", None),
        PrinterState::PaperOut => ("paper_out", conditions),
        PrinterState::HeadOpen => ("head_open", conditions),
        PrinterState::Paused => ("paused", conditions),
        // An error the printer reports itself (ribbon out, jam, over temperature) needs a person.
        PrinterState::Offline if st.details.link_down => ("offline", None),
        PrinterState::Offline => ("error", conditions),
        PrinterState::Unknown(why) if answered => {
            ("silent", Some(format!("the printer answered before and is silent now ({why}); the queue waits until it answers")))
        }
        PrinterState::Unknown(why) => (
            "unknown",
            Some(format!(
                "no status answer ({why}); the queue waits until it answers. If this link carries no status \
                 (a device file, EPL2 over TCP), set status = \"none\" for the printer in labeld.toml"
            )),
        ),
    }
}

/// Why a label is in doubt when the status read right after it shows a fault: the printer's own
/// condition when it reported one, else the link.
fn after_send_fault(after: &status::Status) -> String {
    let conditions = after.conditions();
    if after.details.link_down || conditions.is_empty() {
        "the link dropped right after the label was sent; it may not have printed".to_string()
    } else {
        format!("the printer reported {} right after the label was sent; it may not have printed", conditions.join(", "))
    }
}

enum SendResult {
    Done,
    /// Not a byte went out; try these bytes again.
    Retry(Box<Rendered>),
    /// In doubt or unrecordable: not retried.
    Lost,
}

/// Claims the next queued document and renders it; held and failed documents are recorded and
/// skipped, so this returns the next one that can print, or `None` when the queue is empty.
async fn claim_and_render_with(shared: &Shared, handle: &Arc<PrinterHandle>) -> Option<Rendered> {
    loop {
        // A label a packer's scan released goes before the queue: the packer is waiting for it.
        let spool = shared.spool.clone();
        let name = handle.spec.name.clone();
        match blocking(move || spool.take_released(&name)).await {
            Ok(Some((doc, r))) => return Some(Rendered { doc, bytes: r.bytes, format: r.format, stored: true }),
            Ok(None) => {}
            Err(e) => tracing::error!(printer = handle.spec.name, error = %e, "taking a scanned label from the spool"),
        }
        let spool = shared.spool.clone();
        let name = handle.spec.name.clone();
        let doc = match blocking(move || spool.claim_next(&name)).await {
            Ok(Some(d)) => d,
            Ok(None) => return None,
            Err(e) => {
                tracing::error!(printer = handle.spec.name, error = %e, "claiming from the spool");
                return None;
            }
        };
        publish(shared, &doc, State::Rendering, None);
        let shared2 = shared.clone();
        let spec = handle.spec.clone();
        let doc2 = doc.clone();
        let outcome = tokio::task::spawn_blocking(move || render(&shared2, &spec, doc2)).await;
        match outcome {
            Ok(RenderOutcome::Ready(r)) if r.doc.scan == Some(ScanState::Awaiting) => {
                // Rendered and checked ahead; it waits at ready for its scan unless one came meanwhile.
                let (spool, id, bytes, format) = (shared.spool.clone(), r.doc.id, r.bytes.clone(), r.format.clone());
                match blocking(move || spool.park(id, &bytes, &format)).await {
                    Ok(true) => {
                        publish(shared, &r.doc, State::Ready, None);
                        continue;
                    }
                    Ok(false) => return Some(*r),
                    Err(e) => {
                        tracing::error!(printer = handle.spec.name, document = r.doc.id, error = %e, "parking a label for its scan");
                        release(shared, &r.doc).await;
                        return None;
                    }
                }
            }
            Ok(RenderOutcome::Ready(r)) => return Some(*r),
            Ok(RenderOutcome::Settled) => continue,
            Err(e) => {
                tracing::error!(printer = handle.spec.name, document = doc.id, error = %e, "renderer panicked");
                let spool = shared.spool.clone();
                let _ = blocking(move || spool.mark_failed(doc.id, "the renderer crashed")).await;
                continue;
            }
        }
    }
}

/// Renders one claimed document (blocking): its printer bytes come from the gate, the one path from a
/// document to a printer's language; the worker records what became of it.
fn render(shared: &Shared, spec: &PrinterSpec, doc: Record) -> RenderOutcome {
    let spool = &shared.spool;
    let fail = |why: String| {
        tracing::warn!(printer = spec.name, document = doc.id, order_id = doc.order_id.as_deref().unwrap_or(""),
            tracking = doc.tracking_number.as_deref().unwrap_or(""), error = %why, "cannot print: failed");
        match spool.mark_failed(doc.id, &why) {
            Ok(()) => publish(shared, &doc, State::Failed, Some(why)),
            Err(e) => tracing::error!(document = doc.id, error = %e, "recording a failure"),
        }
        RenderOutcome::Settled
    };
    let target = Target::printer(&spec.name, &spec.profile);
    let now = OffsetDateTime::now_utc();
    let encoded = match spool.content(doc.id) {
        Ok(StoredContent::Order(order)) => {
            shared.gate.printer_bytes(Content::Label { order: &order, seen: spool.as_ref(), printed_at: now }, &target, &shared.fonts)
        }
        Ok(StoredContent::TestPage) => shared.gate.printer_bytes(Content::TestPage(&TestPage::for_profile(&spec.profile)), &target, &shared.fonts),
        Ok(StoredContent::Orders(orders)) => {
            // The batch it was submitted with; a pick list submitted on its own gets the id of its orders.
            let batch_id = match spool.batches_of(doc.id) {
                Ok(ids) => ids.into_iter().next(),
                Err(e) => return fail(e.to_string()),
            };
            let list = shared.gate.picklist(&orders, spool.as_ref(), &shared.bins, batch_id, now);
            let encoded = shared.gate.printer_bytes(Content::Picklist(&list), &target, &shared.fonts);
            if let Ok(e) = &encoded {
                tracing::info!(printer = spec.name, document = doc.id, pages = e.pages, held = list.totals.held, "pick list rendered");
            }
            encoded
        }
        Ok(StoredContent::Document(d)) => {
            let media = crate::marketdoc::Media::of_profile(&spec.profile);
            let drawn = match crate::marketdoc::render(&d.file.bytes, &media, spec.fit) {
                Ok(drawn) => drawn,
                // Checked at submit; a reader that changed its mind since is a failure, not a hold.
                Err(crate::marketdoc::DocError::Unreadable(u)) => return fail(format!("unreadable document: {u}")),
                Err(e) => return hold(shared, spec, &doc, e.rule(), &e.to_string(), None),
            };
            let pages: Vec<serde_json::Value> = document_pages(&drawn.pages, &d.tracking_number);
            // Packing slips go to the slips printer, when it is another one: this printer gets the labels.
            let slips_elsewhere = shared.slips.as_deref().filter(|s| *s != spec.name && d.part == Part::Whole);
            let has_slips = crate::marketdoc::prove::prove(&drawn.pages, Some(&d.tracking_number)).roles.contains(&crate::marketdoc::PageRole::Slip);
            let part = match slips_elsewhere {
                Some(_) if has_slips => Part::Labels,
                _ => d.part,
            };
            let content =
                Content::Marketplace { pages: &drawn.pages, tracking: Some(&d.tracking_number), order_id: Some(&d.order_id), seen: spool.as_ref(), part };
            match shared.gate.printer_bytes(content, &target, &shared.fonts) {
                Err(ComposeError::Document(held)) => return hold(shared, spec, &doc, held.rule(), held.message(), Some(pages)),
                Ok(e) => {
                    tracing::info!(printer = spec.name, document = doc.id, order_id = d.order_id, tracking = d.tracking_number,
                        pages = %serde_json::Value::Array(pages), "marketplace document proven");
                    if let (Part::Labels, Some(slips)) = (part, slips_elsewhere) {
                        if let Err(e) = queue_slips(shared, &doc, &d, slips) {
                            return fail(format!("cannot queue the packing slips on {slips}: {e}"));
                        }
                    }
                    Ok(e)
                }
                other => other,
            }
        }
        Ok(StoredContent::Purged { .. }) => return fail("buyer data was purged".into()),
        Err(e) => return fail(e.to_string()),
    };
    match encoded {
        Ok(encoded) => fits_link(shared, spec, doc, encoded.bytes),
        Err(ComposeError::Refused(report)) => {
            let rules: Vec<String> = report.refusals.iter().map(|r| format!("{}@{}", r.rule.id(), r.path)).collect();
            let reason = rules.join(", ");
            tracing::info!(printer = spec.name, document = doc.id, order_id = doc.order_id.as_deref().unwrap_or(""),
                tracking = doc.tracking_number.as_deref().unwrap_or(""), rules = %reason, "held by a rule");
            let json = serde_json::to_value(&report).unwrap_or(serde_json::Value::Null);
            match spool.mark_held(doc.id, &json) {
                Ok(()) => publish(shared, &doc, State::Held, Some(reason)),
                Err(e) => tracing::error!(document = doc.id, error = %e, "recording a hold"),
            }
            RenderOutcome::Settled
        }
        // Layout, read-back, size and encoding errors name fields and figures, not their text.
        Err(e) => fail(e.to_string()),
    }
}

/// The packing slips of a proven document, as their own document on the slips printer (keyed after
/// the label's, so rendering the label again queues them once), and that printer woken.
fn queue_slips(shared: &Shared, doc: &Record, d: &crate::spool::MarketDocument, slips: &str) -> Result<(), SpoolError> {
    let part = crate::spool::MarketDocument { part: Part::Slips, ..d.clone() };
    let slip = crate::spool::NewDocument::document(slips, part).with_key(format!("{}#slips", doc.key));
    let submitted = shared.spool.submit(vec![slip])?;
    if let Some(a) = submitted.documents.first().filter(|a| a.outcome != crate::spool::Outcome::Duplicate) {
        let subject = Subject { job: a.job, document: a.document, printer: slips.to_string(), order_id: doc.order_id.clone(), tracking_number: doc.tracking_number.clone() };
        shared.events.publish(Event::job(subject, a.state, None, false));
    }
    if let Some(p) = shared.peers.get(slips) {
        p.wake();
    }
    Ok(())
}

/// What each page of a marketplace document is and how it was placed, for a hold's report and the log:
/// its role, the factor, turned or trimmed, and how many barcodes read back (not what they say).
fn document_pages(pages: &[crate::marketdoc::Page], tracking: &str) -> Vec<serde_json::Value> {
    let verdict = crate::marketdoc::prove::prove(pages, Some(tracking));
    pages
        .iter()
        .zip(verdict.roles)
        .map(|(p, role)| serde_json::json!({ "role": role, "placement": p.placement, "barcodes": p.codes.len() }))
        .collect()
}

/// Holds a marketplace document that may not print as it is (`reason` is the rule id), with the
/// pages it was judged on.
fn hold(shared: &Shared, spec: &PrinterSpec, doc: &Record, reason: &str, message: &str, pages: Option<Vec<serde_json::Value>>) -> RenderOutcome {
    tracing::info!(printer = spec.name, document = doc.id, order_id = doc.order_id.as_deref().unwrap_or(""),
        tracking = doc.tracking_number.as_deref().unwrap_or(""), reason, "document held");
    let report = serde_json::json!({ "refusals": [], "hold": { "reason": reason, "message": message, "pages": pages } });
    match shared.spool.mark_held(doc.id, &report) {
        Ok(()) => publish(shared, doc, State::Held, Some(format!("{reason}: {message}"))),
        Err(e) => tracing::error!(document = doc.id, error = %e, "recording a hold"),
    }
    RenderOutcome::Settled
}

/// The rendered document, unless the link is too slow to carry it within the printer's
/// `max_label_seconds`: then it is held as `link_too_slow` with the figures, before a byte goes.
fn fits_link(shared: &Shared, spec: &PrinterSpec, doc: Record, bytes: Vec<u8>) -> RenderOutcome {
    let seconds = spec.speed.time_for(bytes.len()).as_secs_f64();
    if seconds <= spec.max_label_seconds as f64 {
        let format = spec.profile.language.to_string().to_lowercase();
        return RenderOutcome::Ready(Box::new(Rendered { doc, bytes, format, stored: false }));
    }
    let message = link_too_slow_message(spec, bytes.len(), seconds);
    tracing::warn!(printer = spec.name, document = doc.id, order_id = doc.order_id.as_deref().unwrap_or(""),
        tracking = doc.tracking_number.as_deref().unwrap_or(""), bytes = bytes.len(), seconds, "held: link too slow");
    let report = serde_json::json!({
        "refusals": [],
        "hold": {
            "reason": "link_too_slow",
            "bytes": bytes.len(),
            "baud": spec.speed.baud,
            "bytes_per_second": spec.speed.bytes_per_second,
            "seconds": (seconds * 10.0).round() / 10.0,
            "max_label_seconds": spec.max_label_seconds,
            "message": message,
        }
    });
    match shared.spool.mark_held(doc.id, &report) {
        Ok(()) => publish(shared, &doc, State::Held, Some(format!("link_too_slow: {message}"))),
        Err(e) => tracing::error!(document = doc.id, error = %e, "recording a hold"),
    }
    RenderOutcome::Settled
}

/// What a packer reads about a label too big for its link, and how to fix it.
pub fn link_too_slow_message(spec: &PrinterSpec, bytes: usize, seconds: f64) -> String {
    let fix = match spec.speed.baud {
        Some(_) => "raise the printer's baud rate (on the printer, then ?baud= in its uri) or raise max_label_seconds".to_string(),
        None => "set link_bytes_per_second to the link's real speed, or raise max_label_seconds".to_string(),
    };
    format!(
        "{bytes} bytes at {} take {seconds:.1} s, over this printer's max_label_seconds of {}; {fix}",
        spec.speed, spec.max_label_seconds
    )
}

/// Lets go of a claimed document that was rendered but not sent (rendering → queued).
async fn release(shared: &Shared, doc: &Record) {
    let spool = shared.spool.clone();
    let id = doc.id;
    let state = blocking(move || spool.document(id).map(|d| d.state)).await;
    let spool = shared.spool.clone();
    let (res, now) = match state {
        // Rendered ahead, still only claimed: back to the queue.
        Ok(State::Rendering) => (blocking(move || spool.requeue(id)).await, State::Queued),
        // Taken after a packer's scan: released again, so the next take (or run) sends it.
        Ok(State::Ready) if doc.scanned_at.is_some() => (blocking(move || spool.return_released(id)).await, State::Ready),
        // Ready (a retried send) stays ready for the next run.
        _ => (Ok(()), State::Queued),
    };
    match res {
        Ok(()) => publish(shared, doc, now, None),
        Err(e) => tracing::error!(document = id, error = %e, "releasing a document"),
    }
}

fn publish(shared: &Shared, doc: &Record, state: State, reason: Option<String>) {
    shared.events.publish(Event::job(Subject::of(doc), state, reason, doc.late_if(state)));
    // A settled document moves its batch on: publish the batch's counts after the job event.
    if doc.batch.is_some() && Outcome::of(state) != Outcome::Pending {
        let (spool, events, id) = (shared.spool.clone(), shared.events.clone(), doc.id);
        tokio::task::spawn_blocking(move || match crate::events::batch_events(&spool, id) {
            Ok(list) => list.into_iter().for_each(|e| events.publish(e)),
            Err(e) => tracing::error!(document = id, error = %e, "reading batch progress"),
        });
    }
}

async fn blocking<T: Send + 'static>(f: impl FnOnce() -> Result<T, SpoolError> + Send + 'static) -> Result<T, SpoolError> {
    tokio::task::spawn_blocking(f).await.unwrap_or_else(|e| Err(SpoolError::Invalid(format!("spool task failed: {e}"))))
}

