//! What a chat request must pass before the pipeline runs: rate limits, LLM spend budgets, the
//! load-shedding gate's shares and open-chat counts, and the observer that records LLM spend.
//!
//! No HTTP here: each check returns a typed decision or [`Refusal`], and the server maps a
//! refusal to its status, JSON body and `RateLimit-*` headers in one place.

pub mod admission;
pub mod budget;
pub mod holdoff;
pub mod limits;
pub mod llm_observer;
pub mod ratelimit;
pub mod shed;

pub use admission::{Refusal, admit, llm_context};
pub use budget::{BudgetDecision, BudgetLimits, SpendBudget, Window};
pub use holdoff::RedisHoldOff;
pub use limits::LimitSettings;
pub use llm_observer::{LlmAccounting, observe, observe_with};
pub use ratelimit::{Decision, RateLimiter, RateLimiterError, RedisHealth};
pub use shed::{ChatOnKey, GateSlot, ShedGate, ShedReason, Slot};
