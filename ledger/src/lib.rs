//! The chain's vocabulary and its stateless rules: the consensus types of a
//! Rivine-style Proof-of-BlockStake chain (amounts, IDs, keys, addresses,
//! conditions, fulfillments, transactions, payloads, blocks), their one
//! canonical encoding ([`codec`]), domain-separated hashing and
//! purpose-labelled signatures ([`crypto`]), and the checks that need no
//! chain state ([`validation`]).
//!
//! Everything here is pure: no I/O, no clock, no async. Stateful rules
//! (spent outputs, balances, the Proof-of-BlockStake lottery) build on these
//! types elsewhere. The byte-level specification is `docs/protocol.md`.

pub mod address;
pub mod block;
pub mod codec;
pub mod condition;
pub mod crypto;
pub mod derivation;
pub mod fulfillment;
pub mod merkle;
pub mod params;
pub mod payload;
pub mod transaction;
pub mod types;
pub mod validation;

pub use address::{Address, AddressError, AddressKind};
pub use block::{Block, BlockHeader, BlockStakePosition, Payout};
pub use condition::{
    AtomicSwapCondition, Condition, MultisigCondition, StandardnessError, TimeLockCondition,
    TimeLockedCondition,
};
pub use crypto::{ChainId, PublicKey, SecretKey, Signature, SigningPurpose};
pub use fulfillment::{Fulfillment, FulfillmentError};
pub use params::NetworkParams;
pub use payload::Payload;
pub use transaction::{
    BlockStakeInput, BlockStakeOutput, CoinInput, CoinOutput, Transaction, TransactionVersion,
};
pub use types::{
    AttributeCommitment, BlockHeight, BlockId, BlockStakeOutputId, BlockStakes, CoinOutputId,
    Currency, Hash32, IdentityId, OrganizationId, Timestamp, TransactionId,
};
