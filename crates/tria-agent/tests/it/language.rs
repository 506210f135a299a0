//! The customer's language (issue 28): a question in German, Spanish or French to Velo (English
//! policies) is answered with the passage that answers it — its topics' English words added to
//! the retrieval query — and a lead-in in the customer's language saying the policy is quoted in
//! English; English stays English; a short follow-up keeps the session's language; with a model,
//! the prompt asks for the reply in that language and the grounding check still applies.

use std::sync::{Arc, Mutex};

use tria_agent::Agent;
use tria_core::{ChatReply, ChatRequest, IntentLabel, TenantContext};
use tria_llm::{Completion, CompletionRequest, LlmClient, LlmError, PromptLibrary, Role, Usage};

use crate::transcript::seeded_tenant;

fn ask(message: &str, session: Option<&ChatReply>) -> ChatRequest {
    ChatRequest { message: message.into(), session_id: session.map(|r| r.session_id.clone()), customer_id: None }
}

async fn say(agent: &Agent, tenant: &TenantContext, message: &str, session: Option<&ChatReply>) -> ChatReply {
    agent.chat(tenant, ask(message, session)).await.expect("chat")
}

fn cites(reply: &ChatReply, document: &str) -> bool {
    reply.sources.first().is_some_and(|s| s.title == document)
}

/// The shipping passage of Velo's policy, not the VAT paragraph of its payment terms.
fn assert_shipping_not_vat(reply: &ChatReply) {
    assert!(cites(reply, "Shipping and Delivery"), "shipping cited first: {:?}\n{}", reply.sources, reply.reply);
    assert!(reply.reply.contains("€9.50") || reply.reply.contains("€400.00"), "the shipping charges are quoted: {}", reply.reply);
    assert!(!reply.reply.contains("reverse-charge") && !reply.reply.contains("21%"), "not the VAT paragraph: {}", reply.reply);
}

#[tokio::test]
async fn a_german_shipping_question_to_velo_gets_the_shipping_passage_with_a_german_lead_in() {
    let (db, velo) = seeded_tenant("velo").await;
    for agent in [Agent::builder(db.store.clone()).build(), Agent::builder(db.store.clone()).semantic(crate::components::parts()).build()] {
        let reply = say(&agent, &velo, "Wie hoch sind die Versandkosten nach Deutschland?", None).await;
        assert_eq!(reply.language.as_deref(), Some("de"));
        assert_eq!(reply.intent.label, IntentLabel::PolicyQuestion, "{reply:?}");
        assert!(reply.reply.contains("Unsere Richtlinien liegen nur auf Englisch vor"), "a German lead-in: {}", reply.reply);
        assert_shipping_not_vat(&reply);
    }
    db.cleanup().await;
}

#[tokio::test]
async fn spanish_and_french_shipping_questions_get_the_passage_with_a_lead_in_in_theirs() {
    let (db, velo) = seeded_tenant("velo").await;
    let agent = Agent::builder(db.store.clone()).build();
    let reply = say(&agent, &velo, "¿Cuánto cuestan los gastos de envío a Alemania?", None).await;
    assert_eq!(reply.language.as_deref(), Some("es"));
    assert!(reply.reply.contains("solo están disponibles en inglés"), "a Spanish lead-in: {}", reply.reply);
    assert_shipping_not_vat(&reply);

    let reply = say(&agent, &velo, "Quels sont les frais de livraison pour l'Allemagne ?", None).await;
    assert_eq!(reply.language.as_deref(), Some("fr"));
    assert!(reply.reply.contains("ne sont disponibles qu'en anglais"), "a French lead-in: {}", reply.reply);
    assert_shipping_not_vat(&reply);

    // The VAT question in French still gets the VAT paragraph: the expansion follows the topic.
    let reply = say(&agent, &velo, "Quel taux de TVA appliquez-vous aux comptes néerlandais ?", None).await;
    assert!(reply.reply.contains("21%"), "the VAT paragraph: {}", reply.reply);
    db.cleanup().await;
}

#[tokio::test]
async fn the_offline_replies_in_german_spanish_and_french_read_as_a_customer_sees_them() {
    let (db, velo) = seeded_tenant("velo").await;
    let agent = Agent::builder(db.store.clone()).build();
    let mut text = String::new();
    for question in
        ["Wie hoch sind die Versandkosten nach Deutschland?", "¿Cuál es el plazo para devolver un artículo?", "Que couvre la garantie ?"]
    {
        let reply = say(&agent, &velo, question, None).await;
        text.push_str(&format!("> {question}\n< [{}] {}\n", reply.language.as_deref().unwrap_or("-"), reply.reply));
    }
    expect_test::expect![[r#"
        > Wie hoch sind die Versandkosten nach Deutschland?
        < [de] Unsere Richtlinien liegen nur auf Englisch vor, deshalb zitiere ich den passenden Abschnitt im Original. Aus „Shipping and Delivery“ (Shipping and Delivery › Shipping charges): Shipping is free of charge for orders with a net goods value of €400.00 or more, excluding VAT, to all three zones. Below this amount, the following flat charges apply per order: | Zone | Shipping charge below €400.00 | |---|---| | Zone 1 | €9.50 | | Zone 2 | €16.00 | | Zone 3 | €24.00 | An express next-business-day service is available in Zone 1 only, at €19.50 per order regardless of order value, for orders confirmed by 12:00 CET. Shipping charges are subject to VAT on the same basis as the goods. Kind regards, the Velo Parts trade desk.
        > ¿Cuál es el plazo para devolver un artículo?
        < [es] Nuestras políticas solo están disponibles en inglés, así que cito el apartado correspondiente en el original. De «Returns and Credit Notes» (Returns and Credit Notes › Return authorisation procedure): Please request an RA number by email to trade@veloparts.example or through this chat, stating the order number (for example ORD-20001), the SKU and quantity of each item and the reason for the return. The trade desk issues RA numbers within 2 business days. Goods must be handed to the carrier within this period; expired RA numbers must be requested again, and the original 14-day return period continues to apply. Kind regards, the Velo Parts trade desk.
        > Que couvre la garantie ?
        < [fr] Nos conditions ne sont disponibles qu'en anglais : voici le passage concerné, cité dans la langue d'origine. Extrait de « Warranty » (Warranty › Warranty periods) : Warranty periods are calculated from the date of delivery to the trade account holder: | Product category | Warranty period | |---|---| | Bottom brackets | 24 months | | Grips | 12 months | | Chains, cassettes, brake pads, tyres, inner tubes and cables (wear parts) | 6 months, manufacturing defects only | For wear parts, the warranty covers manufacturing defects such as a cracked chain plate on a new chain, a tyre bead that does not seat, or a valve that separates from the tube. A replacement part is covered for the remainder of the original warranty period. Kind regards, the Velo Parts trade desk.
    "#]].assert_eq(&text);
    db.cleanup().await;
}

#[tokio::test]
async fn an_english_question_stays_english_and_a_short_follow_up_keeps_the_sessions_language() {
    let (db, velo) = seeded_tenant("velo").await;
    let agent = Agent::builder(db.store.clone()).build();
    let english = say(&agent, &velo, "How much is shipping to Germany?", None).await;
    assert_eq!(english.language.as_deref(), Some("en"));
    assert!(english.reply.contains("From our Shipping and Delivery"), "{}", english.reply);
    assert!(!english.reply.contains("Englisch") && !english.reply.contains("inglés"), "{}", english.reply);

    let german = say(&agent, &velo, "Wie lange dauert die Lieferung nach Österreich?", None).await;
    assert_eq!(german.language.as_deref(), Some("de"));
    // "ok" and an order number say nothing about a language: the session's stays.
    let short = say(&agent, &velo, "ok", Some(&german)).await;
    assert_eq!(short.language.as_deref(), Some("de"), "{short:?}");
    let short = say(&agent, &velo, "ORD-20001?", Some(&short)).await;
    assert_eq!(short.language.as_deref(), Some("de"), "{short:?}");
    // A whole sentence in English switches the session to English.
    let switched = say(&agent, &velo, "Sorry, how much is express delivery?", Some(&short)).await;
    assert_eq!(switched.language.as_deref(), Some("en"));
    // A short first message has no session to keep: English.
    let first = say(&agent, &velo, "ok", None).await;
    assert_eq!(first.language.as_deref(), Some("en"));
    db.cleanup().await;
}

#[tokio::test]
async fn a_german_question_is_not_answered_from_an_english_cached_reply() {
    let (db, velo) = seeded_tenant("velo").await;
    let agent = Agent::builder(db.store.clone()).build();
    let question = "Wie hoch sind die Versandkosten nach Deutschland?";
    let first = say(&agent, &velo, question, None).await;
    let again = say(&agent, &velo, question, None).await;
    assert_eq!(again.cache, tria_core::CacheLevel::None, "replies in another language are not shared through the cache");
    assert_eq!(again.reply, first.reply);
    db.cleanup().await;
}

/// A model double: records every request and answers each with the next canned reply.
struct Canned {
    replies: Mutex<Vec<String>>,
    seen: Mutex<Vec<CompletionRequest>>,
}

#[async_trait::async_trait]
impl LlmClient for Canned {
    fn model(&self) -> &str {
        "canned"
    }

    async fn complete(&self, request: &CompletionRequest) -> Result<Completion, LlmError> {
        self.seen.lock().expect("lock").push(request.clone());
        let text = self.replies.lock().expect("lock").remove(0);
        Ok(Completion { text, model: "canned".into(), usage: Usage::estimated(100, 20), finish_reason: Some("stop".into()), attempts: 1 })
    }
}

fn canned(replies: &[&str]) -> Arc<Canned> {
    Arc::new(Canned { replies: Mutex::new(replies.iter().map(|r| (*r).to_owned()).collect()), seen: Mutex::new(Vec::new()) })
}

#[tokio::test]
async fn with_a_model_the_prompt_asks_for_the_customers_language_and_numbers_are_still_checked() {
    let (db, velo) = seeded_tenant("velo").await;
    let prompts = Arc::new(PromptLibrary::embedded().expect("prompts"));
    let grounded = "Der Versand nach Deutschland (Zone 1) kostet €9.50 pro Bestellung; ab €400.00 ohne MwSt. ist er kostenlos.";
    let model = canned(&[grounded]);
    let agent = Agent::builder(db.store.clone()).llm(model.clone(), prompts.clone()).build();
    let reply = say(&agent, &velo, "Wie hoch sind die Versandkosten nach Deutschland?", None).await;
    // The tenant's own sign-off (its configured text) follows.
    assert!(reply.reply.starts_with(grounded), "the model's grounded German reply is used: {}", reply.reply);
    assert!(reply.usage.prompt_version.as_deref().is_some_and(|v| v.ends_with("+lang-de")), "{:?}", reply.usage);
    {
        let seen = model.seen.lock().expect("lock");
        let system = seen[0].messages.iter().find(|m| m.role == Role::System).expect("a system message");
        assert!(system.content.contains("write your whole reply in German"), "{}", system.content);
        assert!(system.content.contains("exactly as the sources write it"), "{}", system.content);
        let user = seen[0].messages.last().expect("the customer's message");
        assert!(user.content.contains("€9.50"), "the shipping passage is the grounding: {}", user.content);
    }

    // An invented figure fails the grounding check in German too: regenerated once, then the
    // offline reply (German lead-in, the English passage).
    let model = canned(&["Der Versand kostet €7.00.", "Der Versand kostet immer €5.00."]);
    let agent = Agent::builder(db.store.clone()).llm(model.clone(), prompts.clone()).build();
    let reply = say(&agent, &velo, "Was kostet der Versand nach Belgien?", None).await;
    assert_eq!(model.seen.lock().expect("lock").len(), 2, "answer + one regeneration");
    assert!(!reply.reply.contains("€7.00") && !reply.reply.contains("€5.00"), "{}", reply.reply);
    assert!(reply.reply.contains("Unsere Richtlinien liegen nur auf Englisch vor"), "{}", reply.reply);

    // English: no language instruction.
    let model = canned(&["Shipping to Germany is €9.50 per order below €400.00."]);
    let agent = Agent::builder(db.store.clone()).llm(model.clone(), prompts).build();
    say(&agent, &velo, "How much is shipping to Germany?", None).await;
    let system = model.seen.lock().expect("lock")[0].messages.iter().find(|m| m.role == Role::System).expect("a system message").clone();
    assert!(!system.content.contains("whole reply in"), "{}", system.content);
    db.cleanup().await;
}
