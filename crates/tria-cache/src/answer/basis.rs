//! What a cached answer was computed from, checked on every hit: an answer whose basis no
//! longer holds (say, it cites a policy chunk that a new knowledge version replaced) is a miss,
//! recomputed and stored over the stale one. The check runs where the answer is read, so it is
//! the same rule for L1, L2 and L3 in memory or in Redis, needs no scan, and holds on every
//! instance as soon as that instance's own basis moved on.

use tria_core::Answer;

/// The caller's view of what answers depend on (the agent: the tenant's knowledge version
/// and the chunks serving now).
pub trait AnswerBasis: Send + Sync {
    /// Stamped on answers computed now (0 means "no basis", what [`AnyBasis`] stamps).
    fn current(&self) -> u64;
    /// Whether `answer`, computed under basis `stamped`, may still be served.
    fn still_holds(&self, answer: &Answer, stamped: u64) -> bool;
}

/// Every answer holds: the cache without a basis check (tests, warm-up tools, benches).
#[derive(Clone, Copy, Debug, Default)]
pub struct AnyBasis;

impl AnswerBasis for AnyBasis {
    fn current(&self) -> u64 {
        0
    }

    fn still_holds(&self, _answer: &Answer, _stamped: u64) -> bool {
        true
    }
}
