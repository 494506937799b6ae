//! Why a read model stopped or a step failed. Bad data (a message that does
//! not decode, a block that does not follow the checkpoint) stops one model
//! with the stream position and the reason; infrastructure failures
//! (PostgreSQL or NATS unavailable, no node serving blocks the stream no
//! longer holds) are retried by the runner.

use chain::stream::{BlockMessageError, BlocksRefusal};
use ledger::{BlockHeight, BlockId};

pub use crate::batch::Source;
use crate::checkpoint::Checkpoint;

/// Where a message sits in the JetStream stream.
pub type StreamSequence = u64;

/// A failure of the runtime or of a model.
#[derive(Debug, thiserror::Error)]
pub enum ProjectionError {
    /// The message at `stream_seq` (or a block a node served) is not a
    /// valid block message.
    #[error("model {model}: {origin} {stream_seq} is not a block message: {source}")]
    BadMessage {
        model: String,
        origin: Source,
        stream_seq: StreamSequence,
        source: BlockMessageError,
    },
    /// The block does not continue the model's chain.
    #[error(
        "model {model}: {origin} {stream_seq} ({kind} block {block} at height {height}) does not follow the checkpoint: {reason}"
    )]
    DoesNotFollow {
        model: String,
        origin: Source,
        stream_seq: StreamSequence,
        kind: &'static str,
        block: BlockId,
        height: BlockHeight,
        reason: String,
    },
    /// The stream no longer holds the messages the model needs next (and
    /// backfilling from a node did not close the gap, e.g. the stream lost
    /// more meanwhile).
    #[error("model {model}: needs stream message {needed} but the stream starts at {first}")]
    StreamTruncated {
        model: String,
        needed: StreamSequence,
        first: StreamSequence,
    },
    /// The model needs blocks the stream no longer holds and no node
    /// served them (retried with backoff).
    #[error(
        "model {model}: needs blocks {from}..={to} (the stream starts at message {first}, at height {first_height}); no node answered on {subject}: {reason}"
    )]
    NoNodeAnswered {
        model: String,
        from: BlockHeight,
        to: BlockHeight,
        first: StreamSequence,
        first_height: BlockHeight,
        subject: String,
        reason: String,
    },
    /// A node refused to serve blocks the model needs.
    #[error("model {model}: a node refused blocks {from}..={to} ({reason:?}): {message}")]
    NodeRefused {
        model: String,
        from: BlockHeight,
        to: BlockHeight,
        reason: BlocksRefusal,
        message: String,
    },
    /// A node's reply to a blocks request is not a blocks reply.
    #[error(
        "model {model}: a node's reply for blocks {from}..={to} is not a blocks reply: {reason}"
    )]
    BadNodeReply {
        model: String,
        from: BlockHeight,
        to: BlockHeight,
        reason: String,
    },
    /// The model's tip is not on the node's main chain, and no block the
    /// model still holds, down to `depth` (the finality depth) below its
    /// tip, is on it either (or a node lies about its chain).
    #[error(
        "model {model}: its block {block} at height {height} is not on the node's main chain, and no common ancestor lies within {depth} blocks below it: {reason}"
    )]
    NoCommonAncestor {
        model: String,
        height: BlockHeight,
        block: BlockId,
        depth: u64,
        reason: String,
    },
    /// The model cannot revert its own block back to the common ancestor
    /// with the node's main chain.
    #[error(
        "model {model}: cannot revert block {block} at height {height} back to the common ancestor at height {ancestor}: {reason}"
    )]
    CannotRevert {
        model: String,
        height: BlockHeight,
        block: BlockId,
        ancestor: BlockHeight,
        reason: String,
    },
    /// The model's checkpoint belongs to another chain than the one the
    /// network and its stream carry (node data wiped and a new chain
    /// started, the stream recreated, while PostgreSQL kept the model):
    /// its rows are the other chain's. Not retried.
    #[error(
        "model {model}: its checkpoint (block {} at height {}, stream message {}) is from another chain: {what} is {found}, the model expects {expected}; its rows are that other chain's, so it stops. Fold the stream's chain from its start with `projector rebuild {model}` (then restart the projector), or drop the read models (`scripts/devnet reset` on a devnet)",
        checkpoint.block_id,
        checkpoint.height,
        checkpoint.stream_seq
    )]
    OtherChain {
        model: String,
        /// The model's checkpoint (kept: nothing is written).
        checkpoint: Box<Checkpoint>,
        /// What was compared with the checkpoint.
        what: String,
        expected: BlockId,
        found: BlockId,
    },
    /// The stream ends before the checkpoint's position: it was recreated
    /// (stream sequences never go back). Retried: a node republishing its
    /// outbox refills it with the same messages, and once it reaches the
    /// position the message there shows whether it carries the model's
    /// chain ([`ProjectionError::OtherChain`] if not).
    #[error(
        "model {model}: the stream {stream} ends at message {last} but the checkpoint (height {height}) is at message {stream_seq}: the stream was recreated; waiting until it reaches the checkpoint to check that it carries the model's chain (if a new chain started, fold it with `projector rebuild {model}`, or `scripts/devnet reset` on a devnet)"
    )]
    StreamBehindCheckpoint {
        model: String,
        stream: String,
        last: StreamSequence,
        stream_seq: StreamSequence,
        height: BlockHeight,
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
            // Nodes come back, catch up, or recover their outbox.
            ProjectionError::NoNodeAnswered { .. } => true,
            ProjectionError::NodeRefused { reason, .. } => {
                matches!(reason, BlocksRefusal::Unavailable | BlocksRefusal::Internal)
            }
            // The stream lost more while the model backfilled: go again.
            ProjectionError::StreamTruncated { .. } => true,
            // A recreated stream being refilled (or another chain's, which
            // is refused once the stream reaches the checkpoint).
            ProjectionError::StreamBehindCheckpoint { .. } => true,
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
        let node_refused = |reason| ProjectionError::NodeRefused {
            model: "explorer".into(),
            from: BlockHeight(1),
            to: BlockHeight(9),
            reason,
            message: "no".into(),
        };
        // A node that is behind or failing may serve later; a request it
        // calls malformed never will.
        assert!(node_refused(BlocksRefusal::Unavailable).is_transient());
        assert!(!node_refused(BlocksRefusal::TooLarge).is_transient());
        assert!(!node_refused(BlocksRefusal::Malformed).is_transient());
        let no_node = ProjectionError::NoNodeAnswered {
            model: "explorer".into(),
            from: BlockHeight(0),
            to: BlockHeight(29),
            first: 31,
            first_height: BlockHeight(30),
            subject: "ledger.devnet.blocks".into(),
            reason: "no responders".into(),
        };
        assert!(no_node.is_transient());
        let text = no_node.to_string();
        assert!(
            text.contains("0..=29") && text.contains("ledger.devnet.blocks"),
            "{text}"
        );
        assert!(
            ProjectionError::Migrate(sqlx::migrate::MigrateError::Execute(refused()))
                .is_transient()
        );
    }
}
