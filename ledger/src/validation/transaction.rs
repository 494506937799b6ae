//! Stateless rules for one transaction.

use std::collections::HashMap;

use thiserror::Error;

use crate::condition::StandardnessError;
use crate::fulfillment::{FulfillmentError, InputKind};
use crate::params::NetworkParams;
use crate::payload::PayloadError;
use crate::transaction::{Transaction, TransactionVersion};
use crate::types::{BlockStakes, Currency, Hash32};

/// Whether the minimum fee applies (a block's first, blockstake-only
/// transaction, the staking respend, is exempt).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FeeRule {
    Required,
    Exempt,
}

/// Why a transaction breaks a stateless rule.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum TransactionError {
    #[error("transaction version {0} is not supported (only version 1)")]
    UnsupportedVersion(u8),
    #[error("transaction is {size} bytes; the limit is {limit}")]
    TooLarge { size: u64, limit: u64 },
    #[error("arbitrary data is {length} bytes; the limit is {limit}")]
    ArbitraryDataTooLarge { length: u64, limit: u64 },
    #[error("transaction has no inputs and no payload")]
    NoInputs,
    #[error("{kind} input {index} spends the all-zero output ID")]
    ZeroParentId { kind: &'static str, index: usize },
    #[error(
        "{kind} input {index} spends output {parent} twice in the same transaction (first at input {first})"
    )]
    DuplicateInput {
        kind: &'static str,
        index: usize,
        first: usize,
        parent: Hash32,
    },
    #[error("{kind} input {index} fulfillment is not standard: {source}")]
    NonStandardFulfillment {
        kind: &'static str,
        index: usize,
        source: FulfillmentError,
    },
    #[error("{kind} output {index} has value 0")]
    ZeroValueOutput { kind: &'static str, index: usize },
    #[error("{kind} output {index} condition is not standard: {source}")]
    NonStandardCondition {
        kind: &'static str,
        index: usize,
        source: StandardnessError,
    },
    #[error("coin outputs plus fee exceed 2^128 base units")]
    CoinOverflow,
    #[error("blockstake outputs exceed 2^64")]
    BlockStakeOverflow,
    #[error("fee of {fee:?} is below the minimum of {minimum:?} for {size} bytes")]
    FeeTooLow {
        fee: Currency,
        minimum: Currency,
        size: u64,
    },
    #[error("the minimum fee for {size} bytes overflows")]
    MinimumFeeOverflow { size: u64 },
    #[error(transparent)]
    Payload(#[from] PayloadError),
}

/// Checks every stateless rule of one transaction.
pub fn validate_transaction(
    transaction: &Transaction,
    params: &NetworkParams,
    fee_rule: FeeRule,
) -> Result<(), TransactionError> {
    if transaction.version != TransactionVersion::V1 {
        return Err(TransactionError::UnsupportedVersion(transaction.version.0));
    }
    let size = transaction.encoded_size() as u64;
    if size > params.transaction_size_limit {
        return Err(TransactionError::TooLarge {
            size,
            limit: params.transaction_size_limit,
        });
    }
    let length = transaction.arbitrary_data.len() as u64;
    if length > params.arbitrary_data_limit {
        return Err(TransactionError::ArbitraryDataTooLarge {
            length,
            limit: params.arbitrary_data_limit,
        });
    }
    if transaction.coin_inputs.is_empty()
        && transaction.blockstake_inputs.is_empty()
        && transaction.payload.is_none()
    {
        return Err(TransactionError::NoInputs);
    }
    check_inputs(
        InputKind::Coin,
        transaction
            .coin_inputs
            .iter()
            .map(|input| (input.parent_id.0, &input.fulfillment)),
    )?;
    check_inputs(
        InputKind::BlockStake,
        transaction
            .blockstake_inputs
            .iter()
            .map(|input| (input.parent_id.0, &input.fulfillment)),
    )?;
    for (index, output) in transaction.coin_outputs.iter().enumerate() {
        check_output("coin", index, output.value.is_zero(), &output.condition)?;
    }
    for (index, output) in transaction.blockstake_outputs.iter().enumerate() {
        check_output(
            "blockstake",
            index,
            output.value.is_zero(),
            &output.condition,
        )?;
    }
    Currency::checked_sum(
        transaction
            .coin_outputs
            .iter()
            .map(|output| output.value)
            .chain(std::iter::once(transaction.fee)),
    )
    .ok_or(TransactionError::CoinOverflow)?;
    BlockStakes::checked_sum(transaction.blockstake_outputs.iter().map(|o| o.value))
        .ok_or(TransactionError::BlockStakeOverflow)?;
    if fee_rule == FeeRule::Required {
        let minimum = params
            .minimum_fee(size)
            .ok_or(TransactionError::MinimumFeeOverflow { size })?;
        if transaction.fee < minimum {
            return Err(TransactionError::FeeTooLow {
                fee: transaction.fee,
                minimum,
                size,
            });
        }
    }
    if let Some(payload) = &transaction.payload {
        payload.validate_stateless(transaction, params)?;
    }
    Ok(())
}

fn check_inputs<'a>(
    kind: InputKind,
    inputs: impl Iterator<Item = (Hash32, &'a crate::fulfillment::Fulfillment)>,
) -> Result<(), TransactionError> {
    let kind = kind.name();
    let mut seen: HashMap<Hash32, usize> = HashMap::new();
    for (index, (parent, fulfillment)) in inputs.enumerate() {
        if parent.is_zero() {
            return Err(TransactionError::ZeroParentId { kind, index });
        }
        if let Some(first) = seen.insert(parent, index) {
            return Err(TransactionError::DuplicateInput {
                kind,
                index,
                first,
                parent,
            });
        }
        fulfillment.check_standard().map_err(|source| {
            TransactionError::NonStandardFulfillment {
                kind,
                index,
                source,
            }
        })?;
    }
    Ok(())
}

fn check_output(
    kind: &'static str,
    index: usize,
    is_zero: bool,
    condition: &crate::condition::Condition,
) -> Result<(), TransactionError> {
    if is_zero {
        return Err(TransactionError::ZeroValueOutput { kind, index });
    }
    condition
        .check_standard()
        .map_err(|source| TransactionError::NonStandardCondition {
            kind,
            index,
            source,
        })
}
