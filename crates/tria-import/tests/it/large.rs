//! A 100k-row catalogue generated on the fly: the importer reads it as a stream and hands it on
//! in batches of 1,000 with progress, holding no more than a batch of rows at a time.

use std::cell::Cell;
use std::io::Read;
use std::rc::Rc;

use tria_import::{Batch, Format, ProductRow, Progress};

use crate::support::catalogue;

const ROWS: u64 = 100_000;

/// A CSV catalogue of `rows` products, written as it is read; `produced` counts bytes handed out.
struct GeneratedCatalogue {
    rows: u64,
    next: u64,
    pending: Vec<u8>,
    offset: usize,
    produced: Rc<Cell<u64>>,
    json: bool,
}

impl GeneratedCatalogue {
    fn new(rows: u64, json: bool) -> (Self, Rc<Cell<u64>>) {
        let produced = Rc::new(Cell::new(0));
        let head = if json { b"[".to_vec() } else { b"sku,name,price,description,unit,stock,active,category\r\n".to_vec() };
        (Self { rows, next: 0, pending: head, offset: 0, produced: produced.clone(), json }, produced)
    }

    fn refill(&mut self) {
        self.pending.clear();
        self.offset = 0;
        if self.next == self.rows {
            if self.json {
                self.pending.extend_from_slice(b"]");
                self.next += 1;
            }
            return;
        }
        if self.next > self.rows {
            return;
        }
        let i = self.next;
        self.next += 1;
        let line = if self.json {
            let comma = if i + 1 < self.rows { "," } else { "" };
            format!(
                "{{\"sku\":\"GEN-{i:06}\",\"name\":\"Generated product {i}\",\"price\":\"{}.{:02}\",\"stock\":{},\"active\":true}}{comma}\n",
                i % 500,
                i % 100,
                i % 1000
            )
        } else {
            format!(
                "GEN-{i:06},\"Generated product {i}, size {}\",{}.{:02},\"A product made up for the import test, number {i}.\",case of 12,{},{},Cat {}\r\n",
                i % 7,
                i % 500,
                i % 100,
                i % 1000,
                if i.is_multiple_of(3) { "no" } else { "yes" },
                i % 20
            )
        };
        self.pending.extend_from_slice(line.as_bytes());
    }
}

impl Read for GeneratedCatalogue {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.offset == self.pending.len() {
            self.refill();
        }
        let n = (self.pending.len() - self.offset).min(buf.len());
        buf[..n].copy_from_slice(&self.pending[self.offset..self.offset + n]);
        self.offset += n;
        self.produced.set(self.produced.get() + n as u64);
        Ok(n)
    }
}

fn import_in_batches(json: bool, rows: u64) {
    let format = if json { Format::Json } else { Format::Csv };
    let importer = catalogue(format, "USD");
    let (source, produced) = GeneratedCatalogue::new(rows, json);
    let validated = importer.validate(source).expect("the generated catalogue is valid");
    assert_eq!(validated.rows(), rows);
    let total_bytes = produced.get();

    let (source, produced) = GeneratedCatalogue::new(rows, json);
    let mut progress: Vec<Progress> = Vec::new();
    let mut read_at_first_batch = None;
    let mut last: Option<ProductRow> = None;
    let done = importer
        .write(source, &validated, |batch: Batch<ProductRow>| -> Result<(), std::convert::Infallible> {
            assert!(batch.rows.len() <= 1_000, "a batch holds at most batch_size rows");
            read_at_first_batch.get_or_insert(produced.get());
            progress.push(batch.progress);
            last = batch.rows.into_iter().last();
            Ok(())
        })
        .expect("written");

    assert_eq!(done, Progress { done: rows, total: rows });
    assert_eq!(progress.len() as u64, rows.div_ceil(1_000));
    assert!(progress.windows(2).all(|w| w[1].done == w[0].done + 1_000 || w[1].done == rows), "{progress:?}");
    assert!(progress.iter().all(|p| p.total == rows));
    let last = last.expect("rows");
    assert_eq!(last.sku, format!("GEN-{:06}", rows - 1));
    // Streaming, not slurping: the first batch went out when only a sliver of the upload had
    // been read (the reader's buffers), so memory does not grow with the file.
    let first = read_at_first_batch.expect("a batch");
    assert!(first * 20 < total_bytes, "first batch after {first} of {total_bytes} bytes");
}

#[test]
fn a_100k_row_csv_catalogue_goes_out_in_batches_of_1000() {
    import_in_batches(false, ROWS);
}

#[test]
fn a_json_catalogue_streams_the_same_way() {
    import_in_batches(true, 30_000);
}

#[test]
fn a_source_that_changed_between_the_passes_is_refused() {
    let importer = catalogue(Format::Csv, "USD");
    let validated = importer.validate(&b"sku,name,price\nA,x,1\nB,y,2\n"[..]).expect("valid");
    let err = importer.write(&b"sku,name,price\nA,x,1\nB,y,3\n"[..], &validated, |_| Ok::<(), ()>(())).expect_err("changed");
    assert!(matches!(err, tria_import::WriteError::Import(tria_import::ImportError::SourceChanged)), "{err:?}");
}

#[test]
fn a_failing_sink_stops_the_write_with_its_error() {
    let importer = catalogue(Format::Csv, "USD").with_limits(tria_import::Limits { batch_size: 1, ..Default::default() });
    let body = b"sku,name,price\nA,x,1\nB,y,2\nC,z,3\n";
    let mut calls = 0;
    let err = importer
        .run(
            || Ok(&body[..]),
            |batch: Batch<ProductRow>| {
                calls += 1;
                if batch.progress.done == 2 { Err("disk full") } else { Ok(()) }
            },
        )
        .expect_err("sink failed");
    assert!(matches!(err, tria_import::WriteError::Sink("disk full")), "{err:?}");
    assert_eq!(calls, 2);
}
