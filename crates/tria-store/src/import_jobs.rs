//! Large catalogue and customer uploads as jobs (issue 25): the upload is spooled into the store
//! in chunks while it arrives ([`Spool`]), an `import_catalogue` / `import_customers` job is
//! enqueued, and any replica's [`ImportJobs`] runs it: validate the whole upload (a bad row fails
//! the job with the same report the synchronous 422 gives; nothing is written), stage the rows in
//! batches with the job's progress, then swap them into `products` / `customers` in one
//! transaction, through the same writer the synchronous upload uses.
//!
//! Why stage and swap rather than write the batches straight into one long transaction: on
//! SQLite that transaction holds the only write lock, so the job could not record its progress
//! (a second connection's UPDATE waits for it) and nobody could watch the job; staged batches
//! commit one by one with the progress beside them. The swap then reads the staged rows inside
//! its transaction, so chat (and every other reader) sees the old catalogue until it commits and
//! the new one after it. A job cut off anywhere is redone from the start by its next attempt
//! (lease expiry): the spool is kept until the job finishes, staged rows belong to one attempt,
//! and the swap checks it read every row it staged before it commits.
//!
//! Memory: one spool chunk and a couple of batches in flight, plus the validating pass's key set;
//! the upload is never held whole.

use std::io::{self, Read};
use std::time::Duration;

use chrono::Utc;
use sea_orm::ConnectionTrait;
use sea_orm::sea_query::{Alias, Expr, ExprTrait, Order, Query};
use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;
use tria_core::TenantId;
use tria_import::{Batch, Format, ImportError, ImportMode, Importer, Limits, Schema, Validated, WriteError};
use uuid::Uuid;

use crate::job_lease::JobHeartbeat;
use crate::records::Job;
use crate::repo::{CustomerUpsert, LeaseOutcome, NewJob, ProductUpsert, UploadCounts};
use crate::{Store, StoreError};

/// The job kind that imports a spooled catalogue upload.
pub const IMPORT_CATALOGUE_JOB: &str = "import_catalogue";
/// The job kind that imports a spooled customer upload.
pub const IMPORT_CUSTOMERS_JOB: &str = "import_customers";
/// Bytes per spool row: big enough that a 64 MB upload is 64 rows, small enough to hold.
pub const SPOOL_CHUNK_BYTES: usize = 1024 * 1024;
/// Attempts before a job that keeps failing (or killing its worker) is marked failed.
const MAX_ATTEMPTS: i32 = 3;

const SPOOLS: &str = "upload_spools";
const STAGED: &str = "import_staged_rows";

fn col(name: &'static str) -> Alias {
    Alias::new(name)
}

/// What an import job imports.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ImportKind {
    Catalogue,
    Customers,
}

impl ImportKind {
    pub fn job_kind(self) -> &'static str {
        match self {
            ImportKind::Catalogue => IMPORT_CATALOGUE_JOB,
            ImportKind::Customers => IMPORT_CUSTOMERS_JOB,
        }
    }

    pub fn from_job_kind(kind: &str) -> Option<Self> {
        match kind {
            IMPORT_CATALOGUE_JOB => Some(ImportKind::Catalogue),
            IMPORT_CUSTOMERS_JOB => Some(ImportKind::Customers),
            _ => None,
        }
    }
}

/// An upload being written into the store as it arrives, in [`SPOOL_CHUNK_BYTES`] rows.
#[derive(Debug)]
pub struct Spool {
    store: Store,
    id: Uuid,
    next_seq: i32,
    pending: Vec<u8>,
    bytes: u64,
}

/// A whole upload in the store, ready for its job.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SpooledUpload {
    pub id: Uuid,
    pub bytes: u64,
}

impl Spool {
    pub fn new(store: &Store) -> Self {
        Self { store: store.clone(), id: Uuid::new_v4(), next_seq: 0, pending: Vec::new(), bytes: 0 }
    }

    /// Bytes written so far.
    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    /// Appends `data`, storing every full chunk.
    pub async fn write(&mut self, data: &[u8]) -> Result<(), StoreError> {
        self.bytes += data.len() as u64;
        self.pending.extend_from_slice(data);
        while self.pending.len() >= SPOOL_CHUNK_BYTES {
            let rest = self.pending.split_off(SPOOL_CHUNK_BYTES);
            let chunk = std::mem::replace(&mut self.pending, rest);
            self.store_chunk(chunk).await?;
        }
        Ok(())
    }

    /// Stores what is left; the upload is then complete.
    pub async fn finish(mut self) -> Result<SpooledUpload, StoreError> {
        if !self.pending.is_empty() {
            let chunk = std::mem::take(&mut self.pending);
            self.store_chunk(chunk).await?;
        }
        Ok(SpooledUpload { id: self.id, bytes: self.bytes })
    }

    /// Drops what was stored (the upload was refused or cut off).
    pub async fn discard(self) -> Result<(), StoreError> {
        delete_spool(&self.store, self.id).await
    }

    async fn store_chunk(&mut self, chunk: Vec<u8>) -> Result<(), StoreError> {
        let db = self.store.connection();
        let insert = Query::insert()
            .into_table(col(SPOOLS))
            .columns([col("spool_id"), col("seq"), col("body"), col("created_at")])
            .values([self.id.into(), self.next_seq.into(), chunk.into(), Utc::now().into()])
            .map_err(|e| StoreError::Invalid(e.to_string()))?
            .to_owned();
        db.execute(&insert).await?;
        self.next_seq += 1;
        Ok(())
    }
}

async fn delete_spool(store: &Store, id: Uuid) -> Result<(), StoreError> {
    let db = store.connection();
    let delete = Query::delete().from_table(col(SPOOLS)).and_where(Expr::col(col("spool_id")).eq(id)).to_owned();
    db.execute(&delete).await?;
    Ok(())
}

async fn spool_chunk(store: &Store, id: Uuid, seq: i32) -> Result<Option<Vec<u8>>, StoreError> {
    let db = store.connection();
    let select = Query::select()
        .column(col("body"))
        .from(col(SPOOLS))
        .and_where(Expr::col(col("spool_id")).eq(id))
        .and_where(Expr::col(col("seq")).eq(seq))
        .to_owned();
    let row = db.query_one(&select).await?;
    Ok(match row {
        Some(row) => Some(row.try_get::<Vec<u8>>("", "body")?),
        None => None,
    })
}

/// Reads a spooled upload chunk by chunk, for the importer on a blocking thread.
struct SpoolReader {
    store: Store,
    runtime: tokio::runtime::Handle,
    id: Uuid,
    next_seq: i32,
    chunk: Vec<u8>,
    pos: usize,
    finished: bool,
}

impl SpoolReader {
    fn new(store: &Store, id: Uuid) -> Self {
        let runtime = tokio::runtime::Handle::current();
        Self { store: store.clone(), runtime, id, next_seq: 0, chunk: Vec::new(), pos: 0, finished: false }
    }
}

impl Read for SpoolReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.pos == self.chunk.len() {
            if self.finished {
                return Ok(0);
            }
            match self.runtime.block_on(spool_chunk(&self.store, self.id, self.next_seq)) {
                Ok(Some(chunk)) => {
                    self.chunk = chunk;
                    self.pos = 0;
                    self.next_seq += 1;
                }
                Ok(None) => self.finished = true,
                Err(e) => return Err(io::Error::other(e.to_string())),
            }
        }
        let n = buf.len().min(self.chunk.len() - self.pos);
        buf[..n].copy_from_slice(&self.chunk[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

/// What an import job's payload says about its upload.
#[derive(Debug, Serialize, Deserialize)]
struct ImportPayload {
    spool: Uuid,
    format: String,
    mode: String,
    bytes: u64,
}

fn format_name(format: Format) -> &'static str {
    match format {
        Format::Csv => "csv",
        Format::Json => "json",
    }
}

impl Store {
    /// Enqueues the job that imports a spooled upload. Its total is unknown (0) until the job
    /// has validated the upload.
    pub async fn enqueue_import(
        &self,
        kind: ImportKind,
        tenant: TenantId,
        upload: SpooledUpload,
        format: Format,
        mode: ImportMode,
    ) -> Result<Job, StoreError> {
        let payload =
            ImportPayload { spool: upload.id, format: format_name(format).to_owned(), mode: mode.as_str().to_owned(), bytes: upload.bytes };
        let payload = serde_json::to_value(payload).map_err(|e| StoreError::Invalid(e.to_string()))?;
        self.jobs().enqueue(NewJob { kind: kind.job_kind().to_owned(), tenant, payload, total: 0, input: None }).await
    }
}

/// Told after an import job's swap committed and before the job reads `succeeded`, so whoever
/// waits for the job then gets answers from the new rows (the server reloads the tenant's
/// product index and retires its cached answers).
#[async_trait::async_trait]
pub trait ImportFinished: Send + Sync {
    async fn imported(&self, kind: ImportKind, tenant: TenantId);
}

/// Why an attempt stopped short of the swap.
#[derive(Debug)]
enum Stop {
    /// The upload is bad (or the job is): the job fails with these errors.
    Rejected(serde_json::Value),
    /// Something on our side; the lease runs out and the job is retried.
    Interrupted(String),
    /// Another worker holds the job now.
    LeaseLost,
}

impl From<StoreError> for Stop {
    fn from(e: StoreError) -> Self {
        Stop::Interrupted(e.to_string())
    }
}

impl From<ImportError> for Stop {
    fn from(e: ImportError) -> Self {
        if !e.is_client_error() {
            return Stop::Interrupted(e.to_string());
        }
        Stop::Rejected(serde_json::json!([import_error_json(&e)]))
    }
}

/// An upload's failure as the job reports it: for bad rows the same fields the 422 body has.
pub fn import_error_json(e: &ImportError) -> serde_json::Value {
    match e {
        ImportError::Rows(report) => serde_json::json!({
            "code": "invalid_rows",
            "message": format!("nothing was imported: {} of {} rows are bad", report.total_bad_rows, report.rows_checked),
            "rows": report.bad_rows,
            "total": report.total_bad_rows,
            "rows_checked": report.rows_checked,
            "truncated": report.truncated,
        }),
        ImportError::TooBig { .. } | ImportError::TooManyRows { .. } => {
            serde_json::json!({"code": "payload_too_large", "message": e.to_string()})
        }
        _ => serde_json::json!({"code": "invalid_upload", "message": e.to_string()}),
    }
}

/// Runs import jobs: claims one with a lease and takes it to the end.
#[derive(Clone, Debug)]
pub struct ImportJobs {
    store: Store,
    max_bytes: u64,
    lease: Duration,
    /// A spool with no chunk written for this long belongs to no live upload.
    spool_expiry: Duration,
}

impl ImportJobs {
    /// `max_bytes` is `import.max_bytes`; `lease` how long a claim holds without progress.
    pub fn new(store: Store, max_bytes: u64, lease: Duration) -> Self {
        Self { store, max_bytes, lease, spool_expiry: lease }
    }

    /// How long a spool may go without a new chunk before [`ImportJobs::sweep_spools`] takes it
    /// for an upload that was cut off (the lease by default). It must be longer than any upload
    /// request may last, or a slow upload's spool would be dropped under it: the server passes
    /// the longer of the lease and its request timeout.
    pub fn with_spool_expiry(mut self, expiry: Duration) -> Self {
        self.spool_expiry = expiry;
        self
    }

    /// Claims and runs jobs, waiting `poll` when there is none, until `stop` turns true. Sweeps
    /// the spools of cut-off uploads when it starts (a server killed mid-upload leaves one) and
    /// then once per spool expiry.
    pub async fn run(self, finished: std::sync::Arc<dyn ImportFinished>, poll: Duration, mut stop: tokio::sync::watch::Receiver<bool>) {
        let mut last_sweep: Option<std::time::Instant> = None;
        loop {
            if *stop.borrow() {
                return;
            }
            if last_sweep.is_none_or(|at| at.elapsed() >= self.spool_expiry) {
                last_sweep = Some(std::time::Instant::now());
                if let Err(e) = self.sweep_spools().await {
                    tracing::warn!(error = %e, "sweeping cut-off upload spools failed");
                }
            }
            let ran = match self.run_next(finished.as_ref()).await {
                Ok(ran) => ran.is_some(),
                Err(e) => {
                    tracing::warn!(error = %e, "claiming an import job failed");
                    false
                }
            };
            if !ran {
                tokio::select! {
                    _ = tokio::time::sleep(poll) => {}
                    _ = stop.changed() => {}
                }
            }
        }
    }

    /// Claims one due import job and runs it; `None` when none was due. The upload handler
    /// calls this right after enqueueing, so an upload starts at once on the replica that took
    /// it; the poll picks up the rest (after a restart, or another replica's).
    pub async fn run_next(&self, finished: &dyn ImportFinished) -> Result<Option<Job>, StoreError> {
        let kinds = [IMPORT_CATALOGUE_JOB, IMPORT_CUSTOMERS_JOB];
        let Some(job) = self.store.jobs().claim(&kinds, self.lease, Utc::now()).await? else {
            return Ok(None);
        };
        let tenant = TenantId(job.tenant_id);
        if job.attempts > MAX_ATTEMPTS {
            let errors = serde_json::json!([{"code": "gave_up", "message": format!("gave up after {MAX_ATTEMPTS} attempts")}]);
            if self.store.jobs().fail(&job, errors).await? == LeaseOutcome::Applied {
                self.clean_up(&job).await;
            }
            return Ok(Some(job));
        }
        let started = std::time::Instant::now();
        // Renewed until the job reads finished, the reload after the swap included: the swap and
        // the reload record no progress, and a 100k-row catalogue's reload can outlast a lease.
        let heartbeat = JobHeartbeat::start(&self.store, &job, self.lease);
        let outcome = self.attempt(&job, &heartbeat).await;
        if let Ok((kind, _)) = &outcome {
            finished.imported(*kind, tenant).await;
        }
        // Stopped before the job's end is written: a renewal after it would find no lease.
        heartbeat.stop();
        match outcome {
            Ok((_, counts)) => {
                if self.store.jobs().succeed(&job).await? == LeaseOutcome::Applied {
                    self.clean_up(&job).await;
                }
                let elapsed_ms = started.elapsed().as_millis() as u64;
                tracing::info!(job = %job.id, %tenant, kind = job.kind, ?counts, elapsed_ms, "upload imported");
            }
            Err(Stop::Rejected(errors)) => {
                tracing::info!(job = %job.id, %tenant, kind = job.kind, "upload refused; nothing imported");
                if self.store.jobs().fail(&job, errors).await? == LeaseOutcome::Applied {
                    self.clean_up(&job).await;
                }
            }
            Err(Stop::Interrupted(e)) => tracing::warn!(job = %job.id, error = %e, "import job interrupted; it will be retried"),
            Err(Stop::LeaseLost) => tracing::warn!(job = %job.id, "import job taken over by another worker"),
        }
        Ok(Some(job))
    }

    /// Drops the spools of uploads that were cut off (the server was killed or the request
    /// timed out mid-upload, so no job was enqueued for them) and of finished jobs whose own
    /// clean-up failed: every spool with no chunk newer than the spool expiry that no queued or
    /// running import job reads. Returns how many spools it dropped.
    pub async fn sweep_spools(&self) -> Result<u64, StoreError> {
        use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};

        use crate::entity::job;
        use crate::records::JobStatus;

        let db = self.store.connection();
        let cutoff = Utc::now() - chrono::Duration::from_std(self.spool_expiry).unwrap_or(chrono::Duration::MAX);
        let idle = Query::select()
            .column(col("spool_id"))
            .from(col(SPOOLS))
            .group_by_col(col("spool_id"))
            .and_having(Expr::col(col("created_at")).max().lt(cutoff))
            .to_owned();
        let mut idle: Vec<Uuid> =
            db.query_all(&idle).await?.into_iter().map(|r| r.try_get::<Uuid>("", "spool_id")).collect::<Result<_, _>>()?;
        if idle.is_empty() {
            return Ok(0);
        }
        let unfinished = job::Entity::find()
            .filter(job::Column::Kind.is_in([IMPORT_CATALOGUE_JOB, IMPORT_CUSTOMERS_JOB]))
            .filter(job::Column::Status.is_in([JobStatus::Queued.as_str(), JobStatus::Running.as_str()]))
            .all(db)
            .await?;
        let in_use: std::collections::HashSet<Uuid> =
            unfinished.into_iter().filter_map(|j| serde_json::from_value::<ImportPayload>(j.payload).ok()).map(|p| p.spool).collect();
        idle.retain(|id| !in_use.contains(id));
        for ids in idle.chunks(100) {
            let delete =
                Query::delete().from_table(col(SPOOLS)).and_where(Expr::col(col("spool_id")).is_in(ids.iter().copied())).to_owned();
            db.execute(&delete).await?;
        }
        if !idle.is_empty() {
            tracing::info!(spools = idle.len(), "dropped the spools of cut-off uploads");
        }
        Ok(idle.len() as u64)
    }

    /// Drops a finished job's spool and staged rows (best effort: leftovers change nothing).
    async fn clean_up(&self, job: &Job) {
        if let Ok(payload) = serde_json::from_value::<ImportPayload>(job.payload.clone())
            && let Err(e) = delete_spool(&self.store, payload.spool).await
        {
            tracing::warn!(job = %job.id, error = %e, "dropping an import job's spool failed");
        }
        if let Err(e) = self.delete_staged(job.id, None).await {
            tracing::warn!(job = %job.id, error = %e, "dropping an import job's staged rows failed");
        }
    }

    async fn attempt(&self, job: &Job, heartbeat: &JobHeartbeat) -> Result<(ImportKind, UploadCounts), Stop> {
        let bad_job = |what: String| Stop::Rejected(serde_json::json!([{"code": "bad_job", "message": what}]));
        let kind = ImportKind::from_job_kind(&job.kind).ok_or_else(|| bad_job(format!("not an import job: {}", job.kind)))?;
        let payload: ImportPayload =
            serde_json::from_value(job.payload.clone()).map_err(|e| bad_job(format!("job {} has a bad payload: {e}", job.id)))?;
        let format = match payload.format.as_str() {
            "csv" => Format::Csv,
            "json" => Format::Json,
            other => return Err(bad_job(format!("unknown upload format {other:?}"))),
        };
        let mode = ImportMode::from_query(Some(&payload.mode))?;
        let limits = Limits { max_bytes: self.max_bytes, ..Limits::default() };
        // What an earlier attempt staged is not this attempt's to read.
        self.delete_staged(job.id, Some(job.attempts)).await?;
        let tenant = TenantId(job.tenant_id);
        let replace = mode == ImportMode::Replace;
        let counts = match kind {
            ImportKind::Catalogue => {
                let currency = self.store.tenants().currency(tenant).await?;
                let importer = Importer::catalogue(format, tria_import::Currency::new(&currency)?).with_limits(limits);
                let staged = self.validate_and_stage(job, payload.spool, importer, |row| encode(crate::uploads::product(row))).await?;
                still_held(heartbeat)?;
                self.swap_catalogue(job, tenant, staged, replace).await?
            }
            ImportKind::Customers => {
                let importer = Importer::customers(format).with_limits(limits);
                let staged = self.validate_and_stage(job, payload.spool, importer, |row| encode(crate::uploads::customer(row))).await?;
                still_held(heartbeat)?;
                self.swap_customers(job, tenant, staged, replace).await?
            }
        };
        Ok((kind, counts))
    }

    /// The importer's two passes over the spool: validate (the job's total), then stage every
    /// row in batches, recording progress (and so extending the lease) after each. Returns the
    /// number of rows staged.
    async fn validate_and_stage<S>(
        &self,
        job: &Job,
        spool: Uuid,
        importer: Importer<S>,
        encode_row: fn(S::Row) -> Result<String, StoreError>,
    ) -> Result<u64, Stop>
    where
        S: Schema + Clone + Send + 'static,
        S::Row: Send + 'static,
    {
        let reader = SpoolReader::new(&self.store, spool);
        let checking = importer.clone();
        let validated: Validated = tokio::task::spawn_blocking(move || checking.validate(reader))
            .await
            .map_err(|e| Stop::Interrupted(format!("validating the upload stopped: {e}")))??;
        let total = i64::try_from(validated.rows()).unwrap_or(i64::MAX);
        if self.store.jobs().progress(job, 0, total, self.lease).await? == LeaseOutcome::LeaseLost {
            return Err(Stop::LeaseLost);
        }
        let (tx, mut batches) = mpsc::channel::<Batch<S::Row>>(2);
        let reader = SpoolReader::new(&self.store, spool);
        let reading = tokio::task::spawn_blocking(move || importer.write(reader, &validated, |b| tx.blocking_send(b).map_err(|_| ())));
        let mut staged: u64 = 0;
        let mut stopped = None;
        while let Some(batch) = batches.recv().await {
            let done = i64::try_from(batch.progress.done).unwrap_or(i64::MAX);
            let rows = match batch.rows.into_iter().map(encode_row).collect::<Result<Vec<_>, _>>() {
                Ok(rows) => rows,
                Err(e) => {
                    stopped = Some(Stop::from(e));
                    break;
                }
            };
            let count = rows.len() as u64;
            if let Err(e) = self.insert_staged(job, staged, rows).await {
                stopped = Some(Stop::from(e));
                break;
            }
            staged += count;
            match self.store.jobs().progress(job, done, total, self.lease).await {
                Ok(LeaseOutcome::Applied) => {}
                Ok(LeaseOutcome::LeaseLost) => {
                    stopped = Some(Stop::LeaseLost);
                    break;
                }
                Err(e) => {
                    stopped = Some(Stop::from(e));
                    break;
                }
            }
        }
        // Closing the channel stops the reader if this loop stopped first.
        drop(batches);
        let read = reading.await.map_err(|e| Stop::Interrupted(format!("reading the upload stopped: {e}")))?;
        if let Some(stop) = stopped {
            return Err(stop);
        }
        match read {
            Ok(_) => Ok(staged),
            Err(WriteError::Import(e)) => Err(Stop::Interrupted(format!("the stored upload could not be read again: {e}"))),
            Err(WriteError::Sink(())) => Err(Stop::Interrupted("the staging writer stopped".into())),
        }
    }

    async fn insert_staged(&self, job: &Job, first_seq: u64, rows: Vec<String>) -> Result<(), StoreError> {
        if rows.is_empty() {
            return Ok(());
        }
        let db = self.store.connection();
        let mut insert = Query::insert();
        insert.into_table(col(STAGED)).columns([col("job_id"), col("attempt"), col("seq"), col("row")]);
        for (i, row) in rows.into_iter().enumerate() {
            let seq = i64::try_from(first_seq + i as u64).unwrap_or(i64::MAX);
            insert.values([job.id.into(), job.attempts.into(), seq.into(), row.into()]).map_err(|e| StoreError::Invalid(e.to_string()))?;
        }
        db.execute(&insert).await?;
        Ok(())
    }

    /// Deletes a job's staged rows: every attempt's, or (with `before`) those of earlier attempts.
    async fn delete_staged(&self, job: Uuid, before: Option<i32>) -> Result<(), StoreError> {
        let db = self.store.connection();
        let mut delete = Query::delete();
        delete.from_table(col(STAGED)).and_where(Expr::col(col("job_id")).eq(job));
        if let Some(attempt) = before {
            delete.and_where(Expr::col(col("attempt")).lt(attempt));
        }
        db.execute(&delete).await?;
        Ok(())
    }

    /// One page of this attempt's staged rows after `after` (a sequence number), in order.
    async fn staged_page<C: ConnectionTrait>(db: &C, job: &Job, after: Option<i64>, limit: u64) -> Result<Vec<(i64, String)>, StoreError> {
        let mut select = Query::select();
        select
            .columns([col("seq"), col("row")])
            .from(col(STAGED))
            .and_where(Expr::col(col("job_id")).eq(job.id))
            .and_where(Expr::col(col("attempt")).eq(job.attempts))
            .order_by(col("seq"), Order::Asc)
            .limit(limit);
        if let Some(after) = after {
            select.and_where(Expr::col(col("seq")).gt(after));
        }
        let rows = db.query_all(&select).await?;
        rows.into_iter().map(|r| Ok((r.try_get::<i64>("", "seq")?, r.try_get::<String>("", "row")?))).collect()
    }

    /// Copies the staged products into `products` in one transaction.
    async fn swap_catalogue(&self, job: &Job, tenant: TenantId, staged: u64, replace: bool) -> Result<UploadCounts, Stop> {
        let mut writer = self.store.catalogue().begin_upload(tenant).await?;
        let mut after = None;
        let mut read = 0u64;
        loop {
            let page = Self::staged_page(writer.transaction(), job, after, SWAP_PAGE).await?;
            let Some((last, _)) = page.last() else { break };
            after = Some(*last);
            read += page.len() as u64;
            let rows = page.into_iter().map(|(_, row)| decode::<ProductUpsert>(&row)).collect::<Result<_, _>>()?;
            writer.write(rows).await?;
        }
        check_read(read, staged)?;
        Ok(writer.finish(replace).await?)
    }

    /// Copies the staged customers into `customers` in one transaction.
    async fn swap_customers(&self, job: &Job, tenant: TenantId, staged: u64, replace: bool) -> Result<UploadCounts, Stop> {
        let mut writer = self.store.customers().begin_upload(tenant).await?;
        let mut after = None;
        let mut read = 0u64;
        loop {
            let page = Self::staged_page(writer.transaction(), job, after, SWAP_PAGE).await?;
            let Some((last, _)) = page.last() else { break };
            after = Some(*last);
            read += page.len() as u64;
            let rows = page.into_iter().map(|(_, row)| decode::<CustomerUpsert>(&row)).collect::<Result<_, _>>()?;
            writer.write(rows).await?;
        }
        check_read(read, staged)?;
        Ok(writer.finish(replace).await?)
    }
}

/// Stops before the swap when the heartbeat found the job claimed by another worker.
fn still_held(heartbeat: &JobHeartbeat) -> Result<(), Stop> {
    if heartbeat.lost() { Err(Stop::LeaseLost) } else { Ok(()) }
}

/// Staged rows read per query during the swap (the writer's batch size).
const SWAP_PAGE: u64 = 1_000;

/// The swap commits only if it read every row this attempt staged (a row gone means another
/// attempt cleared them: roll back, the job is redone).
fn check_read(read: u64, staged: u64) -> Result<(), Stop> {
    if read == staged { Ok(()) } else { Err(Stop::Interrupted(format!("the swap read {read} staged rows of {staged}; rolled back"))) }
}

fn encode<T: Serialize>(row: T) -> Result<String, StoreError> {
    serde_json::to_string(&row).map_err(|e| StoreError::Invalid(format!("staging a row: {e}")))
}

fn decode<T: for<'de> Deserialize<'de>>(row: &str) -> Result<T, StoreError> {
    serde_json::from_str(row).map_err(|e| StoreError::Invalid(format!("a staged row is not readable: {e}")))
}
