//! The GraphQL API: the one public interface of the platform
//! (async-graphql on axum).
//!
//! * [`explorer`]: queries over the explorer read model in PostgreSQL
//!   (chain, blocks, transactions, addresses, outputs, search, statistics,
//!   notary, minting, authorization, pending transactions).
//! * [`mutation`]: `submitTransaction` (to a node over NATS, see
//!   [`submit`]) and `decodeTransaction` (see [`decode`]).
//! * [`identity`]: identities, organizations, membership proofs, trust
//!   paths over the identity read model.
//! * [`storage`]: storage nodes by failure domain, objects and their
//!   health (shard locations for the owner only), what-if-datacenter-lost,
//!   overhead against 3× replication.
//! * [`login`]: `loginChallenge`, `login` and the [`login::Viewer`] guard
//!   that private data (chat, storage) checks bearer tokens with.
//! * [`subscription`]: new blocks, address activity and pending
//!   transactions, driven by the projector's notifications.
//! * [`paging`]: Relay connections with keyset cursors.
//! * [`error`]: the one error type and its GraphQL form (`extensions.code`).
//! * [`context`]: shared state, limits, text forms of IDs, addresses, amounts.
//! * [`schema`], [`server`]: the schema with its limits, the HTTP routes.
//!
//! The binary (`src/main.rs`) only layers configuration and wires these.
//! Conventions and examples: `docs/api.md`.

pub mod chat;
pub mod compute;
pub mod context;
pub mod decode;
pub mod error;
pub mod explorer;
pub mod identity;
pub mod login;
pub mod mutation;
pub mod paging;
pub mod schema;
pub mod server;
pub mod storage;
pub mod submit;
pub mod subscription;

pub use context::{ApiState, Limits, Network};
pub use error::{ApiError, ApiResult};
pub use schema::{ApiSchema, build_schema, sdl};
pub use server::{ServerOptions, router, serve, spawn};
