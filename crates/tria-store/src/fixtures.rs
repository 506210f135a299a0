//! Demo data kept as files under `fixtures/tenants/<slug>/` (TOML and Markdown, not code), and
//! seeding it idempotently: running the seed twice changes nothing.

use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::Deserialize;
use tria_core::{ApiRole, OrderStatus, TenantContext, ToneProfile};

use crate::repo::{NewCustomer, NewOrder, NewOrderLine, NewProduct, NewTenant};
use crate::{Store, StoreError};

#[derive(Debug, thiserror::Error)]
pub enum FixtureError {
    #[error("cannot read {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("{path}: {message}")]
    Parse { path: PathBuf, message: String },
    #[error("{0}")]
    Store(#[from] StoreError),
}

#[derive(Clone, Debug, Deserialize)]
pub struct TenantFile {
    pub name: String,
    pub slug: String,
    pub currency: String,
    #[serde(default)]
    pub tone: ToneProfile,
    #[serde(default)]
    pub settings: toml::Table,
}

#[derive(Clone, Debug, Deserialize)]
pub struct ProductFile {
    pub sku: String,
    pub name: String,
    pub description: String,
    pub unit: String,
    pub unit_price_minor: i64,
    pub currency: String,
    pub stock: i64,
    #[serde(default = "yes")]
    pub active: bool,
}

fn yes() -> bool {
    true
}

#[derive(Clone, Debug, Deserialize)]
pub struct CustomerFile {
    pub external_id: String,
    pub name: String,
    pub email: String,
    #[serde(default)]
    pub company: String,
}

#[derive(Clone, Debug, Deserialize)]
pub struct OrderFile {
    pub number: String,
    pub customer: String,
    pub status: String,
    pub created_at: String,
    pub idempotency_key: String,
    pub items: Vec<OrderLineFile>,
}

#[derive(Clone, Debug, Deserialize)]
pub struct OrderLineFile {
    pub sku: String,
    pub quantity: i64,
}

/// A policy document: its path relative to the tenant folder, and its Markdown.
#[derive(Clone, Debug)]
pub struct PolicyFile {
    pub source_path: String,
    pub markdown: String,
}

/// Everything under one `fixtures/tenants/<slug>/`.
#[derive(Clone, Debug)]
pub struct TenantFixture {
    pub tenant: TenantFile,
    pub products: Vec<ProductFile>,
    pub customers: Vec<CustomerFile>,
    pub orders: Vec<OrderFile>,
    pub policies: Vec<PolicyFile>,
}

#[derive(Default, Deserialize)]
struct ProductsDoc {
    #[serde(default)]
    product: Vec<ProductFile>,
}
#[derive(Default, Deserialize)]
struct CustomersDoc {
    #[serde(default)]
    customer: Vec<CustomerFile>,
}
#[derive(Default, Deserialize)]
struct OrdersDoc {
    #[serde(default)]
    order: Vec<OrderFile>,
}

fn read(path: &Path) -> Result<String, FixtureError> {
    std::fs::read_to_string(path).map_err(|source| FixtureError::Read { path: path.to_owned(), source })
}

fn parse_toml<T: serde::de::DeserializeOwned>(path: &Path) -> Result<T, FixtureError> {
    toml::from_str(&read(path)?).map_err(|e| FixtureError::Parse { path: path.to_owned(), message: e.message().to_owned() })
}

fn parse_optional<T: serde::de::DeserializeOwned + Default>(path: &Path) -> Result<T, FixtureError> {
    if path.exists() { parse_toml(path) } else { Ok(T::default()) }
}

/// Reads one tenant folder.
pub fn load_tenant(dir: &Path) -> Result<TenantFixture, FixtureError> {
    let tenant: TenantFile = parse_toml(&dir.join("tenant.toml"))?;
    let products: ProductsDoc = parse_optional(&dir.join("products.toml"))?;
    let customers: CustomersDoc = parse_optional(&dir.join("customers.toml"))?;
    let orders: OrdersDoc = parse_optional(&dir.join("orders.toml"))?;
    let mut policies = Vec::new();
    let policy_dir = dir.join("policies");
    if policy_dir.is_dir() {
        let entries = std::fs::read_dir(&policy_dir).map_err(|source| FixtureError::Read { path: policy_dir.clone(), source })?;
        let mut paths: Vec<PathBuf> =
            entries.filter_map(|e| e.ok().map(|e| e.path())).filter(|p| p.extension().is_some_and(|ext| ext == "md")).collect();
        paths.sort();
        for path in paths {
            let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
            policies.push(PolicyFile { source_path: format!("policies/{name}"), markdown: read(&path)? });
        }
    }
    Ok(TenantFixture { tenant, products: products.product, customers: customers.customer, orders: orders.order, policies })
}

/// Reads every tenant folder under `fixtures_dir/tenants`, in name order.
pub fn load_all(fixtures_dir: &Path) -> Result<Vec<TenantFixture>, FixtureError> {
    let root = fixtures_dir.join("tenants");
    let entries = std::fs::read_dir(&root).map_err(|source| FixtureError::Read { path: root.clone(), source })?;
    let mut dirs: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).filter(|p| p.is_dir()).collect();
    dirs.sort();
    dirs.iter().map(|d| load_tenant(d)).collect()
}

/// What one seeding run wrote.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SeedReport {
    pub tenant_created: bool,
    pub products_changed: usize,
    pub customers: usize,
    pub orders_created: usize,
    pub key_created: bool,
}

/// Writes a tenant's rows (tenant, catalogue, customers, orders, demo key). Policies are
/// chunked and stored by the retrieval layer, which knows how to cut them.
pub async fn seed_tenant(
    store: &Store,
    fixture: &TenantFixture,
    demo_key: Option<&str>,
) -> Result<(TenantContext, SeedReport), FixtureError> {
    let mut report = SeedReport::default();
    let t = &fixture.tenant;
    let tenant = match store.tenants().find_by_slug(&t.slug).await? {
        Some(existing) => existing,
        None => {
            report.tenant_created = true;
            let settings = serde_json::to_value(&t.settings).map_err(|e| StoreError::Invalid(e.to_string()))?;
            store
                .tenants()
                .create(NewTenant {
                    name: t.name.clone(),
                    slug: t.slug.clone(),
                    currency: t.currency.clone(),
                    tone: t.tone.clone(),
                    settings,
                })
                .await?
        }
    };
    for p in &fixture.products {
        let changed = store
            .catalogue()
            .upsert(
                tenant.id,
                NewProduct {
                    sku: p.sku.clone(),
                    name: p.name.clone(),
                    description: p.description.clone(),
                    unit: p.unit.clone(),
                    unit_price_minor: p.unit_price_minor,
                    currency: p.currency.clone(),
                    stock: p.stock,
                    active: p.active,
                },
            )
            .await?;
        report.products_changed += usize::from(changed);
    }
    for c in &fixture.customers {
        store
            .customers()
            .upsert(
                tenant.id,
                NewCustomer {
                    external_id: c.external_id.clone(),
                    name: c.name.clone(),
                    email: c.email.clone(),
                    company: c.company.clone(),
                },
            )
            .await?;
        report.customers += 1;
    }
    for o in &fixture.orders {
        if store.orders().find_by_idempotency_key(tenant.id, &o.idempotency_key).await?.is_some() {
            continue;
        }
        let customer = store
            .customers()
            .find_by_external_id(tenant.id, &o.customer)
            .await?
            .ok_or_else(|| StoreError::Invalid(format!("order {} names unknown customer {}", o.number, o.customer)))?;
        let status = OrderStatus::parse(&o.status)
            .ok_or_else(|| StoreError::Invalid(format!("order {} has unknown status {}", o.number, o.status)))?;
        let created_at: DateTime<Utc> = DateTime::parse_from_rfc3339(&o.created_at)
            .map_err(|e| StoreError::Invalid(format!("order {} created_at: {e}", o.number)))?
            .with_timezone(&Utc);
        store
            .orders()
            .create(
                tenant.id,
                NewOrder {
                    customer: tria_core::CustomerId(customer.id),
                    number: o.number.clone(),
                    status,
                    idempotency_key: o.idempotency_key.clone(),
                    lines: o.items.iter().map(|i| NewOrderLine { sku: i.sku.clone(), quantity: i.quantity }).collect(),
                    created_at,
                    outbox_kind: None,
                },
            )
            .await?;
        report.orders_created += 1;
    }
    if let Some(key) = demo_key
        && !store.keys().exists(key).await?
    {
        store.keys().insert(Some(tenant.id), ApiRole::Tenant, "demo key", key).await?;
        report.key_created = true;
    }
    Ok((tenant, report))
}
