//! tria-rag integration tests: the real embedding model (fetched by `cargo xtask model fetch`)
//! against the demo tenants' policies in a fresh SQLite store.

mod embedder;
mod retrieval;
mod support;
