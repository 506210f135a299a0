//! The cluster run's mixed load, driven through the load balancer: policy questions (JSON and
//! streamed), multi-turn orders ending in "Confirm", operator take-overs from the console API,
//! and bursts of five concurrent "add 2 cases" into one conversation (the interleaving probe).
//! A request that fails (connection cut, 5xx, 429, 503) is sent again, as a client would; every
//! send is counted per session and every 200 reply recorded, for the checks against the store.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use serde_json::{Value, json};

/// Bearer keys of the demo tenants and of an operator working on both.
#[derive(Clone, Debug)]
pub(crate) struct Keys {
    pub(crate) northwind: String,
    pub(crate) velo: String,
    pub(crate) operator: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Tenant {
    Northwind,
    Velo,
}

const NORTHWIND_QUESTIONS: &[&str] = &[
    "What is your return policy?",
    "How much is shipping?",
    "Do you offer net 30 payment terms?",
    "What payment methods do you accept?",
    "Are your cups compostable?",
    "What are your support hours?",
    "How long do refunds take?",
    "Do you charge a restocking fee?",
];
const VELO_QUESTIONS: &[&str] = &[
    "What is your return policy for parts?",
    "Do you ship to all EU countries?",
    "How long does shipping take within the EU?",
    "Are prices quoted excluding VAT?",
    "Do you accept SEPA direct debit?",
    "How long is the warranty on components?",
];

/// A 200 chat reply as the client saw it.
#[derive(Clone, Debug)]
pub(crate) struct Served {
    pub(crate) session: String,
    pub(crate) message_id: Option<String>,
    pub(crate) reply: String,
}

/// Five "add 2 cases of NW-MLK-OAT" sent at once into a draft of one case.
#[derive(Clone, Debug)]
pub(crate) struct Burst {
    pub(crate) session: String,
    /// The draft quantity each 200 answer showed.
    pub(crate) seen: Vec<i64>,
    /// Every add answered on its first send (a resend after a lost answer may add twice).
    pub(crate) clean: bool,
    pub(crate) order_number: Option<String>,
}

/// What the load did, for the report and the checks.
pub(crate) struct Ledger {
    pub(crate) served: Vec<Served>,
    /// Sends per session, whatever their outcome.
    pub(crate) sent: HashMap<String, u32>,
    /// Sends without a session whose outcome is unknown (a conversation may have been opened).
    pub(crate) unknown_new: u32,
    pub(crate) orders_seen: Vec<String>,
    pub(crate) bursts: Vec<Burst>,
    pub(crate) outcomes: BTreeMap<String, u64>,
    pub(crate) flows: BTreeMap<&'static str, [u64; 2]>,
    /// Served (200) latency in µs.
    pub(crate) latency: Histogram<u64>,
}

impl Default for Ledger {
    fn default() -> Self {
        Ledger {
            served: Vec::new(),
            sent: HashMap::new(),
            unknown_new: 0,
            orders_seen: Vec::new(),
            bursts: Vec::new(),
            outcomes: BTreeMap::new(),
            flows: BTreeMap::new(),
            latency: Histogram::new_with_bounds(1, 600_000_000, 3).expect("valid bounds"),
        }
    }
}

/// One run's figures.
pub(crate) struct Figures {
    pub(crate) seconds: f64,
    pub(crate) served: u64,
    pub(crate) rps: f64,
    pub(crate) p50_ms: f64,
    pub(crate) p99_ms: f64,
}

impl Ledger {
    pub(crate) fn figures(&self, seconds: f64) -> Figures {
        let served = self.latency.len();
        Figures {
            seconds,
            served,
            rps: served as f64 / seconds.max(0.001),
            p50_ms: self.latency.value_at_quantile(0.50) as f64 / 1000.0,
            p99_ms: self.latency.value_at_quantile(0.99) as f64 / 1000.0,
        }
    }
}

/// How the load runs.
#[derive(Clone, Debug)]
pub(crate) struct LoadConfig {
    pub(crate) base: String,
    pub(crate) keys: Keys,
    pub(crate) users: usize,
    /// Once set, no new flow starts; flows under way finish.
    pub(crate) stop: Arc<AtomicBool>,
    /// Orders, take-overs and bursts too (off: policy questions only, for throughput).
    pub(crate) mixed: bool,
}

struct Reply {
    session: String,
    order: Option<Value>,
}

enum Failure {
    /// Refused before anything was done (429, 503 with a JSON error): send again.
    Refused(Option<Duration>),
    /// Cut, timed out or a 5xx: it may or may not have been stored.
    Unknown,
    /// An answer that is not a reply (4xx): give up this flow.
    Rejected,
}

struct Driver {
    config: LoadConfig,
    http: reqwest::Client,
    ledger: Mutex<Ledger>,
}

/// Runs the load until `stop` is set and every flow under way has finished; returns what it
/// did and the seconds it ran.
pub(crate) async fn run(config: LoadConfig) -> anyhow::Result<(Ledger, f64)> {
    let http = reqwest::Client::builder().timeout(Duration::from_secs(30)).pool_max_idle_per_host(config.users * 2).build()?;
    let started = Instant::now();
    let driver = Arc::new(Driver { config, http, ledger: Mutex::default() });
    let mut users = Vec::new();
    for user in 0..driver.config.users {
        let driver = driver.clone();
        users.push(tokio::spawn(async move {
            let mut rng = Rng(0x9e37_79b9_7f4a_7c15 ^ (user as u64 + 1).wrapping_mul(0x2545_f491_4f6c_dd1d));
            let mut turn = 0u64;
            while !driver.config.stop.load(Ordering::Relaxed) {
                turn += 1;
                let pick = if driver.config.mixed { rng.below(20) } else { rng.below(14) };
                let (name, ok) = match pick {
                    0..=9 => ("policy", driver.policy(&mut rng, false).await),
                    10..=13 => ("stream", driver.policy(&mut rng, true).await),
                    14..=17 => ("order", driver.order(&mut rng, user).await),
                    18 => ("take-over", driver.take_over(&mut rng).await),
                    _ if turn.is_multiple_of(2) => ("burst", driver.burst(user).await),
                    _ => ("order", driver.order(&mut rng, user).await),
                };
                driver.ledger.lock().expect("ledger").flows.entry(name).or_default()[usize::from(!ok)] += 1;
            }
        }));
    }
    for user in users {
        user.await?;
    }
    let seconds = started.elapsed().as_secs_f64();
    let driver = Arc::into_inner(driver).expect("every user finished");
    Ok((driver.ledger.into_inner().expect("ledger"), seconds))
}

impl Driver {
    fn key(&self, tenant: Tenant) -> &str {
        match tenant {
            Tenant::Northwind => &self.config.keys.northwind,
            Tenant::Velo => &self.config.keys.velo,
        }
    }

    fn count(&self, outcome: impl Into<String>) {
        *self.ledger.lock().expect("ledger").outcomes.entry(outcome.into()).or_default() += 1;
    }

    /// Sends until answered (or the run's hard stop). Returns the reply and the sends it took.
    async fn say(
        &self,
        tenant: Tenant,
        session: Option<&str>,
        customer: Option<&str>,
        message: &str,
        stream: bool,
    ) -> Option<(Reply, u32)> {
        let mut sends = 0u32;
        loop {
            sends += 1;
            if let Some(session) = session {
                *self.ledger.lock().expect("ledger").sent.entry(session.to_owned()).or_default() += 1;
            }
            let started = Instant::now();
            let outcome = self.send(tenant, session, customer, message, stream).await;
            let wait = match outcome {
                Ok((reply, served)) => {
                    let mut ledger = self.ledger.lock().expect("ledger");
                    if session.is_none() {
                        *ledger.sent.entry(reply.session.clone()).or_default() += 1;
                    }
                    let _ = ledger.latency.record(started.elapsed().as_micros().max(1) as u64);
                    *ledger.outcomes.entry("200".into()).or_default() += 1;
                    ledger.served.push(served);
                    return Some((reply, sends));
                }
                Err(Failure::Rejected) => return None,
                Err(Failure::Refused(after)) => after.unwrap_or(Duration::from_millis(200)).min(Duration::from_secs(2)),
                Err(Failure::Unknown) => {
                    if session.is_none() {
                        self.ledger.lock().expect("ledger").unknown_new += 1;
                    }
                    Duration::from_millis(100 * u64::from(sends.min(10)))
                }
            };
            if sends >= 40 {
                self.count("gave_up");
                return None;
            }
            tokio::time::sleep(wait).await;
        }
    }

    async fn send(
        &self,
        tenant: Tenant,
        session: Option<&str>,
        customer: Option<&str>,
        message: &str,
        stream: bool,
    ) -> Result<(Reply, Served), Failure> {
        let path = if stream { "/api/v1/chat/stream" } else { "/api/chat" };
        let mut body = json!({ "message": message });
        if let Some(s) = session {
            body["session_id"] = json!(s);
        }
        if let Some(c) = customer {
            body["customer_id"] = json!(c);
        }
        let response = match self.http.post(format!("{}{path}", self.config.base)).bearer_auth(self.key(tenant)).json(&body).send().await {
            Ok(r) => r,
            Err(e) => {
                self.count(if e.is_timeout() { "timeout" } else { "connect_or_cut" });
                return Err(Failure::Unknown);
            }
        };
        let status = response.status().as_u16();
        let retry_after = response
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok())
            .map(Duration::from_secs);
        let text = match response.text().await {
            Ok(t) => t,
            Err(_) => {
                self.count(format!("{status}_cut"));
                return Err(Failure::Unknown);
            }
        };
        if status != 200 {
            self.count(status.to_string());
            return Err(match status {
                429 | 503 => Failure::Refused(retry_after),
                500..=599 => Failure::Unknown,
                _ => Failure::Rejected,
            });
        }
        let parsed = if stream { parse_sse(&text) } else { parse_json(&text) };
        match parsed {
            Some(ok) => Ok(ok),
            None => {
                self.count(if stream { "stream_cut_short" } else { "bad_body" });
                Err(Failure::Unknown)
            }
        }
    }

    async fn policy(&self, rng: &mut Rng, stream: bool) -> bool {
        let (tenant, questions) = if rng.below(5) < 3 { (Tenant::Northwind, NORTHWIND_QUESTIONS) } else { (Tenant::Velo, VELO_QUESTIONS) };
        let Some((first, _)) = self.say(tenant, None, None, questions[rng.below(questions.len() as u64) as usize], stream).await else {
            return false;
        };
        let second = questions[rng.below(questions.len() as u64) as usize];
        self.say(tenant, Some(&first.session), None, second, stream).await.is_some()
    }

    /// One product, then "Confirm": an order the outbox must invoice exactly once.
    async fn order(&self, rng: &mut Rng, user: usize) -> bool {
        let (tenant, customer, line) = if rng.below(5) < 3 {
            let sku = ["NW-CUP-12OZ", "NW-CUP-16OZ", "NW-LID-1220"][rng.below(3) as usize];
            (Tenant::Northwind, format!("CUST-{}", 1001 + user % 24), format!("I'd like to order {} cases of {sku}", 1 + rng.below(3)))
        } else {
            let sku = ["VP-CHN-11S", "VP-CHN-8S"][rng.below(2) as usize];
            (Tenant::Velo, format!("CUST-{}", 2001 + user % 6), format!("I want to order {} boxes of {sku}", 1 + rng.below(2)))
        };
        let Some((draft, _)) = self.say(tenant, None, Some(&customer), &line, false).await else { return false };
        if !draft.order.as_ref().is_some_and(|o| o["awaiting_confirmation"] == json!(true)) {
            self.count("order_no_draft");
            return false;
        }
        self.confirm(tenant, &draft.session).await.is_some()
    }

    async fn confirm(&self, tenant: Tenant, session: &str) -> Option<String> {
        let (placed, _) = self.say(tenant, Some(session), None, "Confirm", false).await?;
        let number = placed.order.as_ref().and_then(|o| o["order_number"].as_str()).map(str::to_owned);
        match &number {
            Some(n) => self.ledger.lock().expect("ledger").orders_seen.push(n.clone()),
            // A "Confirm" sent again after its answer was lost finds the order already placed.
            None => self.count("confirm_without_order"),
        }
        number
    }

    /// A customer says hello; an operator takes the conversation over, the customer writes,
    /// the operator answers, hands back, and the bot answers the next message.
    async fn take_over(&self, rng: &mut Rng) -> bool {
        let Some((hello, _)) = self.say(Tenant::Northwind, None, None, "Hello!", false).await else { return false };
        let console = format!("{}/api/v1/console/conversations/{}", self.config.base, hello.session);
        if !self.operator(&format!("{console}/take-over"), None).await {
            return false;
        }
        let question = NORTHWIND_QUESTIONS[rng.below(NORTHWIND_QUESTIONS.len() as u64) as usize];
        if self.say(Tenant::Northwind, Some(&hello.session), None, question, false).await.is_none() {
            return false;
        }
        if !self.operator(&format!("{console}/messages"), Some(json!({"content": "Hi, Sam from Northwind here. Let me check."}))).await {
            return false;
        }
        if !self.operator(&format!("{console}/hand-back"), None).await {
            return false;
        }
        self.say(Tenant::Northwind, Some(&hello.session), None, question, false).await.is_some()
    }

    async fn operator(&self, url: &str, body: Option<Value>) -> bool {
        for _ in 0..20 {
            let mut request = self.http.post(url).bearer_auth(&self.config.keys.operator);
            if let Some(body) = &body {
                request = request.json(body);
            }
            match request.send().await {
                Ok(r) if r.status().is_success() => return true,
                // Taken over (or handed back) already by a send whose answer was lost.
                Ok(r) if r.status().as_u16() == 409 && body.is_none() => return true,
                Ok(r) if r.status().is_client_error() && r.status().as_u16() != 429 => {
                    self.count(format!("operator_{}", r.status().as_u16()));
                    return false;
                }
                _ => tokio::time::sleep(Duration::from_millis(200)).await,
            }
        }
        self.count("operator_gave_up");
        false
    }

    /// A draft of one case, five "add 2 cases" at once (each may reach another replica), then
    /// "Confirm": the answers must show 3, 5, 7, 9 and 11 cases, and the order 11.
    async fn burst(&self, user: usize) -> bool {
        let customer = format!("CUST-{}", 1001 + user % 24);
        let Some((draft, _)) = self.say(Tenant::Northwind, None, Some(&customer), "I'd like to order 1 case of NW-MLK-OAT", false).await
        else {
            return false;
        };
        let add = || self.say(Tenant::Northwind, Some(&draft.session), None, "add 2 cases of NW-MLK-OAT", false);
        let answers = futures::future::join_all((0..5).map(|_| add())).await;
        let clean = answers.iter().all(|a| a.as_ref().is_some_and(|(_, sends)| *sends == 1));
        let seen: Vec<i64> = answers.iter().filter_map(|a| a.as_ref()?.0.order.as_ref()?["lines"][0]["quantity"].as_i64()).collect();
        let order_number = self.confirm(Tenant::Northwind, &draft.session).await;
        let ok = order_number.is_some();
        self.ledger.lock().expect("ledger").bursts.push(Burst { session: draft.session, seen, clean, order_number });
        ok
    }
}

/// Each question asked once per tenant, as a production cache would already hold them.
pub(crate) async fn warm(base: &str, keys: &Keys) {
    let http = reqwest::Client::new();
    for (key, questions) in [(&keys.northwind, NORTHWIND_QUESTIONS), (&keys.velo, VELO_QUESTIONS)] {
        for q in questions {
            let _ = http.post(format!("{base}/api/chat")).bearer_auth(key).json(&json!({ "message": q })).send().await;
        }
    }
}

fn parse_json(text: &str) -> Option<(Reply, Served)> {
    let v: Value = serde_json::from_str(text).ok()?;
    let session = v["session_id"].as_str()?.to_owned();
    let served = Served {
        session: session.clone(),
        message_id: v["message_id"].as_str().map(str::to_owned),
        reply: v["reply"].as_str()?.to_owned(),
    };
    Some((Reply { session, order: v.get("order").filter(|o| !o.is_null()).cloned() }, served))
}

/// The stream's reply: `meta` (session), `token`s or a `replace`, and `done`; `None` without `done`.
fn parse_sse(text: &str) -> Option<(Reply, Served)> {
    let (mut session, mut reply, mut done) = (None, String::new(), None::<Value>);
    for event in text.split("\n\n") {
        let mut name = "";
        let mut data = String::new();
        for line in event.lines() {
            if let Some(n) = line.strip_prefix("event:") {
                name = n.trim();
            } else if let Some(d) = line.strip_prefix("data:") {
                data.push_str(d.strip_prefix(' ').unwrap_or(d));
            }
        }
        let Ok(v) = serde_json::from_str::<Value>(&data) else { continue };
        match name {
            "meta" => session = v["session_id"].as_str().map(str::to_owned),
            "token" => reply.push_str(v["delta"].as_str().unwrap_or_default()),
            "replace" => reply = v["reply"].as_str().unwrap_or_default().to_owned(),
            "done" => done = Some(v),
            "error" => return None,
            _ => {}
        }
    }
    let (session, done) = (session?, done?);
    let served = Served { session: session.clone(), message_id: done["message_id"].as_str().map(str::to_owned), reply };
    Some((Reply { session, order: done.get("order").filter(|o| !o.is_null()).cloned() }, served))
}

/// xorshift64*: a reproducible mix per user without a dependency.
pub(crate) struct Rng(pub(crate) u64);

impl Rng {
    pub(crate) fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) % n.max(1)
    }
}
