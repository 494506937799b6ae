//! Multisig: an address is the hash of a condition `M` of `N` keys; the
//! wallet writes the condition as `M:KEY,KEY,…` (hex public keys, any
//! order; `ed25519:` prefixes allowed). Paying it: `send --multisig SPEC`.
//! Spending it: `multisig spend` builds an unsigned transaction file whose
//! inputs carry the spec; each co-signer runs `sign` (adds its pairs, up
//! to `M`); `multisig merge` joins the files; `submit` sends it once every
//! input has `M` signatures.

use ledger::condition::MultisigCondition;
use ledger::fulfillment::{InputKind, KeySignature, MultiSignatureFulfillment};
use ledger::{Fulfillment, PublicKey, SecretKey};

use crate::build;
use crate::error::WalletError;
use crate::keystore::{Keystore, Unlocked};
use crate::txfile::TransactionFile;

/// Parses `M:KEY,KEY,…` into a standard condition.
pub fn parse(spec: &str) -> Result<MultisigCondition, WalletError> {
    let bad = |why: String| WalletError::Usage(format!("multisig {spec:?}: {why}"));
    let (required, keys) = spec
        .split_once(':')
        .ok_or_else(|| bad("expected M:KEY,KEY,… (M signatures of the listed keys)".into()))?;
    let required: u64 = required
        .trim()
        .parse()
        .map_err(|_| bad("M is not a number".into()))?;
    let mut list = Vec::new();
    for key in keys.split(',') {
        let key = key.trim();
        let hex_key = key.strip_prefix("ed25519:").unwrap_or(key);
        let bytes: [u8; 32] = hex::decode(hex_key)
            .ok()
            .and_then(|bytes| bytes.try_into().ok())
            .ok_or_else(|| bad(format!("{key:?} is not a public key (64 hex digits)")))?;
        list.push(PublicKey(bytes));
    }
    let condition = MultisigCondition::new(required, list);
    condition
        .check_standard()
        .map_err(|error| bad(error.to_string()))?;
    Ok(condition)
}

/// The spec text of a condition (sorted keys).
pub fn spec(condition: &MultisigCondition) -> String {
    let keys: Vec<String> = condition
        .keys
        .iter()
        .map(|key| hex::encode(key.0))
        .collect();
    format!("{}:{}", condition.required, keys.join(","))
}

/// Adds this wallet's signatures to multisig input `position` (kind
/// `kind`, index `at`), up to the condition's `required`. Returns how many
/// it added.
pub fn sign_input(
    keystore: &Keystore,
    unlocked: &Unlocked,
    file: &mut TransactionFile,
    condition: &MultisigCondition,
    kind: InputKind,
    at: usize,
) -> Result<usize, WalletError> {
    let mut pairs = match build::fulfillment_mut(&mut file.transaction, kind, at) {
        Some(Fulfillment::MultiSignature(multi)) => multi.pairs.clone(),
        _ => Vec::new(),
    };
    let transaction = file.transaction.clone();
    let added = add_pairs(keystore, unlocked, condition, &mut pairs, |secret| {
        Some(build::input_signature(
            &transaction,
            file.chain_id,
            kind,
            at,
            secret,
            None,
        ))
    });
    if let Some(slot) = build::fulfillment_mut(&mut file.transaction, kind, at) {
        *slot = Fulfillment::MultiSignature(MultiSignatureFulfillment { pairs });
    }
    Ok(added)
}

/// Adds to `pairs` the signatures (`sign`) of this wallet's keys of
/// `condition` that are not there yet, up to `required`; returns how many.
pub fn add_pairs(
    keystore: &Keystore,
    unlocked: &Unlocked,
    condition: &MultisigCondition,
    pairs: &mut Vec<KeySignature>,
    sign: impl Fn(&SecretKey) -> Option<KeySignature>,
) -> usize {
    let mut added = 0;
    for key in &condition.keys {
        if pairs.len() as u64 >= condition.required {
            break;
        }
        let Some(index) = keystore.spending_keys.iter().position(|own| own == key) else {
            continue;
        };
        if pairs.iter().any(|pair| pair.public_key == *key) {
            continue;
        }
        if let Some(pair) = sign(&unlocked.spending_key(index as u64)) {
            pairs.push(pair);
            added += 1;
        }
    }
    added
}

/// Adds `extra` pairs of other keys to `pairs`, up to `required`.
pub fn join_pairs(pairs: &mut Vec<KeySignature>, extra: Vec<KeySignature>, required: u64) {
    for pair in extra {
        if (pairs.len() as u64) < required
            && !pairs.iter().any(|own| own.public_key == pair.public_key)
        {
            pairs.push(pair);
        }
    }
}

/// Whether every input carries its signatures (multisig: `required` pairs).
pub fn complete(file: &TransactionFile) -> Result<bool, WalletError> {
    let fulfillments = file
        .transaction
        .coin_inputs
        .iter()
        .map(|input| &input.fulfillment)
        .chain(
            file.transaction
                .blockstake_inputs
                .iter()
                .map(|i| &i.fulfillment),
        );
    for (info, fulfillment) in file.inputs.iter().zip(fulfillments) {
        let done = match (&info.multisig, fulfillment) {
            (Some(spec), Fulfillment::MultiSignature(multi)) => {
                multi.pairs.len() as u64 >= parse(spec)?.required
            }
            (None, Fulfillment::SingleSignature(_)) => true,
            _ => false,
        };
        if !done {
            return Ok(false);
        }
    }
    crate::authority::payload_complete(file)
}

/// Joins the signatures of `other` into `file` (the same transaction).
pub fn merge(file: &mut TransactionFile, other: &TransactionFile) -> Result<(), WalletError> {
    if file.transaction.id() != other.transaction.id() || file.chain_id != other.chain_id {
        return Err(WalletError::Usage(
            "the files hold different transactions: merge signatures of one transaction only"
                .into(),
        ));
    }
    let coin_inputs = file.transaction.coin_inputs.len();
    for (position, info) in file.inputs.clone().iter().enumerate() {
        let (kind, at) = if position < coin_inputs {
            (InputKind::Coin, position)
        } else {
            (InputKind::BlockStake, position - coin_inputs)
        };
        let mut theirs = other.transaction.clone();
        let Some(spec) = &info.multisig else {
            // A single-key input: take its signature from whichever file has it.
            if let (Some(slot @ Fulfillment::Nil), Some(signed)) = (
                build::fulfillment_mut(&mut file.transaction, kind, at),
                build::fulfillment_mut(&mut theirs, kind, at),
            ) {
                *slot = signed.clone();
            }
            continue;
        };
        let required = parse(spec)?.required;
        let extra = match build::fulfillment_mut(&mut theirs, kind, at) {
            Some(Fulfillment::MultiSignature(multi)) => multi.pairs.clone(),
            _ => Vec::new(),
        };
        if let Some(slot) = build::fulfillment_mut(&mut file.transaction, kind, at) {
            let mut pairs = match slot {
                Fulfillment::MultiSignature(multi) => multi.pairs.clone(),
                _ => Vec::new(),
            };
            join_pairs(&mut pairs, extra, required);
            *slot = Fulfillment::MultiSignature(MultiSignatureFulfillment { pairs });
        }
    }
    crate::authority::merge_payload(file, other)?;
    file.signed = complete(file)?;
    Ok(())
}
