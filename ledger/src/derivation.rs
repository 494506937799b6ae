//! Wallet key derivation (PROTOCOL.md "Wallet"): the one place that turns a
//! wallet's 32 bytes of entropy (a 24-word BIP-39 mnemonic) into keys. The
//! node (block-creation keys from a mnemonic file) and the wallet both use
//! it; `docs/wallet.md` documents it.
//!
//! * [`Derivation::V1`]: spending key `i` has the ed25519 seed
//!   `BLAKE2b-256("blockstake/wallet/v1/spending-key" ‖ entropy ‖ u64le(i))`,
//!   identity key `i` the seed
//!   `BLAKE2b-256("blockstake/wallet/v1/identity-key" ‖ entropy ‖ u64le(i))`.
//! * [`Derivation::Raw`]: the entropy itself is the seed of the one key
//!   (index 0). Only for the devnet genesis wallet, whose allocation belongs
//!   to the public seed `[1; 32]`; it has no identity keys.

use blake2::digest::consts::U32;
use blake2::{Blake2b, Digest};
use thiserror::Error;

use crate::SecretKey;

/// Purpose label of spending keys, version 1.
pub const SPENDING_KEY_LABEL: &[u8] = b"blockstake/wallet/v1/spending-key";
/// Purpose label of identity keys, version 1.
pub const IDENTITY_KEY_LABEL: &[u8] = b"blockstake/wallet/v1/identity-key";
/// Words of a wallet mnemonic (32 bytes of entropy).
pub const MNEMONIC_WORDS: usize = 24;

/// How keys come from a mnemonic's entropy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Derivation {
    /// Hash of a purpose label, the entropy and the key's index.
    V1,
    /// The entropy itself is the one key's seed (devnet genesis only).
    Raw,
}

impl Derivation {
    /// The name used in files and on command lines (`v1`, `raw`).
    pub fn name(self) -> &'static str {
        match self {
            Derivation::V1 => "v1",
            Derivation::Raw => "raw",
        }
    }

    /// Parses [`Derivation::name`].
    pub fn from_name(name: &str) -> Option<Derivation> {
        match name {
            "v1" => Some(Derivation::V1),
            "raw" => Some(Derivation::Raw),
            _ => None,
        }
    }
}

/// Why a mnemonic is refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum MnemonicError {
    #[error("a wallet mnemonic has {MNEMONIC_WORDS} words (32 bytes of entropy), found {0}")]
    WrongLength(usize),
    #[error("word {position} ({word:?}) is not in the BIP-39 English word list")]
    UnknownWord { position: usize, word: String },
    #[error(
        "the checksum does not match: a word is mistyped or out of order (the last word carries the checksum)"
    )]
    BadChecksum,
    #[error("not a valid mnemonic: {0}")]
    Other(String),
}

/// Why a mnemonic file is refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum MnemonicFileError {
    #[error("unknown derivation '{0}' (known: v1, raw)")]
    UnknownDerivation(String),
    #[error(transparent)]
    Mnemonic(#[from] MnemonicError),
}

/// Reads a mnemonic file: the 24 words on any lines; lines starting with
/// `#` are comments, except `# derivation: v1|raw` (default `v1`), which
/// names the derivation. The node's `--mnemonic-file` and the wallet's
/// `recover --from-file` read this format.
pub fn parse_mnemonic_file(text: &str) -> Result<([u8; 32], Derivation), MnemonicFileError> {
    let mut derivation = Derivation::V1;
    let mut words = Vec::new();
    for line in text.lines() {
        let line = line.trim();
        if let Some(comment) = line.strip_prefix('#') {
            if let Some(value) = comment.trim().strip_prefix("derivation:") {
                let value = value.trim();
                derivation = Derivation::from_name(value)
                    .ok_or_else(|| MnemonicFileError::UnknownDerivation(value.to_owned()))?;
            }
            continue;
        }
        words.extend(line.split_whitespace());
    }
    Ok((entropy_from_mnemonic(&words.join(" "))?, derivation))
}

fn seed_for(label: &[u8], entropy: &[u8; 32], index: u64) -> [u8; 32] {
    let mut hasher = Blake2b::<U32>::new();
    hasher.update(label);
    hasher.update(entropy);
    hasher.update(index.to_le_bytes());
    hasher.finalize().into()
}

/// The ed25519 seed of spending key `index` of `entropy` under
/// `derivation` (`Raw` has only the key of index 0 and returns it for
/// every index). A node key file holds such seeds.
pub fn spending_seed(entropy: &[u8; 32], derivation: Derivation, index: u64) -> [u8; 32] {
    match derivation {
        Derivation::Raw => *entropy,
        Derivation::V1 => seed_for(SPENDING_KEY_LABEL, entropy, index),
    }
}

/// Spending key `index` of `entropy` under `derivation`.
pub fn spending_key(entropy: &[u8; 32], derivation: Derivation, index: u64) -> SecretKey {
    SecretKey::from_seed(spending_seed(entropy, derivation, index))
}

/// Identity key `index` of `entropy` (v1 only: the raw devnet wallet has none).
pub fn identity_key(entropy: &[u8; 32], index: u64) -> SecretKey {
    SecretKey::from_seed(seed_for(IDENTITY_KEY_LABEL, entropy, index))
}

/// The 24 words encoding `entropy`.
pub fn mnemonic_for(entropy: &[u8; 32]) -> String {
    // 32 bytes is a valid BIP-39 entropy length: this cannot fail.
    bip39::Mnemonic::from_entropy(entropy)
        .map(|mnemonic| mnemonic.to_string())
        .unwrap_or_default()
}

/// The entropy of a 24-word English mnemonic (any whitespace, any case).
pub fn entropy_from_mnemonic(text: &str) -> Result<[u8; 32], MnemonicError> {
    let words: Vec<String> = text.split_whitespace().map(str::to_lowercase).collect();
    if words.len() != MNEMONIC_WORDS {
        return Err(MnemonicError::WrongLength(words.len()));
    }
    let mnemonic = bip39::Mnemonic::parse_in_normalized(bip39::Language::English, &words.join(" "))
        .map_err(|error| match error {
            bip39::Error::UnknownWord(position) => MnemonicError::UnknownWord {
                position: position + 1,
                word: words.get(position).cloned().unwrap_or_default(),
            },
            bip39::Error::InvalidChecksum => MnemonicError::BadChecksum,
            other => MnemonicError::Other(other.to_string()),
        })?;
    mnemonic
        .to_entropy()
        .as_slice()
        .try_into()
        .map_err(|_| MnemonicError::WrongLength(words.len()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raw_devnet_entropy_is_the_devnet_genesis_key() {
        let entropy = [1u8; 32];
        let words = mnemonic_for(&entropy);
        assert_eq!(entropy_from_mnemonic(&words), Ok(entropy));
        // devnet.toml: seed [1; 32] holds the genesis coins and stake.
        assert_eq!(
            spending_key(&entropy, Derivation::Raw, 0)
                .public_key()
                .to_string(),
            "ed25519:8a88e3dd7409f195fd52db2d3cba5d72ca6709bf1d94121bf3748801b40f6f5c"
        );
    }

    #[test]
    fn v1_is_frozen_and_separates_indices_and_purposes() {
        let entropy = [9u8; 32];
        let a = spending_key(&entropy, Derivation::V1, 0).public_key();
        assert_ne!(a, spending_key(&entropy, Derivation::V1, 1).public_key());
        assert_ne!(a, spending_key(&entropy, Derivation::Raw, 0).public_key());
        assert_ne!(a, identity_key(&entropy, 0).public_key());
        // Frozen: changing the derivation changes every wallet.
        assert_eq!(hex::encode(seed_for(SPENDING_KEY_LABEL, &entropy, 0)), {
            let mut hasher = Blake2b::<U32>::new();
            hasher.update(b"blockstake/wallet/v1/spending-key");
            hasher.update([9u8; 32]);
            hasher.update(0u64.to_le_bytes());
            hex::encode(<[u8; 32]>::from(hasher.finalize()))
        });
    }

    #[test]
    fn bad_mnemonics_name_the_problem() {
        assert_eq!(
            entropy_from_mnemonic("abandon abandon"),
            Err(MnemonicError::WrongLength(2))
        );
        let words = mnemonic_for(&[3; 32]);
        let mut list: Vec<&str> = words.split(' ').collect();
        list[4] = "zzzz";
        assert_eq!(
            entropy_from_mnemonic(&list.join(" ")),
            Err(MnemonicError::UnknownWord {
                position: 5,
                word: "zzzz".into()
            })
        );
        // Swap the last (checksum) word for another valid word.
        let mut list: Vec<&str> = words.split(' ').collect();
        let last = list[23];
        list[23] = if last == "abandon" {
            "ability"
        } else {
            "abandon"
        };
        assert_eq!(
            entropy_from_mnemonic(&list.join(" ")),
            Err(MnemonicError::BadChecksum)
        );
        assert_eq!(
            entropy_from_mnemonic(&words.to_uppercase().replace(' ', "\n  ")),
            Ok([3; 32])
        );
    }
}
