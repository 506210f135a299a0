//! The limits admission applies, as the server's start-up builds them from the validated config
//! (`tria-server`'s `startup::limit_settings`; this crate never sees the config schema).

use std::time::Duration;

use crate::budget::BudgetLimits;

/// Overload protection: the chat gate, the per-tenant and per-customer request rates and the
/// default spend budgets.
#[derive(Clone, Debug)]
pub struct LimitSettings {
    /// Chat requests processed at once; more wait in the queue.
    pub max_in_flight: usize,
    /// Chat requests allowed to wait for a slot; beyond it they are shed at once.
    pub max_queue: usize,
    /// How long a queued request waits for a slot before it is shed.
    pub queue_timeout: Duration,
    /// Default per-tenant sustained rate (requests per second); a tenant's
    /// `settings.rate_limit.per_second` overrides it. 0 turns the limit off.
    pub tenant_per_second: f64,
    /// Requests a tenant may send at once above the sustained rate (`settings.rate_limit.burst`).
    pub tenant_burst: u32,
    /// Default per-customer sustained rate inside a tenant (`customer_id`, or the OpenAI `user`);
    /// `settings.rate_limit.customer_per_second` overrides it. 0 turns the limit off.
    pub customer_per_second: f64,
    /// `settings.rate_limit.customer_burst` overrides it.
    pub customer_burst: u32,
    /// Default per-tenant LLM spend budgets; `settings.budget` overrides each. 0 turns one off.
    pub budget: BudgetLimits,
    /// The share of the gate's slots (and of its queue) one tenant may hold.
    pub tenant_share: f64,
    /// The share one publishable widget key may hold.
    pub widget_key_share: f64,
    /// Chat requests open at once on one connection (until their reply is complete).
    pub max_chats_per_connection: usize,
    /// Chat requests open at once through one API key.
    pub max_chats_per_key: usize,
}

impl Default for LimitSettings {
    fn default() -> Self {
        Self {
            max_in_flight: 64,
            max_queue: 256,
            queue_timeout: Duration::from_millis(200),
            tenant_per_second: 50.0,
            tenant_burst: 100,
            customer_per_second: 0.0,
            customer_burst: 10,
            budget: BudgetLimits::default(),
            tenant_share: 0.5,
            widget_key_share: 0.25,
            max_chats_per_connection: 8,
            max_chats_per_key: 256,
        }
    }
}
