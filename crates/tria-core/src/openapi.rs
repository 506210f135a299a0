//! OpenAPI schemas of the fields whose constraints utoipa's attributes cannot take from
//! [`crate::constraints`] (its `max_length`/`pattern` accept literals only), for
//! `#[schema(schema_with = …)]` on the wire types. Feature `openapi`.

use utoipa::openapi::schema::{AnyOfBuilder, ObjectBuilder, Schema, SchemaFormat, Type};

use crate::constraints::{CUSTOMER_FACING_PATTERN, CUSTOMER_ID_MAX_CHARS, CUSTOMER_ID_PATTERN, MESSAGE_MAX_CHARS, MESSAGE_PATTERN};

fn null() -> ObjectBuilder {
    ObjectBuilder::new().schema_type(Type::Null)
}

fn string() -> ObjectBuilder {
    ObjectBuilder::new().schema_type(Type::String)
}

/// A chat message as the agent accepts it (`tria_agent::input`).
pub fn message() -> Schema {
    string().min_length(Some(1)).max_length(Some(MESSAGE_MAX_CHARS)).pattern(Some(MESSAGE_PATTERN)).into()
}

/// The `session_id` of a chat request (and of an OpenAI request's `metadata`).
pub fn session_id() -> Schema {
    AnyOfBuilder::new()
        .description(Some("A session id from an earlier reply (continues that conversation); empty or null starts a new one."))
        .item(string().format(Some(SchemaFormat::Custom("uuid".into()))))
        .item(string().max_length(Some(0)))
        .item(null())
        .into()
}

/// The `customer_id` of a chat request (and an OpenAI request's `user`).
pub fn customer_id() -> Schema {
    AnyOfBuilder::new()
        .description(Some(
            "The tenant's own id for the customer (per-customer rate limit, history, orders). Tenant keys only: a publishable widget key that sends one gets 403.",
        ))
        .item(string().max_length(Some(CUSTOMER_ID_MAX_CHARS)).pattern(Some(CUSTOMER_ID_PATTERN)))
        .item(null())
        .into()
}

/// A tone's persona, greeting or sign-off: said to every customer.
pub fn customer_facing_text() -> Schema {
    string().pattern(Some(CUSTOMER_FACING_PATTERN)).into()
}
