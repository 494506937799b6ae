//! Read models: the ledger event stream folded into PostgreSQL.
//!
//! * [`model`]: the [`ReadModel`] trait a read model implements (a name,
//!   migrations and forward-only apply code).
//! * [`checkpoint`]: the continuity rule that decides, for each message,
//!   apply, revert, skip or refuse.
//! * [`schema`]: one PostgreSQL schema per model, generic undo through a
//!   row trigger and an undo log, schema swap for rebuilds.
//! * [`batch`]: one transaction per batch, rows and checkpoint together.
//! * [`runner`]: the single-writer loop over a durable JetStream consumer,
//!   with acks after commit, notifications and reconnection; and
//!   [`runner::rebuild`].
//! * [`registry`]: every read model the projector runs.
//! * [`explorer`]: the explorer read model (blocks, transactions, outputs,
//!   addresses, statistics, history; see `docs/read-models.md`).
//! * [`identity`]: the identity read model (identities, keys, attributes,
//!   attestations, organizations, roles, invitations, vouches,
//!   authorizations; see `docs/identity.md`).

pub mod batch;
pub mod chat;
pub mod checkpoint;
pub mod compute;
pub mod domain;
pub mod error;
pub mod explorer;
pub mod identity;
pub mod model;
pub mod registry;
pub mod runner;
pub mod schema;
pub mod storage;

pub use error::ProjectionError;
pub use model::ReadModel;
pub use runner::{ModelMetrics, Runner, RunnerConfig};
