//! Orders and their lines. An order, its lines and its outbox row are written in one
//! transaction so an invoice request never exists without its order, or the other way round.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{ActiveModelTrait, ColumnTrait, DatabaseTransaction, EntityTrait, QueryFilter, QueryOrder, Set, TransactionTrait};
use tria_core::{CustomerId, OrderStatus, TenantId};
use uuid::Uuid;

use crate::StoreError;
use crate::entity::{order, order_escalation, order_item, outbox, product};
use crate::records::{IntoRecords, Order, OrderEscalation, OrderItem, OutboxJob};

#[derive(Clone, Debug)]
pub struct NewOrderLine {
    pub sku: String,
    pub quantity: i64,
}

#[derive(Clone, Debug)]
pub struct NewOrder {
    pub customer: CustomerId,
    pub number: String,
    pub status: OrderStatus,
    pub idempotency_key: String,
    pub lines: Vec<NewOrderLine>,
    pub created_at: DateTime<Utc>,
    /// When set, an outbox row of this kind is written in the same transaction.
    pub outbox_kind: Option<String>,
}

#[derive(Clone, Copy, Debug)]
pub struct OrderRepo<'a> {
    pub(crate) db: &'a crate::Db,
}

/// The outbox kind of "create this order's invoice in the accounting system".
pub const INVOICE_OUTBOX_KIND: &str = "xero.invoice";

/// The outbox kind of "void this cancelled order's invoice, if it has one".
pub const VOID_OUTBOX_KIND: &str = "xero.void";

/// The outbox kind of "have the accounting system email this order's invoice to the customer",
/// queued with the invoice's completion when the tenant has `invoicing.email_invoices`.
pub const EMAIL_OUTBOX_KIND: &str = "xero.email";

/// What [`OrderRepo::cancel`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CancelOutcome {
    /// Cancelled now; `void_queued` when a void job was written with it.
    Cancelled {
        previous: OrderStatus,
        void_queued: bool,
    },
    AlreadyCancelled,
    /// Its status does not allow cancelling (failed, or invoiced when that is not allowed).
    NotCancellable(OrderStatus),
}

struct PricedLines {
    items: Vec<order_item::ActiveModel>,
    subtotal: i64,
    currency: String,
}

/// Prices `lines` from the catalogue (and reserves their stock when asked) inside `txn`.
async fn price_lines(
    txn: &DatabaseTransaction,
    tenant: TenantId,
    order_id: Uuid,
    lines: &[NewOrderLine],
    reserve_stock: bool,
) -> Result<PricedLines, StoreError> {
    let mut subtotal: i64 = 0;
    let mut currency = None;
    let mut items = Vec::with_capacity(lines.len());
    for line in lines {
        if line.quantity <= 0 {
            return Err(StoreError::Invalid(format!("quantity for {} must be positive", line.sku)));
        }
        let product = product::Entity::find()
            .filter(product::Column::TenantId.eq(tenant.0))
            .filter(product::Column::Sku.eq(line.sku.as_str()))
            .one(txn)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("product {}", line.sku)))?;
        let line_total = product
            .unit_price_minor
            .checked_mul(line.quantity)
            .ok_or_else(|| StoreError::Invalid(format!("line total for {} overflows", line.sku)))?;
        subtotal = subtotal.checked_add(line_total).ok_or_else(|| StoreError::Invalid("order total overflows".into()))?;
        currency.get_or_insert_with(|| product.currency.clone());
        if reserve_stock {
            // A conditional decrement, so two orders racing for the last units cannot both win.
            let reserved = product::Entity::update_many()
                .col_expr(product::Column::Stock, Expr::col(product::Column::Stock).sub(line.quantity))
                .filter(product::Column::Id.eq(product.id))
                .filter(product::Column::Stock.gte(line.quantity))
                .exec(txn)
                .await?;
            if reserved.rows_affected == 0 {
                return Err(StoreError::Conflict(format!("insufficient stock for {}", line.sku)));
            }
        }
        items.push(order_item::ActiveModel {
            id: Set(Uuid::new_v4()),
            tenant_id: Set(tenant.0),
            order_id: Set(order_id),
            product_id: Set(product.id),
            sku: Set(product.sku),
            name: Set(product.name),
            quantity: Set(line.quantity),
            unit_price_minor: Set(product.unit_price_minor),
            line_total_minor: Set(line_total),
        });
    }
    Ok(PricedLines { items, subtotal, currency: currency.unwrap_or_default() })
}

/// Gives the order's reserved stock back to the catalogue.
async fn release_items_stock(txn: &DatabaseTransaction, tenant: TenantId, order_id: Uuid) -> Result<(), StoreError> {
    let items = order_item::Entity::find()
        .filter(order_item::Column::TenantId.eq(tenant.0))
        .filter(order_item::Column::OrderId.eq(order_id))
        .all(txn)
        .await?;
    for item in items {
        product::Entity::update_many()
            .col_expr(product::Column::Stock, Expr::col(product::Column::Stock).add(item.quantity))
            .filter(product::Column::TenantId.eq(tenant.0))
            .filter(product::Column::Id.eq(item.product_id))
            .exec(txn)
            .await?;
    }
    Ok(())
}

/// Writes an outbox job of `kind` about `order_id`; one per order and kind.
pub(crate) async fn queue_job(txn: &DatabaseTransaction, tenant: TenantId, kind: &str, order_id: Uuid) -> Result<(), StoreError> {
    let now = Utc::now();
    outbox::ActiveModel {
        id: Set(Uuid::new_v4()),
        tenant_id: Set(tenant.0),
        kind: Set(kind.to_owned()),
        payload: Set(serde_json::json!({ "order_id": order_id })),
        idempotency_key: Set(format!("{kind}:{order_id}")),
        state: Set("pending".into()),
        attempts: Set(0),
        next_attempt_at: Set(now),
        last_error: Set(None),
        lease_token: Set(None),
        lease_expires_at: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(txn)
    .await?;
    Ok(())
}

impl OrderRepo<'_> {
    /// Creates the order priced from the catalogue. Replaying the same idempotency key returns
    /// the order already created instead of a second one. Stock is not touched (this also loads
    /// historical orders); a customer's new order goes through [`OrderRepo::place`].
    pub async fn create(&self, tenant: TenantId, new: NewOrder) -> Result<Order, StoreError> {
        self.insert(tenant, new, false).await
    }

    /// Places a customer's confirmed order: in ONE transaction it prices the lines from the
    /// catalogue, reserves their stock (a line with too little stock fails the whole order with
    /// [`StoreError::Conflict`]), writes the order and its items, and queues an
    /// [`INVOICE_OUTBOX_KIND`] outbox row. `status` and `outbox_kind` of `new` are overridden.
    /// Replaying the same idempotency key returns the existing order and reserves nothing.
    pub async fn place(&self, tenant: TenantId, mut new: NewOrder) -> Result<Order, StoreError> {
        new.status = OrderStatus::Confirmed;
        new.outbox_kind = Some(INVOICE_OUTBOX_KIND.to_owned());
        self.insert(tenant, new, true).await
    }

    async fn insert(&self, tenant: TenantId, new: NewOrder, reserve_stock: bool) -> Result<Order, StoreError> {
        if let Some(existing) = self.find_by_idempotency_key(tenant, &new.idempotency_key).await? {
            return Ok(existing);
        }
        if new.lines.is_empty() {
            return Err(StoreError::Invalid("an order needs at least one line".into()));
        }
        let txn = self.db.begin().await?;
        let order_id = Uuid::new_v4();
        let priced = price_lines(&txn, tenant, order_id, &new.lines, reserve_stock).await?;
        let (items, subtotal, currency) = (priced.items, priced.subtotal, priced.currency);
        let row = order::ActiveModel {
            id: Set(order_id),
            tenant_id: Set(tenant.0),
            customer_id: Set(new.customer.0),
            number: Set(new.number),
            status: Set(new.status.as_str().to_owned()),
            subtotal_minor: Set(subtotal),
            total_minor: Set(subtotal),
            currency: Set(currency),
            idempotency_key: Set(new.idempotency_key.clone()),
            invoice_id: Set(None),
            invoice_number: Set(None),
            failure_reason: Set(None),
            created_at: Set(new.created_at),
            updated_at: Set(new.created_at),
        }
        .insert(&txn)
        .await?;
        order_item::Entity::insert_many(items).exec(&txn).await?;
        if let Some(kind) = new.outbox_kind {
            queue_job(&txn, tenant, &kind, order_id).await?;
        }
        txn.commit().await?;
        Ok(row.into())
    }

    /// Cancels an order in ONE transaction. A draft or confirmed order becomes `cancelled` and
    /// its reserved stock is released; an invoiced one (only when `allow_invoiced`) becomes
    /// `cancelled` and keeps its stock (the goods left). Both queue a [`VOID_OUTBOX_KIND`] job,
    /// which voids the invoice if one exists — for a confirmed order, one an invoice call in
    /// flight may still create.
    pub async fn cancel(&self, tenant: TenantId, order_id: Uuid, allow_invoiced: bool) -> Result<CancelOutcome, StoreError> {
        let txn = self.db.begin().await?;
        let order = order::Entity::find()
            .filter(order::Column::TenantId.eq(tenant.0))
            .filter(order::Column::Id.eq(order_id))
            .one(&txn)
            .await?
            .ok_or_else(|| StoreError::NotFound("order".into()))?;
        let status = OrderStatus::parse(&order.status).unwrap_or(OrderStatus::Failed);
        let release_stock = match status {
            OrderStatus::Cancelled => return Ok(CancelOutcome::AlreadyCancelled),
            OrderStatus::Failed => return Ok(CancelOutcome::NotCancellable(status)),
            OrderStatus::Invoiced if !allow_invoiced => return Ok(CancelOutcome::NotCancellable(status)),
            OrderStatus::Invoiced => false,
            OrderStatus::Draft | OrderStatus::Confirmed => status == OrderStatus::Confirmed,
        };
        // Conditional on the status read above, so a worker invoicing meanwhile is noticed.
        let changed = order::Entity::update_many()
            .col_expr(order::Column::Status, Expr::value(OrderStatus::Cancelled.as_str()))
            .col_expr(order::Column::UpdatedAt, Expr::value(Utc::now()))
            .filter(order::Column::TenantId.eq(tenant.0))
            .filter(order::Column::Id.eq(order_id))
            .filter(order::Column::Status.eq(order.status.as_str()))
            .exec(&txn)
            .await?;
        if changed.rows_affected != 1 {
            return Err(StoreError::Conflict("the order changed meanwhile; try again".into()));
        }
        if release_stock {
            release_items_stock(&txn, tenant, order_id).await?;
        }
        let void_queued = status != OrderStatus::Draft;
        if void_queued {
            queue_job(&txn, tenant, VOID_OUTBOX_KIND, order_id).await?;
        }
        txn.commit().await?;
        Ok(CancelOutcome::Cancelled { previous: status, void_queued })
    }

    /// Replaces the lines of a `confirmed` (not yet invoiced) order in ONE transaction: the old
    /// lines' stock is released, the new lines are priced from the catalogue and reserved, and
    /// the totals are updated. The pending invoice job then invoices the new lines.
    pub async fn replace_lines(&self, tenant: TenantId, order_id: Uuid, lines: &[NewOrderLine]) -> Result<Order, StoreError> {
        if lines.is_empty() {
            return Err(StoreError::Invalid("an order needs at least one line".into()));
        }
        let txn = self.db.begin().await?;
        let order = order::Entity::find()
            .filter(order::Column::TenantId.eq(tenant.0))
            .filter(order::Column::Id.eq(order_id))
            .one(&txn)
            .await?
            .ok_or_else(|| StoreError::NotFound("order".into()))?;
        if order.status != OrderStatus::Confirmed.as_str() {
            return Err(StoreError::Conflict(format!("order is {}", order.status)));
        }
        release_items_stock(&txn, tenant, order_id).await?;
        order_item::Entity::delete_many()
            .filter(order_item::Column::TenantId.eq(tenant.0))
            .filter(order_item::Column::OrderId.eq(order_id))
            .exec(&txn)
            .await?;
        let priced = price_lines(&txn, tenant, order_id, lines, true).await?;
        order_item::Entity::insert_many(priced.items).exec(&txn).await?;
        let now = Utc::now();
        let changed = order::Entity::update_many()
            .col_expr(order::Column::SubtotalMinor, Expr::value(priced.subtotal))
            .col_expr(order::Column::TotalMinor, Expr::value(priced.subtotal))
            .col_expr(order::Column::UpdatedAt, Expr::value(now))
            .filter(order::Column::TenantId.eq(tenant.0))
            .filter(order::Column::Id.eq(order_id))
            .filter(order::Column::Status.eq(OrderStatus::Confirmed.as_str()))
            .exec(&txn)
            .await?;
        if changed.rows_affected != 1 {
            return Err(StoreError::Conflict("the order changed meanwhile; try again".into()));
        }
        txn.commit().await?;
        self.find(tenant, order_id).await?.ok_or_else(|| StoreError::NotFound("order".into()))
    }

    pub async fn find_by_idempotency_key(&self, tenant: TenantId, key: &str) -> Result<Option<Order>, StoreError> {
        Ok(order::Entity::find()
            .filter(order::Column::TenantId.eq(tenant.0))
            .filter(order::Column::IdempotencyKey.eq(key))
            .one(self.db)
            .await?
            .records())
    }

    pub async fn find_by_number(&self, tenant: TenantId, number: &str) -> Result<Option<Order>, StoreError> {
        Ok(order::Entity::find()
            .filter(order::Column::TenantId.eq(tenant.0))
            .filter(order::Column::Number.eq(number))
            .one(self.db)
            .await?
            .records())
    }

    pub async fn list_for_customer(&self, tenant: TenantId, customer: CustomerId) -> Result<Vec<Order>, StoreError> {
        Ok(order::Entity::find()
            .filter(order::Column::TenantId.eq(tenant.0))
            .filter(order::Column::CustomerId.eq(customer.0))
            .order_by_desc(order::Column::CreatedAt)
            .all(self.db)
            .await?
            .records())
    }

    pub async fn items(&self, tenant: TenantId, order_id: Uuid) -> Result<Vec<OrderItem>, StoreError> {
        Ok(order_item::Entity::find()
            .filter(order_item::Column::TenantId.eq(tenant.0))
            .filter(order_item::Column::OrderId.eq(order_id))
            .all(self.db)
            .await?
            .records())
    }

    pub async fn find(&self, tenant: TenantId, order_id: Uuid) -> Result<Option<Order>, StoreError> {
        Ok(order::Entity::find()
            .filter(order::Column::TenantId.eq(tenant.0))
            .filter(order::Column::Id.eq(order_id))
            .one(self.db)
            .await?
            .records())
    }

    /// Opens an escalation on an order for a person (e.g. approval of a high-value order).
    pub async fn open_escalation(&self, tenant: TenantId, order_id: Uuid, reason: &str) -> Result<OrderEscalation, StoreError> {
        let now = Utc::now();
        Ok(order_escalation::ActiveModel {
            id: Set(Uuid::new_v4()),
            tenant_id: Set(tenant.0),
            order_id: Set(order_id),
            reason: Set(reason.to_owned()),
            status: Set("open".into()),
            ticket_ref: Set(None),
            created_at: Set(now),
            updated_at: Set(now),
        }
        .insert(self.db)
        .await?
        .into())
    }

    /// Escalations opened for a tenant's orders, oldest first.
    pub async fn escalations(&self, tenant: TenantId) -> Result<Vec<OrderEscalation>, StoreError> {
        Ok(order_escalation::Entity::find()
            .filter(order_escalation::Column::TenantId.eq(tenant.0))
            .order_by_asc(order_escalation::Column::CreatedAt)
            .all(self.db)
            .await?
            .records())
    }

    /// Outbox rows of a tenant (for inspection and tests).
    pub async fn outbox(&self, tenant: TenantId) -> Result<Vec<OutboxJob>, StoreError> {
        Ok(outbox::Entity::find()
            .filter(outbox::Column::TenantId.eq(tenant.0))
            .order_by_asc(outbox::Column::CreatedAt)
            .all(self.db)
            .await?
            .records())
    }
}
