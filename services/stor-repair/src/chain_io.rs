//! Recording repairs on chain: a `RecordRepair` signed by the repair key
//! (a repairer the owner authorized), paid from that key's own coins
//! (found in the explorer read model, `explorer.output`), submitted to a
//! node over NATS.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use chain::stream::{self, SubmitReply};
use ledger::fulfillment::{SingleSignatureFulfillment, sign_coin_inputs};
use ledger::payload::storage::{StorageAction, StorageOperation, sign_into};
use ledger::{
    CoinInput, CoinOutput, CoinOutputId, Condition, Currency, Fulfillment, Hash32, NetworkParams,
    SecretKey, Signature, Transaction, TransactionId, codec,
};
use sqlx::PgPool;
use thiserror::Error;

use crate::Settings;

/// Why a transaction was not submitted. Nothing reached the chain unless
/// the error is [`SubmitError::NoAnswer`] (the node may still have
/// accepted it).
#[derive(Debug, Error)]
pub enum SubmitError {
    #[error("reading the payer's coins from the explorer model: {0}")]
    Database(#[from] sqlx::Error),
    #[error("the explorer model holds a malformed coin output: {0}")]
    Corrupt(String),
    #[error("the payer has no unspent coin output to pay the fee (address {0})")]
    NoCoin(String),
    #[error("the chosen coin output does not cover the fee and the outputs")]
    Funds,
    #[error("submitting over NATS: {0}")]
    Nats(String),
    #[error("no node answered the submission in 10 s")]
    NoAnswer,
    #[error("the node's reply is undecodable: {0}")]
    Reply(String),
    #[error("rejected ({reason}): {message}")]
    Rejected { reason: String, message: String },
}

/// How long a spent coin is kept out of the choice (until the explorer
/// model shows it spent).
const IN_FLIGHT: Duration = Duration::from_secs(120);

/// Picks unspent coin outputs of the repair key, never one already used
/// by a submission the model has not folded yet.
pub struct CoinPicker {
    /// The stored form of the key's address (kind byte ‖ hash).
    address: Vec<u8>,
    in_flight: HashMap<CoinOutputId, Instant>,
}

impl CoinPicker {
    pub fn new(key: &SecretKey) -> CoinPicker {
        let address = Condition::for_public_key(&key.public_key()).address();
        let mut stored = vec![address.kind.byte()];
        stored.extend_from_slice(address.hash.as_bytes());
        CoinPicker {
            address: stored,
            in_flight: HashMap::new(),
        }
    }

    /// The largest unspent, spendable coin output not in flight.
    pub async fn pick(&mut self, pool: &PgPool) -> Result<(CoinOutputId, Currency), SubmitError> {
        self.in_flight
            .retain(|_, since| since.elapsed() < IN_FLIGHT);
        let rows: Vec<(Vec<u8>, String)> = sqlx::query_as(
            "SELECT id, value::text FROM explorer.output
              WHERE address = $1 AND currency = 'coin' AND spent_at IS NULL
                AND condition_type = 'pubkey'
                AND (matures_at IS NULL
                     OR matures_at <= (SELECT coalesce(max(height), 0) FROM explorer.block))
              ORDER BY value DESC LIMIT 32",
        )
        .bind(&self.address)
        .fetch_all(pool)
        .await?;
        for (id, value) in rows {
            let id = CoinOutputId(Hash32(id.as_slice().try_into().map_err(|_| {
                SubmitError::Corrupt(format!("output ID {}", hex::encode(&id)))
            })?));
            if self.in_flight.contains_key(&id) {
                continue;
            }
            let value: u128 = value
                .parse()
                .map_err(|_| SubmitError::Corrupt(format!("value {value:?}")))?;
            self.in_flight.insert(id, Instant::now());
            return Ok((id, Currency(value)));
        }
        Err(SubmitError::NoCoin(hex::encode(&self.address)))
    }

    /// Makes `id` choosable again (its transaction was not accepted).
    pub fn release(&mut self, id: &CoinOutputId) {
        self.in_flight.remove(id);
    }
}

/// Builds, signs and submits `action` signed by the repair key and paid
/// from its coins.
pub async fn submit(
    nats: &async_nats::Client,
    pool: &PgPool,
    settings: &Settings,
    coins: &mut CoinPicker,
    action: StorageAction,
) -> Result<TransactionId, SubmitError> {
    let key = &settings.key;
    let chain_id = settings.chain_config.params.chain_id;
    let operation = StorageOperation::unsigned(action, key.public_key());
    submit_paid(
        nats,
        &settings.network,
        pool,
        &settings.chain_config.params,
        coins,
        key,
        |transaction| {
            sign_into(transaction, operation.clone(), &chain_id, key);
        },
    )
    .await
}

/// Builds a transaction spending one coin output of `payer` (picked by
/// `coins`), lets `payload` add outputs (from index 1 on) and sign its
/// payload, pays the minimum fee with the change back to `payer` (output
/// 0), signs the input and submits it to a node of `network`. `payload`
/// runs twice (before and after the fee is known).
pub async fn submit_paid(
    nats: &async_nats::Client,
    network: &str,
    pool: &PgPool,
    params: &NetworkParams,
    coins: &mut CoinPicker,
    payer: &SecretKey,
    payload: impl Fn(&mut Transaction),
) -> Result<TransactionId, SubmitError> {
    let (input, value) = coins.pick(pool).await?;
    let result = submit_spending(nats, network, params, payer, payload, input, value).await;
    if let Err(error) = &result
        && !matches!(error, SubmitError::NoAnswer)
    {
        coins.release(&input);
    }
    result
}

async fn submit_spending(
    nats: &async_nats::Client,
    network: &str,
    params: &NetworkParams,
    payer: &SecretKey,
    payload: impl Fn(&mut Transaction),
    input: CoinOutputId,
    value: Currency,
) -> Result<TransactionId, SubmitError> {
    let base = Transaction {
        coin_inputs: vec![CoinInput {
            parent_id: input,
            fulfillment: Fulfillment::SingleSignature(SingleSignatureFulfillment {
                public_key: payer.public_key(),
                signature: Signature::default(),
            }),
        }],
        coin_outputs: vec![CoinOutput {
            value,
            condition: Condition::for_public_key(&payer.public_key()),
        }],
        ..Transaction::new()
    };
    // Signatures have a fixed size, so the first estimate of the fee is exact.
    let mut transaction = base.clone();
    payload(&mut transaction);
    let fee = transaction.minimum_fee(params).ok_or(SubmitError::Funds)?;
    let paid_out = Currency::checked_sum(transaction.coin_outputs[1..].iter().map(|o| o.value))
        .ok_or(SubmitError::Funds)?;
    let change = value
        .checked_sub(fee)
        .and_then(|rest| rest.checked_sub(paid_out))
        .ok_or(SubmitError::Funds)?;
    let mut transaction = base;
    transaction.fee = fee;
    transaction.coin_outputs[0].value = change;
    payload(&mut transaction);
    if change.is_zero() {
        transaction.coin_outputs.remove(0);
        payload(&mut transaction);
    }
    sign_coin_inputs(&mut transaction, payer, params);
    let id = transaction.id();
    let reply = tokio::time::timeout(
        Duration::from_secs(10),
        nats.request(
            stream::submit_subject(network),
            codec::encode(&transaction).into(),
        ),
    )
    .await
    .map_err(|_| SubmitError::NoAnswer)?
    .map_err(|error| SubmitError::Nats(error.to_string()))?;
    match SubmitReply::decode(&reply.payload)
        .map_err(|error| SubmitError::Reply(error.to_string()))?
    {
        SubmitReply::Accepted { .. } => Ok(id),
        SubmitReply::Rejected { reason, message } => Err(SubmitError::Rejected {
            reason: format!("{reason:?}"),
            message,
        }),
    }
}
