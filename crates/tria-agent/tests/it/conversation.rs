//! Multi-turn conversations: follow-ups answered about the same subject, history sent to the
//! model within its budget, routing by intent, hand-off (asked for, or after repeated
//! frustration) and what the bot says afterwards, usage rollups and resolution tracking.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tria_agent::{Agent, HandoffEvent, HandoffNotifier, NotifyError};
use tria_core::{CacheLevel, ChatReply, ChatRequest, ConversationId, IntentLabel, TenantContext};
use tria_llm::{Completion, CompletionRequest, LlmClient, LlmError, LlmStream, OpenAiClient, OpenAiConfig, PromptLibrary};
use tria_mock_llm::{MockConfig, MockServer};

use crate::seeded;

fn ask(message: &str, session: Option<&ChatReply>) -> ChatRequest {
    ChatRequest { message: message.into(), session_id: session.map(|r| r.session_id.clone()), customer_id: None }
}

fn session_id(reply: &ChatReply) -> ConversationId {
    reply.session_id.parse().expect("session id")
}

#[tokio::test]
async fn a_follow_up_is_answered_about_the_product_before_it_and_does_not_collide_with_a_first_question() {
    let (db, tenant) = seeded().await;
    let agent = Agent::builder(db.store.clone()).build();
    let first = agent.chat(&tenant, ask("Do you have the sugar-free vanilla syrup?", None)).await.expect("chat");
    assert!(first.reply.contains("NW-SYR-VAN-SF"), "{}", first.reply);

    let follow_up = agent.chat(&tenant, ask("and how much is it?", Some(&first))).await.expect("chat");
    assert_eq!(follow_up.intent.label, IntentLabel::ProductInquiry, "{follow_up:?}");
    assert!(follow_up.reply.contains("NW-SYR-VAN-SF") && follow_up.reply.contains("$52.00"), "{}", follow_up.reply);

    // The same words opening a conversation are not about the syrup, and the follow-up's cached
    // answer is not served to them.
    let fresh = agent.chat(&tenant, ask("and how much is it?", None)).await.expect("chat");
    assert!(!fresh.reply.contains("$52.00"), "{}", fresh.reply);
    assert_eq!(fresh.cache, CacheLevel::None, "no collision with the follow-up's cache entry");

    // A second conversation asking the same two things gets the follow-up from the cache.
    let again = agent.chat(&tenant, ask("Do you have the sugar-free vanilla syrup?", None)).await.expect("chat");
    let again = agent.chat(&tenant, ask("and how much is it?", Some(&again))).await.expect("chat");
    assert!(again.reply.contains("$52.00"), "{}", again.reply);
}

/// The real mock over HTTP, with every request the agent sent kept for inspection.
struct Recording {
    inner: OpenAiClient,
    seen: Mutex<Vec<CompletionRequest>>,
}

#[async_trait::async_trait]
impl LlmClient for Recording {
    fn model(&self) -> &str {
        self.inner.model()
    }

    async fn complete(&self, request: &CompletionRequest) -> Result<Completion, LlmError> {
        self.seen.lock().expect("lock").push(request.clone());
        self.inner.complete(request).await
    }

    async fn stream(&self, request: &CompletionRequest) -> Result<LlmStream, LlmError> {
        self.seen.lock().expect("lock").push(request.clone());
        self.inner.stream(request).await
    }
}

#[tokio::test]
async fn earlier_turns_reach_the_prompt_within_the_history_budget() {
    let (db, tenant) = seeded().await;
    let mock = MockServer::start(MockConfig::default()).await.expect("mock");
    let inner = OpenAiClient::new(OpenAiConfig::new(mock.base_url(), "tria-mock").with_timeout(Duration::from_secs(5))).expect("client");
    let client = Arc::new(Recording { inner, seen: Mutex::new(Vec::new()) });
    let prompts = Arc::new(PromptLibrary::embedded().expect("prompts"));
    let budget = 120;
    let agent = Agent::builder(db.store.clone()).llm(client.clone(), prompts).history_tokens(budget).build();

    let mut last = agent.chat(&tenant, ask("What is the restocking fee on returns?", None)).await.expect("chat");
    for question in ["How long does standard shipping take?", "Do you offer net 30 payment terms?", "What does the warranty cover?"] {
        last = agent.chat(&tenant, ask(question, Some(&last))).await.expect("chat");
    }
    let (reply, debug) = agent.chat_traced(&tenant, ask("Can I return opened coffee?", Some(&last))).await.expect("chat");
    assert!(debug.history_tokens <= budget && debug.history_messages > 0, "{debug:?}");
    assert!(!reply.reply.is_empty());

    let seen = client.seen.lock().expect("lock");
    let request = seen.last().expect("the model was called");
    // system, history…, the current message.
    let history = &request.messages[1..request.messages.len() - 1];
    assert!(!history.is_empty(), "earlier turns were sent");
    let tokens: u32 = history.iter().map(|m| tria_cache::count_tokens(&m.content)).sum();
    assert!(tokens <= budget, "history of {tokens} tokens exceeds the budget of {budget}");
    let text: Vec<&str> = history.iter().map(|m| m.content.as_str()).collect();
    assert!(text.iter().any(|t| t.contains("warranty")), "the newest turn is kept: {text:?}");
    assert!(
        !text.iter().any(|t| t.contains("What is the restocking fee on returns?") && !t.starts_with("(Summary")),
        "the oldest is not kept whole"
    );
}

#[derive(Default)]
struct Notified {
    events: Mutex<Vec<HandoffEvent>>,
}

#[async_trait::async_trait]
impl HandoffNotifier for Notified {
    async fn notify(&self, _tenant: &TenantContext, escalation: &HandoffEvent) -> Result<Option<String>, NotifyError> {
        self.events.lock().expect("lock").push(escalation.clone());
        Ok(Some(format!("TICKET-{}", self.events.lock().expect("lock").len())))
    }
}

async fn handoff_flow(db: &tria_testkit::TestDb, tenant: &TenantContext) {
    let notifier = Arc::new(Notified::default());
    let agent = Agent::builder(db.store.clone()).handoff_notifier(notifier.clone()).build();
    let first = agent.chat(tenant, ask("What is the restocking fee on returns?", None)).await.expect("chat");
    assert!(!first.handoff);
    let handed = agent.chat(tenant, ask("I want to talk to a real person please", Some(&first))).await.expect("chat");
    assert!(handed.handoff, "{handed:?}");
    assert!(handed.reply.contains("Monday to Friday, 8:00–18:00 Eastern Time"), "hours from the tenant: {}", handed.reply);

    let id = session_id(&handed);
    let conversation = db.store.conversations().get(tenant.id, id).await.expect("get").expect("row");
    assert_eq!((conversation.status.as_str(), conversation.resolution.as_deref()), ("handed_off", Some("handed_off")));
    let escalations = db.store.conversations().escalations(tenant.id, id).await.expect("escalations");
    assert_eq!(escalations.len(), 1);
    assert_eq!(escalations[0].reason, "requested");
    assert_eq!(escalations[0].ticket_ref.as_deref(), Some("TICKET-1"), "the notifier's ticket is stored");
    {
        let events = notifier.events.lock().expect("lock");
        assert_eq!(events.len(), 1);
        assert_eq!(events[0].transcript.len(), 3, "{:?}", events[0].transcript);
    }

    // From now on the bot does not answer; the message is kept and the customer told.
    let after = agent.chat(tenant, ask("What is the restocking fee on returns?", Some(&handed))).await.expect("chat");
    assert!(after.handoff);
    assert!(after.reply.contains("member of our team has this conversation"), "{}", after.reply);
    assert!(!after.reply.contains("10%"), "no answer while a person has it: {}", after.reply);
    let messages = db.store.conversations().messages(tenant.id, id).await.expect("messages");
    assert_eq!(messages.len(), 6);
    assert_eq!(notifier.events.lock().expect("lock").len(), 1, "no second notification");
    assert_eq!(db.store.conversations().escalations(tenant.id, id).await.expect("escalations").len(), 1);
}

#[tokio::test]
async fn asking_for_a_person_hands_off_and_the_bot_stops_answering() {
    for db in tria_testkit::all_backends().await {
        let seeded =
            tria_agent::setup::seed_from_fixtures(&db.store, &tria_testkit::fixtures_dir(), &Default::default()).await.expect("seed");
        let tenant = seeded.into_iter().find(|t| t.tenant.slug == "northwind").expect("northwind").tenant;
        handoff_flow(&db, &tenant).await;
        db.cleanup().await;
    }
}

#[tokio::test]
async fn repeated_frustration_hands_off_one_complaint_does_not() {
    let (db, tenant) = seeded().await;
    let agent = Agent::builder(db.store.clone()).build();
    let first = agent.chat(&tenant, ask("My order arrived damaged and the cups are crushed, this is awful", None)).await.expect("chat");
    assert!(!first.handoff, "{first:?}");
    let second = agent.chat(&tenant, ask("This is terrible, I am really angry about the broken cups", Some(&first))).await.expect("chat");
    assert!(second.handoff, "{second:?}");
    assert!(second.reply.contains("frustrating"), "{}", second.reply);
    let escalations = db.store.conversations().escalations(tenant.id, session_id(&second)).await.expect("escalations");
    assert_eq!(escalations[0].reason, "frustration");
}

#[tokio::test]
async fn out_of_scope_is_refused_politely_and_an_anonymous_order_asks_who_orders() {
    let (db, tenant) = seeded().await;
    let agent = Agent::builder(db.store.clone()).build();
    let reply = agent.chat(&tenant, ask("Can you write me a poem about the sea?", None)).await.expect("chat");
    assert_eq!(reply.intent.label, IntentLabel::OutOfScope, "{reply:?}");
    assert!(reply.reply.contains("I can only help with"), "{}", reply.reply);
    let reply = agent.chat(&tenant, ask("I'd like to order 5 cases of caramel syrup", None)).await.expect("chat");
    assert_eq!(reply.intent.label, IntentLabel::OrderPlacement, "{reply:?}");
    // The order flow answers (see orders.rs); without a customer it asks for one first.
    assert!(reply.reply.contains("customer number"), "{}", reply.reply);
    assert!(!reply.handoff);
}

#[tokio::test]
async fn usage_is_rolled_up_per_tenant_and_day() {
    for db in tria_testkit::all_backends().await {
        let seeded =
            tria_agent::setup::seed_from_fixtures(&db.store, &tria_testkit::fixtures_dir(), &Default::default()).await.expect("seed");
        let tenant = seeded.into_iter().find(|t| t.tenant.slug == "northwind").expect("northwind").tenant;
        let agent = Agent::builder(db.store.clone()).build();
        for _ in 0..3 {
            agent.chat(&tenant, ask("What is the restocking fee on returns?", None)).await.expect("chat");
        }
        let today = chrono::Utc::now().date_naive();
        let days = db.store.usage().range(tenant.id, today - chrono::Days::new(1), today + chrono::Days::new(1)).await.expect("range");
        assert_eq!(days.len(), 1, "{}: {days:?}", db.label);
        let day = &days[0];
        assert_eq!(day.messages, 3, "{}", db.label);
        assert_eq!(day.cache_l1 + day.cache_l2 + day.cache_l3, 2, "{}: {day:?}", db.label);
        assert_eq!((day.tokens_in, day.cost_usd), (0, 0.0), "the offline responder costs nothing");
        assert_eq!(day.tokens_saved, 0, "{}: a hit on an answer no model wrote saves nothing", db.label);
        // Another tenant's usage is not in the range.
        let other = db.store.usage().range(tria_core::TenantId::new_random(), today, today).await.expect("range");
        assert!(other.is_empty());
        db.cleanup().await;
    }
}

#[tokio::test]
async fn resolutions_are_verified_by_the_customer_assumed_when_answered_and_abandoned_otherwise() {
    let (db, tenant) = seeded().await;
    let agent = Agent::builder(db.store.clone()).build();
    let resolution = |id: ConversationId| {
        let store = db.store.clone();
        let tenant = tenant.id;
        async move {
            let row = store.conversations().get(tenant, id).await.expect("get").expect("row");
            (row.status, row.resolution)
        }
    };

    let confirmed = agent.chat(&tenant, ask("What is the restocking fee on returns?", None)).await.expect("chat");
    let thanks = agent.chat(&tenant, ask("Perfect, thanks, that's all", Some(&confirmed))).await.expect("chat");
    assert!(thanks.reply.contains("welcome"), "{}", thanks.reply);
    assert_eq!(resolution(session_id(&confirmed)).await, ("open".into(), Some("resolved_verified".into())));

    let answered = agent.chat(&tenant, ask("How long does standard shipping take?", None)).await.expect("chat");
    let unanswered = agent.chat(&tenant, ask("Can you write me a poem about the sea?", None)).await.expect("chat");

    // Not idle yet: nothing is settled.
    let report = agent.settle_idle_conversations(Duration::from_secs(30 * 60), chrono::Utc::now()).await.expect("settle");
    assert_eq!(report, tria_agent::SettleReport::default());

    let later = chrono::Utc::now() + chrono::Duration::hours(1);
    let report = agent.settle_idle_conversations(Duration::from_secs(30 * 60), later).await.expect("settle");
    assert_eq!((report.resolved_verified, report.resolved_assumed, report.abandoned), (1, 1, 1), "{report:?}");
    assert_eq!(resolution(session_id(&confirmed)).await, ("closed".into(), Some("resolved_verified".into())));
    assert_eq!(resolution(session_id(&answered)).await, ("closed".into(), Some("resolved_assumed".into())));
    assert_eq!(resolution(session_id(&unanswered)).await, ("closed".into(), Some("abandoned".into())));
    // Settled conversations are not settled again.
    let report = agent.settle_idle_conversations(Duration::from_secs(30 * 60), later).await.expect("settle");
    assert_eq!(report, tria_agent::SettleReport::default());
}

/// The console's take-over is a hand-off like the bot's own: the escalation row (reason
/// `taken_over`), the notifier told with the transcript and its ticket stored; never a second
/// escalation or notification while one is open, hand-back and take-over again included.
#[tokio::test]
async fn an_operator_take_over_opens_an_escalation_and_notifies_once() {
    let (db, tenant) = seeded().await;
    let notifier = Arc::new(Notified::default());
    let agent = Agent::builder(db.store.clone()).handoff_notifier(notifier.clone()).build();
    let first = agent.chat(&tenant, ask("What is the restocking fee on returns?", None)).await.expect("chat");
    assert!(!first.handoff);
    let id = session_id(&first);

    let taken = agent.take_over(&tenant, id).await.expect("take over");
    assert_eq!((taken.status.as_str(), taken.resolution.as_deref()), ("handed_off", Some("handed_off")));
    let escalations = db.store.conversations().escalations(tenant.id, id).await.expect("escalations");
    assert_eq!(escalations.len(), 1);
    assert_eq!((escalations[0].reason.as_str(), escalations[0].status.as_str()), ("taken_over", "open"));
    assert_eq!(escalations[0].ticket_ref.as_deref(), Some("TICKET-1"), "the notifier's ticket is stored");
    {
        let events = notifier.events.lock().expect("lock");
        assert_eq!(events.len(), 1);
        assert_eq!(events[0].reason, tria_agent::HandoffReason::TakenOver);
        assert_eq!(events[0].last_message, "What is the restocking fee on returns?");
        assert_eq!(events[0].transcript.len(), 2, "{:?}", events[0].transcript);
    }

    agent.take_over(&tenant, id).await.expect("take over again");
    let back = agent.hand_back(&tenant, id).await.expect("hand back");
    assert_eq!(back.status, "open");
    let again = agent.take_over(&tenant, id).await.expect("take over after hand-back");
    assert_eq!(again.status, "handed_off");
    assert_eq!(db.store.conversations().escalations(tenant.id, id).await.expect("escalations").len(), 1);
    assert_eq!(notifier.events.lock().expect("lock").len(), 1, "no second notification while the escalation is open");

    // Another tenant's conversation is not found.
    let other = TenantContext { id: tria_core::TenantId(uuid::Uuid::new_v4()), ..tenant.clone() };
    assert!(agent.take_over(&other, id).await.is_err());
}

/// Operator messages and customer turns on one session take the same lock: sent at once, the
/// history reads each customer message directly followed by its reply, with every operator
/// message between exchanges, never inside one. Operator messages need a take-over first.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn operator_messages_and_customer_turns_on_one_session_do_not_interleave() {
    let (db, tenant) = seeded().await;
    let agent = Arc::new(Agent::builder(db.store.clone()).build());
    let first = agent.chat(&tenant, ask("What is the restocking fee on returns?", None)).await.expect("chat");
    let id = session_id(&first);
    assert!(
        matches!(agent.operator_message(&tenant, id, "hello").await.expect("operator"), tria_agent::OperatorReply::BotAnswering),
        "the bot has it: take it over first"
    );
    agent.take_over(&tenant, id).await.expect("take over");

    const ROUNDS: usize = 12;
    let mut tasks = Vec::new();
    for i in 0..ROUNDS {
        let (turn_agent, turn_tenant, session) = (agent.clone(), tenant.clone(), first.session_id.clone());
        tasks.push(tokio::spawn(async move {
            let request = ChatRequest { message: format!("customer {i}"), session_id: Some(session), customer_id: None };
            assert!(turn_agent.chat(&turn_tenant, request).await.expect("customer turn").handoff);
        }));
        let (operator_agent, operator_tenant) = (agent.clone(), tenant.clone());
        tasks.push(tokio::spawn(async move {
            let reply = operator_agent.operator_message(&operator_tenant, id, &format!("operator {i}")).await.expect("operator message");
            assert!(matches!(reply, tria_agent::OperatorReply::Stored(_)));
        }));
    }
    for task in tasks {
        task.await.expect("join");
    }

    let messages = db.store.conversations().messages(tenant.id, id).await.expect("messages");
    assert_eq!(messages.len(), 2 + 3 * ROUNDS, "every message is stored");
    let roles: Vec<&str> = messages.iter().map(|m| m.role.as_str()).collect();
    for (i, m) in messages.iter().enumerate() {
        if m.role == "user" {
            assert_eq!(roles.get(i + 1), Some(&"assistant"), "a reply follows its question directly: {roles:?}");
        }
        if m.role == "assistant" {
            assert_eq!(roles[i - 1], "user", "{roles:?}");
        }
    }
    assert_eq!(roles.iter().filter(|r| **r == "operator").count(), ROUNDS);
}
