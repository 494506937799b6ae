//! Why a read model stopped or a step failed. Bad data (a message that does
//! not decode, a block that does not follow the checkpoint) stops one model
//! with the stream position and the reason; infrastructure failures
//! (PostgreSQL or NATS unavailable) are retried by the runner.

use chain::stream::BlockMessageError;
use ledger::{BlockHeight, BlockId};

/// Where a message sits in the JetStream stream.
pub type StreamSequence = u64;

/// A failure of the runtime or of a model.
#[derive(Debug, thiserror::Error)]
pub enum ProjectionError {
    /// The message at `stream_seq` is not a valid block message.
    #[error("model {model}: stream message {stream_seq} is not a block message: {source}")]
    BadMessage {
        model: String,
        stream_seq: StreamSequence,
        source: BlockMessageError,
    },
    /// The block does not continue the model's chain.
    #[error(
        "model {model}: stream message {stream_seq} ({kind} block {block} at height {height}) does not follow the checkpoint: {reason}"
    )]
    DoesNotFollow {
        model: String,
        stream_seq: StreamSequence,
        kind: &'static str,
        block: BlockId,
        height: BlockHeight,
        reason: String,
    },
    /// The stream no longer holds the messages the model needs next.
    #[error(
        "model {model}: needs stream message {needed} but the stream starts at {first}; backfill from a node is required"
    )]
    StreamTruncated {
        model: String,
        needed: StreamSequence,
        first: StreamSequence,
    },
    /// The model's own apply code failed on a block.
    #[error(
        "model {model}: applying block {block} at height {height} (stream message {stream_seq}) failed: {source}"
    )]
    Apply {
        model: String,
        stream_seq: StreamSequence,
        block: BlockId,
        height: BlockHeight,
        source: sqlx::Error,
    },
    /// A table of the model cannot be undone generically.
    #[error("model {model}: table {table} has no primary key; the runtime cannot undo its rows")]
    NoPrimaryKey { model: String, table: String },
    /// A name that cannot be a model (schema) name.
    #[error(
        "{0:?} is not a valid read model name (lowercase letters, digits and _; starts with a letter)"
    )]
    BadModelName(String),
    /// A stored checkpoint or row is not what the runtime wrote.
    #[error("model {model}: stored data is corrupt: {detail}")]
    Corrupt { model: String, detail: String },
    /// PostgreSQL failed (retried by the runner).
    #[error("PostgreSQL: {0}")]
    Database(#[from] sqlx::Error),
    /// Migrations failed.
    #[error("migrations: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// NATS failed (retried by the runner).
    #[error("NATS: {0}")]
    Nats(String),
}

impl ProjectionError {
    /// True for failures of the infrastructure that go away by waiting
    /// (the runner reconnects and resumes from the checkpoint); false for
    /// bad data or a bug, which stops the model until someone looks.
    pub fn is_transient(&self) -> bool {
        match self {
            ProjectionError::Database(error) => sqlx_is_transient(error),
            // The model's own statements fail transiently too when the
            // server goes away under them.
            ProjectionError::Apply { source, .. } => sqlx_is_transient(source),
            ProjectionError::Migrate(
                sqlx::migrate::MigrateError::Execute(inner)
                | sqlx::migrate::MigrateError::ExecuteMigration(inner, _),
            ) => sqlx_is_transient(inner),
            ProjectionError::Nats(_) => true,
            _ => false,
        }
    }
}

/// Whether a PostgreSQL error is about reaching the server (retry) rather
/// than about the statement (do not retry).
pub fn sqlx_is_transient(error: &sqlx::Error) -> bool {
    match error {
        sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::Protocol(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed => true,
        sqlx::Error::Database(database) => database.code().is_some_and(|code| {
            // 08: connection exception; 57: operator intervention (admin or
            // crash shutdown, cannot connect now); 53: insufficient
            // resources; 40001/40P01: serialization failure, deadlock.
            code.starts_with("08")
                || code.starts_with("57")
                || code.starts_with("53")
                || code == "40001"
                || code == "40P01"
        }),
        _ => false,
    }
}

/// Converts any NATS error into [`ProjectionError::Nats`].
pub(crate) fn nats<E: std::fmt::Display>(error: E) -> ProjectionError {
    ProjectionError::Nats(error.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outages_are_transient_bad_data_is_not() {
        let refused = || {
            sqlx::Error::Io(std::io::Error::new(
                std::io::ErrorKind::ConnectionRefused,
                "refused",
            ))
        };
        assert!(ProjectionError::Database(refused()).is_transient());
        assert!(ProjectionError::Nats("timeout".into()).is_transient());
        let apply = |source| ProjectionError::Apply {
            model: "explorer".into(),
            stream_seq: 3,
            block: ledger::BlockId(ledger::Hash32([0; 32])),
            height: BlockHeight(2),
            source,
        };
        assert!(apply(refused()).is_transient());
        assert!(!apply(sqlx::Error::Decode("bad row".into())).is_transient());
        assert!(!ProjectionError::BadModelName("X".into()).is_transient());
        assert!(
            ProjectionError::Migrate(sqlx::migrate::MigrateError::Execute(refused()))
                .is_transient()
        );
    }
}
