//! Block-creation keys, loaded from a file (never from the command line).
//!
//! Two file formats, documented in `docs/node.md`:
//!
//! * **Key file**: one ed25519 seed per line as 64 hex digits; blank
//!   lines and lines starting with `#` are ignored.
//! * **Mnemonic file**: a 24-word BIP-39 (English) mnemonic encoding 32
//!   bytes of entropy, as the wallet will write it (PROTOCOL.md "Wallet").
//!   Lines starting with `#` are comments, except one optional line
//!   `# derivation: raw` (see below). Keys are derived with
//!   [`Derivation::V1`]: spending key `i` has the ed25519 seed
//!   `BLAKE2b-256("blockstake/wallet/v1/spending-key" ‖ entropy ‖ u64le(i))`;
//!   identity keys will use another purpose label. The node takes the
//!   first `count` spending keys.
//!
//! `Derivation::Raw` (the entropy is the single key's seed) exists only for
//! the devnet genesis wallet, whose allocation in
//! `ledger/chain/networks/devnet.toml` belongs to the public seed `[1; 32]`:
//! `scripts/devnet` writes that seed as a mnemonic with the `raw` marker so
//! a newcomer holds the genesis coins and stake at once. The wallet
//! uses the same code: both live in `ledger::derivation`.

use std::path::{Path, PathBuf};

use ledger::SecretKey;
pub use ledger::derivation::{Derivation, SPENDING_KEY_LABEL, mnemonic_for};
use ledger::derivation::{MnemonicError, MnemonicFileError, parse_mnemonic_file};
use thiserror::Error;

/// Why a key could not be loaded.
#[derive(Debug, Error)]
pub enum KeyError {
    #[error("cannot read key file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "key file {path} line {line}: expected 64 hex digits (an ed25519 seed), found {length} characters"
    )]
    BadSeed {
        path: PathBuf,
        line: usize,
        length: usize,
    },
    #[error("key file {path} holds no key")]
    Empty { path: PathBuf },
    #[error("mnemonic file {path}: {reason}")]
    BadMnemonic { path: PathBuf, reason: String },
    #[error(
        "mnemonic file {path}: a mnemonic for the node must have 24 words (32 bytes of entropy), found {words}"
    )]
    WrongLength { path: PathBuf, words: usize },
    #[error("mnemonic file {path}: unknown derivation '{found}' (known: v1, raw)")]
    UnknownDerivation { path: PathBuf, found: String },
}

/// The seed of the devnet genesis allocation (`networks/devnet.toml`):
/// public knowledge, for local testing only.
pub const DEVNET_GENESIS_SEED: [u8; 32] = [1; 32];

/// The text of the devnet genesis wallet's mnemonic file.
pub fn devnet_wallet_file() -> String {
    format!(
        "# devnet genesis wallet: holds the devnet genesis coins and blockstakes.\n\
         # Public knowledge (networks/devnet.toml), for local testing only.\n\
         # derivation: raw\n{}\n",
        mnemonic_for(&DEVNET_GENESIS_SEED)
    )
}

/// Spending key `index` of `entropy` under `derivation` (the one
/// derivation code, in `ledger::derivation`, shared with the wallet).
pub fn derive_key(entropy: &[u8; 32], derivation: Derivation, index: u64) -> SecretKey {
    ledger::derivation::spending_key(entropy, derivation, index)
}

/// Parses mnemonic file text into its entropy and derivation
/// (`ledger::derivation::parse_mnemonic_file`, shared with the wallet).
pub fn parse_mnemonic(path: &Path, text: &str) -> Result<([u8; 32], Derivation), KeyError> {
    parse_mnemonic_file(text).map_err(|error| match error {
        MnemonicFileError::UnknownDerivation(found) => KeyError::UnknownDerivation {
            path: path.to_owned(),
            found,
        },
        MnemonicFileError::Mnemonic(MnemonicError::WrongLength(words)) => KeyError::WrongLength {
            path: path.to_owned(),
            words,
        },
        MnemonicFileError::Mnemonic(other) => KeyError::BadMnemonic {
            path: path.to_owned(),
            reason: other.to_string(),
        },
    })
}

/// Loads `count` keys from a mnemonic file.
pub fn load_mnemonic_file(path: &Path, count: u64) -> Result<Vec<SecretKey>, KeyError> {
    let text = std::fs::read_to_string(path).map_err(|source| KeyError::Read {
        path: path.to_owned(),
        source,
    })?;
    let (entropy, derivation) = parse_mnemonic(path, &text)?;
    Ok(match derivation {
        Derivation::Raw => vec![derive_key(&entropy, derivation, 0)],
        Derivation::V1 => (0..count.max(1))
            .map(|index| derive_key(&entropy, derivation, index))
            .collect(),
    })
}

/// Loads every seed of a key file.
pub fn load_key_file(path: &Path) -> Result<Vec<SecretKey>, KeyError> {
    let text = std::fs::read_to_string(path).map_err(|source| KeyError::Read {
        path: path.to_owned(),
        source,
    })?;
    parse_key_file(path, &text)
}

/// Parses key file text.
pub fn parse_key_file(path: &Path, text: &str) -> Result<Vec<SecretKey>, KeyError> {
    let mut keys = Vec::new();
    for (number, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let bad = || KeyError::BadSeed {
            path: path.to_owned(),
            line: number + 1,
            length: line.len(),
        };
        let bytes = hex::decode(line).map_err(|_| bad())?;
        let seed: [u8; 32] = bytes.as_slice().try_into().map_err(|_| bad())?;
        keys.push(SecretKey::from_seed(seed));
    }
    if keys.is_empty() {
        return Err(KeyError::Empty {
            path: path.to_owned(),
        });
    }
    Ok(keys)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raw_devnet_mnemonic_gives_the_devnet_genesis_key() {
        let entropy = [1u8; 32];
        let words = mnemonic_for(&entropy);
        assert_eq!(words.split(' ').count(), 24);
        let text = format!("# devnet genesis wallet\n# derivation: raw\n{words}\n");
        let (parsed, derivation) = parse_mnemonic(Path::new("m"), &text).unwrap();
        assert_eq!(parsed, entropy);
        assert_eq!(derivation, Derivation::Raw);
        // devnet.toml: seed [1; 32] holds the genesis coins and stake.
        assert_eq!(
            derive_key(&parsed, derivation, 0).public_key().to_string(),
            "ed25519:8a88e3dd7409f195fd52db2d3cba5d72ca6709bf1d94121bf3748801b40f6f5c"
        );
    }

    #[test]
    fn v1_derivation_is_deterministic_and_separates_indices() {
        let entropy = [9u8; 32];
        let a = derive_key(&entropy, Derivation::V1, 0).public_key();
        assert_eq!(a, derive_key(&entropy, Derivation::V1, 0).public_key());
        assert_ne!(a, derive_key(&entropy, Derivation::V1, 1).public_key());
        assert_ne!(a, derive_key(&entropy, Derivation::Raw, 0).public_key());
        // Frozen (also in ledger::derivation's tests).
        assert_eq!(
            a,
            ledger::derivation::spending_key(&entropy, Derivation::V1, 0).public_key()
        );
    }

    #[test]
    fn bad_files_name_the_problem() {
        let short = parse_mnemonic(Path::new("m"), "abandon abandon");
        assert!(matches!(short, Err(KeyError::WrongLength { words: 2, .. })));
        let mut words = mnemonic_for(&[3; 32]);
        words = words.replacen(words.split(' ').next().unwrap_or(""), "zzzz", 1);
        assert!(matches!(
            parse_mnemonic(Path::new("m"), &words),
            Err(KeyError::BadMnemonic { .. })
        ));
        let bad = parse_key_file(Path::new("k"), "# c\n0102\n");
        assert!(matches!(
            bad,
            Err(KeyError::BadSeed {
                line: 2,
                length: 4,
                ..
            })
        ));
        assert!(matches!(
            parse_key_file(Path::new("k"), "\n# only comments\n"),
            Err(KeyError::Empty { .. })
        ));
        let keys = parse_key_file(Path::new("k"), &"01".repeat(32)).unwrap();
        assert_eq!(keys.len(), 1);
    }
}
