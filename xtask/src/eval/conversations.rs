//! `eval conversations --repeat k`: scripted multi-turn conversations
//! (fixtures/eval/conversations/*.toml) run k times, each run against a fresh agent generating
//! through the mock LLM (a loopback server speaking the OpenAI, Anthropic or Azure protocol,
//! `--provider`, with the matching client) with its variability on — a new
//! seed per run, jittered latency, replies of a random length. A conversation passes a run when
//! every turn meets its expectations (facts stated, intent, hand-off, order state); pass^k is
//! the share of conversations that pass all k runs (τ-bench). Order conversations need the
//! order flow, so they are reported apart from the rest.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use serde::Deserialize;
use tria_agent::Agent;
use tria_config::Settings;
use tria_core::{ChatReply, ChatRequest};
use tria_llm::{LlmClient, PromptLibrary, Provider, ProviderConfig, RetryPolicy};
use tria_mock_llm::{MockConfig, MockServer};

use super::harness::{EvalWorld, fact_present};

#[derive(Debug, Deserialize)]
struct File {
    conversation: Vec<Conversation>,
}

#[derive(Debug, Deserialize)]
struct Conversation {
    name: String,
    tenant: String,
    /// policy | product | complaint | handoff | order
    kind: String,
    #[serde(default)]
    customer: Option<String>,
    turn: Vec<Turn>,
}

#[derive(Debug, Deserialize)]
struct Turn {
    say: String,
    /// Each must be in the reply (`a|b`: either).
    #[serde(default)]
    facts: Vec<String>,
    /// None of these may be in the reply.
    #[serde(default)]
    not_facts: Vec<String>,
    #[serde(default)]
    intent: Option<String>,
    #[serde(default)]
    handoff: Option<bool>,
    /// The reply's `order.status` (needs the order flow).
    #[serde(default)]
    order_status: Option<String>,
    /// `[sku, quantity]` lines the reply's order must have.
    #[serde(default)]
    order_lines: Vec<(String, u32)>,
}

/// Whether a conversation belongs to a reported set.
type Member = fn(&Conversation) -> bool;

fn load(dir: &Path) -> anyhow::Result<Vec<Conversation>> {
    let mut paths: Vec<_> = std::fs::read_dir(dir)
        .with_context(|| format!("reading {}", dir.display()))?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    paths.sort();
    let mut all = Vec::new();
    for path in paths {
        let text = std::fs::read_to_string(&path)?;
        let file: File = toml::from_str(&text).with_context(|| format!("parsing {}", path.display()))?;
        all.extend(file.conversation);
    }
    Ok(all)
}

/// Why a turn failed, or `None`.
fn check(turn: &Turn, reply: &ChatReply) -> Option<String> {
    let missing: Vec<&str> = turn.facts.iter().map(String::as_str).filter(|f| !fact_present(&reply.reply, f)).collect();
    if !missing.is_empty() {
        return Some(format!("missing {missing:?}"));
    }
    let present: Vec<&str> = turn.not_facts.iter().map(String::as_str).filter(|f| fact_present(&reply.reply, f)).collect();
    if !present.is_empty() {
        return Some(format!("should not say {present:?}"));
    }
    if let Some(intent) = &turn.intent
        && reply.intent.label.as_str() != intent
    {
        return Some(format!("intent {} instead of {intent}", reply.intent.label));
    }
    if let Some(handoff) = turn.handoff
        && reply.handoff != handoff
    {
        return Some(format!("handoff {} instead of {handoff}", reply.handoff));
    }
    if turn.order_status.is_some() || !turn.order_lines.is_empty() {
        // Read through JSON so this eval does not depend on the order flow's types.
        let json = serde_json::to_value(reply).unwrap_or_default();
        let order = &json["order"];
        if order.is_null() {
            return Some("no order in the reply".into());
        }
        if let Some(status) = &turn.order_status
            && order["status"].as_str() != Some(status.as_str())
        {
            return Some(format!("order status {} instead of {status}", order["status"]));
        }
        for (sku, quantity) in &turn.order_lines {
            let found = order["lines"].as_array().is_some_and(|lines| {
                lines.iter().any(|l| l["sku"] == sku.as_str() && l["quantity"].as_u64() == Some(u64::from(*quantity)))
            });
            if !found {
                return Some(format!("no order line {sku} × {quantity}"));
            }
        }
    }
    None
}

async fn run_once(world: &EvalWorld, agent: &Agent, conversation: &Conversation) -> anyhow::Result<Option<String>> {
    let tenant = world.tenant(&conversation.tenant)?;
    let mut session: Option<String> = None;
    for (i, turn) in conversation.turn.iter().enumerate() {
        let request = ChatRequest {
            message: turn.say.clone(),
            session_id: session.clone(),
            customer_id: if session.is_none() { conversation.customer.clone() } else { None },
        };
        let reply = agent.chat(tenant, request).await.with_context(|| format!("{}: turn {}", conversation.name, i + 1))?;
        if let Some(why) = check(turn, &reply) {
            return Ok(Some(format!("turn {} ({:?}): {why}; reply: {}", i + 1, turn.say, reply.reply.replace('\n', " "))));
        }
        session = Some(reply.session_id);
    }
    Ok(None)
}

/// The mock speaking `provider`'s protocol (strictly: it refuses requests the real API would)
/// and that provider's client, built as the server builds it.
async fn mock_llm(provider: Provider, seed: u64) -> anyhow::Result<(MockServer, Arc<dyn LlmClient>)> {
    let config = MockConfig {
        seed,
        jitter: Duration::from_millis(4),
        vary_replies: true,
        max_sentences: 3,
        protocol: provider,
        ..MockConfig::default()
    };
    let mock = MockServer::start(config).await.context("starting the mock LLM")?;
    let mut client = ProviderConfig::new(provider, mock.base_url(), "tria-mock");
    client.api_key = Some("mock-key".to_owned());
    client.http.timeout = Duration::from_secs(5);
    client.http.retry = RetryPolicy::default();
    Ok((mock, tria_llm::build(client)?))
}

/// `provider`: the mock LLM's protocol, `None` for the offline grounded responder.
pub(super) fn run(settings: &Settings, repeat: usize, provider: Option<Provider>, semantic: bool, verbose: bool) -> anyhow::Result<()> {
    let conversations = load(&settings.fixtures_dir.join("eval/conversations"))?;
    let repeat = repeat.max(1);
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(async {
        let world = EvalWorld::open(settings, semantic).await?;
        let prompts = Arc::new(PromptLibrary::embedded()?);
        let generator = match provider {
            None => "offline grounded responder".to_owned(),
            Some(p) => format!("mock LLM speaking {p} (variable replies, 0–4 ms jitter, new seed per run)"),
        };
        println!(
            "Conversations on fixtures/eval/conversations ({} scripted; {repeat} runs each; {generator}; {})",
            conversations.len(),
            world.describe()
        );
        let mut passes = vec![0usize; conversations.len()];
        let mut failures: Vec<Vec<String>> = vec![Vec::new(); conversations.len()];
        for run in 0..repeat {
            let (mock, llm) = match provider {
                None => (None, None),
                Some(provider) => {
                    let (mock, client) = mock_llm(provider, 1000 + run as u64).await?;
                    (Some(mock), Some((client, prompts.clone())))
                }
            };
            let agent = world.agent(llm);
            for (i, conversation) in conversations.iter().enumerate() {
                match run_once(&world, &agent, conversation).await? {
                    None => passes[i] += 1,
                    Some(why) => failures[i].push(format!("run {}: {why}", run + 1)),
                }
            }
            drop(mock);
        }
        println!();
        println!("| set | conversations | pass^1 (first run) | pass^{repeat} |");
        println!("|---|---:|---:|---:|");
        let groups: [(&str, Member); 3] =
            [("without orders", |c| c.kind != "order"), ("orders (need the order flow)", |c| c.kind == "order"), ("all", |_| true)];
        for (label, member) in &groups {
            let idx: Vec<usize> = (0..conversations.len()).filter(|&i| member(&conversations[i])).collect();
            if idx.is_empty() {
                continue;
            }
            let first = idx.iter().filter(|&&i| failures[i].first().is_none_or(|f| !f.starts_with("run 1:"))).count();
            let all = idx.iter().filter(|&&i| passes[i] == repeat).count();
            println!("| {label} | {} | {:.3} | {:.3} |", idx.len(), first as f64 / idx.len() as f64, all as f64 / idx.len() as f64);
        }
        let mut kinds: Vec<&str> = conversations.iter().map(|c| c.kind.as_str()).collect();
        kinds.sort_unstable();
        kinds.dedup();
        println!();
        println!("| kind | conversations | pass^{repeat} |");
        println!("|---|---:|---:|");
        for kind in kinds {
            let idx: Vec<usize> = (0..conversations.len()).filter(|&i| conversations[i].kind == kind).collect();
            let all = idx.iter().filter(|&&i| passes[i] == repeat).count();
            println!("| {kind} | {} | {:.3} |", idx.len(), all as f64 / idx.len() as f64);
        }
        let failed: Vec<usize> = (0..conversations.len()).filter(|&i| !failures[i].is_empty()).collect();
        if !failed.is_empty() {
            println!();
            println!("Failed at least once:");
            for i in failed {
                let c = &conversations[i];
                println!("- [{}] {} — {}/{repeat} runs passed", c.kind, c.name, passes[i]);
                if verbose {
                    for why in &failures[i] {
                        println!("    {why}");
                    }
                } else if let Some(why) = failures[i].first() {
                    println!("    {why}");
                }
            }
        }
        Ok(())
    })
}
