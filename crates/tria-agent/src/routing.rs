//! Routing a classified message to what answers it: policy and product questions and
//! complaints → retrieval and generation; order and billing intents → the order flow
//! ([`route_order`]); greetings, hand-off requests and out-of-scope messages → templates (the
//! hand-off itself is done by the pipeline after the reply is chosen, see `handoff.rs`).

use tria_core::{ConversationId, CustomerId, IntentLabel, ReplyUsage, TenantContext};
use tria_intent::Classification;
use tria_llm::ChatMessage;

use crate::cached::Generated;
use crate::language::Language;
use crate::pipeline::{Drafted, adapt_tone};
use crate::stream::StreamSink;
use crate::trace::{Stage, StageClock};
use crate::{Agent, AgentError, responder, scope};

/// How many chunks a reply may cite.
pub(crate) const TOP_K: usize = 3;

/// One message to answer, with what the session stage knows about its conversation.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Ask<'a> {
    /// The message as answered (a follow-up carries its subject, see `context.rs`).
    pub(crate) message: &'a str,
    /// Earlier turns for the prompt, already within the token budget.
    pub(crate) history: &'a [ChatMessage],
    /// `None` for cache warming, where there is no conversation.
    pub(crate) conversation: Option<ConversationId>,
    pub(crate) customer: Option<CustomerId>,
    pub(crate) clock: &'a StageClock,
    /// Where a streamed LLM reply goes as it is generated (`chat_stream`).
    pub(crate) sink: Option<&'a StreamSink>,
    /// The customer's language (`Session::language`): retrieval adds its topics' English words,
    /// the reply is written in it.
    pub(crate) language: Language,
}

impl Ask<'_> {
    /// The text retrieval searches and the responder picks sentences with: the message, with
    /// the English words of the policy topics it names when it is in another language
    /// (`tria_rag::cross_lingual`), since the policies and the embedder are English.
    pub(crate) fn retrieval_query(&self) -> std::borrow::Cow<'_, str> {
        tria_rag::cross_lingual::expand_query(self.message, self.language.code())
    }

    /// Whether a policy section of `index` covers what the message asks about, for a weak
    /// out-of-scope verdict to be answered from the policies: the message's own words, or for a
    /// message in another language the English words of the topics it names (its own cannot be
    /// in an English section).
    pub(crate) fn policies_cover(&self, index: &tria_rag::TenantIndex) -> bool {
        if self.language.is_english() {
            return scope::policies_cover(index, self.message);
        }
        scope::topics_covered(index, &tria_rag::cross_lingual::topic_words(self.message, self.language.code()).join(" "))
    }
}

/// What the order flow gets: the tenant, the conversation and customer (if known), the message
/// and its classification (entities: SKUs, quantities, order numbers).
#[derive(Clone, Copy, Debug)]
pub(crate) struct OrderTurn<'a> {
    pub(crate) tenant: &'a TenantContext,
    pub(crate) conversation: Option<ConversationId>,
    pub(crate) customer: Option<CustomerId>,
    pub(crate) message: &'a str,
    pub(crate) classification: &'a Classification,
}

/// The answer to an order message outside a conversation (cache warming, `generate`): the
/// template reply. In a conversation the order flow (`crate::orders`, called by the pipeline
/// before the cache) answers order messages from the customer's live order rows.
pub(crate) async fn route_order(agent: &Agent, turn: OrderTurn<'_>) -> Result<Generated, AgentError> {
    let _ = agent;
    tracing::debug!(conversation = ?turn.conversation, customer = ?turn.customer, intent = %turn.classification.label, "order message outside a conversation: template reply");
    let reply = responder::compose(turn.tenant, turn.classification.label, turn.message, &[], Language::English);
    let reply = tria_guard::adapt_tone(&reply, &turn.tenant.tone, turn.classification.label, turn.classification.tone);
    let answer = tria_core::Answer::new(reply, turn.classification.label, turn.classification.confidence);
    Ok(Generated { answer, usage: ReplyUsage::default(), refused: false })
}

/// Intents answered by the order flow (billing questions are answered from the policies).
pub(crate) fn is_order_intent(label: IntentLabel) -> bool {
    matches!(label, IntentLabel::OrderPlacement | IntentLabel::OrderStatus | IntentLabel::OrderChange)
}

impl Agent {
    /// The reply for a classified message (what a cache hit skips).
    pub(crate) async fn respond(
        &self,
        tenant: &TenantContext,
        ask: Ask<'_>,
        classification: Classification,
    ) -> Result<Generated, AgentError> {
        // The learned safety layer needs the embedding, which a miss computes anyway.
        if let Some(refusal) = self.learned_refusal(ask.message) {
            let reply = tria_guard::refusal_message(refusal.category, &tenant.name);
            let answer = tria_core::Answer::new(reply, IntentLabel::OutOfScope, 1.0);
            return Ok(Generated { answer, usage: ReplyUsage::default(), refused: true });
        }
        let label = classification.label;
        if is_order_intent(label) {
            let turn = OrderTurn {
                tenant,
                conversation: ask.conversation,
                customer: ask.customer,
                message: ask.message,
                classification: &classification,
            };
            return route_order(self, turn).await;
        }
        match label {
            IntentLabel::PolicyQuestion | IntentLabel::ProductInquiry | IntentLabel::Complaint | IntentLabel::Billing => {
                self.answer_question(tenant, ask, classification).await
            }
            IntentLabel::OutOfScope
                if scope::worth_a_second_look(&classification)
                    && ask.policies_cover(&*ask.clock.time_async(Stage::Retrieval, self.indexes.get(tenant.id)).await?) =>
            {
                tracing::debug!("no intent evidence, but the policies cover the message: answered as a policy question");
                let classification = Classification { label: IntentLabel::PolicyQuestion, ..classification };
                self.answer_question(tenant, ask, classification).await
            }
            // Greeting, a request for a person (the pipeline hands off), out of scope: templates.
            _ => {
                let text = ask.clock.time(Stage::Generation, || responder::compose(tenant, label, ask.message, &[], ask.language));
                Ok(adapt_tone(Drafted::template(text), &tenant.tone, &classification, ask.clock))
            }
        }
    }

    /// A question the tenant's catalogue or policies answer: retrieval → respond (the LLM's
    /// reply and its validation, or the offline responder's) → tone.
    async fn answer_question(&self, tenant: &TenantContext, ask: Ask<'_>, classification: Classification) -> Result<Generated, AgentError> {
        let retrieved = self.retrieve(tenant, ask, classification.label).await?;
        let drafted = self.draft(tenant, ask, &classification, retrieved).await;
        Ok(adapt_tone(drafted, &tenant.tone, &classification, ask.clock))
    }
}
