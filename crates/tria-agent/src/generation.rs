//! Generation with an LLM behind the guards: the prompt holds the grounding and the customer's
//! text as delimited data; a reply whose numbers are not all in the grounding, or that leaks
//! the prompt or another tenant, is regenerated once and then replaced by the offline grounded
//! responder's reply. Without an LLM the offline responder answers directly.

use std::sync::Arc;

use tria_core::{IntentLabel, TenantContext};
use tria_guard::{OutputIssue, OutputPolicy, check_grounding, check_output, truncate_at_sentence};
use tria_llm::{ChatMessage, CompletionRequest, GroundingItem, LlmClient, PriceTable, PromptContext, PromptLibrary};

use crate::AgentBuilder;
use crate::trace::{Stage, StageClock};

/// Longest reply sent to a customer, in characters.
const MAX_REPLY_CHARS: usize = 1200;
/// Attempts at an acceptable LLM reply before the offline responder answers.
const ATTEMPTS: usize = 2;
const MAX_TOKENS: u32 = 400;

/// The LLM, its prompts and prices.
#[derive(Clone)]
pub(crate) struct LlmParts {
    pub(crate) client: Arc<dyn LlmClient>,
    pub(crate) prompts: Arc<PromptLibrary>,
    pub(crate) prices: Arc<PriceTable>,
}

impl AgentBuilder {
    /// Generate replies with `client` (any OpenAI-compatible endpoint, or a test double) from
    /// `prompts`; every reply is still checked against its grounding before it is used.
    pub fn llm(mut self, client: Arc<dyn LlmClient>, prompts: Arc<PromptLibrary>) -> Self {
        self.llm = Some(LlmParts { client, prompts, prices: Arc::new(PriceTable::builtin()) });
        self
    }
}

/// What an accepted LLM reply cost and which prompt produced it.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct GenerationInfo {
    pub prompt_version: String,
    pub tokens_in: u32,
    pub tokens_out: u32,
    pub cost_usd: f64,
    /// Why the offline reply was used instead, if it was.
    pub fallback_reason: Option<String>,
}

/// Intents whose reply the LLM writes; the others are templates (greeting, hand-off,
/// refusal, not-enabled order flows) that gain nothing from a model.
pub(crate) fn uses_llm(label: IntentLabel) -> bool {
    matches!(label, IntentLabel::PolicyQuestion | IntentLabel::ProductInquiry | IntentLabel::Complaint)
}

impl LlmParts {
    /// An LLM reply that passes every check, or `Err(reason)` (the caller falls back).
    pub(crate) async fn generate(
        &self,
        tenant: &TenantContext,
        label: IntentLabel,
        message: &str,
        grounding: &[(String, String)],
        history: &[ChatMessage],
        clock: &StageClock,
    ) -> Result<(String, GenerationInfo), String> {
        let items: Vec<GroundingItem<'_>> = grounding.iter().map(|(source, text)| GroundingItem { source, text }).collect();
        let set = tenant.settings.get("prompt_set").and_then(|v| v.as_str()).unwrap_or("default");
        let context = PromptContext {
            tenant_name: &tenant.name,
            persona: &tenant.tone.persona,
            tone: tenant.tone.style,
            intent: label,
            grounding: &items,
            history,
            user_message: message,
        };
        let rendered = self.prompts.render(set, &context).map_err(|e| format!("prompt: {e}"))?;
        let mut texts: Vec<&str> = grounding.iter().map(|(_, t)| t.as_str()).collect();
        texts.push(message);
        let mut last = String::from("no attempt");
        for _ in 0..ATTEMPTS {
            let request = CompletionRequest::new(rendered.messages.clone()).with_max_tokens(MAX_TOKENS);
            let completion = match clock.time_async(Stage::Generation, self.client.complete(&request)).await {
                Ok(c) => c,
                Err(e) => return Err(format!("llm: {e}")),
            };
            let text = match clock.time(Stage::Validation, || validate_reply(completion.text.trim(), &texts, &rendered.system)) {
                Ok(text) => text,
                Err(reason) => {
                    last = reason;
                    continue;
                }
            };
            let cost_usd = self.prices.cost(&completion.model, &completion.usage).map_or(0.0, |c| c.usd);
            let info = GenerationInfo {
                prompt_version: rendered.version.clone(),
                tokens_in: completion.usage.prompt_tokens,
                tokens_out: completion.usage.completion_tokens,
                cost_usd,
                fallback_reason: None,
            };
            return Ok((text, info));
        }
        Err(last)
    }
}

/// `text` if every number in it is in `grounding` and it leaks nothing (cut at a sentence when
/// merely too long), else why not.
pub(crate) fn validate_reply(text: &str, grounding: &[&str], system_prompt: &str) -> Result<String, String> {
    let report = check_grounding(text, grounding);
    if !report.is_grounded() {
        return Err(format!("ungrounded: {:?}", report.ungrounded.iter().map(|c| c.text.as_str()).collect::<Vec<_>>()));
    }
    let issues = check_output(text, &OutputPolicy { system_prompt, max_chars: MAX_REPLY_CHARS, forbidden: &[] });
    if issues.iter().any(|i| !matches!(i, OutputIssue::TooLong { .. })) {
        return Err(format!("output check: {issues:?}"));
    }
    Ok(if issues.is_empty() { text.to_owned() } else { truncate_at_sentence(text, MAX_REPLY_CHARS) })
}
