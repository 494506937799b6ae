//! The chain's memory and rules over time, on top of the `ledger` types:
//!
//! * [`config`]: network configuration (devnet, testnet, mainnet shipped
//!   in `networks/*.toml`, or a custom file): every consensus constant and
//!   the genesis allocation; builds the genesis block, whose ID is the
//!   chain ID.
//! * [`state`]: the chain state (coin and blockstake UTXOs, maturing
//!   payouts, mint and authority conditions, authorized addresses, notary
//!   index, domain modules through [`state::DomainState`]); every change
//!   is an invertible [`state::StateOp`], a block's ops form a
//!   [`state::BlockDiff`], and [`state::ChainState::commitment`] hashes
//!   the whole state.
//! * [`validation`]: stateful validation, [`validation::apply_block`].
//! * [`domains`]: the domain modules (identity, …) and
//!   [`domains::standard`], the fixed list every real chain runs with.
//! * [`pobs`]: Proof of BlockStake arithmetic: targets, difficulty,
//!   retarget, stake modifier, lottery.
//! * [`chain`]: the block tree with fork choice, orphans, parked blocks,
//!   invalid-block memory and the finality horizon.
//! * [`events`]: the ordered, positioned events of applying (and, inverted,
//!   of reverting) blocks.
//! * [`store`]: persistence behind [`store::ChainStore`].
//! * [`redb_store`]: the crash-safe store in one redb file, and
//!   [`Chain::open`] to rebuild a chain from it after a restart.
//! * [`creator`]: finding a winning timestamp and building a block.
//! * [`mempool`]: unconfirmed transactions validated against the tip,
//!   selected by fee rate for the block creator.
//! * [`stream`]: the JetStream contract between a node and the read
//!   models: subjects, message IDs, [`stream::BlockMessage`].
//! * [`domains`]: the domains' consensus modules and pure algorithms
//!   (compute scheduling, storage placement).
//! * [`clock`]: injected time ([`clock::SystemClock`], [`clock::ManualClock`]).
//!
//! The rules are specified in `docs/protocol.md` ("Consensus").

pub mod chain;
pub mod clock;
pub mod config;
pub mod creator;
pub mod domains;
pub mod events;
pub mod mempool;
pub mod pobs;
pub mod redb_store;
pub mod state;
pub mod store;
pub mod stream;
pub mod validation;

pub use chain::{AcceptOutcome, BlockNode, Chain, ChainError, ChainUpdate};
pub use clock::{Clock, ManualClock, SystemClock};
pub use config::{ChainConfig, ConfigError, ConsensusParams};
pub use events::{Direction, EventBody, EventPosition, LedgerEvent};
pub use redb_store::{RedbStore, RedbStoreError};
pub use state::{BlockDiff, ChainState, DomainState};
pub use store::{ChainStore, MemoryStore};
