//! The closing check: a customer who says they are done ("thanks, that's all") after an answer
//! gets a sign-off, and the persist stage marks the conversation resolved, verified.

use tria_core::{IntentLabel, MessageRole};

use super::{Step, Then, Turn, TurnResult};
use crate::persist::Outcome;
use crate::resolution::is_confirmation;
use crate::session::Session;

pub(crate) fn closing(turn: &Turn<'_>, session: &Session) -> Step<()> {
    if !(is_confirmation(&turn.req.message) && session.turns.iter().any(|t| t.role == MessageRole::Assistant)) {
        return Step::Next(());
    }
    let reply = format!("You're welcome, I'm glad I could help. {}", turn.tenant.tone.sign_off).trim().to_owned();
    Step::done(TurnResult::early(Outcome::fixed(reply, IntentLabel::Greeting), Then::Resolve))
}
