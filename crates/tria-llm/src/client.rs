//! The trait at the LLM seam.

use async_trait::async_trait;

use crate::{Completion, CompletionRequest, LlmError, LlmStream, StreamEvent};

/// Anything that turns chat messages into an answer: the OpenAI-compatible HTTP client, the
/// offline responder, a test double. Inject as `Arc<dyn LlmClient>`.
#[async_trait]
pub trait LlmClient: Send + Sync {
    /// The model name recorded with each answer and used for pricing.
    fn model(&self) -> &str;

    /// The provider answering (`openai`, `azure`, `anthropic`, …), recorded in the cost ledger.
    fn provider(&self) -> &str {
        "unknown"
    }

    /// The whole answer at once.
    async fn complete(&self, request: &CompletionRequest) -> Result<Completion, LlmError>;

    /// The answer as it is generated. The default runs [`LlmClient::complete`] and yields the
    /// text as one delta, for backends that cannot stream.
    async fn stream(&self, request: &CompletionRequest) -> Result<LlmStream, LlmError> {
        let completion = self.complete(request).await?;
        let events = vec![
            Ok(StreamEvent::Delta(completion.text)),
            Ok(StreamEvent::Done { usage: completion.usage, finish_reason: completion.finish_reason }),
        ];
        Ok(Box::pin(futures::stream::iter(events)))
    }
}
