//! Who is asking, when a chat names a customer by number. A customer number alone proves
//! nothing — numbers are sequential and printed on invoices — so a typed number is only a
//! claim until the same conversation also gives the email address on that account. Until
//! then nobody's orders are shown, changed or placed. Known and unknown numbers get the same
//! replies, so the chat cannot be used to find out which numbers exist.
//!
//! Failed verifications are limited per session, customer number and client (`lockout.rs`).
//!
//! A `customer_id` sent by the tenant's own server (a tenant key) is trusted as before: the
//! business has already signed its customer in.

use tria_core::{ConversationId, CustomerId, TenantContext};
use tria_store::records::Customer;

use super::lockout::{self, Attempt};
use crate::{OrderDesk, OrderError};

/// What a message did to the claim of who is asking.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Claim {
    /// Number and email belong to the same customer of the tenant.
    Verified(CustomerId),
    /// A number, with no email yet: ask for it. Holds the number as typed.
    NeedsEmail(String),
    /// A number and an email that do not belong together (or a number that does not exist).
    Mismatch,
    /// Too many failed verifications (this session's, this number's or this client's): the
    /// attempt was refused without checking, or this failure reached the limit.
    LockedOut,
    /// Neither a customer number nor an email.
    Nothing,
}

pub(super) const ASK_EMAIL: &str =
    "Thank you. To make sure it is you, what is the email address on that account? I need it before I can show or change any orders.";
pub(super) const NOT_VERIFIED: &str = "I couldn't verify that customer number and email address together, so I can't open the account. \
Please check both (your customer number is on your invoices) and send them again, or ask for a person.";

/// An email address in the message, lower-cased.
fn email_in(message: &str) -> Option<String> {
    message
        .split(|c: char| c.is_whitespace() || matches!(c, ',' | ';' | '<' | '>' | '(' | ')' | '"' | '\''))
        .map(|t| t.trim_matches(|c: char| matches!(c, '.' | ':' | '!' | '?')))
        .find(|t| {
            let Some((local, domain)) = t.split_once('@') else { return false };
            !local.is_empty() && domain.contains('.') && !domain.starts_with('.') && !domain.contains('@')
        })
        .map(str::to_lowercase)
}

/// Tokens that could be a customer number: letters or digits with `-`/`_`, three digits or more,
/// not an order number and not part of an email address.
fn number_candidates(message: &str) -> Vec<String> {
    message
        .split(|c: char| c.is_whitespace() || matches!(c, ',' | ';' | ':' | '(' | ')' | '"' | '\'' | '!' | '?'))
        .filter(|t| !t.contains('@'))
        .map(|t| t.trim_matches(|c: char| !(c.is_alphanumeric() || c == '-' || c == '_')))
        .filter(|t| t.len() >= 3 && t.chars().all(|c| c.is_alphanumeric() || c == '-' || c == '_'))
        .filter(|t| t.chars().filter(char::is_ascii_digit).count() >= 3)
        .filter(|t| !t.to_ascii_uppercase().starts_with("ORD-"))
        .take(5)
        .map(str::to_owned)
        .collect()
}

impl OrderDesk {
    /// Reads the message (and the number an earlier turn claimed) for who is asking, within
    /// the limits on failed verifications.
    pub(super) async fn claim_customer(
        &self,
        tenant: &TenantContext,
        session: ConversationId,
        client: Option<&str>,
        message: &str,
        claimed: Option<&str>,
    ) -> Result<Claim, OrderError> {
        let email = email_in(message);
        let typed = number_candidates(message);
        if email.is_none() && typed.is_empty() && claimed.is_none() {
            return Ok(Claim::Nothing);
        }
        let numbers: Vec<&str> = if typed.is_empty() { claimed.into_iter().collect() } else { typed.iter().map(String::as_str).collect() };
        let subjects = lockout::subjects(session, client, &numbers);
        let Some(email) = email else {
            if self.verification_locked(tenant, &subjects).await? {
                return Ok(Claim::LockedOut);
            }
            return self.check_claim(tenant, &typed, claimed, None).await;
        };
        let (rows, subjects) = match self.begin_verification(tenant, subjects).await? {
            Attempt::Refused => return Ok(Claim::LockedOut),
            Attempt::Check { rows, subjects } => (rows, subjects),
        };
        match self.check_claim(tenant, &typed, claimed, Some(email)).await? {
            Claim::Verified(customer) => {
                self.verification_passed(tenant, &rows).await?;
                Ok(Claim::Verified(customer))
            }
            _ if self.verification_failed(tenant, &subjects).await? => Ok(Claim::LockedOut),
            _ => Ok(Claim::Mismatch),
        }
    }

    /// Number (typed, else claimed earlier) and email checked against the customer rows.
    async fn check_claim(
        &self,
        tenant: &TenantContext,
        typed: &[String],
        claimed: Option<&str>,
        email: Option<String>,
    ) -> Result<Claim, OrderError> {
        // The number this message names: the first that is a customer, else the first candidate.
        let mut number = None;
        for token in typed {
            if let Some(found) = self.find_customer(tenant, token).await? {
                number = Some((token.clone(), Some(found)));
                break;
            }
        }
        let number = match (number, typed.first(), claimed) {
            (Some(found), _, _) => Some(found),
            (None, Some(token), _) => Some((token.clone(), None)),
            (None, None, Some(claimed)) => Some((claimed.to_owned(), self.find_customer(tenant, claimed).await?)),
            (None, None, None) => None,
        };
        Ok(match (number, email) {
            (None, None) => Claim::Nothing,
            // An email with no number to check it against: ask for the number again.
            (None, Some(_)) => Claim::Mismatch,
            (Some((token, _)), None) => Claim::NeedsEmail(token),
            (Some((_, Some(customer))), Some(email))
                if !customer.email.is_empty() && customer.email.trim().eq_ignore_ascii_case(&email) =>
            {
                Claim::Verified(CustomerId(customer.id))
            }
            (Some(_), Some(_)) => Claim::Mismatch,
        })
    }

    /// Customers a `?mode=replace` upload retired no longer identify (their rows stay for
    /// their orders).
    async fn find_customer(&self, tenant: &TenantContext, token: &str) -> Result<Option<Customer>, OrderError> {
        let customers = self.store().customers();
        if let Some(found) = customers.find_active_by_external_id(tenant.id, token).await? {
            return Ok(Some(found));
        }
        let upper = token.to_uppercase();
        if upper != token {
            return Ok(customers.find_active_by_external_id(tenant.id, &upper).await?);
        }
        Ok(None)
    }
}

#[cfg(test)]
mod tests {
    use super::{email_in, number_candidates};

    #[test]
    fn emails_and_customer_numbers_are_read_from_free_text() {
        assert_eq!(email_in("it's CUST-1001, maya@BlueKettleCafe.example."), Some("maya@bluekettlecafe.example".into()));
        assert_eq!(email_in("<d.okafor@harbor.example>"), Some("d.okafor@harbor.example".into()));
        assert_eq!(email_in("at @ noon"), None);
        assert_eq!(email_in("me@localhost"), None);
        assert_eq!(number_candidates("My number is CUST-1001, email maya@x123.example"), ["CUST-1001"]);
        assert_eq!(number_candidates("cust-1001!"), ["cust-1001"]);
        assert!(number_candidates("where is ORD-10001?").is_empty());
        assert!(number_candidates("hello there, 2 cases of 16oz cups").is_empty());
    }
}
