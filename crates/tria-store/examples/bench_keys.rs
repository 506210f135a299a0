//! What `KeyRepo::authenticate` costs for (a) an unknown key whose 12-character
//! prefix belongs to a stored key, (b) an unknown key whose prefix no stored key has, and (c) a
//! valid key. (a) and (b) must cost the same, or the answer time tells an attacker which
//! prefixes exist. The three are measured interleaved, round after round and in rotating order,
//! so drift in the machine's speed falls on all of them alike.
//!
//! `cargo run --release -p tria-store --example bench_keys -- [--rounds N] [--database-url URL]`:
//! a throwaway SQLite file by default; `--database-url` measures another database (migrated,
//! keys added and revoked at the end), e.g. a scratch PostgreSQL database.
#![allow(clippy::print_stdout)] // a measurement tool: its report is its output

use std::time::Instant;

use tria_core::ApiRole;
use tria_store::repo::{generate_key, key_prefix};
use tria_store::{DbOptions, Store};

/// The value at percentile `p` (nearest rank).
fn percentile(values: &mut [f64], p: f64) -> f64 {
    values.sort_by(f64::total_cmp);
    let rank = ((p / 100.0) * values.len() as f64).ceil() as usize;
    values.get(rank.clamp(1, values.len().max(1)) - 1).copied().unwrap_or(0.0)
}

type Error = Box<dyn std::error::Error>;

fn main() -> Result<(), Error> {
    let mut rounds = 20_000;
    let mut database_url = None;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--rounds" => rounds = args.next().ok_or("--rounds N")?.parse()?,
            "--database-url" => database_url = Some(args.next().ok_or("--database-url URL")?),
            other => return Err(format!("unknown argument `{other}` (--rounds N, --database-url URL)").into()),
        }
    }
    run(rounds, database_url.as_deref())
}

/// Keys stored besides the valid one, so a lookup runs against a realistic index.
const STORED_KEYS: usize = 1000;

fn run(rounds: usize, database_url: Option<&str>) -> Result<(), Error> {
    let dir = tempfile::tempdir()?;
    let url = match database_url {
        Some(url) => url.to_owned(),
        None => format!("sqlite://{}?mode=rwc", dir.path().join("keys.db").display()),
    };
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(async {
        let store = Store::connect(&DbOptions::new(url)).await?;
        store.migrate().await?;
        let keys = store.keys();
        let mut ids = Vec::with_capacity(STORED_KEYS + 1);
        let mut stored = Vec::with_capacity(STORED_KEYS);
        for _ in 0..STORED_KEYS {
            let (info, plaintext) = keys.create(None, ApiRole::Admin, "bench keys").await?;
            ids.push(info.id);
            stored.push(plaintext);
        }
        let (valid_info, valid) = keys.create(None, ApiRole::Admin, "bench keys").await?;
        ids.push(valid_info.id);
        let prefixes: std::collections::HashSet<String> = stored.iter().map(|k| key_prefix(k)).collect();

        let (mut known_prefix, mut unknown_prefix, mut valid_key) = (Vec::new(), Vec::new(), Vec::new());
        for round in 0..rounds + 200 {
            // (a) a stored key's prefix with a different secret after it.
            let stored_key = &stored[round % stored.len()];
            let fresh = generate_key();
            let a = format!("{}{}", key_prefix(stored_key), &fresh[key_prefix(&fresh).len()..]);
            // (b) a fresh key, whose prefix no stored key has.
            let b = generate_key();
            if prefixes.contains(&key_prefix(&b)) {
                return Err("a fresh key's prefix exists; run again".into());
            }
            let mut cases = [(&a, false, &mut known_prefix), (&b, false, &mut unknown_prefix), (&valid, true, &mut valid_key)];
            // Each case goes first, second and third in turn: the order of the calls is no bias.
            cases.rotate_left(round % 3);
            for (key, expect, figures) in cases {
                let started = Instant::now();
                let found = keys.authenticate(key).await?;
                let elapsed = started.elapsed().as_secs_f64() * 1e6;
                if found.is_some() != expect {
                    return Err(format!("authenticate({key}) = {found:?}").into());
                }
                // The first rounds warm the pool and the database's caches.
                if round >= 200 {
                    figures.push(elapsed);
                }
            }
        }
        for id in ids {
            keys.revoke(id).await?;
        }
        println!(
            "authenticate() on {} ({}; {STORED_KEYS} stored keys, {rounds} rounds), µs p25 / p50 / p75:",
            if database_url.is_some() { "the given database" } else { "SQLite" },
            if cfg!(debug_assertions) { "DEBUG build" } else { "release build" }
        );
        for (name, figures) in [
            ("(a) unknown key, prefix exists", &mut known_prefix),
            ("(b) unknown key, prefix unknown", &mut unknown_prefix),
            ("(c) valid key", &mut valid_key),
        ] {
            let (p25, p50, p75) = (percentile(figures, 25.0), percentile(figures, 50.0), percentile(figures, 75.0));
            println!("- {name}: {p25:.1} / {p50:.1} / {p75:.1}");
        }
        Ok::<_, Error>(())
    })
}
