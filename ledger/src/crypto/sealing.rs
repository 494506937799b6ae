//! End-to-end encryption for private content (direct and group chat
//! messages, group keys): what the chain carries is ciphertext, never the
//! clear text, and only holders of the right identity keys can open it.
//!
//! * **Encryption keys are the identity keys.** An ed25519 identity key
//!   converts to an X25519 key (the Edwards point's Montgomery form; the
//!   secret is the clamped scalar ed25519 itself uses), the conversion age
//!   uses for `ssh-ed25519` recipients. Rotating an identity key therefore
//!   rotates its encryption key, and nobody has to publish a second key.
//! * **Content is encrypted once** under a random 32-byte [`ContentKey`]
//!   with XChaCha20-Poly1305 ([`encrypt`]; random 24-byte nonce, the
//!   caller's associated data bound in).
//! * **The content key is sealed to each reader** ([`seal_key`]): a fresh
//!   ephemeral X25519 key per seal, the key-encryption key is
//!   `H("blockstake/sealed-key/v1" ‖ ephemeral ‖ recipient ‖ shared ‖ context)`
//!   and wraps the content key with XChaCha20-Poly1305 under an all-zero
//!   nonce (safe: every key-encryption key is used exactly once).
//!   `context` binds the seal to where it is used (chain, channel, epoch)
//!   so a sealed key cannot be replayed elsewhere.
//!
//! Who wrote a message is not established here: the chain's signature over
//! the ciphertext (the chat transcript) authenticates the author.

use std::fmt;

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use curve25519_dalek::montgomery::MontgomeryPoint;
use rand_core::CryptoRngCore;
use thiserror::Error;
use zeroize::{Zeroize, ZeroizeOnDrop};

use super::hash::{HashTag, tagged_hash_parts};
use super::keys::{KeyError, PublicKey, SecretKey};

/// An X25519 public key (Montgomery u-coordinate) derived from an
/// identity's ed25519 public key.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, bincode::Encode, bincode::Decode)]
pub struct EncryptionPublicKey(pub [u8; 32]);

impl fmt::Debug for EncryptionPublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "EncryptionPublicKey({})", hex::encode(self.0))
    }
}

/// The X25519 secret (clamped scalar bytes) of an identity key.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct EncryptionSecretKey([u8; 32]);

impl fmt::Debug for EncryptionSecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("EncryptionSecretKey(..)")
    }
}

/// The symmetric key content is encrypted under.
#[derive(Clone, PartialEq, Eq, Zeroize, ZeroizeOnDrop)]
pub struct ContentKey(pub [u8; 32]);

impl fmt::Debug for ContentKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ContentKey(..)")
    }
}

/// A content key sealed to one recipient: the ephemeral X25519 public key
/// and the wrapped key (32 bytes + 16-byte tag).
#[derive(Clone, PartialEq, Eq, Hash, bincode::Encode, bincode::Decode)]
pub struct SealedKey {
    pub ephemeral: [u8; 32],
    pub wrapped: [u8; 48],
}

impl fmt::Debug for SealedKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SealedKey(ephemeral {})", hex::encode(self.ephemeral))
    }
}

/// Encrypted content: a random nonce and the ciphertext with its tag.
#[derive(Clone, PartialEq, Eq, Hash, bincode::Encode, bincode::Decode)]
pub struct Ciphertext {
    pub nonce: [u8; 24],
    pub bytes: Vec<u8>,
}

impl fmt::Debug for Ciphertext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Ciphertext({} bytes)", self.bytes.len())
    }
}

/// Why sealing or opening failed.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum SealError {
    #[error("recipient key: {0}")]
    Recipient(KeyError),
    #[error("the key agreement produced the all-zero point (a small-order key)")]
    LowOrderPoint,
    #[error("the sealed key does not open with this identity key in this context")]
    NotForThisKey,
    #[error(
        "the ciphertext does not decrypt: wrong key, different associated data, or tampered bytes"
    )]
    Decrypt,
    #[error("content of {0} bytes is too large to encrypt")]
    TooLarge(usize),
}

impl SecretKey {
    /// This identity key's X25519 secret.
    pub fn encryption_secret(&self) -> EncryptionSecretKey {
        EncryptionSecretKey(self.dalek().to_scalar_bytes())
    }
}

impl PublicKey {
    /// This identity key's X25519 public key. Refuses exactly the keys
    /// that cannot sign either (not a point, or of small order).
    pub fn encryption_key(&self) -> Result<EncryptionPublicKey, KeyError> {
        let verifying = self.to_verifying_key()?;
        Ok(EncryptionPublicKey(verifying.to_montgomery().to_bytes()))
    }
}

impl EncryptionSecretKey {
    /// The matching public key.
    pub fn public_key(&self) -> EncryptionPublicKey {
        EncryptionPublicKey(MontgomeryPoint::mul_base_clamped(self.0).to_bytes())
    }
}

impl ContentKey {
    /// A fresh random key.
    pub fn random(rng: &mut impl CryptoRngCore) -> ContentKey {
        let mut key = [0u8; 32];
        rng.fill_bytes(&mut key);
        ContentKey(key)
    }
}

/// The key-encryption key of one seal.
fn key_encryption_key(
    ephemeral: &[u8; 32],
    recipient: &EncryptionPublicKey,
    shared: &MontgomeryPoint,
    context: &[u8],
) -> Result<XChaCha20Poly1305, SealError> {
    if shared.as_bytes() == &[0u8; 32] {
        return Err(SealError::LowOrderPoint);
    }
    let mut kek = tagged_hash_parts(
        HashTag::SealedKey,
        &[ephemeral, &recipient.0, shared.as_bytes(), context],
    )
    .0;
    let cipher = XChaCha20Poly1305::new(&kek.into());
    kek.zeroize();
    Ok(cipher)
}

/// Seals `key` to `recipient` in `context`.
pub fn seal_key(
    key: &ContentKey,
    recipient: &EncryptionPublicKey,
    context: &[u8],
    rng: &mut impl CryptoRngCore,
) -> Result<SealedKey, SealError> {
    let mut secret = [0u8; 32];
    rng.fill_bytes(&mut secret);
    let ephemeral = MontgomeryPoint::mul_base_clamped(secret).to_bytes();
    let shared = MontgomeryPoint(recipient.0).mul_clamped(secret);
    secret.zeroize();
    let cipher = key_encryption_key(&ephemeral, recipient, &shared, context)?;
    let wrapped = cipher
        .encrypt(&XNonce::default(), key.0.as_slice())
        .map_err(|_| SealError::TooLarge(key.0.len()))?;
    let wrapped: [u8; 48] = wrapped
        .try_into()
        .map_err(|_| SealError::TooLarge(key.0.len()))?;
    Ok(SealedKey { ephemeral, wrapped })
}

/// Opens a key sealed to `secret`'s public key in `context`.
pub fn open_key(
    sealed: &SealedKey,
    secret: &EncryptionSecretKey,
    context: &[u8],
) -> Result<ContentKey, SealError> {
    let shared = MontgomeryPoint(sealed.ephemeral).mul_clamped(secret.0);
    let cipher = key_encryption_key(&sealed.ephemeral, &secret.public_key(), &shared, context)?;
    let opened = cipher
        .decrypt(&XNonce::default(), sealed.wrapped.as_slice())
        .map_err(|_| SealError::NotForThisKey)?;
    let key: [u8; 32] = opened
        .as_slice()
        .try_into()
        .map_err(|_| SealError::NotForThisKey)?;
    Ok(ContentKey(key))
}

/// Encrypts `plaintext` under `key`, binding `associated` (for example the
/// channel and the author) into the tag.
pub fn encrypt(
    key: &ContentKey,
    associated: &[u8],
    plaintext: &[u8],
    rng: &mut impl CryptoRngCore,
) -> Result<Ciphertext, SealError> {
    let mut nonce = [0u8; 24];
    rng.fill_bytes(&mut nonce);
    let bytes = XChaCha20Poly1305::new(&key.0.into())
        .encrypt(
            XNonce::from_slice(&nonce),
            Payload {
                msg: plaintext,
                aad: associated,
            },
        )
        .map_err(|_| SealError::TooLarge(plaintext.len()))?;
    Ok(Ciphertext { nonce, bytes })
}

/// Decrypts what [`encrypt`] produced with the same key and associated data.
pub fn decrypt(
    key: &ContentKey,
    associated: &[u8],
    ciphertext: &Ciphertext,
) -> Result<Vec<u8>, SealError> {
    XChaCha20Poly1305::new(&key.0.into())
        .decrypt(
            XNonce::from_slice(&ciphertext.nonce),
            Payload {
                msg: &ciphertext.bytes,
                aad: associated,
            },
        )
        .map_err(|_| SealError::Decrypt)
}

#[cfg(test)]
mod tests {
    use rand_core::OsRng;

    use super::*;

    fn identity(seed: u8) -> SecretKey {
        SecretKey::from_seed([seed; 32])
    }

    #[test]
    fn the_converted_public_key_matches_the_converted_secret() {
        for seed in 0..16 {
            let key = identity(seed);
            assert_eq!(
                key.public_key().encryption_key().unwrap(),
                key.encryption_secret().public_key()
            );
        }
    }

    #[test]
    fn a_sealed_key_opens_only_for_its_recipient_and_context() {
        let (alice, bob) = (identity(1), identity(2));
        let key = ContentKey::random(&mut OsRng);
        let to_bob = bob.public_key().encryption_key().unwrap();
        let sealed = seal_key(&key, &to_bob, b"channel 7 epoch 0", &mut OsRng).unwrap();
        assert_eq!(
            open_key(&sealed, &bob.encryption_secret(), b"channel 7 epoch 0").unwrap(),
            key
        );
        assert_eq!(
            open_key(&sealed, &alice.encryption_secret(), b"channel 7 epoch 0"),
            Err(SealError::NotForThisKey)
        );
        assert_eq!(
            open_key(&sealed, &bob.encryption_secret(), b"channel 7 epoch 1"),
            Err(SealError::NotForThisKey)
        );
        let mut tampered = sealed.clone();
        tampered.wrapped[0] ^= 1;
        assert_eq!(
            open_key(&tampered, &bob.encryption_secret(), b"channel 7 epoch 0"),
            Err(SealError::NotForThisKey)
        );
        // Two seals of one key differ (fresh ephemeral keys).
        let again = seal_key(&key, &to_bob, b"channel 7 epoch 0", &mut OsRng).unwrap();
        assert_ne!(again, sealed);
    }

    #[test]
    fn content_decrypts_with_its_key_and_associated_data_only() {
        let key = ContentKey::random(&mut OsRng);
        let ciphertext = encrypt(&key, b"from alice", b"meet at noon", &mut OsRng).unwrap();
        assert!(
            !ciphertext
                .bytes
                .windows(b"meet at noon".len())
                .any(|window| window == b"meet at noon")
        );
        assert_eq!(
            decrypt(&key, b"from alice", &ciphertext).unwrap(),
            b"meet at noon"
        );
        assert_eq!(
            decrypt(&key, b"from mallory", &ciphertext),
            Err(SealError::Decrypt)
        );
        assert_eq!(
            decrypt(&ContentKey::random(&mut OsRng), b"from alice", &ciphertext),
            Err(SealError::Decrypt)
        );
        let mut tampered = ciphertext.clone();
        tampered.bytes[0] ^= 1;
        assert_eq!(
            decrypt(&key, b"from alice", &tampered),
            Err(SealError::Decrypt)
        );
    }

    #[test]
    fn a_small_order_recipient_is_refused() {
        // The identity point has small order: refused as a key, and a raw
        // all-zero Montgomery key gives the zero shared secret.
        let weak = PublicKey({
            let mut bytes = [0u8; 32];
            bytes[0] = 1;
            bytes
        });
        assert!(matches!(weak.encryption_key(), Err(KeyError::WeakKey(_))));
        let zero = EncryptionPublicKey([0; 32]);
        assert_eq!(
            seal_key(&ContentKey([7; 32]), &zero, b"", &mut OsRng),
            Err(SealError::LowOrderPoint)
        );
    }
}
