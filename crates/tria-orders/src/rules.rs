//! The tenant's order rules, read from its settings (`tenants.settings`), with defaults for
//! tenants that set none.

use serde_json::Value;

/// Bounds and terms an order must respect.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct OrderRules {
    /// Orders whose total is above this need a person's approval (`order_approval_threshold_minor`).
    pub(crate) approval_threshold_minor: Option<i64>,
    /// `max_quantity_per_line` (selling units).
    pub(crate) max_quantity_per_line: i64,
    /// `max_lines_per_order`.
    pub(crate) max_lines_per_order: usize,
    /// `max_units_per_order` (all lines together).
    pub(crate) max_units_per_order: i64,
    /// `free_shipping_threshold_minor`, for the delivery terms in a summary.
    pub(crate) free_shipping_threshold_minor: Option<i64>,
    /// `support_hours`, for "a person will reply" messages.
    pub(crate) support_hours: Option<String>,
    /// `cancel_invoiced_orders`: whether an invoiced order may still be cancelled (its invoice is
    /// then voided). Default true.
    pub(crate) cancel_invoiced_orders: bool,
    /// `invoicing.email_invoices`: the accounting system emails each invoice to the customer, so
    /// a reply may say "your invoice will follow by email". Default false.
    pub(crate) email_invoices: bool,
}

impl OrderRules {
    pub(crate) const DEFAULT_MAX_PER_LINE: i64 = 500;
    pub(crate) const DEFAULT_MAX_LINES: usize = 20;
    pub(crate) const DEFAULT_MAX_UNITS: i64 = 2000;

    pub(crate) fn from_settings(settings: &Value) -> Self {
        let int = |key: &str| settings.get(key).and_then(Value::as_i64);
        Self {
            approval_threshold_minor: int("order_approval_threshold_minor"),
            max_quantity_per_line: int("max_quantity_per_line").filter(|n| *n > 0).unwrap_or(Self::DEFAULT_MAX_PER_LINE),
            max_lines_per_order: int("max_lines_per_order")
                .and_then(|n| usize::try_from(n).ok())
                .filter(|n| *n > 0)
                .unwrap_or(Self::DEFAULT_MAX_LINES),
            max_units_per_order: int("max_units_per_order").filter(|n| *n > 0).unwrap_or(Self::DEFAULT_MAX_UNITS),
            free_shipping_threshold_minor: int("free_shipping_threshold_minor"),
            support_hours: settings.get("support_hours").and_then(Value::as_str).map(str::to_owned),
            cancel_invoiced_orders: settings.get("cancel_invoiced_orders").and_then(Value::as_bool).unwrap_or(true),
            email_invoices: tria_integrations::tenant_invoicing::TenantInvoicing::from_settings(settings).email_invoices,
        }
    }

    /// Whether an order of this total needs a person's approval.
    pub(crate) fn needs_approval(&self, total_minor: i64) -> bool {
        self.approval_threshold_minor.is_some_and(|threshold| total_minor > threshold)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_override_defaults() {
        let rules = OrderRules::from_settings(&serde_json::json!({
            "order_approval_threshold_minor": 500_000, "max_quantity_per_line": 50, "support_hours": "9-5", "cancel_invoiced_orders": false
        }));
        assert_eq!(rules.max_quantity_per_line, 50);
        assert_eq!(rules.max_lines_per_order, OrderRules::DEFAULT_MAX_LINES);
        assert!(rules.needs_approval(500_001) && !rules.needs_approval(500_000));
        assert!(!rules.cancel_invoiced_orders);
        let none = OrderRules::from_settings(&serde_json::json!({}));
        assert!(!none.needs_approval(i64::MAX) && none.cancel_invoiced_orders);
        assert!(!none.email_invoices, "no tenant is promised an email by default");
        let emailing = OrderRules::from_settings(&serde_json::json!({ "invoicing": { "email_invoices": true } }));
        assert!(emailing.email_invoices);
    }
}
