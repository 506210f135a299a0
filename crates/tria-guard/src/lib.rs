//! What stands between the model and the customer: the grounding check (every number in a reply
//! must come from the grounding), the input safety screen (prompt injection in all its
//! disguises), output checks (prompt leakage, length, profanity, personal data) and deterministic tone
//! adaptation. Pure functions over text: no I/O, same input, same verdict.

pub mod grounding;
pub mod learned;
mod normalise;
pub mod output;
pub mod personal_data;
pub mod safety;
pub mod tone;

pub use grounding::{Claim, ClaimKind, GroundingReport, check_grounding, extract_claims};
pub use learned::{LearnedScore, LearnedScreen, SafetyDataError, SafetyExample, parse_safety_examples};
pub use output::{OutputIssue, OutputPolicy, check_output, mask_profanity, truncate_at_sentence};
pub use personal_data::{PersonalDataAllowance, PersonalItem, PersonalKind, find_personal_data};
pub use safety::{InputScreen, Refusal, ScreenVerdict, ThreatCategory, refusal_message};
pub use tone::adapt_tone;
