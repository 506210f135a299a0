//! The intent stage and what it reads: a follow-up such as "and how much is it?" resolved to
//! the subject of the question before (`context.rs`), which changes the text the intent, the
//! cache key, retrieval and the prompt see; then the message's intent, from memory, the L4
//! intent cache or the classifier (`Agent::classify`).

use tria_core::{IntentLabel, TenantId};
use tria_intent::Classification;

use super::Turn;
use crate::Agent;
use crate::context::resolve_follow_up;
use crate::session::Session;

/// The message as the later stages answer it.
#[derive(Clone, Debug)]
pub(crate) struct Question {
    /// The message with its subject, when it was resolved as a follow-up.
    pub(crate) resolved: Option<String>,
    /// The intent of the question a resolved follow-up refers to.
    pub(crate) subject_intent: Option<IntentLabel>,
}

impl Question {
    /// The text answered: the resolved follow-up, else the customer's message.
    pub(crate) fn text<'a>(&'a self, turn: &'a Turn<'_>) -> &'a str {
        self.resolved.as_deref().unwrap_or(&turn.req.message)
    }
}

pub(crate) fn follow_up(turn: &Turn<'_>, session: &Session) -> Question {
    let resolved = resolve_follow_up(&turn.req.message, session.subject.as_ref());
    let subject_intent = resolved.as_ref().and(session.subject.as_ref()).and_then(|s| s.intent);
    Question { resolved, subject_intent }
}

impl Agent {
    /// The intent of one message; a follow-up the classifier cannot place (out of scope, a
    /// greeting) keeps the intent of the question it follows.
    pub(crate) async fn intent(&self, tenant: TenantId, message: &str, subject_intent: Option<IntentLabel>) -> Classification {
        let mut classification = self.classify(tenant, message).await;
        if let Some(intent) = subject_intent
            && matches!(classification.label, IntentLabel::OutOfScope | IntentLabel::Greeting)
        {
            classification.label = intent;
        }
        classification
    }
}
