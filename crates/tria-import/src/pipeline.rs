//! The two passes over an upload (see the crate doc): [`Importer::validate`] checks and counts,
//! [`Importer::write`] hands validated rows to the caller's sink in batches.

use std::collections::hash_map::Entry;
use std::collections::{BTreeSet, HashMap};
use std::io::{self, Read};

use serde::Serialize;

use crate::fields::{Cell, key_text};
use crate::report::{Problem, RowLocation, RowReport};
use crate::schema::{Catalogue, Customers, RowCells, Schema};
use crate::source::{Fingerprint, Tracked};
use crate::{Currency, Format, ImportError, Limits, WriteError, csv_source, json_source};

/// Reads one kind of upload in one format.
#[derive(Clone, Debug)]
pub struct Importer<S> {
    schema: S,
    format: Format,
    limits: Limits,
}

/// A clean upload: how many rows it has, and what was ignored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Validated {
    rows: u64,
    blank_rows_skipped: u64,
    unknown_columns: Vec<String>,
    fingerprint: Fingerprint,
}

impl Validated {
    /// Data rows, each of which the write pass hands to the sink.
    pub fn rows(&self) -> u64 {
        self.rows
    }

    /// CSV rows whose every cell is empty (spreadsheets export trailing empty rows).
    pub fn blank_rows_skipped(&self) -> u64 {
        self.blank_rows_skipped
    }

    /// Header columns (CSV) or object keys (JSON) this upload kind does not read, in name
    /// order, at most [`MAX_UNKNOWN_COLUMNS`]: worth showing, since a misspelt optional column
    /// is otherwise silently not imported.
    pub fn unknown_columns(&self) -> &[String] {
        &self.unknown_columns
    }
}

/// Unknown column names remembered at most.
pub const MAX_UNKNOWN_COLUMNS: usize = 50;

/// How far the write pass is: rows handed to the sink so far, of all rows.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Progress {
    pub done: u64,
    pub total: u64,
}

/// Up to [`Limits::batch_size`] rows, in file order, and the progress once they are written.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Batch<Row> {
    pub rows: Vec<Row>,
    pub progress: Progress,
}

impl Importer<Catalogue> {
    pub fn catalogue(format: Format, tenant_currency: Currency) -> Self {
        Self::new(Catalogue::new(tenant_currency), format)
    }
}

impl Importer<Customers> {
    pub fn customers(format: Format) -> Self {
        Self::new(Customers, format)
    }
}

impl<S: Schema> Importer<S> {
    pub fn new(schema: S, format: Format) -> Self {
        Self { schema, format, limits: Limits::default() }
    }

    pub fn with_limits(mut self, limits: Limits) -> Self {
        self.limits = Limits { batch_size: limits.batch_size.max(1), ..limits };
        self
    }

    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// The first pass: reads the whole upload and checks every row. Bad rows come back as
    /// [`ImportError::Rows`] with all of them listed (up to the cap) and counted.
    pub fn validate(&self, source: impl Read) -> Result<Validated, ImportError> {
        let mut collector = Collector::new(&self.schema, self.limits, Mode::Validate(Validating::default()));
        let fingerprint = self.drive(source, &mut collector).map_err(|halt| halt.into_import_error())?;
        let (rows, blank_rows_skipped, unknown_columns) = (collector.rows, collector.blank_rows, collector.unknown_columns);
        match collector.mode {
            Mode::Validate(v) if v.report.total_bad_rows > 0 => Err(ImportError::Rows(RowReport { rows_checked: rows, ..v.report })),
            _ => Ok(Validated { rows, blank_rows_skipped, unknown_columns: unknown_columns.into_iter().collect(), fingerprint }),
        }
    }

    /// The second pass over the same bytes: hands every row to `sink` in batches. If the bytes
    /// are not those `validated` saw, fails with [`ImportError::SourceChanged`] — possibly after
    /// some batches, which the caller then rolls back (a spooled upload never changes).
    pub fn write<R: Read, E>(
        &self,
        source: R,
        validated: &Validated,
        mut sink: impl FnMut(Batch<S::Row>) -> Result<(), E>,
    ) -> Result<Progress, WriteError<E>> {
        let mut sink_error = None;
        let mut forward = |batch: Batch<S::Row>| sink(batch).map_err(|e| sink_error = Some(e));
        let writing = Writing { batch: Vec::with_capacity(self.limits.batch_size), done: 0, total: validated.rows, sink: &mut forward };
        let mut collector = Collector::new(&self.schema, self.limits, Mode::Write(writing));
        let outcome = self.drive(source, &mut collector).and_then(|fingerprint| {
            let same = fingerprint == validated.fingerprint
                && collector.rows == validated.rows
                && collector.blank_rows == validated.blank_rows_skipped;
            if !same {
                return Err(Halt::Import(ImportError::SourceChanged));
            }
            collector.flush()
        });
        let done = match &collector.mode {
            Mode::Write(w) => w.done,
            Mode::Validate(_) => 0,
        };
        drop(collector);
        match outcome {
            Ok(()) => Ok(Progress { done, total: validated.rows }),
            Err(Halt::Sink) => Err(sink_error.map_or(WriteError::Import(ImportError::SourceChanged), WriteError::Sink)),
            Err(halt) => Err(WriteError::Import(halt.into_import_error())),
        }
    }

    /// Both passes over a source opened twice (a spooled file, a stored blob).
    pub fn run<R: Read, E>(
        &self,
        mut open: impl FnMut() -> io::Result<R>,
        sink: impl FnMut(Batch<S::Row>) -> Result<(), E>,
    ) -> Result<Validated, WriteError<E>> {
        let validated = self.validate(open().map_err(ImportError::Io)?)?;
        self.write(open().map_err(ImportError::Io)?, &validated, sink)?;
        Ok(validated)
    }

    fn drive<R: Read>(&self, source: R, collector: &mut Collector<'_, S>) -> Result<Fingerprint, Halt> {
        let mut tracked = Tracked::open(source, self.limits.max_bytes)?;
        let outcome = match self.format {
            Format::Csv => csv_source::read(&mut tracked, collector),
            Format::Json => json_source::read(&mut tracked, collector),
        };
        match outcome {
            Ok(()) => Ok(tracked.fingerprint()),
            Err(Halt::Io(e)) => Err(Halt::Import(tracked.error(e))),
            Err(_) if tracked.is_over_limit() => Err(Halt::Import(ImportError::TooBig { limit: self.limits.max_bytes })),
            Err(halt) => Err(halt),
        }
    }
}

/// Why reading stopped early.
#[derive(Debug)]
pub(crate) enum Halt {
    Import(ImportError),
    /// A read failed; whether it was the size limit only the [`Tracked`] source knows.
    Io(io::Error),
    /// The sink failed; its error is kept by [`Importer::write`].
    Sink,
}

impl From<ImportError> for Halt {
    fn from(e: ImportError) -> Self {
        Halt::Import(e)
    }
}

impl Halt {
    fn into_import_error(self) -> ImportError {
        match self {
            Halt::Import(e) => e,
            Halt::Io(e) => ImportError::Io(e),
            Halt::Sink => ImportError::SourceChanged,
        }
    }
}

#[derive(Default)]
struct Validating {
    /// Every key seen and where first: the key set is the first pass's only memory that grows
    /// with the upload (bounded by `max_rows` × the key length limit).
    seen: HashMap<Box<str>, RowLocation>,
    report: RowReport,
}

struct Writing<'s, Row> {
    batch: Vec<Row>,
    done: u64,
    total: u64,
    sink: &'s mut dyn FnMut(Batch<Row>) -> Result<(), ()>,
}

enum Mode<'s, Row> {
    Validate(Validating),
    Write(Writing<'s, Row>),
}

/// Receives rows from a format reader (CSV or JSON) and checks, counts or batches them.
pub(crate) struct Collector<'s, S: Schema> {
    schema: &'s S,
    limits: Limits,
    rows: u64,
    blank_rows: u64,
    unknown_columns: BTreeSet<String>,
    mode: Mode<'s, S::Row>,
}

impl<'s, S: Schema> Collector<'s, S> {
    fn new(schema: &'s S, limits: Limits, mode: Mode<'s, S::Row>) -> Self {
        Self { schema, limits, rows: 0, blank_rows: 0, unknown_columns: BTreeSet::new(), mode }
    }

    pub(crate) fn schema(&self) -> &S {
        self.schema
    }

    pub(crate) fn note_unknown_column(&mut self, name: &str) {
        if self.unknown_columns.len() < MAX_UNKNOWN_COLUMNS && !self.unknown_columns.contains(name) {
            self.unknown_columns.insert(name.to_owned());
        }
    }

    pub(crate) fn skip_blank_row(&mut self) {
        self.blank_rows += 1;
    }

    fn count_row(&mut self) -> Result<(), Halt> {
        self.rows += 1;
        if self.rows > self.limits.max_rows {
            return Err(ImportError::TooManyRows { limit: self.limits.max_rows }.into());
        }
        Ok(())
    }

    /// A row the format reader already found bad (ragged, not UTF-8, not a JSON object).
    pub(crate) fn bad_row(&mut self, at: RowLocation, key: Option<&str>, problem: Problem) -> Result<(), Halt> {
        self.count_row()?;
        match &mut self.mode {
            Mode::Validate(v) => {
                v.report.push(at, key, vec![problem], self.limits.max_reported_rows);
                Ok(())
            }
            Mode::Write(_) => Err(ImportError::SourceChanged.into()),
        }
    }

    /// A row's cells in the schema's column order.
    pub(crate) fn row(&mut self, at: RowLocation, cells: &[Cell<'_>]) -> Result<(), Halt> {
        self.count_row()?;
        let mut problems = Vec::new();
        let parsed = self.schema.parse_row(RowCells(cells), &mut problems);
        let key_cell = cells.first().copied().unwrap_or(Cell::Absent);
        match &mut self.mode {
            Mode::Validate(v) => {
                let key = key_text(key_cell);
                if let Some(key) = &key {
                    match v.seen.entry(key.as_ref().into()) {
                        Entry::Occupied(first) => {
                            let reason = format!("duplicate {} {key:?} (first at {})", self.schema.key_column(), first.get());
                            problems.push(Problem::in_column(self.schema.key_column(), reason));
                        }
                        Entry::Vacant(slot) => {
                            slot.insert(at);
                        }
                    }
                }
                if !problems.is_empty() {
                    v.report.push(at, key.as_deref(), problems, self.limits.max_reported_rows);
                }
                Ok(())
            }
            Mode::Write(w) => {
                let row = parsed.ok_or(Halt::Import(ImportError::SourceChanged))?;
                w.batch.push(row);
                if w.batch.len() >= self.limits.batch_size { self.flush() } else { Ok(()) }
            }
        }
    }

    fn flush(&mut self) -> Result<(), Halt> {
        let Mode::Write(w) = &mut self.mode else { return Ok(()) };
        if w.batch.is_empty() {
            return Ok(());
        }
        let rows = std::mem::replace(&mut w.batch, Vec::with_capacity(self.limits.batch_size));
        w.done += rows.len() as u64;
        if w.done > w.total {
            return Err(ImportError::SourceChanged.into());
        }
        (w.sink)(Batch { rows, progress: Progress { done: w.done, total: w.total } }).map_err(|()| Halt::Sink)
    }
}
