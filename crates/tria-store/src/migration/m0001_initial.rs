//! The first schema: tenants, keys, customers, catalogue, orders, conversations, escalations,
//! the integration outbox and policy documents/chunks.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub(crate) struct Migration;

fn fk(from_table: &'static str, col: &'static str, to_table: &'static str) -> ForeignKeyCreateStatement {
    ForeignKey::create()
        .name(format!("fk_{from_table}_{col}"))
        .from(from_table, col)
        .to(to_table, "id")
        .on_delete(ForeignKeyAction::Cascade)
        .take()
}

fn index(table: &'static str, name: &str, cols: &[&'static str], unique: bool) -> IndexCreateStatement {
    let mut stmt = Index::create();
    stmt.name(name).table(table);
    for col in cols {
        stmt.col(*col);
    }
    if unique {
        stmt.unique();
    }
    stmt.take()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table("tenants")
                .col(pk_uuid("id"))
                .col(string("name"))
                .col(string_uniq("slug"))
                .col(string_len("currency", 3))
                .col(json("tone"))
                .col(json("settings"))
                .col(timestamp_with_time_zone("created_at"))
                .take(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table("api_keys")
                .col(pk_uuid("id"))
                .col(uuid_null("tenant_id"))
                .col(string_len("prefix", 32))
                .col(string_len_uniq("key_hash", 64))
                .col(string_len("role", 16))
                .col(string("label"))
                .col(timestamp_with_time_zone("created_at"))
                .col(timestamp_with_time_zone_null("revoked_at"))
                .foreign_key(&mut fk("api_keys", "tenant_id", "tenants"))
                .take(),
        )
        .await?;
        m.create_index(index("api_keys", "idx_api_keys_prefix", &["prefix"], false)).await?;

        m.create_table(
            Table::create()
                .table("customers")
                .col(pk_uuid("id"))
                .col(uuid("tenant_id"))
                .col(string("external_id"))
                .col(string("name"))
                .col(string("email"))
                .col(string("company"))
                .col(timestamp_with_time_zone("created_at"))
                .foreign_key(&mut fk("customers", "tenant_id", "tenants"))
                .take(),
        )
        .await?;
        m.create_index(index("customers", "uq_customers_tenant_external", &["tenant_id", "external_id"], true)).await?;

        m.create_table(
            Table::create()
                .table("products")
                .col(pk_uuid("id"))
                .col(uuid("tenant_id"))
                .col(string("sku"))
                .col(string("name"))
                .col(text("description"))
                .col(string("unit"))
                .col(big_integer("unit_price_minor"))
                .col(string_len("currency", 3))
                .col(big_integer("stock"))
                .col(boolean("active"))
                .col(timestamp_with_time_zone("updated_at"))
                .foreign_key(&mut fk("products", "tenant_id", "tenants"))
                .take(),
        )
        .await?;
        m.create_index(index("products", "uq_products_tenant_sku", &["tenant_id", "sku"], true)).await?;

        m.create_table(
            Table::create()
                .table("orders")
                .col(pk_uuid("id"))
                .col(uuid("tenant_id"))
                .col(uuid("customer_id"))
                .col(string("number"))
                .col(string_len("status", 16))
                .col(big_integer("subtotal_minor"))
                .col(big_integer("total_minor"))
                .col(string_len("currency", 3))
                .col(string("idempotency_key"))
                .col(string_null("invoice_id"))
                .col(string_null("invoice_number"))
                .col(timestamp_with_time_zone("created_at"))
                .col(timestamp_with_time_zone("updated_at"))
                .foreign_key(&mut fk("orders", "tenant_id", "tenants"))
                .foreign_key(&mut fk("orders", "customer_id", "customers"))
                .take(),
        )
        .await?;
        m.create_index(index("orders", "uq_orders_tenant_idempotency", &["tenant_id", "idempotency_key"], true)).await?;
        m.create_index(index("orders", "uq_orders_tenant_number", &["tenant_id", "number"], true)).await?;
        m.create_index(index("orders", "idx_orders_tenant_customer", &["tenant_id", "customer_id"], false)).await?;

        m.create_table(
            Table::create()
                .table("order_items")
                .col(pk_uuid("id"))
                .col(uuid("tenant_id"))
                .col(uuid("order_id"))
                .col(uuid("product_id"))
                .col(string("sku"))
                .col(string("name"))
                .col(big_integer("quantity"))
                .col(big_integer("unit_price_minor"))
                .col(big_integer("line_total_minor"))
                .foreign_key(&mut fk("order_items", "order_id", "orders"))
                .foreign_key(&mut fk("order_items", "product_id", "products"))
                .take(),
        )
        .await?;
        m.create_index(index("order_items", "idx_order_items_order", &["order_id"], false)).await?;

        m.create_table(
            Table::create()
                .table("conversations")
                .col(pk_uuid("id"))
                .col(uuid("tenant_id"))
                .col(uuid_null("customer_id"))
                .col(string_len("channel", 32))
                .col(string_len("status", 16))
                .col(string_len_null("resolution", 32))
                .col(timestamp_with_time_zone("started_at"))
                .col(timestamp_with_time_zone("updated_at"))
                .foreign_key(&mut fk("conversations", "tenant_id", "tenants"))
                .take(),
        )
        .await?;
        m.create_index(index("conversations", "idx_conversations_tenant_updated", &["tenant_id", "updated_at"], false)).await?;

        m.create_table(
            Table::create()
                .table("messages")
                .col(pk_uuid("id"))
                .col(uuid("tenant_id"))
                .col(uuid("conversation_id"))
                .col(string_len("role", 16))
                .col(text("content"))
                .col(string_len_null("intent", 32))
                .col(double_null("confidence"))
                .col(json("sources"))
                .col(big_integer("tokens_in"))
                .col(big_integer("tokens_out"))
                .col(big_integer("latency_ms"))
                .col(string_len_null("cache_level", 8))
                .col(timestamp_with_time_zone("created_at"))
                .foreign_key(&mut fk("messages", "conversation_id", "conversations"))
                .take(),
        )
        .await?;
        m.create_index(index("messages", "idx_messages_conversation_created", &["conversation_id", "created_at"], false)).await?;

        m.create_table(
            Table::create()
                .table("escalations")
                .col(pk_uuid("id"))
                .col(uuid("tenant_id"))
                .col(uuid("conversation_id"))
                .col(text("reason"))
                .col(string_null("ticket_ref"))
                .col(string_len("status", 16))
                .col(timestamp_with_time_zone("created_at"))
                .col(timestamp_with_time_zone("updated_at"))
                .foreign_key(&mut fk("escalations", "conversation_id", "conversations"))
                .take(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table("integration_outbox")
                .col(pk_uuid("id"))
                .col(uuid("tenant_id"))
                .col(string_len("kind", 64))
                .col(json("payload"))
                .col(string("idempotency_key"))
                .col(string_len("state", 16))
                .col(integer("attempts"))
                .col(timestamp_with_time_zone("next_attempt_at"))
                .col(text_null("last_error"))
                .col(timestamp_with_time_zone("created_at"))
                .col(timestamp_with_time_zone("updated_at"))
                .foreign_key(&mut fk("integration_outbox", "tenant_id", "tenants"))
                .take(),
        )
        .await?;
        m.create_index(index("integration_outbox", "uq_outbox_tenant_idempotency", &["tenant_id", "idempotency_key"], true)).await?;
        m.create_index(index("integration_outbox", "idx_outbox_due", &["state", "next_attempt_at"], false)).await?;

        m.create_table(
            Table::create()
                .table("policy_documents")
                .col(pk_uuid("id"))
                .col(uuid("tenant_id"))
                .col(string("title"))
                .col(string("source_path"))
                .col(string_len("content_hash", 64))
                .col(integer("version"))
                .col(timestamp_with_time_zone("updated_at"))
                .foreign_key(&mut fk("policy_documents", "tenant_id", "tenants"))
                .take(),
        )
        .await?;
        m.create_index(index("policy_documents", "uq_policy_documents_tenant_path", &["tenant_id", "source_path"], true)).await?;

        m.create_table(
            Table::create()
                .table("policy_chunks")
                .col(pk_uuid("id"))
                .col(uuid("tenant_id"))
                .col(uuid("document_id"))
                .col(integer("ordinal"))
                .col(string("heading_path"))
                .col(text("text"))
                .col(integer("token_count"))
                .col(blob_null("embedding"))
                .col(string_null("embedding_model"))
                .foreign_key(&mut fk("policy_chunks", "document_id", "policy_documents"))
                .take(),
        )
        .await?;
        m.create_index(index("policy_chunks", "idx_policy_chunks_tenant", &["tenant_id", "document_id", "ordinal"], false)).await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            "policy_chunks",
            "policy_documents",
            "integration_outbox",
            "escalations",
            "messages",
            "conversations",
            "order_items",
            "orders",
            "products",
            "customers",
            "api_keys",
            "tenants",
        ] {
            m.drop_table(Table::drop().table(table).if_exists().take()).await?;
        }
        Ok(())
    }
}
