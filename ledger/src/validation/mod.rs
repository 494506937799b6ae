//! Stateless validation: every rule that can be checked from a transaction
//! or block alone (structure, sizes, standardness, fees for size,
//! duplicates, payload shape, merkle root), and signature checks given the
//! conditions of the spent outputs. Rules that need chain state (do the
//! spent outputs exist, do balances add up, the lottery) are the stateful
//! validator's.
//!
//! A block that passes becomes a [`StatelesslyValidBlock`], a type that
//! only [`validate_block`] can create.

mod block;
mod signatures;
mod transaction;

pub use block::{BlockError, StatelesslyValidBlock, validate_block};
pub use signatures::{
    InMemoryConditions, SpendError, SpentConditions, check_block_signatures,
    check_transaction_signatures, queue_transaction_signatures,
};
pub use transaction::{FeeRule, TransactionError, validate_transaction};
