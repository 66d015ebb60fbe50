//! Shipping batches in the spool: a job's documents with their print position and chunk, stored in
//! the same commit as the documents, so a batch is there whole or not at all.

use rusqlite::{OptionalExtension, params};
use time::OffsetDateTime;

use super::scan::Release;
use super::{
    Admission, DOC_COLUMNS, DocId, Kind, Record, JobId, MAX_BATCH, NewDocument, Outcome, Spool, SpoolError, State, document_from_row, from_ms,
    now_ms, parse_state, prepare, submit_in,
};

/// A batch to store, its documents already in print order.
#[derive(Debug, Clone)]
pub struct NewBatch {
    pub id: String,
    /// The label printer.
    pub printer: String,
    /// Printed before the labels (on its own printer, or first on the label printer).
    pub picklist: Option<NewDocument>,
    /// Labels in print order (pick-list walking order).
    pub labels: Vec<NewDocument>,
    /// Labels per chunk: the marketplace allows at most 50 per print batch.
    pub chunk_size: usize,
    /// At once, or each label when a packer scans its order (see `spool::scan`).
    pub release: Release,
}

/// What a batch submit stored: one admission per document, pick list first, in print order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BatchSubmitted {
    pub batch: String,
    pub job: JobId,
    /// `New`, or `Duplicate` when this batch was submitted before (nothing stored again).
    pub outcome: Outcome,
    pub chunks: u32,
    /// `(chunk, admission)`: chunk is None for the pick list.
    pub documents: Vec<(Option<u32>, Admission)>,
}

/// A stored batch and its documents in print order.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredBatch {
    pub id: String,
    pub job: JobId,
    pub printer: String,
    pub orders: u32,
    pub chunk_size: u32,
    pub chunks: u32,
    pub created_at: OffsetDateTime,
    pub members: Vec<BatchMember>,
}

/// A batch's members as kind, chunk (none for the pick list) and state, in print order.
#[derive(Debug, Clone, PartialEq)]
pub struct BatchStates {
    pub batch: String,
    pub chunks: u32,
    pub members: Vec<(Kind, Option<u32>, State)>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct BatchMember {
    /// Print position in the batch, from 0.
    pub seq: u32,
    /// 1-based chunk of a label; None for the pick list.
    pub chunk: Option<u32>,
    pub document: Record,
}

impl Spool {
    /// Stores a batch as one job, atomically. The same batch id with the same documents again is a
    /// duplicate (nothing stored); with other documents it is a [`SpoolError::Conflict`].
    pub fn submit_batch(&self, batch: NewBatch) -> Result<BatchSubmitted, SpoolError> {
        let id = batch.id.trim().to_string();
        if id.is_empty() || id.len() > 100 {
            return Err(SpoolError::Invalid("batch_id must be 1 to 100 characters".into()));
        }
        if batch.labels.is_empty() {
            return Err(SpoolError::Invalid("a batch needs at least one order".into()));
        }
        if batch.labels.len() > MAX_BATCH {
            return Err(SpoolError::Invalid(format!("a batch holds at most {MAX_BATCH} orders, this one has {}", batch.labels.len())));
        }
        if batch.chunk_size == 0 {
            return Err(SpoolError::Invalid("chunk size must be at least 1".into()));
        }
        let has_picklist = batch.picklist.is_some();
        let documents: Vec<&NewDocument> = batch.picklist.iter().chain(batch.labels.iter()).collect();
        let deadlines = self.deadlines();
        let prepared = documents.iter().enumerate().map(|(i, d)| prepare(i, d, &deadlines)).collect::<Result<Vec<_>, _>>()?;
        let chunk_of = |seq: usize| -> Option<u32> {
            let label = if has_picklist { seq.checked_sub(1)? } else { seq };
            Some((label / batch.chunk_size) as u32 + 1)
        };
        let chunks = batch.labels.len().div_ceil(batch.chunk_size) as u32;
        let now = now_ms();
        self.write(|tx| {
            let existing: Option<JobId> =
                tx.prepare_cached("SELECT job_id FROM batches WHERE id = ?1")?.query_row([&id], |r| r.get(0)).optional()?;
            if let Some(job) = existing {
                let stored: Vec<(DocId, JobId, String, String, Option<u32>)> = tx
                    .prepare_cached(
                        "SELECT d.id, d.job_id, d.idem_key, d.state, m.chunk FROM batch_documents m \
                         JOIN documents d ON d.id = m.document_id WHERE m.batch_id = ?1 ORDER BY m.seq",
                    )?
                    .query_map([&id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)))?
                    .collect::<Result<_, _>>()?;
                let same = stored.len() == prepared.len() && stored.iter().zip(&prepared).all(|(s, p)| s.2 == p.key);
                if !same {
                    return Err(SpoolError::Conflict(format!(
                        "batch {id} was submitted before with other orders; give this batch another batch_id"
                    )));
                }
                let documents = stored
                    .into_iter()
                    .map(|(document, job, key, state, chunk)| {
                        Ok((chunk, Admission { document, job, key, outcome: Outcome::Duplicate, state: parse_state(&state)? }))
                    })
                    .collect::<Result<_, SpoolError>>()?;
                return Ok(BatchSubmitted { batch: id.clone(), job, outcome: Outcome::Duplicate, chunks, documents });
            }
            let submitted = submit_in(tx, &prepared, now)?;
            tx.prepare_cached(
                "INSERT INTO batches (id, job_id, printer, orders, chunk_size, chunks, created_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            )?
            .execute(params![id, submitted.job, batch.printer, batch.labels.len() as i64, batch.chunk_size as i64, chunks, now])?;
            let mut documents = Vec::with_capacity(submitted.documents.len());
            for (seq, admission) in submitted.documents.into_iter().enumerate() {
                let chunk = chunk_of(seq);
                // A label stored now waits for its scan; one submitted before keeps its own way.
                if batch.release == Release::OnScan && chunk.is_some() && admission.outcome == Outcome::New {
                    tx.prepare_cached("UPDATE documents SET scan = 'awaiting' WHERE id = ?1")?.execute([admission.document])?;
                }
                tx.prepare_cached("INSERT INTO batch_documents (batch_id, seq, chunk, document_id) VALUES (?1, ?2, ?3, ?4)")?
                    .execute(params![id, seq as i64, chunk, admission.document])?;
                documents.push((chunk, admission));
            }
            tx.prepare_cached(super::clock::BATCH_URGENCY)?.execute([&id])?;
            Ok(BatchSubmitted { batch: id.clone(), job: submitted.job, outcome: Outcome::New, chunks, documents })
        })
    }

    /// A batch with its documents in print order, or None.
    pub fn batch(&self, id: &str) -> Result<Option<StoredBatch>, SpoolError> {
        let conn = self.lock();
        let head: Option<(JobId, String, u32, u32, u32, i64)> = conn
            .prepare_cached("SELECT job_id, printer, orders, chunk_size, chunks, created_ms FROM batches WHERE id = ?1")?
            .query_row([id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?)))
            .optional()?;
        let Some((job, printer, orders, chunk_size, chunks, created)) = head else { return Ok(None) };
        let members = conn
            .prepare_cached(&format!(
                "SELECT {DOC_COLUMNS}, m.seq, m.chunk FROM batch_documents m JOIN documents ON documents.id = m.document_id \
                 WHERE m.batch_id = ?1 ORDER BY m.seq"
            ))?
            .query_map([id], |r| {
                let (seq, chunk) = (r.get(24)?, r.get(25)?);
                Ok(document_from_row(r)?.map(|document| BatchMember { seq, chunk, document }))
            })?
            .collect::<Result<Result<Vec<_>, _>, _>>()??;
        Ok(Some(StoredBatch { id: id.to_string(), job, printer, orders, chunk_size, chunks, created_at: from_ms(created), members }))
    }

    /// Each member's kind, chunk and state, in print order: what a batch's counts need, read from
    /// the columns alone (a progress event per settled label stays cheap in a batch of 500).
    pub fn batch_states(&self, id: &str) -> Result<Option<BatchStates>, SpoolError> {
        let conn = self.lock();
        let chunks: Option<u32> =
            conn.prepare_cached("SELECT chunks FROM batches WHERE id = ?1")?.query_row([id], |r| r.get(0)).optional()?;
        let Some(chunks) = chunks else { return Ok(None) };
        let rows: Vec<(String, Option<u32>, String)> = conn
            .prepare_cached(
                "SELECT d.kind, m.chunk, d.state FROM batch_documents m JOIN documents d ON d.id = m.document_id \
                 WHERE m.batch_id = ?1 ORDER BY m.seq",
            )?
            .query_map([id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
            .collect::<Result<_, _>>()?;
        let mut members = Vec::with_capacity(rows.len());
        for (kind, chunk, state) in rows {
            let kind = Kind::parse(&kind).ok_or_else(|| SpoolError::Invalid(format!("unknown document kind {kind:?} in batch {id}")))?;
            members.push((kind, chunk, parse_state(&state)?));
        }
        Ok(Some(BatchStates { batch: id.to_string(), chunks, members }))
    }

    /// The batches a document belongs to (usually one; a label submitted again in a later batch is
    /// in both), oldest first.
    pub fn batches_of(&self, document: DocId) -> Result<Vec<String>, SpoolError> {
        let conn = self.lock();
        let ids = conn
            .prepare_cached("SELECT batch_id FROM batch_documents WHERE document_id = ?1 ORDER BY rowid")?
            .query_map([document], |r| r.get(0))?
            .collect::<Result<_, _>>()?;
        Ok(ids)
    }
}
