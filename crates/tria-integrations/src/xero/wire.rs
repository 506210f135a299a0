//! Xero Accounting API bodies, as named in the official OpenAPI spec (`components/schemas`:
//! `Contacts`, `Contact`, `Invoices`, `Invoice`, `LineItem`, `Error`). Only the fields Tria uses;
//! the contract test checks every field sent here is one the spec declares.

use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub(crate) struct Contacts {
    #[serde(rename = "Contacts", default)]
    pub(crate) contacts: Vec<Contact>,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub(crate) struct Contact {
    #[serde(rename = "ContactID", skip_serializing_if = "Option::is_none")]
    pub(crate) contact_id: Option<String>,
    #[serde(rename = "Name", skip_serializing_if = "Option::is_none")]
    pub(crate) name: Option<String>,
    #[serde(rename = "EmailAddress", skip_serializing_if = "Option::is_none")]
    pub(crate) email_address: Option<String>,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub(crate) struct Invoices {
    #[serde(rename = "Invoices", default)]
    pub(crate) invoices: Vec<Invoice>,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub(crate) struct Invoice {
    #[serde(rename = "Type", skip_serializing_if = "Option::is_none")]
    pub(crate) kind: Option<String>,
    #[serde(rename = "Contact", skip_serializing_if = "Option::is_none")]
    pub(crate) contact: Option<Contact>,
    #[serde(rename = "LineItems", default, skip_serializing_if = "Vec::is_empty")]
    pub(crate) line_items: Vec<LineItem>,
    #[serde(rename = "Date", skip_serializing_if = "Option::is_none")]
    pub(crate) date: Option<String>,
    #[serde(rename = "DueDate", skip_serializing_if = "Option::is_none")]
    pub(crate) due_date: Option<String>,
    #[serde(rename = "LineAmountTypes", skip_serializing_if = "Option::is_none")]
    pub(crate) line_amount_types: Option<String>,
    #[serde(rename = "Reference", skip_serializing_if = "Option::is_none")]
    pub(crate) reference: Option<String>,
    #[serde(rename = "CurrencyCode", skip_serializing_if = "Option::is_none")]
    pub(crate) currency_code: Option<String>,
    #[serde(rename = "Status", skip_serializing_if = "Option::is_none")]
    pub(crate) status: Option<String>,
    #[serde(rename = "InvoiceID", skip_serializing_if = "Option::is_none")]
    pub(crate) invoice_id: Option<String>,
    #[serde(rename = "InvoiceNumber", skip_serializing_if = "Option::is_none")]
    pub(crate) invoice_number: Option<String>,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub(crate) struct LineItem {
    #[serde(rename = "Description")]
    pub(crate) description: String,
    #[serde(rename = "Quantity")]
    pub(crate) quantity: f64,
    #[serde(rename = "UnitAmount")]
    pub(crate) unit_amount: f64,
    #[serde(rename = "AccountCode", skip_serializing_if = "Option::is_none")]
    pub(crate) account_code: Option<String>,
}

/// Xero's error body (400 validation errors and others).
#[derive(Clone, Debug, Default, Deserialize)]
pub(crate) struct ApiError {
    #[serde(rename = "Message", default)]
    pub(crate) message: Option<String>,
    #[serde(rename = "Elements", default)]
    pub(crate) elements: Vec<Element>,
}

#[derive(Clone, Debug, Default, Deserialize)]
pub(crate) struct Element {
    #[serde(rename = "ValidationErrors", default)]
    pub(crate) validation_errors: Vec<ValidationError>,
}

#[derive(Clone, Debug, Default, Deserialize)]
pub(crate) struct ValidationError {
    #[serde(rename = "Message", default)]
    pub(crate) message: Option<String>,
}
