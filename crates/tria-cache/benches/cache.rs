//! Cache latency: L1 hit, L2 hit over loopback Redis, L3 lookup over 100k entries, and the
//! cost of the switch to memory when Redis dies. Needs Redis on 127.0.0.1:6379 (or
//! `TRIA_TEST_REDIS_URL`) and `redis-server` on PATH for the fallback bench.
#![allow(clippy::print_stderr, clippy::unwrap_used)]

use std::hint::black_box;
use std::pin::pin;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use criterion::measurement::{Measurement, ValueFormatter};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use tria_cache::{AnswerCache, AnswerContext, AnswerQuery, CacheConfig, MatchRule, SemanticEntry, SemanticIndex, SemanticQuery};
use tria_core::{Answer, IntentLabel, TenantId};

/// Polls a future that never waits (the memory paths) without a runtime's overhead.
fn ready<F: Future>(future: F) -> F::Output {
    let mut future = pin!(future);
    match future.as_mut().poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(v) => v,
        Poll::Pending => panic!("expected an immediately ready future"),
    }
}

fn answer() -> Arc<Answer> {
    Arc::new(Answer::new(
        "Unopened items can be returned within 30 days for a full refund; refunds are issued within 5 business days.",
        IntentLabel::PolicyQuestion,
        0.92,
    ))
}

fn redis_url() -> String {
    std::env::var("TRIA_TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into())
}

fn prefix() -> String {
    format!("tria-bench-{}", std::process::id())
}

/// On-CPU time of the benchmarking thread (`CLOCK_THREAD_CPUTIME_ID`). The build machine is
/// shared and busy: wall time there also counts the time other processes held the CPU.
struct ThreadCpu;

fn thread_cpu_nanos() -> u64 {
    let t = rustix::time::clock_gettime(rustix::time::ClockId::ThreadCPUTime);
    u64::try_from(t.tv_sec).unwrap_or(0) * 1_000_000_000 + u64::try_from(t.tv_nsec).unwrap_or(0)
}

impl Measurement for ThreadCpu {
    type Intermediate = u64;
    type Value = u64;
    fn start(&self) -> u64 {
        thread_cpu_nanos()
    }
    fn end(&self, started: u64) -> u64 {
        thread_cpu_nanos().saturating_sub(started)
    }
    fn add(&self, a: &u64, b: &u64) -> u64 {
        a + b
    }
    fn zero(&self) -> u64 {
        0
    }
    fn to_f64(&self, v: &u64) -> f64 {
        *v as f64
    }
    fn formatter(&self) -> &dyn ValueFormatter {
        &CpuNanos
    }
}

struct CpuNanos;

impl ValueFormatter for CpuNanos {
    fn scale_values(&self, typical: f64, values: &mut [f64]) -> &'static str {
        let (factor, unit) = if typical < 1e3 {
            (1.0, "ns cpu")
        } else if typical < 1e6 {
            (1e-3, "µs cpu")
        } else {
            (1e-6, "ms cpu")
        };
        values.iter_mut().for_each(|v| *v *= factor);
        unit
    }
    fn scale_throughputs(&self, _typical: f64, _throughput: &Throughput, _values: &mut [f64]) -> &'static str {
        "ns cpu"
    }
    fn scale_for_machines(&self, _values: &mut [f64]) -> &'static str {
        "ns"
    }
}

fn l1_setup() -> (AnswerCache, TenantId, AnswerContext) {
    let cache = AnswerCache::in_memory(CacheConfig::default());
    let tenant = TenantId::new_random();
    let ctx = AnswerContext::default();
    let q = AnswerQuery { tenant, message: "What is your return policy?", context: &ctx };
    ready(cache.store(&q, answer(), None));
    (cache, tenant, ctx)
}

/// The L1 hit in on-CPU time (see [`ThreadCpu`]).
fn l1_hit_cpu(c: &mut Criterion<ThreadCpu>) {
    let (cache, tenant, ctx) = l1_setup();
    let q = AnswerQuery { tenant, message: "What is your return policy?", context: &ctx };
    assert!(ready(cache.lookup_exact(&q)).is_some());
    c.bench_function("l1_hit_cpu", |b| b.iter(|| ready(cache.lookup_exact(black_box(&q))).unwrap()));
    // A customer's conversation: the scope is set, the answer still shared.
    let scoped = AnswerContext { scope: Some("conversation:1".into()), ..AnswerContext::default() };
    let q = AnswerQuery { tenant, message: "What is your return policy?", context: &scoped };
    assert!(ready(cache.lookup_exact(&q)).is_some());
    c.bench_function("l1_hit_in_conversation_cpu", |b| b.iter(|| ready(cache.lookup_exact(black_box(&q))).unwrap()));
}

fn l1_hit(c: &mut Criterion) {
    let (cache, tenant, ctx) = l1_setup();
    let q = AnswerQuery { tenant, message: "What is your return policy?", context: &ctx };
    assert!(ready(cache.lookup_exact(&q)).is_some());
    c.bench_function("l1_hit", |b| b.iter(|| ready(cache.lookup_exact(black_box(&q))).unwrap()));
}

fn l2_hit(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let mut config = CacheConfig { redis_url: Some(redis_url()), key_prefix: prefix(), ..CacheConfig::default() };
    config.l1.enabled = false;
    let cache = rt.block_on(AnswerCache::connect(config, Duration::from_secs(3))).unwrap();
    assert_eq!(rt.block_on(cache.health()).as_str(), "ok", "Redis is not reachable at {}", redis_url());
    let tenant = TenantId::new_random();
    let ctx = AnswerContext::default();
    let q = AnswerQuery { tenant, message: "What is your return policy?", context: &ctx };
    rt.block_on(cache.store(&q, answer(), None));
    assert!(rt.block_on(cache.lookup_exact(&q)).is_some());
    c.bench_function("l2_hit_loopback", |b| b.iter(|| rt.block_on(cache.lookup_exact(black_box(&q))).unwrap()));
    let _ = rt.block_on(cache.invalidate_pattern(&format!("{}:*", prefix())));
}

fn pseudo_vector(seed: u64, dim: usize) -> Vec<f32> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..dim)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 40) as f32 / (1u64 << 24) as f32 - 0.5
        })
        .collect()
}

/// 100k entries in one tenant+intent partition and a query near entry 77,777.
fn l3_setup() -> (SemanticIndex, TenantId, Vec<f32>) {
    const N: u64 = 100_000;
    let index = SemanticIndex::new(N as usize + 1);
    let tenant = TenantId::new_random();
    let far = Instant::now() + Duration::from_secs(3600);
    let shared = answer();
    for i in 0..N {
        let v = pseudo_vector(i, 384);
        let entry = SemanticEntry {
            id: format!("e{i}"),
            text: String::new(),
            vector: &v,
            entities: vec![],
            evidence: vec![],
            answer: shared.clone(),
            expires_at: far,
        };
        index.insert(tenant, IntentLabel::PolicyQuestion, entry);
    }
    let mut query = pseudo_vector(77_777, 384);
    for x in query.iter_mut().take(20) {
        *x += 0.02;
    }
    (index, tenant, query)
}

fn l3_lookup(c: &mut Criterion) {
    let (index, tenant, query) = l3_setup();
    let q = SemanticQuery { vector: &query, message: "", entities: &[], evidence: &[] };
    let rule = MatchRule::cosine(0.9);
    assert_eq!(index.search(tenant, IntentLabel::PolicyQuestion, &q, rule).unwrap().id, "e77777");
    c.bench_function("l3_lookup_100k", |b| b.iter(|| index.search(tenant, IntentLabel::PolicyQuestion, black_box(&q), rule).unwrap()));
}

/// The L3 lookup in on-CPU time (see [`ThreadCpu`]).
fn l3_lookup_cpu(c: &mut Criterion<ThreadCpu>) {
    let (index, tenant, query) = l3_setup();
    let q = SemanticQuery { vector: &query, message: "", entities: &[], evidence: &[] };
    let rule = MatchRule::cosine(0.9);
    c.bench_function("l3_lookup_100k_cpu", |b| b.iter(|| index.search(tenant, IntentLabel::PolicyQuestion, black_box(&q), rule).unwrap()));
}

/// The evidence rule's worst case on top of the scan: every one of the 64 re-ranked candidates
/// is above the evidence threshold and none agrees, so agreement (32 passages each side) is
/// computed 64 times and the lookup misses. 10k entries (over the exact-scan limit, so the
/// re-rank path runs); each entry carries 32 evidence passages.
fn l3_lookup_evidence_cpu(c: &mut Criterion<ThreadCpu>) {
    const N: u64 = 10_000;
    let index = SemanticIndex::new(N as usize + 1);
    let tenant = TenantId::new_random();
    let far = Instant::now() + Duration::from_secs(3600);
    let shared = answer();
    let stored: Vec<(String, f32)> = (0..32).map(|i| (format!("{:016x}", i * 7919), 0.6 - i as f32 * 0.005)).collect();
    for i in 0..N {
        let v = pseudo_vector(i, 384);
        let entry = SemanticEntry {
            id: format!("e{i}"),
            text: String::new(),
            vector: &v,
            entities: vec![],
            evidence: stored.clone(),
            answer: shared.clone(),
            expires_at: far,
        };
        index.insert(tenant, IntentLabel::PolicyQuestion, entry);
    }
    let query = pseudo_vector(4_242, 384);
    let other: Vec<(String, f32)> = (0..32).map(|i| (format!("{:016x}", 1_000_003 + i * 7919), 0.6 - i as f32 * 0.005)).collect();
    let q = SemanticQuery { vector: &query, message: "", entities: &[], evidence: &other };
    let rule = MatchRule { threshold: 2.0, evidence_threshold: -1.0, evidence_agreement: 0.5 };
    assert!(index.search(tenant, IntentLabel::PolicyQuestion, &q, rule).is_none());
    c.bench_function("l3_lookup_10k_evidence_worst_cpu", |b| {
        b.iter(|| index.search(tenant, IntentLabel::PolicyQuestion, black_box(&q), rule).is_none())
    });
}

/// Kills a private Redis under a connected cache and times the first requests after its death,
/// then benches lookups while degraded.
fn fallback_switch(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let mut child = Command::new("redis-server")
        .args(["--port", &port.to_string(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
        .stdout(Stdio::null())
        .spawn()
        .expect("redis-server on PATH");
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        std::thread::sleep(Duration::from_millis(20));
    }
    let mut config = CacheConfig { redis_url: Some(format!("redis://127.0.0.1:{port}")), key_prefix: prefix(), ..CacheConfig::default() };
    config.l1.enabled = false;
    let cache = rt.block_on(AnswerCache::connect(config, Duration::from_secs(3))).unwrap();
    let tenant = TenantId::new_random();
    let ctx = AnswerContext::default();
    let q = AnswerQuery { tenant, message: "What is your return policy?", context: &ctx };
    rt.block_on(cache.store(&q, answer(), None));
    child.kill().unwrap();
    child.wait().unwrap();
    let mut firsts = Vec::new();
    for _ in 0..5 {
        let started = Instant::now();
        let hit = rt.block_on(cache.lookup_exact(&q));
        firsts.push(started.elapsed());
        assert!(hit.is_some(), "served from memory after Redis died");
    }
    eprintln!("fallback_switch: first requests after Redis died took {firsts:?}; health {:?}", rt.block_on(cache.health()));
    c.bench_function("fallback_degraded_lookup", |b| b.iter(|| rt.block_on(cache.lookup_exact(black_box(&q))).unwrap()));
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(50).measurement_time(Duration::from_secs(3)).warm_up_time(Duration::from_secs(1));
    targets = l1_hit, l2_hit, l3_lookup, fallback_switch
}
criterion_group! {
    name = cpu;
    config = Criterion::default().with_measurement(ThreadCpu).sample_size(50).measurement_time(Duration::from_secs(3)).warm_up_time(Duration::from_secs(1));
    targets = l1_hit_cpu, l3_lookup_cpu, l3_lookup_evidence_cpu
}
criterion_main!(cpu, benches);
