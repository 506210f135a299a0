//! A mock LLM that speaks one provider's protocol — OpenAI-compatible
//! (`POST /v1/chat/completions`), Anthropic Messages (`POST /v1/messages`) or Azure OpenAI
//! (`POST /openai/deployments/{deployment}/chat/completions?api-version=…`) — plain and
//! streamed, replying with sentences from the grounding block it was sent. Latency, jitter,
//! error and 429 rates and streaming pace are configurable and seeded; tests can also script
//! exact faults. The Anthropic and Azure doubles refuse what the real API refuses (headers, URL,
//! body shape; see `strict`).
//!
//! In tests: `let mock = MockServer::start(MockConfig::default()).await?;` then point a client
//! at `mock.base_url()`; `mock.push_faults([...])` scripts the next responses.

mod strict;
mod wire;

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use bytes::Bytes;
use futures::StreamExt;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::Deserialize;
use tokio::task::JoinHandle;
pub use tria_llm::Provider;

use crate::strict::Asked;
use crate::wire::{Counted, Frames};

/// How the mock behaves when no fault is scripted.
#[derive(Clone, Debug)]
pub struct MockConfig {
    /// Reported as the answering model.
    pub model: String,
    /// Fixed delay before the response head.
    pub latency: Duration,
    /// Extra random delay, uniform in `[0, jitter]`.
    pub jitter: Duration,
    /// Share of requests answered with a 500 or 503, in `[0, 1]`.
    pub error_rate: f64,
    /// Share of requests answered with a 429, in `[0, 1]`.
    pub rate_limit_rate: f64,
    /// The `Retry-After` the 429s carry (whole seconds on the wire).
    pub retry_after: Duration,
    /// Delay between streamed tokens.
    pub token_delay: Duration,
    /// Seed of every random choice (delays, errors, reply length); same seed, same sequence.
    pub seed: u64,
    /// Pick 1..=`max_sentences` grounding sentences at random instead of always the maximum,
    /// for evals that measure consistency under variability.
    pub vary_replies: bool,
    /// Grounding sentences echoed per reply.
    pub max_sentences: usize,
    /// The protocol spoken (and checked). For Azure the one deployment is named `model`.
    pub protocol: Provider,
}

impl Default for MockConfig {
    fn default() -> Self {
        Self {
            model: "tria-mock".to_owned(),
            latency: Duration::ZERO,
            jitter: Duration::ZERO,
            error_rate: 0.0,
            rate_limit_rate: 0.0,
            retry_after: Duration::from_secs(1),
            token_delay: Duration::ZERO,
            seed: 42,
            vary_replies: false,
            max_sentences: 2,
            protocol: Provider::OpenAi,
        }
    }
}

/// A scripted outcome for the next request (scripted faults are used before random ones).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Fault {
    /// Answer normally (useful to place a success inside a script).
    None,
    /// This HTTP status with the protocol's error body (Anthropic: 529 is `overloaded_error`).
    Status(u16),
    /// 429 with `Retry-After: secs`.
    RateLimited { retry_after_secs: u64 },
    /// Wait this long before answering at all.
    Hang(Duration),
    /// Stream two tokens, then a line that is not JSON.
    MalformedSse,
    /// Stream two tokens, then break the connection.
    ResetMidStream,
    /// Stream two tokens, then end the body cleanly without `[DONE]`.
    TruncatedStream,
    /// Stream two tokens, then the protocol's in-band error (Anthropic: an `error` event with
    /// `overloaded_error`; OpenAI/Azure: a `data: {"error":…}` chunk with code 500).
    StreamError,
    /// Answer normally but without a `usage` object.
    NoUsage,
    /// Answer with exactly this text instead of the grounded echo (a model that invents, leaks
    /// or rambles, for the agent's guard tests).
    Reply(String),
    /// Streamed: the response head at once, the first token only after this long (plain: the
    /// answer after this long).
    SlowFirstToken(Duration),
    /// Streamed: two tokens, then nothing more, the connection held open (plain: half the JSON
    /// body, then nothing more).
    StallMidStream,
    /// HTTP 200 with well-formed JSON that is not the protocol's answer (streamed: such chunks).
    WrongJson,
}

impl Fault {
    /// A standing fault by its command-line name: `hung`, `500`, `503`, `slow-first-token`,
    /// `stall`, `429`, `malformed-sse`, `wrong-json`, `reset`.
    pub fn from_name(name: &str, retry_after_secs: u64) -> Result<Fault, String> {
        Ok(match name {
            "hung" => Fault::Hang(Duration::from_secs(3600)),
            "500" => Fault::Status(500),
            "503" => Fault::Status(503),
            "slow-first-token" => Fault::SlowFirstToken(Duration::from_secs(30)),
            "stall" => Fault::StallMidStream,
            "429" => Fault::RateLimited { retry_after_secs },
            "malformed-sse" => Fault::MalformedSse,
            "wrong-json" => Fault::WrongJson,
            "reset" => Fault::ResetMidStream,
            other => {
                return Err(format!(
                    "unknown fault `{other}` (hung, 500, 503, slow-first-token, stall, 429, malformed-sse, wrong-json, reset)"
                ));
            }
        })
    }
}

/// What the mock has seen.
#[derive(Clone, Debug, Default)]
pub struct MockStats {
    pub requests: u64,
    /// Most requests being answered at the same time.
    pub max_in_flight: usize,
    /// Requests being answered now (a stream counts until its body ends or the client leaves).
    pub in_flight: usize,
    /// When each request arrived, in order.
    pub arrivals: Vec<Instant>,
}

struct Shared {
    config: MockConfig,
    rng: Mutex<StdRng>,
    script: Mutex<VecDeque<Fault>>,
    /// The fault of every request no scripted fault is left for.
    standing: Mutex<Option<Fault>>,
    requests: AtomicU64,
    in_flight: AtomicUsize,
    max_in_flight: AtomicUsize,
    arrivals: Mutex<Vec<Instant>>,
}

impl Shared {
    fn rng<T>(&self, f: impl FnOnce(&mut StdRng) -> T) -> T {
        f(&mut self.rng.lock().unwrap_or_else(PoisonError::into_inner))
    }
}

/// Counts a request as in flight until dropped (for streams: until the body ends).
struct InFlight(Arc<Shared>);

impl InFlight {
    fn enter(shared: &Arc<Shared>) -> Self {
        let now = shared.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        shared.max_in_flight.fetch_max(now, Ordering::SeqCst);
        Self(Arc::clone(shared))
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::SeqCst);
    }
}

/// A running mock on a local port; stops when dropped.
pub struct MockServer {
    addr: SocketAddr,
    shared: Arc<Shared>,
    task: JoinHandle<()>,
}

impl std::fmt::Debug for MockServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MockServer").field("addr", &self.addr).finish_non_exhaustive()
    }
}

impl MockServer {
    /// Starts on an ephemeral port of 127.0.0.1.
    pub async fn start(config: MockConfig) -> std::io::Result<Self> {
        Self::bind(config, SocketAddr::from(([127, 0, 0, 1], 0))).await
    }

    pub async fn bind(config: MockConfig, addr: SocketAddr) -> std::io::Result<Self> {
        let listener = tokio::net::TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let (router, shared) = router(config);
        let task = tokio::spawn(async move {
            if let Err(e) = axum::serve(listener, router).await {
                tracing::error!(error = %e, "mock LLM server stopped");
            }
        });
        Ok(Self { addr, shared, task })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The base URL a client of the protocol wants: `http://127.0.0.1:PORT/v1` for OpenAI,
    /// `http://127.0.0.1:PORT` for Anthropic (the client appends `/v1/messages`) and Azure
    /// (the resource endpoint).
    pub fn base_url(&self) -> String {
        match self.shared.config.protocol {
            Provider::OpenAi => format!("http://{}/v1", self.addr),
            Provider::Anthropic | Provider::Azure => format!("http://{}", self.addr),
        }
    }

    /// Queues outcomes for the next requests, in order.
    pub fn push_faults(&self, faults: impl IntoIterator<Item = Fault>) {
        self.shared.script.lock().unwrap_or_else(PoisonError::into_inner).extend(faults);
    }

    /// Makes every request (after any scripted ones) fail with `fault` until set to `None`: a
    /// provider that is down, not one that fails once.
    pub fn set_fault(&self, fault: Option<Fault>) {
        *self.shared.standing.lock().unwrap_or_else(PoisonError::into_inner) = fault;
    }

    pub fn stats(&self) -> MockStats {
        MockStats {
            requests: self.shared.requests.load(Ordering::SeqCst),
            max_in_flight: self.shared.max_in_flight.load(Ordering::SeqCst),
            in_flight: self.shared.in_flight.load(Ordering::SeqCst),
            arrivals: self.shared.arrivals.lock().unwrap_or_else(PoisonError::into_inner).clone(),
        }
    }

    /// Runs until the task ends (the binary's main loop).
    pub async fn wait(self) {
        let _ = (&mut { self }.task).await;
    }
}

impl Drop for MockServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// The mock's routes, for serving on a listener of your own.
fn router(config: MockConfig) -> (Router, Arc<Shared>) {
    let shared = Arc::new(Shared {
        rng: Mutex::new(StdRng::seed_from_u64(config.seed)),
        config,
        script: Mutex::new(VecDeque::new()),
        standing: Mutex::new(None),
        requests: AtomicU64::new(0),
        in_flight: AtomicUsize::new(0),
        max_in_flight: AtomicUsize::new(0),
        arrivals: Mutex::new(Vec::new()),
    });
    let router = match shared.config.protocol {
        Provider::OpenAi => Router::new().route("/v1/chat/completions", post(openai)).route("/chat/completions", post(openai)),
        Provider::Anthropic => Router::new().route("/v1/messages", post(anthropic)),
        Provider::Azure => Router::new().route("/openai/deployments/{deployment}/chat/completions", post(azure)),
    };
    (router.with_state(Arc::clone(&shared)), shared)
}

async fn openai(State(shared): State<Arc<Shared>>, body: Bytes) -> Response {
    let guard = InFlight::enter(&shared);
    let asked = strict::openai(&body);
    answer(shared, guard, asked).await
}

async fn anthropic(State(shared): State<Arc<Shared>>, headers: HeaderMap, body: Bytes) -> Response {
    let guard = InFlight::enter(&shared);
    let asked = strict::anthropic(&headers, &body);
    answer(shared, guard, asked).await
}

#[derive(Deserialize)]
struct AzureQuery {
    #[serde(rename = "api-version")]
    api_version: Option<String>,
}

async fn azure(
    State(shared): State<Arc<Shared>>,
    Path(deployment): Path<String>,
    Query(query): Query<AzureQuery>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let guard = InFlight::enter(&shared);
    let asked = strict::azure(&headers, query.api_version.as_deref(), &deployment, &shared.config.model, &body);
    answer(shared, guard, asked).await
}

/// Answers a request the protocol's checks let through (a refused one is still counted).
async fn answer(shared: Arc<Shared>, guard: InFlight, asked: Result<Asked, strict::Refused>) -> Response {
    let n = shared.requests.fetch_add(1, Ordering::SeqCst) + 1;
    shared.arrivals.lock().unwrap_or_else(PoisonError::into_inner).push(Instant::now());
    let request = match asked {
        Ok(asked) => asked,
        Err(refused) => return *refused,
    };
    let protocol = shared.config.protocol;
    let config = &shared.config;
    let scripted = shared.script.lock().unwrap_or_else(PoisonError::into_inner).pop_front();
    let standing = || shared.standing.lock().unwrap_or_else(PoisonError::into_inner).clone();
    let fault = scripted.or_else(standing).unwrap_or_else(|| {
        shared.rng(|rng| {
            let draw: f64 = rng.random();
            if draw < config.rate_limit_rate {
                Fault::RateLimited { retry_after_secs: config.retry_after.as_secs() }
            } else if draw < config.rate_limit_rate + config.error_rate {
                Fault::Status(if rng.random_bool(0.5) { 500 } else { 503 })
            } else {
                Fault::None
            }
        })
    });
    let jitter = shared.rng(|rng| {
        let max = u64::try_from(config.jitter.as_micros()).unwrap_or(u64::MAX);
        if max == 0 { Duration::ZERO } else { Duration::from_micros(rng.random_range(0..=max)) }
    });
    let slow = match fault {
        Fault::Hang(d) => d,
        Fault::SlowFirstToken(d) if !request.stream => d,
        _ => Duration::ZERO,
    };
    let wait = config.latency + jitter + slow;
    if !wait.is_zero() {
        tokio::time::sleep(wait).await;
    }
    match fault {
        Fault::Status(code) => {
            let status = StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            return wire::error_response(protocol, status, "mock upstream failure");
        }
        Fault::RateLimited { retry_after_secs } => return wire::rate_limited(protocol, retry_after_secs),
        _ => {}
    }
    let sentences =
        if config.vary_replies { shared.rng(|rng| rng.random_range(1..=config.max_sentences.max(1))) } else { config.max_sentences.max(1) };
    let prompt: Vec<&str> = request.prompt.iter().map(String::as_str).collect();
    let reply = match &fault {
        Fault::Reply(text) => text.clone(),
        _ => grounded_reply(&prompt, sentences),
    };
    let usage = Counted { prompt: prompt.iter().map(|p| word_tokens(p)).sum::<u64>(), completion: word_tokens(&reply) };
    let id = match protocol {
        Provider::Anthropic => format!("msg_mock_{n}"),
        Provider::OpenAi | Provider::Azure => format!("chatcmpl-mock-{n}"),
    };
    if fault == Fault::WrongJson {
        return wrong_json(request.stream);
    }
    if fault == Fault::StallMidStream && !request.stream {
        let body = wire::answer_body(protocol, &id, &config.model, &reply, Some(usage)).to_string();
        let half = Bytes::from(body[..body.len() / 2].to_owned());
        // The guard moves into the body: the request stays in flight while the client waits.
        let stalled = futures::stream::iter([Ok::<_, std::io::Error>(half)]).chain(futures::stream::pending()).map(move |chunk| {
            let _in_flight = &guard;
            chunk
        });
        let mut response = Response::new(Body::from_stream(stalled));
        response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
        return response;
    }
    if request.stream {
        let include_usage = request.include_usage && fault != Fault::NoUsage;
        let tokens: Vec<&str> = reply.split_inclusive(' ').collect();
        let frames = wire::frames(protocol, &id, &config.model, &tokens, include_usage.then_some(usage));
        return stream_response(guard, frames, fault, config.token_delay);
    }
    let body = wire::answer_body(protocol, &id, &config.model, &reply, (fault != Fault::NoUsage).then_some(usage));
    drop(guard);
    axum::Json(body).into_response()
}

/// HTTP 200 whose JSON is not an answer of any of the protocols (streamed: chunks of it).
fn wrong_json(stream: bool) -> Response {
    let body = serde_json::json!({ "object": "list", "data": [{ "unexpected": true }], "choices": "none", "content": 7 });
    if stream {
        let text = format!("data: {body}\n\ndata: {body}\n\n");
        let mut response = Response::new(Body::from(text));
        response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("text/event-stream"));
        return response;
    }
    axum::Json(body).into_response()
}

/// A rough token count (words × 4/3) — the mock only needs plausible numbers.
fn word_tokens(text: &str) -> u64 {
    (text.split_whitespace().count() as u64 * 4).div_ceil(3)
}

/// The first `max` sentences of the grounding block in the prompt, or a polite "I don't know".
pub fn grounded_reply(prompt: &[&str], max: usize) -> String {
    let grounding = prompt.iter().rev().find_map(|p| tria_llm::prompt::extract_grounding(p)).unwrap_or_default();
    // A sentence ends at `.`, `!` or `?` followed by whitespace, or at a line break, so
    // decimals ("$250.00") stay whole as a model would write them.
    let mut pieces = Vec::new();
    let mut start = 0;
    let mut chars = grounding.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        let end = i + c.len_utf8();
        if c == '\n' || (matches!(c, '.' | '!' | '?') && chars.peek().is_none_or(|(_, n)| n.is_whitespace())) {
            pieces.push(&grounding[start..end]);
            start = end;
        }
    }
    pieces.push(&grounding[start..]);
    let sentences: Vec<&str> = pieces.into_iter().map(str::trim).filter(|s| s.chars().any(char::is_alphanumeric)).take(max).collect();
    if sentences.is_empty() {
        "I'm sorry, I don't have that information. Would you like me to connect you with a person?".to_owned()
    } else {
        sentences.join(" ")
    }
}

/// One step of a streamed body: wait, then send bytes or break the connection.
enum Step {
    Send(Duration, Bytes),
    Break(Duration),
    /// Nothing more, the connection held open until the client leaves.
    Stall,
}

fn stream_response(guard: InFlight, frames: Frames, fault: Fault, token_delay: Duration) -> Response {
    let now = |frames: Vec<Bytes>| frames.into_iter().map(|f| Step::Send(Duration::ZERO, f));
    let mut steps: Vec<Step> = now(frames.start).collect();
    let mut broke_early = false;
    for (i, token) in frames.tokens.into_iter().enumerate() {
        if i == 0
            && let Fault::SlowFirstToken(first) = fault
        {
            steps.push(Step::Send(first, token));
            continue;
        }
        if i == 2 {
            broke_early = true;
            match fault {
                Fault::MalformedSse | Fault::StreamError => {
                    let rest = if fault == Fault::MalformedSse { &frames.malformed } else { &frames.error_event };
                    let mut rest = rest.iter().cloned();
                    steps.extend(rest.next().map(|first| Step::Send(token_delay, first)));
                    steps.extend(now(rest.collect()));
                    break;
                }
                Fault::ResetMidStream => {
                    // Pause first so the tokens before the break are on the wire: a break before
                    // the first flush would look like a failed request, not a broken stream.
                    steps.push(Step::Break(token_delay.max(Duration::from_millis(50))));
                    break;
                }
                Fault::TruncatedStream => break,
                Fault::StallMidStream => {
                    steps.push(Step::Stall);
                    break;
                }
                _ => broke_early = false,
            }
        }
        steps.push(Step::Send(token_delay, token));
    }
    if !broke_early {
        steps.extend(now(frames.end));
    }
    let state = (VecDeque::from(steps), guard);
    let body = futures::stream::unfold(state, |(mut steps, guard)| async move {
        match steps.pop_front()? {
            Step::Send(delay, bytes) => {
                if !delay.is_zero() {
                    tokio::time::sleep(delay).await;
                }
                Some((Ok(bytes), (steps, guard)))
            }
            Step::Stall => futures::future::pending().await,
            // An error from the body makes hyper abort the connection: the client sees a reset.
            Step::Break(delay) => {
                tokio::time::sleep(delay).await;
                Some((Err(std::io::Error::other("mock connection reset")), (VecDeque::new(), guard)))
            }
        }
    });
    let mut response = Response::new(Body::from_stream(body));
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("text/event-stream"));
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    response
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};
    use tria_llm::prompt::{GROUNDING_CLOSE, GROUNDING_OPEN};

    #[test]
    fn replies_echo_the_grounding_sentences() {
        let prompt = format!(
            "system\n{GROUNDING_OPEN}\n[source: Returns]\nReturns within 30 days. Refunds in 5 days. Extra.\n{GROUNDING_CLOSE}\nquestion"
        );
        assert_eq!(grounded_reply(&[&prompt], 2), "Returns within 30 days. Refunds in 5 days.");
        assert!(grounded_reply(&["no block here"], 2).contains("don't have that information"));
    }

    #[tokio::test]
    async fn serves_plain_and_streamed_completions_over_http() {
        let mock = MockServer::start(MockConfig::default()).await.expect("binds");
        let prompt = format!("{GROUNDING_OPEN}\nShipping is free over $50.\n{GROUNDING_CLOSE}");
        let client = reqwest::Client::new();
        let url = format!("{}/chat/completions", mock.base_url());
        let body = json!({ "model": "x", "messages": [{ "role": "user", "content": prompt }] });
        let plain: Value = client.post(&url).json(&body).send().await.expect("sent").json().await.expect("json");
        assert_eq!(plain["choices"][0]["message"]["content"], "Shipping is free over $50.");
        assert!(plain["usage"]["prompt_tokens"].as_u64().is_some_and(|n| n > 0));
        let mut streamed = body.clone();
        streamed["stream"] = true.into();
        let text = client.post(&url).json(&streamed).send().await.expect("sent").text().await.expect("body");
        assert!(text.starts_with("data: ") && text.ends_with("data: [DONE]\n\n"), "{text}");
        mock.push_faults([Fault::RateLimited { retry_after_secs: 3 }]);
        let limited = client.post(&url).json(&body).send().await.expect("sent");
        assert_eq!(limited.status(), 429);
        assert_eq!(limited.headers()["retry-after"], "3");
        assert_eq!(mock.stats().requests, 3);
        let bad = client.post(&url).body("{").send().await.expect("sent");
        assert_eq!(bad.status(), 400);
    }

    #[tokio::test]
    async fn a_standing_fault_fails_every_request_until_cleared() {
        let mock = MockServer::start(MockConfig::default()).await.expect("binds");
        let client = reqwest::Client::new();
        let url = format!("{}/chat/completions", mock.base_url());
        let body = json!({ "model": "x", "messages": [{ "role": "user", "content": "hi" }] });
        mock.set_fault(Some(Fault::from_name("500", 1).expect("known")));
        for _ in 0..3 {
            assert_eq!(client.post(&url).json(&body).send().await.expect("sent").status(), 500);
        }
        mock.set_fault(Some(Fault::WrongJson));
        let wrong: Value = client.post(&url).json(&body).send().await.expect("sent").json().await.expect("json");
        assert!(wrong.get("choices").is_some_and(|c| !c.is_array()), "{wrong}");
        mock.set_fault(Some(Fault::StallMidStream));
        let stalled = client.post(&url).json(&body).send().await.expect("the head arrives");
        assert_eq!(stalled.status(), 200);
        assert!(tokio::time::timeout(Duration::from_millis(300), stalled.bytes()).await.is_err(), "the body never ends");
        mock.set_fault(None);
        assert_eq!(client.post(&url).json(&body).send().await.expect("sent").status(), 200);
        assert!(Fault::from_name("nope", 1).is_err());
    }

    #[tokio::test]
    async fn same_seed_same_random_faults() {
        let config = MockConfig { error_rate: 0.3, rate_limit_rate: 0.2, seed: 7, ..MockConfig::default() };
        let mut runs = Vec::new();
        for _ in 0..2 {
            let mock = MockServer::start(config.clone()).await.expect("binds");
            let client = reqwest::Client::new();
            let mut statuses = Vec::new();
            for _ in 0..20 {
                let r = client
                    .post(format!("{}/chat/completions", mock.base_url()))
                    .json(&json!({ "messages": [] }))
                    .send()
                    .await
                    .expect("sent");
                statuses.push(r.status().as_u16());
            }
            runs.push(statuses);
        }
        assert_eq!(runs[0], runs[1]);
        assert!(runs[0].contains(&429) && runs[0].contains(&200) && runs[0].iter().any(|s| *s >= 500), "{:?}", runs[0]);
    }
}
