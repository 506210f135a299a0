//! One test binary for the crate (see CONVENTIONS.md §11): a module per area.

mod catalogue_csv;
mod customers;
mod json;
mod large;
mod never_panics;
mod support;
