//! `verification_failures`: one row per failed customer verification (number and email that
//! did not belong together) and per thing it counts against — the session, the customer number
//! as typed, the widget client. In the database, not in process memory, so every instance sees
//! the same counts and a guesser cannot spread attempts over replicas.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "verification_failures")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub tenant_id: Uuid,
    /// What `subject` is: `session`, `customer_number` or `client` (the repo's vocabulary).
    pub scope: String,
    /// The conversation id, the upper-cased number, or the client's address.
    pub subject: String,
    pub failed_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
