//! Generation with an LLM behind the guards: the prompt holds the grounding and the customer's
//! text as delimited data; a reply whose numbers are not all in the grounding, or that leaks
//! the prompt or another tenant, is regenerated once and then replaced by the offline grounded
//! responder's reply. Without an LLM the offline responder answers directly.

use std::sync::Arc;

use futures::StreamExt;
use tria_core::{IntentLabel, TenantContext};
use tria_guard::{OutputIssue, OutputPolicy, PersonalDataAllowance, PersonalKind, check_grounding, check_output, truncate_at_sentence};
use tria_llm::{
    ChatMessage, CompletionRequest, GroundingItem, LedgerOutcome, LlmClient, LlmError, PriceTable, PromptContext, PromptError,
    PromptLibrary, RenderedPrompt, Role, StreamEvent, Usage,
};

use crate::AgentBuilder;
use crate::language::Language;
use crate::stream::{StreamSignal, StreamSink};
use crate::trace::{Stage, StageClock};

/// Longest reply sent to a customer, in characters.
const MAX_REPLY_CHARS: usize = 1200;
/// Attempts at an acceptable LLM reply before the offline responder answers.
pub(crate) const ATTEMPTS: usize = 2;
const MAX_TOKENS: u32 = 400;

/// The LLM one turn's reply is written with, its prompts and prices.
#[derive(Clone)]
pub(crate) struct LlmParts {
    /// The client the reply is asked of: the first of `routes`, until the turn's guard puts
    /// all of them, in failover order, behind their breakers.
    pub(crate) client: Arc<dyn LlmClient>,
    pub(crate) routes: Vec<LlmRoute>,
    pub(crate) prompts: Arc<PromptLibrary>,
    pub(crate) prices: Arc<PriceTable>,
}

/// Which LLM writes a tenant's replies: its own provider, the deployment's, or none (`None`:
/// the offline grounded responder). The agent asks once per reply it would generate; an
/// implementation caches what it builds and must not fail (a tenant whose own provider cannot
/// be read gets what the implementation thinks safe, and it logs why). The server's reads each
/// tenant's settings and secrets, so the agent never sees a key.
#[async_trait::async_trait]
pub trait LlmDirectory: Send + Sync {
    async fn for_tenant(&self, tenant: &TenantContext) -> Option<Arc<dyn LlmClient>>;

    /// The tenant's LLMs in failover order: the first is asked, each next one when the one
    /// before is held back (breaker open, 429) or fails within the turn (empty: the offline
    /// responder). Default: [`LlmDirectory::for_tenant`]'s client alone.
    async fn routes_for_tenant(&self, tenant: &TenantContext) -> Vec<LlmRoute> {
        self.for_tenant(tenant).await.map(LlmRoute::new).into_iter().collect()
    }
}

/// One LLM a tenant's replies may be written with, and the key its circuit breaker and 429
/// hold-off are kept under (the same key, the same breaker, for every tenant that uses it).
#[derive(Clone)]
pub struct LlmRoute {
    pub client: Arc<dyn LlmClient>,
    /// `provider/model` (e.g. `openai/gpt-4o-mini`); a tenant's own endpoint and key are
    /// scoped to it (`northwind:anthropic/claude-3-5-haiku`), so one tenant's outage or rate
    /// limit never holds back another's.
    pub key: String,
}

impl LlmRoute {
    /// Keyed `provider/model`, as the client reports them.
    pub fn new(client: Arc<dyn LlmClient>) -> Self {
        let key = format!("{}/{}", client.provider(), client.model());
        Self { client, key }
    }

    /// Keyed `scope:provider/model`.
    pub fn scoped(scope: &str, client: Arc<dyn LlmClient>) -> Self {
        let key = format!("{scope}:{}/{}", client.provider(), client.model());
        Self { client, key }
    }
}

impl std::fmt::Debug for LlmRoute {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LlmRoute").field("key", &self.key).finish_non_exhaustive()
    }
}

/// One client for every tenant.
struct SameLlm(Arc<dyn LlmClient>);

#[async_trait::async_trait]
impl LlmDirectory for SameLlm {
    async fn for_tenant(&self, _tenant: &TenantContext) -> Option<Arc<dyn LlmClient>> {
        Some(self.0.clone())
    }
}

/// Where the agent's LLM clients come from, with the prompts and prices they share.
#[derive(Clone)]
pub(crate) struct LlmSource {
    directory: Arc<dyn LlmDirectory>,
    pub(crate) prompts: Arc<PromptLibrary>,
    prices: Arc<PriceTable>,
}

impl LlmSource {
    /// The LLM `tenant`'s reply is written with, if any.
    pub(crate) async fn for_tenant(&self, tenant: &TenantContext) -> Option<LlmParts> {
        let routes = self.directory.routes_for_tenant(tenant).await;
        let client = routes.first()?.client.clone();
        Some(LlmParts { client, routes, prompts: self.prompts.clone(), prices: self.prices.clone() })
    }
}

impl AgentBuilder {
    /// Generate replies with `client` (any OpenAI-compatible endpoint, or a test double) from
    /// `prompts`; every reply is still checked against its grounding before it is used.
    pub fn llm(self, client: Arc<dyn LlmClient>, prompts: Arc<PromptLibrary>) -> Self {
        self.llm_directory(Arc::new(SameLlm(client)), prompts)
    }

    /// Generate each tenant's replies with the client `directory` picks for it (none: the
    /// offline responder), from `prompts`.
    pub fn llm_directory(self, directory: Arc<dyn LlmDirectory>, prompts: Arc<PromptLibrary>) -> Self {
        self.llm_directory_priced(directory, prompts, PriceTable::builtin())
    }

    /// [`AgentBuilder::llm_directory`] pricing what each reply reports it cost with `prices`
    /// (the deployment's `[llm.prices]` over the built-in table, as the cost ledger does).
    pub fn llm_directory_priced(mut self, directory: Arc<dyn LlmDirectory>, prompts: Arc<PromptLibrary>, prices: PriceTable) -> Self {
        self.llm = Some(LlmSource { directory, prompts, prices: Arc::new(prices) });
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

/// Why no LLM reply was used (the offline responder answers instead). Logged, never shown.
#[derive(Debug, thiserror::Error)]
pub(crate) enum GenerationError {
    #[error("prompt: {0}")]
    Prompt(#[source] PromptError),
    #[error("llm: {0}")]
    Llm(#[source] LlmError),
    #[error("llm stream: {0}")]
    Stream(#[source] LlmError),
    /// A streamed sentence was ungrounded or leaked; forwarding stopped there.
    #[error("streamed sentence failed the checks: {0:?}")]
    StreamedSentence(String),
    #[error(transparent)]
    Rejected(#[from] ReplyRejected),
    #[error("no attempt")]
    NoAttempt,
}

/// Why a whole reply failed the checks.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ReplyRejected {
    #[error("names none of {0:?}")]
    NamesNoProduct(Vec<String>),
    #[error("ungrounded: {0:?}")]
    Ungrounded(Vec<String>),
    #[error("output check: {0:?}")]
    Output(Vec<OutputIssue>),
    /// Someone else's email address, phone, card number or street address (only the kinds are
    /// kept: the log must not repeat them).
    #[error("personal data that is neither the customer's nor the tenant's published: {0:?}")]
    PersonalData(Vec<PersonalKind>),
}

/// Intents whose reply the LLM writes; the others are templates (greeting, hand-off,
/// refusal, not-enabled order flows) that gain nothing from a model.
pub(crate) fn uses_llm(label: IntentLabel) -> bool {
    matches!(label, IntentLabel::PolicyQuestion | IntentLabel::ProductInquiry | IntentLabel::Complaint)
}

impl LlmParts {
    /// The rendered prompt for a message and the texts its reply's numbers must come from.
    fn prepare(
        &self,
        tenant: &TenantContext,
        label: IntentLabel,
        message: &str,
        grounding: &[(String, String)],
        history: &[ChatMessage],
        language: Language,
    ) -> Result<(RenderedPrompt, Vec<String>), GenerationError> {
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
        let mut rendered = self.prompts.render(set, &context).map_err(GenerationError::Prompt)?;
        if let Some(instruction) = crate::language::reply_instruction(language) {
            // After the template's rules, in the system prompt (so the leak check covers it too);
            // the version says the prompt was not the template's alone.
            rendered.system = format!("{}\n\n{instruction}", rendered.system.trim_end());
            if let Some(system) = rendered.messages.iter_mut().find(|m| m.role == Role::System) {
                system.content = format!("{}\n\n{instruction}", system.content.trim_end());
            }
            rendered.version = format!("{}+lang-{}", rendered.version, language.code());
        }
        let mut texts: Vec<String> = grounding.iter().map(|(_, t)| t.clone()).collect();
        texts.push(message.to_owned());
        Ok((rendered, texts))
    }

    fn info(&self, model: &str, rendered: &RenderedPrompt, usage: &Usage) -> GenerationInfo {
        let cost_usd = self.prices.cost(model, usage).map_or(0.0, |c| c.usd);
        GenerationInfo {
            prompt_version: rendered.version.clone(),
            tokens_in: usage.prompt_tokens,
            tokens_out: usage.completion_tokens,
            cost_usd,
            fallback_reason: None,
        }
    }

    /// An LLM reply that passes every check within `attempts` tries, or why not (the caller
    /// falls back to the offline responder).
    pub(crate) async fn generate(
        &self,
        request: GenerationRequest<'_>,
        attempts: usize,
    ) -> Result<(String, GenerationInfo), GenerationError> {
        let (rendered, texts) =
            self.prepare(request.tenant, request.label, request.message, request.grounding, request.history, request.language)?;
        let texts: Vec<&str> = texts.iter().map(String::as_str).collect();
        let clock = request.clock;
        let mut last = GenerationError::NoAttempt;
        for _ in 0..attempts {
            let completion_request = CompletionRequest::new(rendered.messages.clone()).with_max_tokens(MAX_TOKENS);
            let completion = match clock.time_async(Stage::Generation, self.client.complete(&completion_request)).await {
                Ok(c) => c,
                Err(e) => return Err(ledger_failed(GenerationError::Llm(e))),
            };
            match clock.time(Stage::Validation, || {
                validate_reply(completion.text.trim(), &texts, &rendered.system, request.must_name, request.personal)
            }) {
                Ok(text) => return Ok((text, self.info(&completion.model, &rendered, &completion.usage))),
                Err(reason) => {
                    // The ledger: this reply was paid for and thrown away (regenerated if another follows).
                    tria_llm::observe::mark_last_call(LedgerOutcome::DiscardedByValidation);
                    last = reason.into();
                }
            }
        }
        Err(last)
    }

    /// The reply streamed from the LLM: each sentence is forwarded to `sink` as soon as it is
    /// complete and its numbers are grounded and it leaks nothing, so an unchecked sentence
    /// never reaches the customer. A sentence that fails stops the forwarding and the attempt
    /// (`Err`: the caller regenerates without streaming, then falls back); the whole text is
    /// checked again at the end.
    pub(crate) async fn generate_streaming(
        &self,
        request: GenerationRequest<'_>,
        sink: &StreamSink,
        meta: StreamSignal,
    ) -> Result<(String, GenerationInfo), GenerationError> {
        let (rendered, texts) =
            self.prepare(request.tenant, request.label, request.message, request.grounding, request.history, request.language)?;
        let texts: Vec<&str> = texts.iter().map(String::as_str).collect();
        let clock = request.clock;
        let completion_request = CompletionRequest::new(rendered.messages.clone()).with_max_tokens(MAX_TOKENS);
        let mut stream = clock
            .time_async(Stage::Generation, self.client.stream(&completion_request))
            .await
            .map_err(|e| ledger_failed(GenerationError::Llm(e)))?;
        let _ = sink.unbounded_send(meta);
        let policy = OutputPolicy { system_prompt: &rendered.system, max_chars: MAX_REPLY_CHARS, forbidden: &[] };
        let sentence_ok = |sentence: &str| {
            request.personal.unexpected(sentence).is_empty()
                && check_grounding(sentence, &texts).is_grounded()
                && check_output(sentence, &policy).iter().all(|i| matches!(i, OutputIssue::TooLong { .. }))
        };
        let mut buffer = String::new();
        let mut forwarded = 0;
        let mut usage = None;
        loop {
            let event = clock.time_async(Stage::Generation, stream.next()).await;
            match event {
                None => break,
                Some(Err(e)) => return Err(ledger_failed(GenerationError::Stream(e))),
                Some(Ok(StreamEvent::Done { usage: u, .. })) => usage = Some(u),
                Some(Ok(StreamEvent::Delta(delta))) => {
                    buffer.push_str(&delta);
                    if forwarded == 0 {
                        forwarded = buffer.len() - buffer.trim_start().len();
                    }
                    while let Some(end) = sentence_end(&buffer[forwarded..]) {
                        let sentence = &buffer[forwarded..forwarded + end];
                        if !clock.time(Stage::Validation, || sentence_ok(sentence)) {
                            drop(stream);
                            tria_llm::observe::mark_last_call(LedgerOutcome::DiscardedByValidation);
                            return Err(GenerationError::StreamedSentence(sentence.to_owned()));
                        }
                        for piece in crate::stream::token_deltas(sentence) {
                            let _ = sink.unbounded_send(StreamSignal::Token(piece.to_owned()));
                        }
                        forwarded += end;
                    }
                }
            }
        }
        // The stream has ended (its call is recorded): a refused whole reply was paid for.
        let text = clock
            .time(Stage::Validation, || validate_reply(buffer.trim(), &texts, &rendered.system, request.must_name, request.personal))
            .inspect_err(|_| tria_llm::observe::mark_last_call(LedgerOutcome::DiscardedByValidation))?;
        let tail = buffer.trim_end().get(forwarded..).unwrap_or_default();
        if !tail.is_empty() && text.ends_with(tail) {
            for piece in crate::stream::token_deltas(tail) {
                let _ = sink.unbounded_send(StreamSignal::Token(piece.to_owned()));
            }
        }
        // The OpenAI client reports (or counts) usage with `Done`; a stream without one is counted here.
        let usage = usage.unwrap_or_else(|| {
            Usage::estimated(rendered.messages.iter().map(|m| tria_cache::count_tokens(&m.content)).sum(), tria_cache::count_tokens(&text))
        });
        Ok((text, self.info(self.client.model(), &rendered, &usage)))
    }
}

/// Marks the turn's last LLM call a timeout when `error` is one (a call cut by the turn's
/// deadline was dropped, which the observer could only call cancelled), and returns it.
fn ledger_failed(error: GenerationError) -> GenerationError {
    if let GenerationError::Llm(LlmError::Timeout) | GenerationError::Stream(LlmError::Timeout) = &error {
        tria_llm::observe::mark_last_call_timed_out();
    }
    error
}

/// What to generate a reply for.
#[derive(Clone, Copy)]
pub(crate) struct GenerationRequest<'a> {
    pub(crate) tenant: &'a TenantContext,
    pub(crate) label: IntentLabel,
    pub(crate) message: &'a str,
    pub(crate) grounding: &'a [(String, String)],
    pub(crate) history: &'a [ChatMessage],
    pub(crate) clock: &'a StageClock,
    /// The reply must contain one of these (the SKUs of the products it answers about).
    pub(crate) must_name: &'a [String],
    /// The personal data the reply may mention (the customer's own, the tenant's published).
    pub(crate) personal: &'a PersonalDataAllowance,
    /// The customer's language: the reply is asked for in it (the same checks apply).
    pub(crate) language: Language,
}

/// The byte length of the first complete sentence of `text` with the whitespace after it:
/// a `.`, `!` or `?` followed by whitespace (not a decimal point). `None`: none complete yet.
fn sentence_end(text: &str) -> Option<usize> {
    let mut chars = text.char_indices().peekable();
    while let Some((_, c)) = chars.next() {
        if matches!(c, '.' | '!' | '?' | '\n')
            && let Some(&(j, n)) = chars.peek()
            && n.is_whitespace()
        {
            return Some(j + n.len_utf8());
        }
    }
    None
}

/// `text` if it names one of `must_name` (when given: a product answer must say which
/// product), mentions no personal data beyond what `personal` allows, every number in it is in
/// `grounding` and it leaks nothing (cut at a sentence when merely too long), else why not.
pub(crate) fn validate_reply(
    text: &str,
    grounding: &[&str],
    system_prompt: &str,
    must_name: &[String],
    personal: &PersonalDataAllowance,
) -> Result<String, ReplyRejected> {
    if !must_name.is_empty() && !must_name.iter().any(|name| text.contains(name.as_str())) {
        return Err(ReplyRejected::NamesNoProduct(must_name.to_vec()));
    }
    // Before the grounding check, so a leaked phone or card number is named as what it is.
    let leaked = personal.unexpected(text);
    if !leaked.is_empty() {
        return Err(ReplyRejected::PersonalData(leaked.iter().map(|item| item.kind).collect()));
    }
    let report = check_grounding(text, grounding);
    if !report.is_grounded() {
        return Err(ReplyRejected::Ungrounded(report.ungrounded.iter().map(|c| c.text.clone()).collect()));
    }
    let issues = check_output(text, &OutputPolicy { system_prompt, max_chars: MAX_REPLY_CHARS, forbidden: &[] });
    if issues.iter().any(|i| !matches!(i, OutputIssue::TooLong { .. })) {
        return Err(ReplyRejected::Output(issues));
    }
    Ok(if issues.is_empty() { text.to_owned() } else { truncate_at_sentence(text, MAX_REPLY_CHARS) })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sentences_end_at_punctuation_followed_by_whitespace_not_at_decimals() {
        assert_eq!(sentence_end("The fee is $12.50 per case. Next"), Some(28));
        assert_eq!(sentence_end("The fee is $12.50 per case."), None, "the last sentence may still grow");
        assert_eq!(sentence_end("1.5% per month"), None);
        assert_eq!(sentence_end("Yes!\nMore"), Some(5));
    }

    #[test]
    fn a_reply_with_someone_elses_personal_data_is_refused_and_the_customers_and_tenants_pass() {
        let grounding = [
            "Returns are accepted within 30 days at 12 Harbour Road. Questions: returns@northwind.example or 555-010-0199.",
            "Order ORD-10001 of 24 cases of NW-1001 at $12.50 shipped on 2025-01-15.",
        ];
        let mut personal = PersonalDataAllowance::new();
        personal.allow_text(grounding[0]).allow_text(grounding[1]).allow_contact("jane@acme.example");
        let check = |text: &str| validate_reply(text, &grounding, "You are Nora, the assistant.", &[], &personal);
        for accepted in [
            "Returns are accepted within 30 days: write to returns@northwind.example or call 555-010-0199.",
            "Send it to 12 Harbour Rd within 30 days; we will email jane@acme.example.",
            "Order ORD-10001 (24 cases of NW-1001 at $12.50) shipped on 2025-01-15.",
        ] {
            assert_eq!(check(accepted).as_deref().ok(), Some(accepted), "{accepted}");
        }
        for (leak, kind) in [
            ("Returns are accepted within 30 days; ask bob@other.example.", PersonalKind::Email),
            ("Call Bob on 555-0123 about returns.", PersonalKind::Phone),
            ("Your card 4111 1111 1111 1111 is refunded within 30 days.", PersonalKind::CardNumber),
            ("Bob at 9 Elm Street returned his within 30 days.", PersonalKind::StreetAddress),
        ] {
            assert!(matches!(check(leak), Err(ReplyRejected::PersonalData(kinds)) if kinds == vec![kind]), "{leak}: {:?}", check(leak));
        }
    }
}
