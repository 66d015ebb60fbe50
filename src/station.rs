//! The station: the one way work enters the spool or is changed by a person.
//!
//! HTTP handlers, the NATS feed, the demo and the CLI (through the daemon) submit, cancel, reprint and
//! resolve through a [`Station`]. It owns the spool, the printers' workers (their wake-ups), the event
//! bus and the walking order of bins; each call commits to the spool first, then tells listeners and
//! wakes the printers, so nothing is announced that is not stored. Job events are made in one place
//! ([`Event::job`]), naming a parcel by order id and tracking number only.
//!
//! Calls block on the spool: async callers run them on the blocking pool. The station knows nothing
//! about HTTP or NATS: it answers in spool and station errors, and each caller words them its own way.

use std::sync::Arc;

use crate::batch::{self, Summary};
use crate::config::Role;
use crate::events::{Event, EventBus, Subject};
use crate::marketdoc::intake::{self, Incoming, Rejected};
use crate::order::Order;
use crate::bins::BinPattern;
use crate::spool::{
    Admission, BatchSubmitted, DocId, JobId, Kind, MarketDocument, NewDocument, Outcome, Record, Release, Resolution, Resolved, ScanAnswer,
    ScanResult, Spool, SpoolError, State, Submitted,
};
use crate::worker::{PrinterHandle, Workers};

/// Why the station did not do what was asked.
#[derive(Debug, thiserror::Error)]
pub enum StationError {
    /// `field` names a printer that is not configured.
    #[error("no printer {name:?} is configured")]
    NoSuchPrinter { field: &'static str, name: String },
    /// No printer was named and none has the role the document needs.
    #[error("no printer given and none has the role {}", .0.as_str())]
    NoPrinterForRole(Role),
    /// A marketplace document that is not accepted (bad base64, a host not allowed, unreadable):
    /// `field` names where in the request.
    #[error(transparent)]
    Document(#[from] Rejected),
    #[error(transparent)]
    Spool(#[from] SpoolError),
}

/// A marketplace label document for one parcel, as the caller sent it (the file still base64 or a URL).
#[derive(Debug, Clone)]
pub struct DocumentJob {
    /// A configured printer; `None` takes the first label printer.
    pub printer: Option<String>,
    pub order_id: String,
    pub tracking_number: String,
    pub document: Incoming,
    /// The caller's idempotency key; by default `document:ORDER_ID:TRACKING_NUMBER`.
    pub key: Option<String>,
}

/// A job of one kind for one printer: a label (one order), or a pick list (its orders).
#[derive(Debug, Clone)]
pub struct Job {
    /// A configured printer; `None` takes the first printer with the kind's role.
    pub printer: Option<String>,
    pub kind: Kind,
    pub orders: Vec<Order>,
    /// The caller's idempotency key.
    pub key: Option<String>,
}

/// A shipping batch: labels in walking order, in chunks, with an optional pick list first.
#[derive(Debug, Clone)]
pub struct Batch {
    pub printer: Option<String>,
    pub orders: Vec<Order>,
    pub key: Option<String>,
    pub picklist: Picklist,
    /// Given, or derived from the orders.
    pub batch_id: Option<String>,
    /// At once, or each label when its order is scanned at a packing bench.
    pub release: Release,
}

/// A batch of marketplace documents: walking order by the bins of each parcel's items, chunks of 50.
#[derive(Debug, Clone)]
pub struct DocumentBatch {
    pub printer: Option<String>,
    /// Each document with the bins its items are picked from (empty: no walking order for it).
    pub documents: Vec<(DocumentJob, Vec<Option<String>>)>,
    pub key: Option<String>,
    /// Given, or derived from the order ids.
    pub batch_id: Option<String>,
}

/// Whether a batch has a pick list, and where it prints.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Picklist {
    No,
    /// On the first printer with role picklist, else the labels' printer.
    Default,
    On(String),
}

/// What a submit stored, and on which printer.
#[derive(Debug)]
pub struct Accepted {
    pub printer: String,
    pub submitted: Submitted,
}

#[derive(Debug)]
pub struct AcceptedBatch {
    pub printer: String,
    pub picklist_printer: Option<String>,
    pub submitted: BatchSubmitted,
}

/// What became of each document of a job asked to be cancelled.
#[derive(Debug)]
pub struct Cancelled {
    pub document: DocId,
    /// `cancelled`, or why not.
    pub result: String,
}

pub struct Station {
    spool: Arc<Spool>,
    workers: Workers,
    events: EventBus,
    bins: Arc<BinPattern>,
    /// Tells a detached station's owner that a printer has new work.
    wake: Option<Box<dyn Fn(&str) + Send + Sync>>,
    /// `[documents]`: where a document's URL may point, and its limits.
    documents: intake::Settings,
}

impl Station {
    /// The daemon's station: `workers` print what it stores.
    pub fn new(spool: Arc<Spool>, workers: Workers, events: EventBus, bins: Arc<BinPattern>) -> Station {
        Station { spool, workers, events, bins, wake: None, documents: intake::Settings::default() }
    }

    /// The `[documents]` settings marketplace document jobs are taken with.
    pub fn with_documents(mut self, documents: intake::Settings) -> Station {
        self.documents = documents;
        self
    }

    pub fn documents(&self) -> &intake::Settings {
        &self.documents
    }

    /// A station whose printers are driven elsewhere (a feed test, a bench): no workers; `wake` is
    /// told the printer of every new document.
    pub fn detached(spool: Arc<Spool>, events: EventBus, bins: Arc<BinPattern>, wake: impl Fn(&str) + Send + Sync + 'static) -> Station {
        Station { spool, workers: Workers::none(), events, bins, wake: Some(Box::new(wake)), documents: intake::Settings::default() }
    }

    fn wake(&self, printer: &str) {
        match &self.wake {
            Some(f) => f(printer),
            None => self.workers.wake(printer),
        }
    }

    pub fn spool(&self) -> &Arc<Spool> {
        &self.spool
    }

    pub fn workers(&self) -> &Workers {
        &self.workers
    }

    pub fn events(&self) -> &EventBus {
        &self.events
    }

    /// The warehouse's bin labels: the walking order of batch labels and pick lists.
    pub fn bins(&self) -> &Arc<BinPattern> {
        &self.bins
    }

    /// A configured printer; `field` is where the caller named it, for the error.
    pub fn printer(&self, field: &'static str, name: &str) -> Result<&Arc<PrinterHandle>, StationError> {
        self.workers.get(name).ok_or_else(|| StationError::NoSuchPrinter { field, name: name.to_string() })
    }

    fn printer_or_role(&self, name: Option<&str>, role: Role) -> Result<&Arc<PrinterHandle>, StationError> {
        match name {
            Some(n) => self.printer("printer", n),
            None => self.workers.first_with_role(role).ok_or(StationError::NoPrinterForRole(role)),
        }
    }

    /// Commits `documents` in one job, then announces the new ones and wakes their printers.
    pub fn submit(&self, documents: Vec<NewDocument>) -> Result<Submitted, SpoolError> {
        let subjects: Vec<(String, Option<String>, Option<String>)> = documents
            .iter()
            .map(|d| {
                let (order_id, tracking_number) = d.ids();
                (d.printer.clone(), order_id, tracking_number)
            })
            .collect();
        let submitted = self.spool.submit(documents)?;
        // Listeners (the packers' page) see a new document at once, also while its printer is paused.
        // A duplicate was announced when it was new, and its printer has it already.
        for (a, (printer, order_id, tracking_number)) in submitted.documents.iter().zip(subjects) {
            if a.outcome == Outcome::Duplicate {
                continue;
            }
            self.wake(&printer);
            self.events.publish(Event::job(admitted(a, printer, order_id, tracking_number), a.state, None, false));
        }
        Ok(submitted)
    }

    /// A label or a pick list: on the named printer, else the first with the kind's role. With a key,
    /// the orders of a multi-order label job are keyed `KEY:i`.
    pub fn submit_job(&self, job: Job) -> Result<Accepted, StationError> {
        let role = match job.kind {
            Kind::Picklist => Role::Picklist,
            Kind::Label | Kind::TestPage | Kind::Document => Role::Label,
        };
        let printer = self.printer_or_role(job.printer.as_deref(), role)?.spec.name.clone();
        let documents: Vec<NewDocument> = match job.kind {
            Kind::Picklist => {
                let doc = NewDocument::picklist(printer.clone(), job.orders);
                vec![match &job.key {
                    Some(k) => doc.with_key(k.clone()),
                    None => doc,
                }]
            }
            Kind::Document => return Err(SpoolError::Invalid("a marketplace document is submitted with submit_document".into()).into()),
            Kind::Label | Kind::TestPage => {
                let many = job.orders.len() > 1;
                job.orders
                    .into_iter()
                    .enumerate()
                    .map(|(i, o)| {
                        let doc = NewDocument::label(printer.clone(), o);
                        match &job.key {
                            Some(k) if many => doc.with_item_key(k, i),
                            Some(k) => doc.with_key(k.clone()),
                            None => doc,
                        }
                    })
                    .collect()
            }
        };
        let submitted = self.submit(documents)?;
        Ok(Accepted { printer, submitted })
    }

    /// A marketplace document: its file read (or fetched once from an allowed host) and checked, then
    /// stored with its SHA-256. Nothing is stored when the file is not accepted.
    pub fn submit_document(&self, job: DocumentJob) -> Result<Accepted, StationError> {
        let printer = self.printer_or_role(job.printer.as_deref(), Role::Label)?.spec.name.clone();
        let doc = self.take_document(&printer, job.order_id, job.tracking_number, &job.document, "document")?;
        let doc = match job.key {
            Some(k) => doc.with_key(k),
            None => doc,
        };
        let submitted = self.submit(vec![doc])?;
        Ok(Accepted { printer, submitted })
    }

    /// A document's file read and checked into a spool document for `printer`; `prefix` is where the
    /// file sits in the request, for errors.
    pub fn take_document(&self, printer: &str, order_id: String, tracking_number: String, incoming: &Incoming, prefix: &str) -> Result<NewDocument, StationError> {
        let taken = intake::take(incoming, prefix, &self.documents)?;
        let file = crate::spool::DocumentFile::new(taken.content_type, taken.bytes, taken.source_host);
        Ok(NewDocument::document(printer, MarketDocument { order_id, tracking_number, file, part: crate::marketdoc::Part::Whole }))
    }

    /// A shipping batch in one commit (see [`batch::plan`]); listeners get its starting point (some
    /// documents may be duplicates, already settled).
    pub fn submit_batch(&self, request: Batch) -> Result<AcceptedBatch, StationError> {
        let printer = self.printer_or_role(request.printer.as_deref(), Role::Label)?.clone();
        let picklist_printer = match request.picklist {
            Picklist::No => None,
            Picklist::Default => Some(self.workers.first_with_role(Role::Picklist).cloned().unwrap_or_else(|| printer.clone())),
            Picklist::On(p) => Some(self.printer("picklist_printer", &p)?.clone()),
        };
        let batch_id = request.batch_id.unwrap_or_else(|| crate::picklist::batch_id(&request.orders, time::OffsetDateTime::now_utc()));
        let name = printer.spec.name.clone();
        let plan = batch::plan(batch_id, request.orders, &name, picklist_printer.as_ref().map(|p| p.spec.name.as_str()), &self.bins, request.key.as_deref(), request.release);
        let submitted = self.spool.submit_batch(plan)?;
        self.wake(&name);
        if let Some(p) = &picklist_printer {
            self.wake(&p.spec.name);
        }
        if let Ok(Some(b)) = self.spool.batch_states(&submitted.batch) {
            self.events.publish(Event::batch(Summary::of(&b)));
        }
        Ok(AcceptedBatch { printer: name, picklist_printer: picklist_printer.map(|p| p.spec.name.clone()), submitted })
    }

    /// A batch of marketplace documents in one commit; every file is read (or fetched) and checked
    /// first, so one bad document stores none. Errors name `documents[i]`.
    pub fn submit_document_batch(&self, request: DocumentBatch) -> Result<AcceptedBatch, StationError> {
        let printer = self.printer_or_role(request.printer.as_deref(), Role::Label)?.spec.name.clone();
        let batch_id = request.batch_id.unwrap_or_else(|| {
            crate::picklist::batch_id_of(request.documents.iter().map(|(d, _)| d.order_id.as_str()).collect(), time::OffsetDateTime::now_utc())
        });
        let mut documents = Vec::with_capacity(request.documents.len());
        for (i, (job, bins)) in request.documents.into_iter().enumerate() {
            let doc = self.take_document(&printer, job.order_id, job.tracking_number, &job.document, &format!("documents[{i}].document"))?;
            let doc = match job.key {
                Some(k) => doc.with_key(k),
                None => doc,
            };
            documents.push((doc, bins));
        }
        let plan = batch::plan_documents(batch_id, documents, &printer, &self.bins, request.key.as_deref());
        let submitted = self.spool.submit_batch(plan)?;
        self.wake(&printer);
        if let Ok(Some(b)) = self.spool.batch_states(&submitted.batch) {
            self.events.publish(Event::batch(Summary::of(&b)));
        }
        Ok(AcceptedBatch { printer, picklist_printer: None, submitted })
    }

    /// Cancels every document of a job that has not started sending. `None`: no such job.
    pub fn cancel(&self, job: JobId) -> Result<Option<Vec<Cancelled>>, SpoolError> {
        let Some(job) = self.spool.job(job)? else { return Ok(None) };
        let mut out = Vec::new();
        for doc in job.documents {
            let result = if doc.state.can_go(State::Cancelled) {
                self.spool.cancel(doc.id).map(|_| "cancelled".to_string()).unwrap_or_else(|e| e.to_string())
            } else {
                format!("not cancelled: already {}", doc.state)
            };
            out.push(Cancelled { document: doc.id, result });
        }
        Ok(Some(out))
    }

    /// Withdraws one document (not the rest of its job) that has not started sending, or drops an
    /// in-doubt one an operator has decided not to reprint.
    pub fn cancel_document(&self, id: DocId) -> Result<Record, SpoolError> {
        self.spool.cancel(id)?;
        let doc = self.spool.document(id)?;
        self.announce(&doc);
        Ok(doc)
    }

    /// A copy of a document, on its printer or `printer`, for a stated reason.
    pub fn reprint(&self, id: DocId, reason: &str, printer: Option<&str>) -> Result<Record, StationError> {
        if let Some(p) = printer {
            self.printer("printer", p)?;
        }
        let doc = self.spool.reprint(id, reason, printer)?;
        self.announce(&doc);
        self.wake(&doc.printer);
        Ok(doc)
    }

    /// An operator's answer to a label in doubt; "not printed" cancels it and queues one reprint.
    pub fn resolve(&self, id: DocId, outcome: Resolution, reason: &str) -> Result<Resolved, SpoolError> {
        let resolved = self.spool.resolve(id, outcome, reason)?;
        self.announce(&resolved.document);
        if let Some(copy) = &resolved.reprint {
            self.announce(copy);
            self.wake(&copy.printer);
        }
        Ok(resolved)
    }

    /// Queues a printer's test page behind its labels: it goes through the printer's worker like any
    /// document, so it never interleaves with a label. Every ask is a new page.
    pub fn test_print(&self, printer: &str) -> Result<Submitted, StationError> {
        self.printer("printer", printer)?;
        Ok(self.submit(vec![NewDocument::test_page(printer)])?)
    }

    /// A packer scanned `code` (an order id from the pick list, or the SKU of a single-item order) at
    /// the bench whose printer is `printer` (default: each label's own printer). The release is
    /// committed first; then listeners hear of it and the printer wakes to print it.
    pub fn scan(&self, code: &str, printer: Option<&str>) -> Result<ScanAnswer, StationError> {
        if let Some(p) = printer {
            self.printer("printer", p)?;
        }
        // Bytes made for one printer suit another with the same profile and link.
        let reuses_bytes = |from: &str, to: &str| match (self.workers.get(from), self.workers.get(to)) {
            (Some(a), Some(b)) => {
                a.spec.profile == b.spec.profile && a.spec.speed == b.spec.speed && a.spec.max_label_seconds == b.spec.max_label_seconds
            }
            _ => false,
        };
        let answer = self.spool.scan(code, printer, &reuses_bytes)?;
        if answer.result == ScanResult::Printing {
            for d in &answer.documents {
                self.announce(d);
                self.wake(&d.printer);
            }
        }
        Ok(answer)
    }

    /// Tells listeners about a change made by a person.
    fn announce(&self, doc: &Record) {
        self.events.publish(Event::job(Subject::of(doc), doc.state, None, doc.late));
    }
}

fn admitted(a: &Admission, printer: String, order_id: Option<String>, tracking_number: Option<String>) -> Subject {
    Subject { job: a.job, document: a.document, printer, order_id, tracking_number }
}
