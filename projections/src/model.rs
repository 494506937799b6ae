//! What a read model is: a name (also its PostgreSQL schema), its
//! migrations, and forward logic that writes one block's rows. Reverts,
//! checkpoints, redelivery and rebuilds are the runtime's job: a model
//! author never writes undo code (see [`crate::schema`] for how undo works).

use chain::stream::BlockMessage;
use futures::future::BoxFuture;
use sqlx::PgConnection;
use sqlx::migrate::Migrator;

/// A read model folded from the ledger event stream.
///
/// Rules for implementations:
/// * every table has a primary key (the runtime undoes rows by key);
/// * `apply` writes only through the connection it is given (it runs in
///   the batch's transaction, with `search_path` set to the model's
///   schema, so tables are named without a schema);
/// * `apply` is deterministic: the same block on the same rows writes the
///   same rows (rebuild must equal incremental).
pub trait ReadModel: Send + Sync + 'static {
    /// The model's name and PostgreSQL schema, e.g. `explorer`.
    fn name(&self) -> &'static str;

    /// The model's migrations (`migrations/<name>/`), run in its schema
    /// after the runtime's own.
    fn migrator(&self) -> &'static Migrator;

    /// Writes what applying `message.block` (kind `Applied`) changes.
    fn apply<'a>(
        &'a self,
        connection: &'a mut PgConnection,
        message: &'a BlockMessage,
    ) -> BoxFuture<'a, Result<(), sqlx::Error>>;
}

/// Checks a model name: it becomes a schema name and part of NATS subjects
/// and consumer names.
pub fn valid_model_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_lowercase())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        && name.len() <= 48
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn model_names_are_schema_safe() {
        assert!(valid_model_name("explorer"));
        assert!(valid_model_name("chat_v2"));
        assert!(!valid_model_name(""));
        assert!(!valid_model_name("2fa"));
        assert!(!valid_model_name("Explorer"));
        assert!(!valid_model_name("a\"; DROP"));
        assert!(!valid_model_name(&"a".repeat(49)));
    }
}
