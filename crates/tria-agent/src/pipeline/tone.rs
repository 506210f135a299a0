//! The tone stage: the drafted reply adapted to the tenant's voice and the customer's mood
//! (`tria_guard::adapt_tone`), which makes it the answer.

use tria_core::{Answer, ToneProfile};
use tria_intent::Classification;

use super::respond::Drafted;
use crate::cached::Generated;
use crate::trace::{Stage, StageClock};

/// The answer a drafted reply becomes in the tenant's tone, with what writing it cost.
pub(crate) fn adapt_tone(drafted: Drafted, profile: &ToneProfile, classification: &Classification, clock: &StageClock) -> Generated {
    let Drafted { text, sources, usage } = drafted;
    let reply = clock.time(Stage::Tone, || tria_guard::adapt_tone(&text, profile, classification.label, classification.tone));
    let answer = Answer::new(reply, classification.label, classification.confidence)
        .with_sources(sources)
        .with_tokens(usage.tokens_in + usage.tokens_out);
    Generated { answer, usage, refused: false }
}
