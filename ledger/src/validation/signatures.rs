//! Signature checks given the conditions of the spent outputs.
//!
//! The caller supplies the conditions through [`SpentConditions`] (the
//! stateful validator looks them up in the UTXO set, including outputs
//! created earlier in the same block). Fulfillments are checked and their
//! signatures queued into one [`SignatureBatch`] per transaction or per
//! block, verified at once.

use std::collections::HashMap;

use thiserror::Error;

use super::block::StatelesslyValidBlock;
use crate::condition::Condition;
use crate::crypto::{ChainId, SignatureBatch, SignatureError};
use crate::fulfillment::{FulfillContext, FulfillmentError, InputKind, SignedTarget};
use crate::payload::Payload;
use crate::transaction::Transaction;
use crate::types::{BlockHeight, BlockStakeOutputId, CoinOutputId, Timestamp, TransactionId};

/// Where the conditions of spent outputs come from.
pub trait SpentConditions {
    /// The condition of an unspent coin output, if it exists.
    fn coin_output_condition(&self, id: &CoinOutputId) -> Option<Condition>;
    /// The condition of an unspent blockstake output, if it exists.
    fn blockstake_output_condition(&self, id: &BlockStakeOutputId) -> Option<Condition>;
    /// The condition in consensus state that must authorize `payload`
    /// (the mint condition, the address authority), if the payload needs one.
    fn payload_condition(&self, payload: &Payload) -> Option<Condition>;
}

/// A simple [`SpentConditions`] backed by maps, for tests, tools and benchmarks.
#[derive(Debug, Clone, Default)]
pub struct InMemoryConditions {
    pub coin_outputs: HashMap<CoinOutputId, Condition>,
    pub blockstake_outputs: HashMap<BlockStakeOutputId, Condition>,
    /// Keyed by payload label (e.g. `b"minting"`).
    pub payload_conditions: HashMap<&'static [u8], Condition>,
}

impl SpentConditions for InMemoryConditions {
    fn coin_output_condition(&self, id: &CoinOutputId) -> Option<Condition> {
        self.coin_outputs.get(id).cloned()
    }

    fn blockstake_output_condition(&self, id: &BlockStakeOutputId) -> Option<Condition> {
        self.blockstake_outputs.get(id).cloned()
    }

    fn payload_condition(&self, payload: &Payload) -> Option<Condition> {
        self.payload_conditions.get(payload.label()).cloned()
    }
}

/// Why the inputs or payload of a transaction are not properly authorized.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum SpendError {
    #[error("transaction {transaction} coin input {input} spends unknown output {parent}")]
    UnknownCoinOutput {
        transaction: TransactionId,
        input: usize,
        parent: CoinOutputId,
    },
    #[error("transaction {transaction} blockstake input {input} spends unknown output {parent}")]
    UnknownBlockStakeOutput {
        transaction: TransactionId,
        input: usize,
        parent: BlockStakeOutputId,
    },
    #[error("transaction {transaction} {payload} payload has no authority condition in state")]
    NoPayloadCondition {
        transaction: TransactionId,
        payload: String,
    },
    #[error("transaction {transaction} {what}: {source}")]
    Fulfillment {
        transaction: TransactionId,
        what: String,
        source: Box<FulfillmentError>,
    },
    #[error(transparent)]
    Signature(#[from] SignatureError),
}

/// Checks every fulfillment of `transaction` (inputs and payload
/// authorization) against the spent conditions and queues its signatures.
#[allow(clippy::too_many_arguments)]
pub fn queue_transaction_signatures(
    transaction: &Transaction,
    transaction_id: &TransactionId,
    chain_id: &ChainId,
    height: BlockHeight,
    timestamp: Timestamp,
    conditions: &impl SpentConditions,
    batch: &mut SignatureBatch,
) -> Result<(), SpendError> {
    let context = |target| FulfillContext {
        chain_id: *chain_id,
        transaction_id: *transaction_id,
        target,
        height,
        timestamp,
    };
    let fulfillment_error = |what: String| {
        move |source| SpendError::Fulfillment {
            transaction: *transaction_id,
            what,
            source: Box::new(source),
        }
    };
    for (index, input) in transaction.coin_inputs.iter().enumerate() {
        let condition = conditions.coin_output_condition(&input.parent_id).ok_or(
            SpendError::UnknownCoinOutput {
                transaction: *transaction_id,
                input: index,
                parent: input.parent_id,
            },
        )?;
        let target = SignedTarget::Input {
            kind: InputKind::Coin,
            index: index as u64,
        };
        condition
            .check_fulfillment(&input.fulfillment, &context(target), batch)
            .map_err(fulfillment_error(format!("coin input {index}")))?;
    }
    for (index, input) in transaction.blockstake_inputs.iter().enumerate() {
        let condition = conditions
            .blockstake_output_condition(&input.parent_id)
            .ok_or(SpendError::UnknownBlockStakeOutput {
                transaction: *transaction_id,
                input: index,
                parent: input.parent_id,
            })?;
        let target = SignedTarget::Input {
            kind: InputKind::BlockStake,
            index: index as u64,
        };
        condition
            .check_fulfillment(&input.fulfillment, &context(target), batch)
            .map_err(fulfillment_error(format!("blockstake input {index}")))?;
    }
    if let Some(payload) = &transaction.payload
        && let Some(authorization) = payload.authorization()
    {
        let label = payload.label();
        let name = String::from_utf8_lossy(label).into_owned();
        let condition = conditions.payload_condition(payload).ok_or_else(|| {
            SpendError::NoPayloadCondition {
                transaction: *transaction_id,
                payload: name.clone(),
            }
        })?;
        condition
            .check_fulfillment(
                authorization,
                &context(SignedTarget::Payload { label }),
                batch,
            )
            .map_err(fulfillment_error(format!("{name} authorization")))?;
    }
    Ok(())
}

/// Checks and verifies every signature of one transaction (mempool use).
pub fn check_transaction_signatures(
    transaction: &Transaction,
    chain_id: &ChainId,
    height: BlockHeight,
    timestamp: Timestamp,
    conditions: &impl SpentConditions,
) -> Result<(), SpendError> {
    let mut batch = SignatureBatch::new();
    let id = transaction.id();
    queue_transaction_signatures(
        transaction,
        &id,
        chain_id,
        height,
        timestamp,
        conditions,
        &mut batch,
    )?;
    batch.verify()?;
    Ok(())
}

/// Checks every fulfillment of a block and verifies all its signatures in
/// one batch. `height` is the height of `block` itself.
pub fn check_block_signatures(
    block: &StatelesslyValidBlock,
    chain_id: &ChainId,
    height: BlockHeight,
    conditions: &impl SpentConditions,
) -> Result<(), SpendError> {
    let mut batch = SignatureBatch::new();
    for (transaction, id) in block.transactions.iter().zip(block.transaction_ids()) {
        queue_transaction_signatures(
            transaction,
            id,
            chain_id,
            height,
            block.header.timestamp,
            conditions,
            &mut batch,
        )?;
    }
    batch.verify()?;
    Ok(())
}
