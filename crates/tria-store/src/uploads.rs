//! A catalogue or customer upload from bytes to rows: [`tria_import`] checks every row first
//! (nothing is written when one is bad), then its rows reach the store in batches, all in one
//! transaction, so a failure half-way leaves the tenant's catalogue or customers as they were.
//!
//! The importer reads synchronously (CPU-bound, on a blocking thread); its batches cross to the
//! async writer through a channel of two, so memory is a couple of batches, not the upload.

use std::io::Cursor;

use bytes::Bytes;
use tokio::sync::mpsc;
use tria_core::TenantId;
use tria_import::{Batch, CustomerRow, Format, ImportError, ImportMode, Importer, Limits, ProductRow, Progress, Schema, Validated};

use crate::repo::{CustomerUpsert, ProductUpsert, UploadCounts};
use crate::{Store, StoreError};

/// What a clean upload did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UploadOutcome {
    pub mode: ImportMode,
    /// Data rows written (created + updated + unchanged).
    pub rows: u64,
    pub counts: UploadCounts,
    pub blank_rows_skipped: u64,
    /// Columns (or JSON keys) the upload had that are not read.
    pub unknown_columns: Vec<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum UploadError {
    /// The upload itself: bad rows (with the report), wrong type, too big. Nothing was written.
    #[error(transparent)]
    Import(#[from] ImportError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl UploadError {
    /// Whether the uploader can fix it.
    pub fn is_client_error(&self) -> bool {
        matches!(self, UploadError::Import(e) if e.is_client_error())
    }
}

/// An upload's bytes and how to read them.
#[derive(Clone, Debug)]
pub struct Upload {
    pub body: Bytes,
    pub format: Format,
    pub mode: ImportMode,
    pub limits: Limits,
}

impl Store {
    /// Checks the whole catalogue upload (prices in `currency`, the tenant's), then writes it:
    /// products upserted by SKU; with `replace`, products it does not list become inactive.
    pub async fn import_catalogue(
        &self,
        tenant: TenantId,
        currency: &str,
        upload: Upload,
        mut progress: impl FnMut(Progress) + Send,
    ) -> Result<UploadOutcome, UploadError> {
        let importer = Importer::catalogue(upload.format, tria_import::Currency::new(currency)?).with_limits(upload.limits);
        let validated = validate(&importer, &upload.body).await?;
        let mut writer = self.catalogue().begin_upload(tenant).await?;
        let (mut batches, reading) = read_batches(importer, upload.body.clone(), validated.clone());
        while let Some(batch) = batches.recv().await {
            writer.write(batch.rows.into_iter().map(product).collect()).await?;
            progress(batch.progress);
        }
        finish_reading(reading).await?;
        let counts = writer.finish(upload.mode == ImportMode::Replace).await?;
        Ok(outcome(upload.mode, counts, &validated))
    }

    /// Checks the whole customer upload, then writes it: customers upserted by customer number;
    /// with `replace`, customers it does not list become inactive.
    pub async fn import_customers(
        &self,
        tenant: TenantId,
        upload: Upload,
        mut progress: impl FnMut(Progress) + Send,
    ) -> Result<UploadOutcome, UploadError> {
        let importer = Importer::customers(upload.format).with_limits(upload.limits);
        let validated = validate(&importer, &upload.body).await?;
        let mut writer = self.customers().begin_upload(tenant).await?;
        let (mut batches, reading) = read_batches(importer, upload.body.clone(), validated.clone());
        while let Some(batch) = batches.recv().await {
            writer.write(batch.rows.into_iter().map(customer).collect()).await?;
            progress(batch.progress);
        }
        finish_reading(reading).await?;
        let counts = writer.finish(upload.mode == ImportMode::Replace).await?;
        Ok(outcome(upload.mode, counts, &validated))
    }
}

fn outcome(mode: ImportMode, counts: UploadCounts, validated: &Validated) -> UploadOutcome {
    UploadOutcome {
        mode,
        rows: counts.written(),
        counts,
        blank_rows_skipped: validated.blank_rows_skipped(),
        unknown_columns: validated.unknown_columns().to_vec(),
    }
}

/// The upsert a validated product row becomes (written here, staged by an import job).
pub(crate) fn product(row: ProductRow) -> ProductUpsert {
    ProductUpsert {
        sku: row.sku,
        name: row.name,
        unit_price_minor: row.unit_price_minor,
        currency: row.currency,
        description: row.description,
        unit: row.unit,
        stock: row.stock,
        active: row.active,
        category: row.category,
    }
}

/// The upsert a validated customer row becomes (written here, staged by an import job).
pub(crate) fn customer(row: CustomerRow) -> CustomerUpsert {
    CustomerUpsert { customer_number: row.customer_number, email: row.email, name: row.name, company: row.company, phone: row.phone }
}

/// The first pass, on a blocking thread (a 64 MB upload is a few hundred milliseconds of CPU).
async fn validate<S>(importer: &Importer<S>, body: &Bytes) -> Result<Validated, UploadError>
where
    S: Schema + Clone + Send + 'static,
{
    let (importer, body) = (importer.clone(), body.clone());
    tokio::task::spawn_blocking(move || importer.validate(Cursor::new(body)))
        .await
        .map_err(|e| StoreError::Invalid(format!("the upload's validation stopped: {e}")))?
        .map_err(UploadError::Import)
}

type Reading = tokio::task::JoinHandle<Result<Progress, tria_import::WriteError<()>>>;

/// The second pass on a blocking thread, its batches sent to the caller. When the caller stops
/// receiving (a batch failed to write), the send fails and the pass stops.
fn read_batches<S>(importer: Importer<S>, body: Bytes, validated: Validated) -> (mpsc::Receiver<Batch<S::Row>>, Reading)
where
    S: Schema + Send + 'static,
    S::Row: Send + 'static,
{
    let (tx, rx) = mpsc::channel(2);
    let reading =
        tokio::task::spawn_blocking(move || importer.write(Cursor::new(body), &validated, |batch| tx.blocking_send(batch).map_err(|_| ())));
    (rx, reading)
}

async fn finish_reading(reading: Reading) -> Result<(), UploadError> {
    match reading.await {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(tria_import::WriteError::Import(e))) => Err(e.into()),
        Ok(Err(tria_import::WriteError::Sink(()))) => Err(StoreError::Invalid("the upload's writer stopped".into()).into()),
        Err(e) => Err(StoreError::Invalid(format!("the upload's reader stopped: {e}")).into()),
    }
}
