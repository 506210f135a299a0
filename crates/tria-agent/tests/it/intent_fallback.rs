//! The LLM intent fallback against the OpenAI-compatible mock (a real loopback server): an
//! unsure verdict is relabelled by the model's answer; a garbage answer, a timeout and a 500
//! keep the classifier's label; a sure verdict asks nothing; a repeated message is asked once;
//! each call is observed (the cost ledger's hook) and a timed-out one is recorded as such.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tria_agent::{Agent, LlmGuard, LlmIntentFallback, LlmIntentOptions, LlmResilience};
use tria_core::{ChatRequest, IntentLabel};
use tria_intent::{Classification, DecidedBy, IntentClassifier, IntentFallback, IntentModel};
use tria_llm::{
    CallContext, CallRecord, LedgerOutcome, LlmClient, LlmObserver, ObservedLlm, OpenAiClient, OpenAiConfig, PriceTable, RetryPolicy,
    SettledCall,
};
use tria_mock_llm::{Fault, MockConfig, MockServer};

use crate::components::parts;
use crate::seeded;

/// What the ledger would have been told: each settled call's outcome and tokens.
#[derive(Default)]
struct Settled(Mutex<Vec<(LedgerOutcome, u32)>>);

impl LlmObserver for Settled {
    fn on_call(&self, _record: &CallRecord) {}
    fn on_settled(&self, call: &SettledCall) {
        let tokens = call.record.usage.map_or(0, |u| u.total_tokens());
        self.0.lock().expect("lock").push((call.outcome, tokens));
    }
}

impl Settled {
    fn outcomes(&self) -> Vec<LedgerOutcome> {
        self.0.lock().expect("lock").iter().map(|(o, _)| *o).collect()
    }
}

struct Setup {
    mock: MockServer,
    fallback: LlmIntentFallback,
    settled: Arc<Settled>,
    model: Arc<IntentModel>,
}

fn client(mock: &MockServer) -> Arc<dyn LlmClient> {
    let config = OpenAiConfig::new(mock.base_url(), "tria-mock").with_timeout(Duration::from_secs(10)).with_retry(RetryPolicy::none());
    Arc::new(OpenAiClient::new(config).expect("client"))
}

async fn setup(deadline: Duration) -> Setup {
    let mock = MockServer::start(MockConfig::default()).await.expect("mock");
    let settled = Arc::new(Settled::default());
    let observed: Arc<dyn LlmClient> = Arc::new(ObservedLlm::new(client(&mock), settled.clone(), PriceTable::builtin()));
    let options = LlmIntentOptions { deadline, ..LlmIntentOptions::default() };
    let fallback = LlmIntentFallback::new(observed, Arc::new(LlmGuard::default()), options);
    let model = parts().intent_model.expect("the intent model over the hashing embedder");
    Setup { mock, fallback, settled, model }
}

/// The model's own verdict for `message`, made unsure (or sure) for the test.
fn verdict(model: &IntentModel, message: &str, confidence: f32) -> Classification {
    let first = model.classify_embedded(message, None);
    Classification { confidence, decided_by: DecidedBy::Embedding, ..first }
}

const MESSAGE: &str = "hmm, about that thing from last week";

#[tokio::test]
async fn an_unsure_verdict_is_relabelled_by_the_models_answer_and_a_sure_one_asks_nothing() {
    let s = setup(Duration::from_millis(1500)).await;
    let unsure = verdict(&s.model, MESSAGE, 0.2);
    assert_ne!(unsure.label, IntentLabel::Billing, "the test needs the model to change the label");
    s.mock.push_faults([Fault::Reply("billing".into())]);
    let resolved = s.model.resolve(MESSAGE, unsure.clone(), &s.fallback).await;
    assert_eq!((resolved.label, resolved.decided_by), (IntentLabel::Billing, DecidedBy::Fallback));
    assert!(resolved.confidence >= 0.8, "no longer low-confidence: {}", resolved.confidence);
    assert_eq!(resolved.runner_up, Some((unsure.label, 0.2)), "the classifier's guess is kept as the runner-up");
    assert_eq!(s.mock.stats().requests, 1);
    assert_eq!(s.settled.outcomes(), vec![LedgerOutcome::Used], "observed like any other call");

    let sure = verdict(&s.model, "where is my order ORD-10001", 0.9);
    assert_eq!(s.model.resolve("where is my order ORD-10001", sure.clone(), &s.fallback).await, sure);
    assert_eq!(s.mock.stats().requests, 1, "a sure verdict makes no call");

    let request = s.fallback.request(MESSAGE);
    assert_eq!((request.temperature, request.max_tokens), (Some(0.0), Some(8)));
    assert!(request.messages[0].content.contains("human_handoff: an explicit request for a person"));
    assert_eq!(request.messages[1].content, MESSAGE);
}

#[tokio::test]
async fn a_repeated_message_is_asked_once_even_when_asked_at_the_same_time() {
    let s = setup(Duration::from_millis(1500)).await;
    s.mock.push_faults([Fault::Reply("complaint".into())]);
    let first = verdict(&s.model, MESSAGE, 0.3);
    let (a, b) = tokio::join!(s.fallback.classify(MESSAGE, &first), s.fallback.classify(MESSAGE, &first));
    assert_eq!(a.map(|(l, _)| l), Some(IntentLabel::Complaint));
    assert_eq!(b.map(|(l, _)| l), Some(IntentLabel::Complaint));
    // Another spelling of the same text (case, spacing, trailing punctuation) is the same question.
    let again = s.fallback.classify("Hmm,  about that thing from last week?", &first).await;
    assert_eq!(again.map(|(l, _)| l), Some(IntentLabel::Complaint));
    assert_eq!(s.mock.stats().requests, 1, "one call for every spelling and both concurrent askers");
    assert_eq!(s.fallback.remembered(), 1);
}

#[tokio::test]
async fn a_garbage_answer_a_500_and_a_timeout_keep_the_classifiers_label() {
    let s = setup(Duration::from_millis(300)).await;
    let unsure = verdict(&s.model, MESSAGE, 0.2);

    // The mock's grounded echo: not a label. Remembered (the model would say it again).
    s.mock.push_faults([Fault::Reply("I think this is about billing.".into())]);
    assert_eq!(s.model.resolve(MESSAGE, unsure.clone(), &s.fallback).await, unsure);
    assert_eq!(s.model.resolve(MESSAGE, unsure.clone(), &s.fallback).await, unsure);
    assert_eq!(s.mock.stats().requests, 1, "an answer that is no label is remembered too");

    // A 500 is not remembered: the next asker tries again.
    let other = "that thing, you know";
    let unsure_other = verdict(&s.model, other, 0.2);
    s.mock.push_faults([Fault::Status(500), Fault::Reply("greeting".into())]);
    assert_eq!(s.model.resolve(other, unsure_other.clone(), &s.fallback).await, unsure_other);
    assert_eq!(s.model.resolve(other, unsure_other.clone(), &s.fallback).await.label, IntentLabel::Greeting);
    assert_eq!(s.mock.stats().requests, 3);

    // A hung provider: the turn waits the fallback's short deadline, not the client's timeout.
    let third = "the stuff from before";
    let unsure_third = verdict(&s.model, third, 0.2);
    s.mock.push_faults([Fault::Hang(Duration::from_secs(30))]);
    // Inside a turn, as the server runs it: the ledger learns why the call was dropped.
    let turn = tokio::time::timeout(Duration::from_secs(5), s.model.resolve(third, unsure_third.clone(), &s.fallback));
    let kept = tria_llm::with_call_context(CallContext::default(), turn).await.expect("the fallback gives up at its own deadline");
    assert_eq!(kept, unsure_third);
    let outcomes = s.settled.outcomes();
    assert_eq!(outcomes.last(), Some(&LedgerOutcome::Timeout), "the dropped call is a timeout in the ledger: {outcomes:?}");
    assert!(s.settled.0.lock().expect("lock").last().is_some_and(|(_, tokens)| *tokens > 0), "its prompt is counted (estimated)");
    // Not remembered either, and the short deadline did not trip the breaker.
    s.mock.push_faults([Fault::Reply("out_of_scope".into())]);
    assert_eq!(s.model.resolve(third, unsure_third, &s.fallback).await.label, IntentLabel::OutOfScope);
}

#[tokio::test]
async fn an_agent_with_the_llm_fallback_relabels_an_unsure_message_and_keeps_sure_ones() {
    let (db, tenant) = seeded().await;
    let mock = MockServer::start(MockConfig::default()).await.expect("mock");
    let parts = parts();
    let model = parts.intent_model.clone().expect("intent model");
    let embedder = parts.embedder.clone().expect("embedder");
    // A message the hashing model is unsure of, as the agent will see it.
    let unsure = ["hmm", "so about the thing", "what about it then", "ok and the other one"]
        .into_iter()
        .find(|m| {
            let v = embedder.embed_one(m).expect("embeds");
            let verdict = model.classify_embedded(m, Some(&v));
            model.needs_fallback(&verdict) && verdict.label != IntentLabel::Greeting
        })
        .expect("one of these is below the fallback threshold");
    let resilience = LlmResilience { turn_deadline: Duration::from_secs(4), ..LlmResilience::default() };
    let agent = Agent::builder(db.store.clone())
        .semantic(parts)
        .llm_resilience(resilience)
        .llm_intent_fallback(client(&mock), LlmIntentOptions::default())
        .build();
    // Greetings are answered from a template: the only model call is the intent question.
    mock.push_faults([Fault::Reply("greeting".into())]);
    let reply = agent.chat(&tenant, ChatRequest::new(unsure)).await.expect("chat");
    assert_eq!(reply.intent.label, IntentLabel::Greeting, "{unsure}: {}", reply.reply);
    assert_eq!(mock.stats().requests, 1);

    // A message a rule decides is never put to the model.
    let reply = agent.chat(&tenant, ChatRequest::new("let me talk to a human please")).await.expect("chat");
    assert_eq!(reply.intent.label, IntentLabel::HumanHandoff);
    assert_eq!(mock.stats().requests, 1);
}
