//! Shared helpers: run an upload through both passes and show what came back.

use tria_import::{Batch, Currency, CustomerRow, Format, ImportError, Importer, ProductRow, Validated};

pub(crate) fn catalogue(format: Format, currency: &str) -> Importer<tria_import::Catalogue> {
    Importer::catalogue(format, Currency::new(currency).expect("currency"))
}

/// Both passes over `body`; every row the sink received.
pub(crate) fn products(format: Format, currency: &str, body: &[u8]) -> Result<(Validated, Vec<ProductRow>), ImportError> {
    let importer = catalogue(format, currency);
    let mut rows = Vec::new();
    let validated = importer
        .run(
            || Ok(body),
            |batch: Batch<ProductRow>| -> Result<(), std::convert::Infallible> {
                rows.extend(batch.rows);
                Ok(())
            },
        )
        .map_err(|e| match e {
            tria_import::WriteError::Import(e) => e,
            tria_import::WriteError::Sink(never) => match never {},
        })?;
    Ok((validated, rows))
}

pub(crate) fn customers(format: Format, body: &[u8]) -> Result<(Validated, Vec<CustomerRow>), ImportError> {
    let importer = Importer::customers(format);
    let mut rows = Vec::new();
    let validated = importer
        .run(
            || Ok(body),
            |batch: Batch<CustomerRow>| -> Result<(), std::convert::Infallible> {
                rows.extend(batch.rows);
                Ok(())
            },
        )
        .map_err(|e| match e {
            tria_import::WriteError::Import(e) => e,
            tria_import::WriteError::Sink(never) => match never {},
        })?;
    Ok((validated, rows))
}

/// The bad rows of a rejected upload, one line each as a person reads them.
pub(crate) fn bad_rows<T: std::fmt::Debug>(result: Result<T, ImportError>) -> Vec<String> {
    match result {
        Err(ImportError::Rows(report)) => report.bad_rows.iter().map(ToString::to_string).collect(),
        other => panic!("expected a bad-row report, got {other:?}"),
    }
}
