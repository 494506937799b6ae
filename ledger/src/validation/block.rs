//! Stateless rules for a block, and the type that proves they passed.

use std::collections::HashMap;
use std::ops::Deref;

use thiserror::Error;

use super::transaction::{FeeRule, TransactionError, validate_transaction};
use crate::address::AddressKind;
use crate::block::Block;
use crate::params::NetworkParams;
use crate::types::{BlockId, Currency, Hash32, TransactionId};

/// Why a block breaks a stateless rule.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum BlockError {
    #[error("block is {size} bytes; the limit is {limit}")]
    TooLarge { size: u64, limit: u64 },
    #[error("header merkle root {claimed} does not match the body's {computed}")]
    MerkleRootMismatch { claimed: Hash32, computed: Hash32 },
    #[error("payout {index} has value 0")]
    ZeroValuePayout { index: usize },
    #[error("payout {index} goes to a {kind:?} address; payouts must go to public-key addresses")]
    PayoutNotToPubKey { index: usize, kind: AddressKind },
    #[error("payout {index} goes to an all-zero address hash")]
    PayoutZeroAddress { index: usize },
    #[error("payouts sum to more than 2^128 base units")]
    PayoutOverflow,
    #[error("transaction {index} ({id}): {source}")]
    Transaction {
        index: usize,
        id: TransactionId,
        source: Box<TransactionError>,
    },
    #[error("transaction {index} repeats transaction {first} ({id})")]
    DuplicateTransaction {
        index: usize,
        first: usize,
        id: TransactionId,
    },
    #[error(
        "transaction {index} {kind} input {input} spends output {parent}, already spent by transaction {first_transaction} in this block"
    )]
    DoubleSpend {
        index: usize,
        kind: &'static str,
        input: usize,
        parent: Hash32,
        first_transaction: usize,
    },
}

/// A block that passed [`validate_block`]. Only that function creates one,
/// so code that needs a stateless-valid block cannot be handed another.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatelesslyValidBlock {
    block: Block,
    id: BlockId,
    transaction_ids: Vec<TransactionId>,
}

impl StatelesslyValidBlock {
    pub fn block(&self) -> &Block {
        &self.block
    }

    pub fn id(&self) -> BlockId {
        self.id
    }

    /// The ID of each transaction, in block order.
    pub fn transaction_ids(&self) -> &[TransactionId] {
        &self.transaction_ids
    }

    pub fn into_block(self) -> Block {
        self.block
    }
}

impl Deref for StatelesslyValidBlock {
    type Target = Block;

    fn deref(&self) -> &Block {
        &self.block
    }
}

/// Checks every stateless rule of a block: size, merkle root, payouts,
/// each transaction (the first is fee-exempt if it only moves
/// blockstakes, the staking respend), no repeated transaction and no
/// output spent twice within the block.
pub fn validate_block(
    block: Block,
    params: &NetworkParams,
) -> Result<StatelesslyValidBlock, BlockError> {
    let size = block.encoded_size() as u64;
    if size > params.block_size_limit {
        return Err(BlockError::TooLarge {
            size,
            limit: params.block_size_limit,
        });
    }
    let computed = block.compute_merkle_root();
    if computed != block.header.merkle_root {
        return Err(BlockError::MerkleRootMismatch {
            claimed: block.header.merkle_root,
            computed,
        });
    }
    for (index, payout) in block.payouts.iter().enumerate() {
        if payout.value.is_zero() {
            return Err(BlockError::ZeroValuePayout { index });
        }
        if payout.address.kind != AddressKind::PubKey {
            return Err(BlockError::PayoutNotToPubKey {
                index,
                kind: payout.address.kind,
            });
        }
        if payout.address.hash.is_zero() {
            return Err(BlockError::PayoutZeroAddress { index });
        }
    }
    Currency::checked_sum(block.payouts.iter().map(|payout| payout.value))
        .ok_or(BlockError::PayoutOverflow)?;

    let mut transaction_ids = Vec::with_capacity(block.transactions.len());
    let mut seen_ids: HashMap<TransactionId, usize> = HashMap::new();
    let mut spent_coins: HashMap<Hash32, usize> = HashMap::new();
    let mut spent_stakes: HashMap<Hash32, usize> = HashMap::new();
    for (index, transaction) in block.transactions.iter().enumerate() {
        let id = transaction.id();
        let fee_rule = if index == 0 && transaction.is_blockstake_only() {
            FeeRule::Exempt
        } else {
            FeeRule::Required
        };
        validate_transaction(transaction, params, fee_rule).map_err(|source| {
            BlockError::Transaction {
                index,
                id,
                source: Box::new(source),
            }
        })?;
        if let Some(first) = seen_ids.insert(id, index) {
            return Err(BlockError::DuplicateTransaction { index, first, id });
        }
        let coin_parents = transaction.coin_inputs.iter().map(|i| i.parent_id.0);
        let stake_parents = transaction.blockstake_inputs.iter().map(|i| i.parent_id.0);
        for (kind, parents, spent) in [
            ("coin", coin_parents.collect::<Vec<_>>(), &mut spent_coins),
            ("blockstake", stake_parents.collect(), &mut spent_stakes),
        ] {
            for (input, parent) in parents.into_iter().enumerate() {
                if let Some(first_transaction) = spent.insert(parent, index) {
                    return Err(BlockError::DoubleSpend {
                        index,
                        kind,
                        input,
                        parent,
                        first_transaction,
                    });
                }
            }
        }
        transaction_ids.push(id);
    }
    Ok(StatelesslyValidBlock {
        id: block.id(),
        block,
        transaction_ids,
    })
}
