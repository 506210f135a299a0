//! CSV uploads: a header row naming the columns in any order, then one row per record, read one
//! record at a time (the `csv` crate's reader over the upload; one record buffer, reused).

use std::io::{self, Read};

use csv::{ByteRecord, ReaderBuilder};

use crate::ImportError;
use crate::fields::Cell;
use crate::pipeline::{Collector, Halt};
use crate::report::{Problem, RowLocation};
use crate::schema::Schema;
use crate::source::Tracked;

pub(crate) fn read<R: Read, S: Schema>(source: &mut Tracked<R>, collector: &mut Collector<'_, S>) -> Result<(), Halt> {
    // Flexible: a ragged row is reported with its line like any other bad row, not a stop.
    // Records end at `\n` only, so every record but an unterminated last one consumes its line
    // break and line numbers can be worked out below; the `\r` of a CRLF is trimmed off the last
    // field like any surrounding space.
    let mut reader = ReaderBuilder::new().has_headers(false).flexible(true).terminator(csv::Terminator::Any(b'\n')).from_reader(source);
    let mut record = ByteRecord::new();
    if !reader.read_byte_record(&mut record).map_err(halt)? {
        return Err(ImportError::NoHeader.into());
    }
    let header = Header::read(&record, collector)?;
    // Lines inside quoted fields: a spreadsheet shows such a record as one row, so they are
    // taken off the line numbers of the rows after it.
    let mut embedded_newlines = newlines(&record);
    let mut lines_before = reader.position().line();
    while reader.read_byte_record(&mut record).map_err(halt)? {
        // The reader counts the line breaks it consumed: empty lines it skipped, the record's
        // own (inside quotes) and its terminator. Only an unterminated last record after empty
        // lines is ambiguous (it is then placed on the first of those lines).
        let lines_after = reader.position().line();
        let inside = newlines(&record);
        let consumed = lines_after.saturating_sub(lines_before);
        let last_line = lines_after - u64::from(consumed > inside);
        let first_line = last_line.saturating_sub(inside);
        lines_before = lines_after;
        let at = RowLocation::Line(first_line.saturating_sub(embedded_newlines));
        embedded_newlines += inside;
        if record.iter().all(|field| field.iter().all(u8::is_ascii_whitespace)) {
            collector.skip_blank_row();
            continue;
        }
        let mut fields: Vec<&str> = Vec::with_capacity(record.len());
        let mut not_utf8 = None;
        for (i, bytes) in record.iter().enumerate() {
            match std::str::from_utf8(bytes) {
                Ok(text) => fields.push(text.trim()),
                Err(_) => {
                    not_utf8 = Some(i);
                    break;
                }
            }
        }
        let key = header.key_field.and_then(|i| record.get(i)).and_then(|b| std::str::from_utf8(b).ok()).map(str::trim);
        if let Some(i) = not_utf8 {
            let column = header.names.get(i).map_or("past the last column", String::as_str);
            let reason = format!("is not valid UTF-8 (column {column:?}): save the file as UTF-8");
            collector.bad_row(at, key, Problem::row(reason))?;
            continue;
        }
        if record.len() != header.names.len() {
            let reason = format!("has {} fields; the header has {}", record.len(), header.names.len());
            collector.bad_row(at, key, Problem::row(reason))?;
            continue;
        }
        let cells: Vec<Cell<'_>> = header.field_of_column.iter().map(|f| f.map_or(Cell::Absent, |i| Cell::Text(fields[i]))).collect();
        collector.row(at, &cells)?;
    }
    Ok(())
}

/// The header row: the field that holds each schema column, and every field's name.
struct Header {
    field_of_column: Vec<Option<usize>>,
    key_field: Option<usize>,
    names: Vec<String>,
}

impl Header {
    fn read<S: Schema>(record: &ByteRecord, collector: &mut Collector<'_, S>) -> Result<Self, Halt> {
        let columns = collector.schema().columns();
        let mut field_of_column = vec![None; columns.len()];
        let mut names = Vec::with_capacity(record.len());
        for (i, bytes) in record.iter().enumerate() {
            let name = std::str::from_utf8(bytes).map_err(|_| ImportError::HeaderNotUtf8)?;
            // Names match whatever their case; a BOM a tool left inside the first name goes.
            let name = name.trim_start_matches('\u{feff}').trim().to_lowercase();
            match columns.iter().position(|c| c.name == name) {
                Some(c) if field_of_column[c].is_some() => return Err(ImportError::DuplicateColumn(name).into()),
                Some(c) => field_of_column[c] = Some(i),
                None if name.is_empty() => {}
                None => collector.note_unknown_column(&name),
            }
            names.push(name);
        }
        if names.iter().all(String::is_empty) {
            return Err(ImportError::NoHeader.into());
        }
        let missing: Vec<&'static str> =
            columns.iter().zip(&field_of_column).filter(|(c, field)| c.required && field.is_none()).map(|(c, _)| c.name).collect();
        if !missing.is_empty() {
            return Err(ImportError::MissingColumns { missing }.into());
        }
        Ok(Self { key_field: field_of_column[0], field_of_column, names })
    }
}

fn newlines(record: &ByteRecord) -> u64 {
    record.as_slice().iter().filter(|b| **b == b'\n').count() as u64
}

fn halt(err: csv::Error) -> Halt {
    match err.into_kind() {
        csv::ErrorKind::Io(e) => Halt::Io(e),
        other => Halt::Io(io::Error::other(format!("{other:?}"))),
    }
}
