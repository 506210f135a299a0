//! How long reading a 100k-row catalogue takes, and the peak memory it needs: writes a generated
//! CSV and JSON catalogue to temporary files, then validates and "writes" each (the sink only
//! counts). `cargo run --release -p tria-import --example import_100k [rows]`.

#![allow(clippy::print_stdout, reason = "an example reports on stdout")]

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;
use std::time::Instant;

use tria_import::{Batch, Currency, Format, Importer, ProductRow};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let rows: u64 = std::env::args().nth(1).map(|n| n.parse()).transpose()?.unwrap_or(100_000);
    let dir = std::env::temp_dir().join(format!("tria-import-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    for format in [Format::Csv, Format::Json] {
        let path = dir.join(if format == Format::Csv { "catalogue.csv" } else { "catalogue.json" });
        generate(&path, rows, format)?;
        let size = std::fs::metadata(&path)?.len();
        let importer = Importer::catalogue(format, Currency::new("USD")?);
        let rss_before = peak_rss_kib();
        let started = Instant::now();
        let validated = importer.validate(File::open(&path)?)?;
        let validate_time = started.elapsed();
        let started = Instant::now();
        let mut batches = 0;
        let progress = importer.write(File::open(&path)?, &validated, |batch: Batch<ProductRow>| {
            batches += 1;
            std::hint::black_box(&batch.rows);
            Ok::<(), std::convert::Infallible>(())
        })?;
        let write_time = started.elapsed();
        println!(
            "{format:?}: {rows} rows, {:.1} MB; validate {:.0} ms, write pass {:.0} ms ({batches} batches, {}/{}); peak RSS {} → {} MiB",
            size as f64 / 1e6,
            validate_time.as_secs_f64() * 1e3,
            write_time.as_secs_f64() * 1e3,
            progress.done,
            progress.total,
            rss_before / 1024,
            peak_rss_kib() / 1024,
        );
    }
    std::fs::remove_dir_all(&dir)?;
    Ok(())
}

fn generate(path: &Path, rows: u64, format: Format) -> std::io::Result<()> {
    let mut out = BufWriter::new(File::create(path)?);
    let description = "A product made up for the import benchmark, with a description of a realistic length for a catalogue.";
    match format {
        Format::Csv => {
            writeln!(out, "sku,name,price,description,unit,stock,active,category")?;
            for i in 0..rows {
                writeln!(
                    out,
                    "GEN-{i:06},\"Generated product {i}, size {}\",{}.{:02},\"{description}\",case of 12,{},yes,Cat {}",
                    i % 7,
                    i % 500,
                    i % 100,
                    i % 1000,
                    i % 20
                )?;
            }
        }
        Format::Json => {
            writeln!(out, "[")?;
            for i in 0..rows {
                let comma = if i + 1 < rows { "," } else { "" };
                writeln!(
                    out,
                    "{{\"sku\":\"GEN-{i:06}\",\"name\":\"Generated product {i}, size {}\",\"price\":{}.{:02},\"description\":\"{description}\",\"unit\":\"case of 12\",\"stock\":{},\"active\":true,\"category\":\"Cat {}\"}}{comma}",
                    i % 7,
                    i % 500,
                    i % 100,
                    i % 1000,
                    i % 20
                )?;
            }
            writeln!(out, "]")?;
        }
    }
    out.flush()
}

/// The process's peak resident set (`VmHWM`), in KiB; 0 where `/proc` is not there.
fn peak_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| s.lines().find(|l| l.starts_with("VmHWM:")).and_then(|l| l.split_whitespace().nth(1)?.parse().ok()))
        .unwrap_or(0)
}
