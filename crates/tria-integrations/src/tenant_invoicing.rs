//! What a tenant's settings say about its invoices (`settings.invoicing`): the sales account the
//! lines are booked to, whether the accounting system emails each invoice to the customer, and the
//! payment terms. Read here once, by the invoice worker (what goes on the invoice) and by the
//! order flow (what the bot promises about it); the server checks the same keys on write
//! (`tenant_settings.rs`).

use serde_json::Value;

/// The longest account code Xero accepts (`Account.Code`: "max length = 10").
pub const MAX_ACCOUNT_CODE_CHARS: usize = 10;

/// The longest payment term a tenant may set, in days.
pub const MAX_PAYMENT_TERMS_DAYS: u32 = 365;

/// A tenant's invoicing settings, with the deployment's defaults where it sets none.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TenantInvoicing {
    /// `invoicing.account_code`: the sales account for invoice lines; `None` uses the
    /// connection's (`integrations.xero.sales_account_code`).
    pub account_code: Option<String>,
    /// `invoicing.email_invoices`: the accounting system emails each invoice to the customer's
    /// contact once it exists. Default false: no one is promised an email nobody sends.
    pub email_invoices: bool,
    /// `invoicing.payment_terms_days`: due date = order date + this; `None` uses the worker's.
    pub payment_terms_days: Option<u32>,
}

impl TenantInvoicing {
    /// Reads `settings.invoicing`; a missing, `null` or mistyped key is its default (the server
    /// refuses mistyped values on write, so only settings stored before the check can have one).
    pub fn from_settings(settings: &Value) -> Self {
        let invoicing = settings.get("invoicing").filter(|v| v.is_object());
        let key = |name: &str| invoicing.and_then(|i| i.get(name));
        Self {
            account_code: key("account_code").and_then(Value::as_str).map(str::trim).filter(|c| !c.is_empty()).map(str::to_owned),
            email_invoices: key("email_invoices").and_then(Value::as_bool).unwrap_or(false),
            payment_terms_days: key("payment_terms_days")
                .and_then(Value::as_u64)
                .and_then(|d| u32::try_from(d).ok())
                .filter(|d| *d <= MAX_PAYMENT_TERMS_DAYS),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn settings_override_the_defaults_and_bad_values_are_ignored() {
        assert_eq!(TenantInvoicing::from_settings(&json!({})), TenantInvoicing::default());
        let set = TenantInvoicing::from_settings(&json!({
            "invoicing": { "account_code": " 4100 ", "email_invoices": true, "payment_terms_days": 14 }
        }));
        assert_eq!(set, TenantInvoicing { account_code: Some("4100".into()), email_invoices: true, payment_terms_days: Some(14) });
        let odd = TenantInvoicing::from_settings(&json!({
            "invoicing": { "account_code": "  ", "email_invoices": "yes", "payment_terms_days": -1 }
        }));
        assert_eq!(odd, TenantInvoicing::default());
        assert_eq!(TenantInvoicing::from_settings(&json!({ "invoicing": null })), TenantInvoicing::default());
    }
}
