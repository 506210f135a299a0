//! tria-ingest's integration tests: real sample documents under `fixtures/ingest/`, PDFs built
//! with lopdf, every error, and hostile input.

mod chunks;
mod errors;
mod hostile;
mod html;
mod markdown;
mod pdf;
mod support;
