//! Reading a client's encoded transaction: hex or base64 text to
//! canonical bytes to a [`ledger::Transaction`] (through `ledger::codec`,
//! which refuses non-canonical bytes), and the structured view
//! `decodeTransaction` returns for offline signing. The view's lists are
//! parts of one transaction, bounded by its size, so they are plain lists.

use async_graphql::{Json, SimpleObject};
use base64::Engine as _;
use ledger::{Condition, Fulfillment, Transaction, codec};
use projections::explorer::rows::{condition_json, transaction_kind};

use crate::context::{Network, hex_id};
use crate::error::{ApiError, ApiResult};

/// Text (hex, or standard or URL-safe base64) to bytes.
pub fn encoded_bytes(text: &str) -> ApiResult<Vec<u8>> {
    let text = text.trim();
    if text.is_empty() {
        return Err(ApiError::UndecodableTransaction(
            "the encoding is empty".into(),
        ));
    }
    if text.len().is_multiple_of(2) && text.bytes().all(|byte| byte.is_ascii_hexdigit()) {
        return hex::decode(text)
            .map_err(|error| ApiError::UndecodableTransaction(error.to_string()));
    }
    base64::engine::general_purpose::STANDARD
        .decode(text)
        .or_else(|_| {
            base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(text.trim_end_matches('='))
        })
        .map_err(|_| {
            ApiError::UndecodableTransaction(
                "the encoding is neither hexadecimal nor base64".into(),
            )
        })
}

/// Text to a transaction, within the network's transaction size limit.
pub fn decode_transaction(network: &Network, text: &str) -> ApiResult<Transaction> {
    // Base64 is 4/3 of the bytes and hex twice: refuse oversized text
    // before decoding it.
    let limit = usize::try_from(network.config.params.transaction_size_limit).unwrap_or(usize::MAX);
    if text.len() > limit.saturating_mul(2).saturating_add(16) {
        return Err(ApiError::UndecodableTransaction(format!(
            "the encoding is longer than a transaction of at most {limit} bytes can be"
        )));
    }
    let bytes = encoded_bytes(text)?;
    codec::decode_with_limit::<Transaction>(&bytes, limit)
        .map_err(|error| ApiError::UndecodableTransaction(error.to_string()))
}

/// An input of a decoded transaction.
#[derive(Debug, Clone, SimpleObject)]
pub struct DecodedInput {
    /// The output it spends (hex).
    pub parent_id: String,
    /// nil (unsigned) | single_signature | multi_signature | atomic_swap_claim | atomic_swap_refund
    pub fulfillment_type: String,
    /// Keys that signed (hex).
    pub public_keys: Vec<String>,
    pub signed: bool,
}

/// An output of a decoded transaction.
#[derive(Debug, Clone, SimpleObject)]
pub struct DecodedOutput {
    /// The ID it will have (hex).
    pub id: String,
    /// Decimal coins, or whole blockstakes.
    pub value: String,
    /// The address its condition resolves to.
    pub address: String,
    /// The condition (`type`, `address`, and per type `required`/`keys`,
    /// `lock`/`lock_kind`/`inner`, `sender`/`receiver`/`hashed_secret`/`timelock`).
    pub condition: Json<serde_json::Value>,
}

/// A transaction as a client built it.
#[derive(Debug, Clone, SimpleObject)]
pub struct DecodedTransaction {
    /// The ID (hex): what every input signature commits to.
    pub id: String,
    pub version: i32,
    /// What it would be recorded as (transfer, notary, coin_creation, …).
    pub kind: String,
    /// Canonical encoding size in bytes.
    pub size: i64,
    /// Decimal coins.
    pub fee: String,
    /// The network's minimum fee for this size (decimal coins).
    pub minimum_fee: Option<String>,
    pub coin_inputs: Vec<DecodedInput>,
    pub coin_outputs: Vec<DecodedOutput>,
    pub blockstake_inputs: Vec<DecodedInput>,
    pub blockstake_outputs: Vec<DecodedOutput>,
    /// Hex.
    pub arbitrary_data: String,
    /// notary | minting | authorized_addresses (none without payload).
    pub payload_kind: Option<String>,
    /// The canonical bytes (hex), as a node expects them.
    pub encoded: String,
}

fn input_view(parent_id: String, fulfillment: &Fulfillment) -> DecodedInput {
    let (fulfillment_type, keys): (&str, Vec<[u8; 32]>) = match fulfillment {
        Fulfillment::Nil => ("nil", Vec::new()),
        Fulfillment::SingleSignature(single) => ("single_signature", vec![single.public_key.0]),
        Fulfillment::MultiSignature(multi) => (
            "multi_signature",
            multi.pairs.iter().map(|pair| pair.public_key.0).collect(),
        ),
        Fulfillment::AtomicSwapClaim(claim) => ("atomic_swap_claim", vec![claim.public_key.0]),
        Fulfillment::AtomicSwapRefund(refund) => ("atomic_swap_refund", vec![refund.public_key.0]),
    };
    DecodedInput {
        parent_id,
        fulfillment_type: fulfillment_type.to_owned(),
        public_keys: keys.iter().map(|key| hex_id(key)).collect(),
        signed: !matches!(fulfillment, Fulfillment::Nil),
    }
}

fn output_view(
    network: &Network,
    id: String,
    value: String,
    condition: &Condition,
) -> DecodedOutput {
    DecodedOutput {
        id,
        value,
        address: condition.address().display(network.prefix()).to_string(),
        condition: Json(condition_json(condition, network.prefix())),
    }
}

/// The structured view of `transaction`.
pub fn view(network: &Network, transaction: &Transaction) -> DecodedTransaction {
    let id = transaction.id();
    let coin_ids = transaction.coin_output_ids(&id);
    let blockstake_ids = transaction.blockstake_output_ids(&id);
    DecodedTransaction {
        id: id.to_string(),
        version: i32::from(transaction.version.0),
        // Height 1: any height but genesis.
        kind: transaction_kind(transaction, ledger::BlockHeight(1)).to_owned(),
        size: i64::try_from(transaction.encoded_size()).unwrap_or(i64::MAX),
        fee: network.coins(transaction.fee),
        minimum_fee: transaction
            .minimum_fee(&network.config.params)
            .map(|fee| network.coins(fee)),
        coin_inputs: transaction
            .coin_inputs
            .iter()
            .map(|input| input_view(input.parent_id.to_string(), &input.fulfillment))
            .collect(),
        coin_outputs: transaction
            .created_coin_outputs()
            .zip(coin_ids)
            .map(|(output, id)| {
                output_view(
                    network,
                    id.to_string(),
                    network.coins(output.value),
                    &output.condition,
                )
            })
            .collect(),
        blockstake_inputs: transaction
            .blockstake_inputs
            .iter()
            .map(|input| input_view(input.parent_id.to_string(), &input.fulfillment))
            .collect(),
        blockstake_outputs: transaction
            .blockstake_outputs
            .iter()
            .zip(blockstake_ids)
            .map(|(output, id)| {
                output_view(
                    network,
                    id.to_string(),
                    output.value.0.to_string(),
                    &output.condition,
                )
            })
            .collect(),
        arbitrary_data: hex_id(&transaction.arbitrary_data),
        payload_kind: transaction.payload.as_ref().map(|payload| {
            match payload {
                ledger::Payload::Notary(_) => "notary",
                ledger::Payload::Minting(_) => "minting",
                ledger::Payload::AuthorizedAddresses(_) => "authorized_addresses",
                ledger::Payload::Identity(_) => "identity",
                ledger::Payload::Storage(_) => "storage",
                ledger::Payload::Compute(_) => "compute",
                ledger::Payload::Chat(_) => "chat",
            }
            .to_owned()
        }),
        encoded: hex_id(&codec::encode(transaction)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_hex_and_base64_and_refuses_garbage() {
        assert_eq!(encoded_bytes("0a0B").ok(), Some(vec![10, 11]));
        assert_eq!(encoded_bytes("CgsM").ok(), Some(vec![10, 11, 12]));
        assert_eq!(encoded_bytes("Cgs").ok(), Some(vec![10, 11]));
        assert!(encoded_bytes("").is_err());
        assert!(encoded_bytes("not an encoding!").is_err());
    }
}
