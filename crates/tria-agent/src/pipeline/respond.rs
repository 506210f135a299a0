//! The respond stage with its validation (on a cache miss, for a question the tenant's data
//! answers): the offline responder's reply from what retrieval found, replaced by the LLM's
//! when one is configured, the intent is one it writes, there is grounding and its reply passes
//! the checks. Validation cannot be a stage after this one: a rejected LLM reply is regenerated,
//! and a streamed reply is checked one sentence at a time as it is sent (`generation.rs`).

use tria_core::{IntentVerdict, ReplyUsage, SourceRef, TenantContext};
use tria_guard::PersonalDataAllowance;
use tria_intent::Classification;
use tria_rag::ProductHit;

use super::retrieval::Retrieved;
use crate::Agent;
use crate::generation::{self, ATTEMPTS, GenerationRequest, LlmParts};
use crate::routing::Ask;
use crate::stream::StreamSignal;
use crate::trace::Stage;
use crate::{catalogue, responder};

/// A reply before its tone is adapted: what it says, what it cites and what writing it cost.
#[derive(Debug)]
pub(crate) struct Drafted {
    pub(crate) text: String,
    pub(crate) sources: Vec<SourceRef>,
    /// Zeros when the offline responder wrote it.
    pub(crate) usage: ReplyUsage,
}

impl Drafted {
    /// A template reply of the offline responder (a greeting, a hand-off, out of scope): it
    /// cites nothing and cost nothing.
    pub(crate) fn template(text: String) -> Self {
        Self { text, sources: Vec::new(), usage: ReplyUsage::default() }
    }
}

impl Agent {
    /// The personal data an LLM reply may mention: the tenant's published contact details
    /// (`support_email`, `support_phone`, and what its documents and catalogue say: the
    /// grounding) and the customer's own (their profile's email, what they wrote in this
    /// conversation). Anything else is someone else's (`generation::validate_reply`).
    async fn personal_data_allowance(&self, tenant: &TenantContext, ask: Ask<'_>, grounding: &[(String, String)]) -> PersonalDataAllowance {
        let mut allowance = PersonalDataAllowance::new();
        for key in ["support_email", "support_phone"] {
            if let Some(value) = tenant.settings.get(key).and_then(|v| v.as_str()) {
                allowance.allow_contact(value);
            }
        }
        for (_, text) in grounding {
            allowance.allow_text(text);
        }
        allowance.allow_text(ask.message);
        for earlier in ask.history.iter().filter(|m| m.role == tria_llm::Role::User) {
            allowance.allow_text(&earlier.content);
        }
        if let Some(customer) = ask.customer {
            match self.store().customers().get(tenant.id, customer).await {
                Ok(Some(profile)) if !profile.email.is_empty() => {
                    allowance.allow_contact(&profile.email);
                }
                Ok(_) => {}
                Err(error) => tracing::warn!(%error, "customer profile unreadable: only the tenant's details may be in the reply"),
            }
        }
        allowance
    }

    /// The reply grounded in what retrieval found, and what it cites.
    pub(crate) async fn draft(
        &self,
        tenant: &TenantContext,
        ask: Ask<'_>,
        classification: &Classification,
        retrieved: Retrieved,
    ) -> Drafted {
        let clock = ask.clock;
        match retrieved {
            Retrieved::Products(hits) => {
                let sources = hits.iter().map(catalogue::source).collect();
                let quoted: Vec<&ProductHit> = hits.iter().collect();
                let offline = clock.time(Stage::Generation, || catalogue::compose(&quoted));
                let grounding: Vec<(String, String)> = vec![("catalogue".into(), offline.clone())];
                // A product reply must name what it quotes.
                let skus: Vec<String> = hits.iter().map(|h| h.product.sku.clone()).collect();
                let (text, usage) = self.llm_reply(tenant, classification, ask, &grounding, offline, &skus).await;
                Drafted { text, sources, usage }
            }
            Retrieved::Policies(hits) => {
                let question = ask.retrieval_query();
                let offline =
                    clock.time(Stage::Generation, || responder::compose(tenant, classification.label, &question, &hits, ask.language));
                let sources = hits.iter().map(|h| h.source_ref()).collect();
                let grounding: Vec<(String, String)> =
                    hits.iter().map(|h| (format!("{} › {}", h.chunk.title, h.chunk.heading_path), h.chunk.text.clone())).collect();
                let (text, usage) = self.llm_reply(tenant, classification, ask, &grounding, offline, &[]).await;
                Drafted { text, sources, usage }
            }
        }
    }

    /// The LLM's reply when one is configured, the intent is one it writes, there is grounding
    /// and the reply passes the checks; otherwise `offline`. Returns the reply and what it cost.
    async fn llm_reply(
        &self,
        tenant: &TenantContext,
        classification: &Classification,
        ask: Ask<'_>,
        grounding: &[(String, String)],
        offline: String,
        must_name: &[String],
    ) -> (String, ReplyUsage) {
        if !generation::uses_llm(classification.label) || grounding.is_empty() {
            return (offline, ReplyUsage::default());
        }
        let Some(llm) = self.llm_for(tenant).await else { return (offline, ReplyUsage::default()) };
        // Every call of this turn ends by its deadline, behind each provider's breaker, in failover order.
        let llm = LlmParts { client: self.llm_guard().guard_routes(&llm.routes, ask.clock.started()), ..llm };
        let personal = self.personal_data_allowance(tenant, ask, grounding).await;
        let request = GenerationRequest {
            personal: &personal,
            tenant,
            label: classification.label,
            message: ask.message,
            grounding,
            history: ask.history,
            clock: ask.clock,
            must_name,
            language: ask.language,
        };
        let generated = match (ask.sink, ask.conversation) {
            (Some(sink), Some(conversation)) => {
                let meta = StreamSignal::Meta {
                    session_id: conversation.to_string(),
                    intent: IntentVerdict { label: classification.label, confidence: classification.confidence },
                };
                match llm.generate_streaming(request, sink, meta).await {
                    Ok(done) => Ok(done),
                    // The streamed attempt counts as the first; one regeneration, unstreamed, when
                    // the model's reply was refused (a provider that failed is not waited for again).
                    Err(reason) if reason.is_rejection() => {
                        tracing::warn!(%reason, "streamed llm reply rejected; regenerating once");
                        llm.generate(request, ATTEMPTS - 1).await
                    }
                    Err(reason) => Err(reason),
                }
            }
            _ => llm.generate(request, ATTEMPTS).await,
        };
        match generated {
            Ok((text, info)) => {
                tracing::debug!(prompt = %info.prompt_version, tokens_in = info.tokens_in, tokens_out = info.tokens_out, cost_usd = info.cost_usd, "llm reply accepted");
                let usage = ReplyUsage {
                    tokens_in: info.tokens_in,
                    tokens_out: info.tokens_out,
                    cost_usd: info.cost_usd,
                    prompt_version: Some(info.prompt_version),
                    fallback: None,
                };
                (text, usage)
            }
            Err(reason) => {
                let why = reason.fallback_reason();
                tracing::warn!(%reason, fallback = why.as_str(), "llm reply not used; the grounded responder answers");
                self.llm_guard().record_fallback(why);
                (offline, ReplyUsage { fallback: Some(why.as_str().to_owned()), ..ReplyUsage::default() })
            }
        }
    }
}
