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
    /// bad data, which stops the model until someone looks.
    pub fn is_transient(&self) -> bool {
        match self {
            ProjectionError::Database(error) => !matches!(
                error,
                sqlx::Error::ColumnDecode { .. }
                    | sqlx::Error::Decode(_)
                    | sqlx::Error::TypeNotFound { .. }
            ),
            ProjectionError::Nats(_) => true,
            _ => false,
        }
    }
}

/// Converts any NATS error into [`ProjectionError::Nats`].
pub(crate) fn nats<E: std::fmt::Display>(error: E) -> ProjectionError {
    ProjectionError::Nats(error.to_string())
}
