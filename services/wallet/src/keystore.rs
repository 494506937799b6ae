//! The keystore file: a wallet's secret (the 32 bytes of mnemonic
//! entropy) encrypted under a password, beside the public keys derived so
//! far, so that watching needs no password. Format (JSON, `docs/wallet.md`):
//!
//! ```json
//! { "format": "blockstake-wallet", "version": 1, "derivation": "v1",
//!   "spending_keys": ["<hex public key>", ...], "identity_keys": [...],
//!   "secret": { "kdf": { "algorithm": "argon2id", "memory_kib": 65536,
//!                        "iterations": 3, "parallelism": 1, "salt": "<hex 16>" },
//!               "cipher": "xchacha20poly1305", "nonce": "<hex 24>",
//!               "ciphertext": "<hex 32 + 16>" } }
//! ```
//!
//! The key is argon2id(password, salt); the AEAD's associated data is
//! `blockstake-wallet/v1/<derivation>`, so a changed derivation or version
//! fails to decrypt like a wrong password or a changed byte. A watch-only
//! keystore has `"secret": null`. Files are written to a temporary file in
//! the same folder, synced and renamed over the old one (mode 0600).

use std::path::{Path, PathBuf};

use argon2::{Algorithm, Argon2, Params, Version};
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use ledger::derivation::{self, Derivation};
use ledger::{Address, PublicKey, SecretKey};
use rand_core::{OsRng, RngCore};
use serde::{Deserialize, Serialize};
use zeroize::{Zeroize, Zeroizing};

use crate::error::WalletError;

/// The `format` field.
pub const FORMAT: &str = "blockstake-wallet";
/// The current `version`.
pub const VERSION: u32 = 1;

/// KDF cost of new keystores.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct KdfCost {
    pub memory_kib: u32,
    pub iterations: u32,
    pub parallelism: u32,
}

impl Default for KdfCost {
    fn default() -> KdfCost {
        KdfCost {
            memory_kib: 64 * 1024,
            iterations: 3,
            parallelism: 1,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Kdf {
    algorithm: String,
    #[serde(flatten)]
    cost: KdfCost,
    salt: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Secret {
    kdf: Kdf,
    cipher: String,
    nonce: String,
    ciphertext: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    format: String,
    version: u32,
    derivation: String,
    spending_keys: Vec<String>,
    #[serde(default)]
    identity_keys: Vec<String>,
    secret: Option<Secret>,
}

/// A loaded keystore: public keys in clear, the secret still encrypted.
#[derive(Debug, Clone)]
pub struct Keystore {
    pub path: PathBuf,
    pub derivation: Derivation,
    pub spending_keys: Vec<PublicKey>,
    pub identity_keys: Vec<PublicKey>,
    secret: Option<Secret>,
}

/// The decrypted secret of a keystore.
pub struct Unlocked {
    entropy: Zeroizing<[u8; 32]>,
    pub derivation: Derivation,
}

impl Unlocked {
    pub fn new(entropy: [u8; 32], derivation: Derivation) -> Unlocked {
        Unlocked {
            entropy: Zeroizing::new(entropy),
            derivation,
        }
    }

    /// Spending key `index`.
    pub fn spending_key(&self, index: u64) -> SecretKey {
        derivation::spending_key(&self.entropy, self.derivation, index)
    }

    /// The seed of spending key `index` (for node key files).
    pub fn spending_seed(&self, index: u64) -> [u8; 32] {
        derivation::spending_seed(&self.entropy, self.derivation, index)
    }

    /// Identity key `index` (v1 wallets only).
    pub fn identity_key(&self, index: u64) -> Result<SecretKey, WalletError> {
        match self.derivation {
            Derivation::V1 => Ok(derivation::identity_key(&self.entropy, index)),
            Derivation::Raw => Err(WalletError::Usage(
                "a raw-derivation wallet (the devnet genesis wallet) has no identity keys".into(),
            )),
        }
    }

    /// The zero-storage key (docs/storage.md "Wallet"):
    /// `BLAKE2b-256("blockstake/wallet/storage-key/v1" ‖ entropy)`, the
    /// mnemonic's 32 bytes. Every object's encryption key is derived from
    /// it and the object's salt (`stor::keys`), so the mnemonic alone
    /// recovers every stored object.
    pub fn storage_key(&self) -> stor::StorageKey {
        stor::StorageKey(storage_hash(&[
            b"blockstake/wallet/storage-key/v1",
            &*self.entropy,
        ]))
    }

    /// A storage node's report key for `endpoint`:
    /// seed `BLAKE2b-256("blockstake/wallet/storage-node-key/v1" ‖ entropy ‖ endpoint)`.
    pub fn storage_node_key(&self, endpoint: &str) -> SecretKey {
        SecretKey::from_seed(storage_hash(&[
            b"blockstake/wallet/storage-node-key/v1",
            &*self.entropy,
            endpoint.as_bytes(),
        ]))
    }

    /// The 24 words.
    pub fn mnemonic(&self) -> Zeroizing<String> {
        Zeroizing::new(derivation::mnemonic_for(&self.entropy))
    }

    /// Most spending keys the derivation has (`raw`: one).
    pub fn max_spending_keys(&self) -> u64 {
        max_keys(self.derivation)
    }
}

/// Most spending keys a derivation has.
fn storage_hash(parts: &[&[u8]]) -> [u8; 32] {
    use blake2::Digest as _;
    let mut hasher = blake2::Blake2b::<blake2::digest::consts::U32>::new();
    for part in parts {
        hasher.update(part);
    }
    hasher.finalize().into()
}

pub fn max_keys(derivation: Derivation) -> u64 {
    match derivation {
        Derivation::V1 => u64::MAX,
        Derivation::Raw => 1,
    }
}

fn corrupt(path: &Path, why: impl std::fmt::Display) -> WalletError {
    WalletError::CorruptKeystore {
        path: path.to_owned(),
        reason: why.to_string(),
    }
}

fn parse_key(path: &Path, text: &str) -> Result<PublicKey, WalletError> {
    let bytes =
        hex::decode(text).map_err(|_| corrupt(path, format!("public key {text:?} is not hex")))?;
    let bytes: [u8; 32] = bytes
        .try_into()
        .map_err(|_| corrupt(path, format!("public key {text:?} is not 32 bytes")))?;
    Ok(PublicKey(bytes))
}

fn associated_data(derivation: Derivation) -> Vec<u8> {
    format!("{FORMAT}/v{VERSION}/{}", derivation.name()).into_bytes()
}

fn derive_cipher_key(
    password: &str,
    salt: &[u8],
    cost: KdfCost,
) -> Result<Zeroizing<[u8; 32]>, WalletError> {
    let params = Params::new(cost.memory_kib, cost.iterations, cost.parallelism, Some(32))
        .map_err(|error| WalletError::Usage(format!("key derivation parameters: {error}")))?;
    let mut key = Zeroizing::new([0u8; 32]);
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
        .hash_password_into(password.as_bytes(), salt, key.as_mut())
        .map_err(|error| WalletError::Usage(format!("key derivation: {error}")))?;
    Ok(key)
}

fn encrypt(unlocked: &Unlocked, password: &str, cost: KdfCost) -> Result<Secret, WalletError> {
    let mut salt = [0u8; 16];
    OsRng.fill_bytes(&mut salt);
    let mut nonce = [0u8; 24];
    OsRng.fill_bytes(&mut nonce);
    let key = derive_cipher_key(password, &salt, cost)?;
    let cipher = XChaCha20Poly1305::new(key.as_ref().into());
    let ciphertext = cipher
        .encrypt(
            XNonce::from_slice(&nonce),
            Payload {
                msg: unlocked.entropy.as_ref(),
                aad: &associated_data(unlocked.derivation),
            },
        )
        .map_err(|_| WalletError::Usage("encryption failed".into()))?;
    Ok(Secret {
        kdf: Kdf {
            algorithm: "argon2id".into(),
            cost,
            salt: hex::encode(salt),
        },
        cipher: "xchacha20poly1305".into(),
        nonce: hex::encode(nonce),
        ciphertext: hex::encode(ciphertext),
    })
}

impl Keystore {
    /// A new keystore for `unlocked`, with `keys` spending keys derived.
    pub fn create(
        path: &Path,
        unlocked: &Unlocked,
        password: &str,
        cost: KdfCost,
        keys: u64,
    ) -> Result<Keystore, WalletError> {
        let count = keys.clamp(1, unlocked.max_spending_keys());
        Ok(Keystore {
            path: path.to_owned(),
            derivation: unlocked.derivation,
            spending_keys: (0..count)
                .map(|index| unlocked.spending_key(index).public_key())
                .collect(),
            identity_keys: Vec::new(),
            secret: Some(encrypt(unlocked, password, cost)?),
        })
    }

    /// Reads and checks a keystore file.
    pub fn load(path: &Path) -> Result<Keystore, WalletError> {
        let text = std::fs::read_to_string(path).map_err(|source| {
            if source.kind() == std::io::ErrorKind::NotFound {
                WalletError::NoWallet {
                    path: path.to_owned(),
                }
            } else {
                WalletError::Io {
                    what: format!("reading {}", path.display()),
                    source,
                }
            }
        })?;
        let file: File = serde_json::from_str(&text).map_err(|error| corrupt(path, error))?;
        if file.format != FORMAT {
            return Err(corrupt(
                path,
                format!("format is {:?}, not {FORMAT:?}", file.format),
            ));
        }
        if file.version != VERSION {
            return Err(corrupt(
                path,
                format!(
                    "version {} is not supported (this wallet reads version {VERSION})",
                    file.version
                ),
            ));
        }
        let derivation = Derivation::from_name(&file.derivation)
            .ok_or_else(|| corrupt(path, format!("unknown derivation {:?}", file.derivation)))?;
        if let Some(secret) = &file.secret {
            if secret.kdf.algorithm != "argon2id" || secret.cipher != "xchacha20poly1305" {
                return Err(corrupt(path, "unknown KDF or cipher"));
            }
            let lengths = [
                (hex::decode(&secret.kdf.salt).map(|b| b.len()), 16),
                (hex::decode(&secret.nonce).map(|b| b.len()), 24),
                (hex::decode(&secret.ciphertext).map(|b| b.len()), 48),
            ];
            if lengths
                .iter()
                .any(|(found, want)| found.as_ref().ok() != Some(want))
            {
                return Err(corrupt(
                    path,
                    "salt, nonce or ciphertext has the wrong length",
                ));
            }
        }
        let spending_keys = file
            .spending_keys
            .iter()
            .map(|key| parse_key(path, key))
            .collect::<Result<Vec<_>, _>>()?;
        if spending_keys.is_empty() {
            return Err(corrupt(path, "no spending keys"));
        }
        let identity_keys = file
            .identity_keys
            .iter()
            .map(|key| parse_key(path, key))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Keystore {
            path: path.to_owned(),
            derivation,
            spending_keys,
            identity_keys,
            secret: file.secret,
        })
    }

    /// Whether the keystore holds no secret.
    pub fn is_watch_only(&self) -> bool {
        self.secret.is_none()
    }

    /// Decrypts the secret and checks it against the stored public keys.
    pub fn unlock(&self, password: &str) -> Result<Unlocked, WalletError> {
        let secret = self.secret.as_ref().ok_or_else(|| WalletError::WatchOnly {
            path: self.path.clone(),
        })?;
        let decode = |text: &str| hex::decode(text).map_err(|error| corrupt(&self.path, error));
        let salt = decode(&secret.kdf.salt)?;
        let nonce = decode(&secret.nonce)?;
        let ciphertext = decode(&secret.ciphertext)?;
        let key = derive_cipher_key(password, &salt, secret.kdf.cost)?;
        let cipher = XChaCha20Poly1305::new(key.as_ref().into());
        let mut plain = cipher
            .decrypt(
                XNonce::from_slice(&nonce),
                Payload {
                    msg: &ciphertext,
                    aad: &associated_data(self.derivation),
                },
            )
            .map_err(|_| WalletError::WrongPassword {
                path: self.path.clone(),
            })?;
        let entropy: Result<[u8; 32], _> = plain.as_slice().try_into();
        plain.zeroize();
        let unlocked = Unlocked::new(
            entropy.map_err(|_| corrupt(&self.path, "the secret is not 32 bytes"))?,
            self.derivation,
        );
        for (index, key) in self.spending_keys.iter().enumerate() {
            if unlocked.spending_key(index as u64).public_key() != *key {
                return Err(corrupt(
                    &self.path,
                    format!("spending key {index} does not derive from the secret"),
                ));
            }
        }
        for (index, key) in self.identity_keys.iter().enumerate() {
            if unlocked.identity_key(index as u64)?.public_key() != *key {
                return Err(corrupt(
                    &self.path,
                    format!("identity key {index} does not derive from the secret"),
                ));
            }
        }
        Ok(unlocked)
    }

    /// Re-encrypts the secret under a new password.
    pub fn rekey(
        &mut self,
        unlocked: &Unlocked,
        password: &str,
        cost: KdfCost,
    ) -> Result<(), WalletError> {
        self.secret = Some(encrypt(unlocked, password, cost)?);
        Ok(())
    }

    /// A copy without the secret.
    pub fn watch_only(&self, path: &Path) -> Keystore {
        Keystore {
            path: path.to_owned(),
            secret: None,
            ..self.clone()
        }
    }

    /// The address of spending key `index`.
    pub fn address(&self, index: usize) -> Option<Address> {
        self.spending_keys.get(index).map(Address::for_public_key)
    }

    /// Every address, in key order.
    pub fn addresses(&self) -> Vec<Address> {
        self.spending_keys
            .iter()
            .map(Address::for_public_key)
            .collect()
    }

    /// The spending key index of `address`, if it is one of ours.
    pub fn index_of(&self, address: &Address) -> Option<usize> {
        self.spending_keys
            .iter()
            .position(|key| Address::for_public_key(key) == *address)
    }

    /// Writes the file atomically (a temporary file renamed over it).
    pub fn save(&self) -> Result<(), WalletError> {
        let file = File {
            format: FORMAT.into(),
            version: VERSION,
            derivation: self.derivation.name().into(),
            spending_keys: self
                .spending_keys
                .iter()
                .map(|k| hex::encode(k.0))
                .collect(),
            identity_keys: self
                .identity_keys
                .iter()
                .map(|k| hex::encode(k.0))
                .collect(),
            secret: self.secret.clone(),
        };
        let text = serde_json::to_string_pretty(&file)
            .map_err(|error| WalletError::Usage(format!("encoding the keystore: {error}")))?;
        write_private_atomic(&self.path, text.as_bytes())
    }
}

/// Writes `bytes` to `path` through a synced temporary file in the same
/// folder and a rename, readable by the owner only.
pub fn write_private_atomic(path: &Path, bytes: &[u8]) -> Result<(), WalletError> {
    use std::io::Write as _;
    let io = |what: String| move |source| WalletError::Io { what, source };
    let dir = path
        .parent()
        .filter(|dir| !dir.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(io(format!("creating {}", dir.display())))?;
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(format!(".tmp{}", std::process::id()));
    let temporary = dir.join(name);
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let result = (|| {
        let mut file = options
            .open(&temporary)
            .map_err(io(format!("creating {}", temporary.display())))?;
        file.write_all(bytes)
            .and_then(|()| file.sync_all())
            .map_err(io(format!("writing {}", temporary.display())))?;
        std::fs::rename(&temporary, path).map_err(io(format!("replacing {}", path.display())))
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&temporary);
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    const CHEAP: KdfCost = KdfCost {
        memory_kib: 64,
        iterations: 1,
        parallelism: 1,
    };

    #[test]
    fn round_trip_wrong_password_tampering_and_rekey() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("w.json");
        let unlocked = Unlocked::new([7; 32], Derivation::V1);
        let store = Keystore::create(&path, &unlocked, "pw", CHEAP, 2).unwrap();
        store.save().unwrap();
        let loaded = Keystore::load(&path).unwrap();
        assert_eq!(loaded.spending_keys.len(), 2);
        assert_eq!(*loaded.unlock("pw").unwrap().entropy, [7; 32]);
        assert!(matches!(
            loaded.unlock("wrong"),
            Err(WalletError::WrongPassword { .. })
        ));
        // Flip one ciphertext digit: detected like a wrong password.
        let text = std::fs::read_to_string(&path).unwrap();
        let mut file: serde_json::Value = serde_json::from_str(&text).unwrap();
        let ciphertext = file["secret"]["ciphertext"].as_str().unwrap().to_owned();
        let flipped = format!(
            "{}{}",
            if ciphertext.starts_with('0') {
                "1"
            } else {
                "0"
            },
            &ciphertext[1..]
        );
        file["secret"]["ciphertext"] = flipped.into();
        std::fs::write(&path, file.to_string()).unwrap();
        assert!(Keystore::load(&path).unwrap().unlock("pw").is_err());
        // A changed derivation label fails authentication.
        let mut store = Keystore::load(&path).unwrap();
        store.secret = loaded.secret.clone();
        store.derivation = Derivation::Raw;
        assert!(store.unlock("pw").is_err());
        // Rekey.
        let mut store = loaded.clone();
        store.rekey(&unlocked, "new", CHEAP).unwrap();
        store.save().unwrap();
        let again = Keystore::load(&path).unwrap();
        assert!(again.unlock("pw").is_err());
        assert!(again.unlock("new").is_ok());
        std::fs::write(&path, "{ not json").unwrap();
        assert!(matches!(
            Keystore::load(&path),
            Err(WalletError::CorruptKeystore { .. })
        ));
    }
}
