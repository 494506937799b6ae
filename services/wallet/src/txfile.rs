//! Transaction files: how an unsigned transaction travels from a watching
//! machine to the machine with the keys and back (`send --unsigned`,
//! `sign`, `submit`). JSON:
//!
//! ```json
//! { "format": "blockstake-transaction", "version": 1,
//!   "network": "devnet", "address_prefix": "bsdev", "chain_id": "<hex>",
//!   "transaction": "<canonical bytes, hex>",
//!   "inputs": [ { "asset": "coin", "address": "bsdev1…", "value": "12.5" } ],
//!   "signed": false }
//! ```
//!
//! A payload authorized by a multisig (a mint condition or address
//! authority of `M` keys, built with `--unsigned`) adds
//! `"payload_multisig": "M:KEY,KEY,…"`: `sign` adds the wallet's pairs to
//! the payload's fulfillment too, `multisig merge` joins them.
//!
//! `inputs` lists, in input order (coin inputs, then blockstake inputs),
//! the address each input spends from, so the signer knows which keys to
//! use without asking the chain; the signer checks every listed address
//! against its own keys and signs only those.

use std::path::Path;

use ledger::{ChainId, Hash32, Transaction, codec};
use serde::{Deserialize, Serialize};

use crate::error::WalletError;
use crate::funds::Asset;

pub const FORMAT: &str = "blockstake-transaction";
pub const VERSION: u32 = 1;

/// Where an input's coins come from.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InputInfo {
    #[serde(with = "asset_name")]
    pub asset: Asset,
    pub address: String,
    pub value: String,
    /// For a multisig's input: its condition as `M:KEY,KEY,…` (hex keys).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub multisig: Option<String>,
}

mod asset_name {
    use serde::{Deserialize, Deserializer, Serializer};

    use crate::funds::Asset;

    pub fn serialize<S: Serializer>(asset: &Asset, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(match asset {
            Asset::Coin => "coin",
            Asset::BlockStake => "blockstake",
        })
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Asset, D::Error> {
        match String::deserialize(deserializer)?.as_str() {
            "coin" => Ok(Asset::Coin),
            "blockstake" => Ok(Asset::BlockStake),
            other => Err(serde::de::Error::custom(format!(
                "asset {other:?} is neither coin nor blockstake"
            ))),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    format: String,
    version: u32,
    network: String,
    address_prefix: String,
    chain_id: String,
    transaction: String,
    inputs: Vec<InputInfo>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    payload_multisig: Option<String>,
    signed: bool,
}

/// A transaction file's content.
#[derive(Debug, Clone)]
pub struct TransactionFile {
    pub network: String,
    pub address_prefix: String,
    pub chain_id: ChainId,
    pub transaction: Transaction,
    pub inputs: Vec<InputInfo>,
    /// When the payload's authorization is a multisig still being signed:
    /// its condition as `M:KEY,KEY,…` (co-signers add pairs with `sign`).
    pub payload_multisig: Option<String>,
    pub signed: bool,
}

impl TransactionFile {
    /// The unsigned file of a built transaction for `network`.
    pub fn unsigned(
        network: &crate::client::NetworkInfo,
        built: crate::build::Built,
    ) -> TransactionFile {
        TransactionFile {
            network: network.name.clone(),
            address_prefix: network.prefix.clone(),
            chain_id: network.chain_id,
            transaction: built.transaction,
            inputs: built.inputs,
            payload_multisig: None,
            signed: false,
        }
    }

    pub fn read(path: &Path) -> Result<TransactionFile, WalletError> {
        let bad = |reason: String| WalletError::TransactionFile {
            path: path.to_owned(),
            reason,
        };
        let text = std::fs::read_to_string(path).map_err(|error| bad(error.to_string()))?;
        let file: File = serde_json::from_str(&text).map_err(|error| bad(error.to_string()))?;
        if file.format != FORMAT || file.version != VERSION {
            return Err(bad(format!(
                "format {:?} version {} is not {FORMAT:?} version {VERSION}",
                file.format, file.version
            )));
        }
        let chain_id: Hash32 = file
            .chain_id
            .parse()
            .map_err(|_| bad("chain_id is not 64 hex digits".into()))?;
        let bytes = hex::decode(file.transaction.trim())
            .map_err(|_| bad("transaction is not hex".into()))?;
        let transaction = codec::decode::<Transaction>(&bytes)
            .map_err(|error| bad(format!("transaction does not decode: {error}")))?;
        let expected = transaction.coin_inputs.len() + transaction.blockstake_inputs.len();
        if file.inputs.len() != expected {
            return Err(bad(format!(
                "lists {} inputs but the transaction has {expected}",
                file.inputs.len()
            )));
        }
        Ok(TransactionFile {
            network: file.network,
            address_prefix: file.address_prefix,
            chain_id: ChainId(chain_id),
            transaction,
            inputs: file.inputs,
            payload_multisig: file.payload_multisig,
            signed: file.signed,
        })
    }

    pub fn write(&self, path: &Path) -> Result<(), WalletError> {
        let file = File {
            format: FORMAT.into(),
            version: VERSION,
            network: self.network.clone(),
            address_prefix: self.address_prefix.clone(),
            chain_id: self.chain_id.0.to_string(),
            transaction: hex::encode(codec::encode(&self.transaction)),
            inputs: self.inputs.clone(),
            payload_multisig: self.payload_multisig.clone(),
            signed: self.signed,
        };
        let text = serde_json::to_string_pretty(&file)
            .map_err(|error| WalletError::Usage(error.to_string()))?;
        std::fs::write(path, text + "\n").map_err(|source| WalletError::Io {
            what: format!("writing {}", path.display()),
            source,
        })
    }
}
