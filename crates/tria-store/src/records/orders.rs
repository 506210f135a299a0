//! Customers, the catalogue, orders and the integrations outbox.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::entity;

/// A tenant's customer.
#[derive(Clone, Debug, PartialEq)]
pub struct Customer {
    pub id: Uuid,
    pub tenant_id: Uuid,
    /// The tenant's own id for the customer (unique per tenant).
    pub external_id: String,
    pub name: String,
    pub email: String,
    pub company: String,
    pub created_at: DateTime<Utc>,
}

impl From<entity::customer::Model> for Customer {
    fn from(m: entity::customer::Model) -> Self {
        Self {
            id: m.id,
            tenant_id: m.tenant_id,
            external_id: m.external_id,
            name: m.name,
            email: m.email,
            company: m.company,
            created_at: m.created_at,
        }
    }
}

/// A catalogue product, priced in minor units.
#[derive(Clone, Debug, PartialEq)]
pub struct Product {
    pub id: Uuid,
    pub tenant_id: Uuid,
    pub sku: String,
    pub name: String,
    pub description: String,
    pub unit: String,
    /// Price in minor units (cents).
    pub unit_price_minor: i64,
    pub currency: String,
    pub stock: i64,
    pub active: bool,
    pub updated_at: DateTime<Utc>,
}

impl From<entity::product::Model> for Product {
    fn from(m: entity::product::Model) -> Self {
        Self {
            id: m.id,
            tenant_id: m.tenant_id,
            sku: m.sku,
            name: m.name,
            description: m.description,
            unit: m.unit,
            unit_price_minor: m.unit_price_minor,
            currency: m.currency,
            stock: m.stock,
            active: m.active,
            updated_at: m.updated_at,
        }
    }
}

/// An order's header row.
#[derive(Clone, Debug, PartialEq)]
pub struct Order {
    pub id: Uuid,
    pub tenant_id: Uuid,
    pub customer_id: Uuid,
    /// Human order number, `ORD-…`, unique per tenant.
    pub number: String,
    pub status: String,
    pub subtotal_minor: i64,
    pub total_minor: i64,
    pub currency: String,
    /// Unique per tenant: the same request never creates two orders.
    pub idempotency_key: String,
    pub invoice_id: Option<String>,
    pub invoice_number: Option<String>,
    /// Why invoicing gave up, when the order is `failed`.
    pub failure_reason: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<entity::order::Model> for Order {
    fn from(m: entity::order::Model) -> Self {
        Self {
            id: m.id,
            tenant_id: m.tenant_id,
            customer_id: m.customer_id,
            number: m.number,
            status: m.status,
            subtotal_minor: m.subtotal_minor,
            total_minor: m.total_minor,
            currency: m.currency,
            idempotency_key: m.idempotency_key,
            invoice_id: m.invoice_id,
            invoice_number: m.invoice_number,
            failure_reason: m.failure_reason,
            created_at: m.created_at,
            updated_at: m.updated_at,
        }
    }
}

/// One line of an order.
#[derive(Clone, Debug, PartialEq)]
pub struct OrderItem {
    pub id: Uuid,
    pub tenant_id: Uuid,
    pub order_id: Uuid,
    pub product_id: Uuid,
    pub sku: String,
    pub name: String,
    pub quantity: i64,
    pub unit_price_minor: i64,
    pub line_total_minor: i64,
}

impl From<entity::order_item::Model> for OrderItem {
    fn from(m: entity::order_item::Model) -> Self {
        Self {
            id: m.id,
            tenant_id: m.tenant_id,
            order_id: m.order_id,
            product_id: m.product_id,
            sku: m.sku,
            name: m.name,
            quantity: m.quantity,
            unit_price_minor: m.unit_price_minor,
            line_total_minor: m.line_total_minor,
        }
    }
}

/// An order waiting for a person (approval, failed invoicing).
#[derive(Clone, Debug, PartialEq)]
pub struct OrderEscalation {
    pub id: Uuid,
    pub tenant_id: Uuid,
    pub order_id: Uuid,
    pub reason: String,
    /// `open` until a person resolves it.
    pub status: String,
    pub ticket_ref: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<entity::order_escalation::Model> for OrderEscalation {
    fn from(m: entity::order_escalation::Model) -> Self {
        Self {
            id: m.id,
            tenant_id: m.tenant_id,
            order_id: m.order_id,
            reason: m.reason,
            status: m.status,
            ticket_ref: m.ticket_ref,
            created_at: m.created_at,
            updated_at: m.updated_at,
        }
    }
}

/// A job in the integrations outbox, with its lease.
#[derive(Clone, Debug, PartialEq)]
pub struct OutboxJob {
    pub id: Uuid,
    pub tenant_id: Uuid,
    pub kind: String,
    pub payload: serde_json::Value,
    pub idempotency_key: String,
    pub state: String,
    pub attempts: i32,
    pub next_attempt_at: DateTime<Utc>,
    pub last_error: Option<String>,
    /// Set while a worker holds the row; completing or releasing it must present the same token.
    pub lease_token: Option<String>,
    /// When a held row may be taken by another worker (its holder is presumed dead).
    pub lease_expires_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<entity::outbox::Model> for OutboxJob {
    fn from(m: entity::outbox::Model) -> Self {
        Self {
            id: m.id,
            tenant_id: m.tenant_id,
            kind: m.kind,
            payload: m.payload,
            idempotency_key: m.idempotency_key,
            state: m.state,
            attempts: m.attempts,
            next_attempt_at: m.next_attempt_at,
            last_error: m.last_error,
            lease_token: m.lease_token,
            lease_expires_at: m.lease_expires_at,
            created_at: m.created_at,
            updated_at: m.updated_at,
        }
    }
}
