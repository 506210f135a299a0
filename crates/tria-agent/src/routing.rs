//! Routing a classified message to what answers it: policy and product questions and
//! complaints → retrieval and generation; order and billing intents → the order flow
//! ([`route_order`]); greetings, hand-off requests and out-of-scope messages → templates (the
//! hand-off itself is done by the pipeline after the reply is chosen, see `handoff.rs`).

use tria_core::{ConversationId, CustomerId, IntentLabel, IntentVerdict, ReplyUsage, TenantContext};
use tria_guard::adapt_tone;
use tria_intent::Classification;
use tria_llm::ChatMessage;

use crate::cached::Generated;
use crate::generation::{self, ATTEMPTS, GenerationRequest};
use crate::stream::{StreamSignal, StreamSink};
use crate::trace::{Stage, StageClock};
use crate::{Agent, AgentError, catalogue, responder, scope};

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
    let reply = responder::compose(turn.tenant, turn.classification.label, turn.message, &[]);
    let reply = adapt_tone(&reply, &turn.tenant.tone, turn.classification.label, turn.classification.tone);
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
                    && scope::policies_cover(&*ask.clock.time_async(Stage::Retrieval, self.indexes.get(tenant.id)).await?, ask.message) =>
            {
                tracing::debug!("no intent evidence, but the policies cover the message: answered as a policy question");
                let classification = Classification { label: IntentLabel::PolicyQuestion, ..classification };
                self.answer_question(tenant, ask, classification).await
            }
            // Greeting, a request for a person (the pipeline hands off), out of scope: templates.
            _ => {
                let reply = ask.clock.time(Stage::Generation, || responder::compose(tenant, label, ask.message, &[]));
                let reply = ask.clock.time(Stage::Tone, || adapt_tone(&reply, &tenant.tone, label, classification.tone));
                let answer = tria_core::Answer::new(reply, label, classification.confidence);
                Ok(Generated { answer, usage: ReplyUsage::default(), refused: false })
            }
        }
    }

    /// Retrieval (catalogue rows for product questions, policy chunks otherwise) and the reply
    /// grounded in it.
    async fn answer_question(&self, tenant: &TenantContext, ask: Ask<'_>, classification: Classification) -> Result<Generated, AgentError> {
        let message = ask.message;
        let clock = ask.clock;
        let index = clock.time_async(Stage::Retrieval, self.indexes.get(tenant.id)).await?;
        if classification.label == IntentLabel::ProductInquiry
            && let Some(products) = self.indexes.catalogue(tenant.id)
        {
            let vector = clock.time(Stage::Retrieval, || self.query_embedding(message));
            let found = clock.time(Stage::Retrieval, || products.search(message, vector.as_deref(), TOP_K));
            let relevant = catalogue::relevant(message, &found);
            if !relevant.is_empty() {
                let sources = relevant.iter().map(|h| catalogue::source(h)).collect();
                let offline = clock.time(Stage::Generation, || catalogue::compose(&relevant));
                let grounding: Vec<(String, String)> = vec![("catalogue".into(), offline.clone())];
                let skus: Vec<String> = relevant.iter().map(|h| h.product.sku.clone()).collect();
                let (reply, usage) = self.with_llm(tenant, &classification, ask, &grounding, offline, &skus).await;
                let answer = tria_core::Answer::new(reply, classification.label, classification.confidence)
                    .with_sources(sources)
                    .with_tokens(usage.tokens_in + usage.tokens_out);
                return Ok(Generated { answer, usage, refused: false });
            }
        }
        let hits = clock.time_async(Stage::Retrieval, self.retrieve(tenant.id, &index, message, TOP_K)).await;
        let offline = clock.time(Stage::Generation, || responder::compose(tenant, classification.label, message, &hits));
        let sources: Vec<_> = hits.iter().map(|h| h.source_ref()).collect();
        let grounding: Vec<(String, String)> =
            hits.iter().map(|h| (format!("{} › {}", h.chunk.title, h.chunk.heading_path), h.chunk.text.clone())).collect();
        let (reply, usage) = self.with_llm(tenant, &classification, ask, &grounding, offline, &[]).await;
        let answer = tria_core::Answer::new(reply, classification.label, classification.confidence)
            .with_sources(sources)
            .with_tokens(usage.tokens_in + usage.tokens_out);
        Ok(Generated { answer, usage, refused: false })
    }

    /// The LLM's reply when one is configured, the intent is one it writes, there is grounding
    /// and the reply passes the checks; otherwise `offline`. Then the tone is adapted to the
    /// tenant and the customer's mood. Returns the reply and what it cost.
    async fn with_llm(
        &self,
        tenant: &TenantContext,
        classification: &Classification,
        ask: Ask<'_>,
        grounding: &[(String, String)],
        offline: String,
        must_name: &[String],
    ) -> (String, ReplyUsage) {
        let mut reply = offline;
        let mut usage = ReplyUsage::default();
        if let Some(llm) = self.llm()
            && generation::uses_llm(classification.label)
            && !grounding.is_empty()
        {
            let request = GenerationRequest {
                tenant,
                label: classification.label,
                message: ask.message,
                grounding,
                history: ask.history,
                clock: ask.clock,
                must_name,
            };
            let generated = match (ask.sink, ask.conversation) {
                (Some(sink), Some(conversation)) => {
                    let meta = StreamSignal::Meta {
                        session_id: conversation.to_string(),
                        intent: IntentVerdict { label: classification.label, confidence: classification.confidence },
                    };
                    match llm.generate_streaming(request, sink, meta).await {
                        Ok(done) => Ok(done),
                        // The streamed attempt counts as the first; one regeneration, unstreamed.
                        Err(reason) => {
                            tracing::warn!(%reason, "streamed llm reply rejected; regenerating once");
                            llm.generate(request, ATTEMPTS - 1).await
                        }
                    }
                }
                _ => llm.generate(request, ATTEMPTS).await,
            };
            match generated {
                Ok((text, info)) => {
                    tracing::debug!(prompt = %info.prompt_version, tokens_in = info.tokens_in, tokens_out = info.tokens_out, cost_usd = info.cost_usd, "llm reply accepted");
                    usage = ReplyUsage {
                        tokens_in: info.tokens_in,
                        tokens_out: info.tokens_out,
                        cost_usd: info.cost_usd,
                        prompt_version: Some(info.prompt_version),
                    };
                    reply = text;
                }
                Err(reason) => tracing::warn!(%reason, "llm reply not used; the grounded responder answers"),
            }
        }
        let reply = ask.clock.time(Stage::Tone, || adapt_tone(&reply, &tenant.tone, classification.label, classification.tone));
        (reply, usage)
    }
}
