//! Transactions the agent submits, paid by its node key: reports (uptime,
//! power, workload states; signed by the node key through the
//! `node-report` transcript) and heals of silent nodes. Each spends one
//! coin output of the node key and returns the change to it.

use ledger::fulfillment::SingleSignatureFulfillment;
use ledger::payload::compute::ComputeAction;
use ledger::payload::compute::operation::sign_into;
use ledger::{
    CoinInput, CoinOutput, CoinOutputId, Condition, Currency, Fulfillment, NetworkParams,
    SecretKey, Transaction,
};
use std::time::Duration;

use chain::stream::{self, SubmitReply};
use ledger::codec;
use thiserror::Error;

/// Why a transaction could not be built.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum BuildError {
    #[error("the node key has no spendable coin output of at least {needed:?} to pay the fee")]
    NoFunds { needed: Currency },
    #[error("the minimum fee overflows")]
    FeeOverflow,
}

/// Builds and signs a transaction carrying `action`, spending `input`
/// (worth `value`) of `key`, with the network's minimum fee.
pub fn build(
    action: ComputeAction,
    signs: bool,
    key: &SecretKey,
    input: (CoinOutputId, Currency),
    params: &NetworkParams,
) -> Result<Transaction, BuildError> {
    let condition = Condition::for_public_key(&key.public_key());
    let mut transaction = Transaction {
        coin_inputs: vec![CoinInput {
            parent_id: input.0,
            fulfillment: Fulfillment::SingleSignature(SingleSignatureFulfillment {
                public_key: key.public_key(),
                signature: ledger::Signature::default(),
            }),
        }],
        coin_outputs: vec![CoinOutput {
            value: input.1,
            condition: condition.clone(),
        }],
        ..Transaction::new()
    };
    // The fee field has a fixed size, so one estimate is exact.
    sign_into(
        &mut transaction,
        action.clone(),
        &params.chain_id,
        signs.then_some(key),
        None,
    );
    let fee = transaction
        .minimum_fee(params)
        .ok_or(BuildError::FeeOverflow)?;
    let change = input
        .1
        .checked_sub(fee)
        .ok_or(BuildError::NoFunds { needed: fee })?;
    transaction.fee = fee;
    if change.is_zero() {
        transaction.coin_outputs.clear();
    } else {
        transaction.coin_outputs[0].value = change;
    }
    sign_into(
        &mut transaction,
        action,
        &params.chain_id,
        signs.then_some(key),
        None,
    );
    sign_coin_inputs(&mut transaction, key, params);
    Ok(transaction)
}

/// Signs every coin input of `transaction` with `key` (single signature).
/// Call after the payload is signed: the input signatures commit to the
/// same transaction ID.
pub fn sign_coin_inputs(transaction: &mut Transaction, key: &SecretKey, params: &NetworkParams) {
    ledger::fulfillment::sign_coin_inputs(transaction, key, params);
}

/// Submits `transaction` to a node of `network` over NATS; an error says
/// why the node refused it.
pub async fn submit(
    client: &async_nats::Client,
    network: &str,
    transaction: &Transaction,
) -> anyhow::Result<()> {
    let reply = tokio::time::timeout(
        Duration::from_secs(10),
        client.request(
            stream::submit_subject(network),
            codec::encode(transaction).into(),
        ),
    )
    .await??;
    match SubmitReply::decode(&reply.payload)? {
        SubmitReply::Accepted { .. } => Ok(()),
        SubmitReply::Rejected { reason, message } => {
            anyhow::bail!("rejected ({reason:?}): {message}")
        }
    }
}
