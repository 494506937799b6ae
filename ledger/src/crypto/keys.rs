//! ed25519 keys and signatures as consensus values. Public keys and
//! signatures are stored as raw bytes (so any 32/64 bytes decode); whether
//! they are usable is checked when standardness is checked or a signature
//! is verified, under the consensus rule of [`super::verify`].

use std::fmt;

use ed25519_dalek::{Signer, SigningKey, VerifyingKey};
use thiserror::Error;

use super::transcript::SigningMessage;
use super::verify::{decode_public_key, verify_signature};

/// An ed25519 public key (compressed Edwards point, 32 bytes).
#[derive(
    Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, bincode::Encode, bincode::Decode,
)]
pub struct PublicKey(pub [u8; 32]);

/// An ed25519 signature (R ‖ s, 64 bytes).
#[derive(Clone, Copy, PartialEq, Eq, Hash, bincode::Encode, bincode::Decode)]
pub struct Signature(pub [u8; 64]);

/// Why a public key cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum KeyError {
    #[error("public key {0} is not a valid ed25519 point")]
    InvalidPoint(PublicKey),
    #[error("public key {0} has small order (a weak key anyone can sign for)")]
    WeakKey(PublicKey),
}

impl PublicKey {
    /// Checks that the key is usable under the consensus rule: a point
    /// that is not of small order ([`super::verify::decode_public_key`]).
    pub fn check_usable(&self) -> Result<(), KeyError> {
        decode_public_key(self).map(|_| ())
    }

    /// The key as an ed25519-dalek verifying key, refusing exactly the keys
    /// [`PublicKey::check_usable`] refuses. For tools and baselines only:
    /// consensus verification is [`super::verify::verify_signature`], not
    /// dalek's `verify`/`verify_strict`.
    pub fn to_verifying_key(&self) -> Result<VerifyingKey, KeyError> {
        self.check_usable()?;
        VerifyingKey::from_bytes(&self.0).map_err(|_| KeyError::InvalidPoint(*self))
    }

    /// Verifies one signature over a signing message under the consensus
    /// rule (cofactored, ZIP 215 decoding; see [`super::verify`]).
    pub fn verify(&self, message: &SigningMessage, signature: &Signature) -> bool {
        verify_signature(self, message.as_bytes(), signature).is_ok()
    }
}

impl Signature {
    pub fn to_dalek(&self) -> ed25519_dalek::Signature {
        ed25519_dalek::Signature::from_bytes(&self.0)
    }
}

impl Default for Signature {
    fn default() -> Self {
        Signature([0; 64])
    }
}

impl fmt::Display for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ed25519:{}", hex::encode(self.0))
    }
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PublicKey({})", hex::encode(self.0))
    }
}

impl fmt::Debug for Signature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Signature({})", hex::encode(self.0))
    }
}

/// An ed25519 secret key. Never encoded on the consensus path; wallets
/// derive these from their seed.
#[derive(Clone)]
pub struct SecretKey(SigningKey);

impl SecretKey {
    /// The key for a 32-byte RFC 8032 seed.
    pub fn from_seed(seed: [u8; 32]) -> SecretKey {
        SecretKey(SigningKey::from_bytes(&seed))
    }

    pub fn public_key(&self) -> PublicKey {
        PublicKey(self.0.verifying_key().to_bytes())
    }

    /// Signs a transcript challenge (see [`super::SigningTranscript`]).
    pub fn sign(&self, message: &SigningMessage) -> Signature {
        Signature(self.0.sign(message.as_bytes()).to_bytes())
    }

    /// The dalek key, for conversions inside the crypto module.
    pub(super) fn dalek(&self) -> &SigningKey {
        &self.0
    }
}

impl fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SecretKey({})", self.public_key())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::{ChainId, SigningPurpose, SigningTranscript};

    fn message(byte: u8) -> SigningMessage {
        let mut transcript =
            SigningTranscript::new(SigningPurpose::ChatMessage, &ChainId::for_network("test"));
        transcript.append(b"body", &[byte]);
        transcript.challenge()
    }

    #[test]
    fn sign_and_verify() {
        let key = SecretKey::from_seed([7; 32]);
        let signature = key.sign(&message(1));
        assert!(key.public_key().verify(&message(1), &signature));
        assert!(!key.public_key().verify(&message(2), &signature));
        let other = SecretKey::from_seed([8; 32]).public_key();
        assert!(!other.verify(&message(1), &signature));
    }

    #[test]
    fn rejects_invalid_and_weak_keys() {
        // The identity point (0x01 ‖ 0…) has order 1.
        let mut identity = [0u8; 32];
        identity[0] = 1;
        assert_eq!(
            PublicKey(identity).to_verifying_key(),
            Err(KeyError::WeakKey(PublicKey(identity)))
        );
        // y = 2 is not on the curve.
        let mut off_curve = [0u8; 32];
        off_curve[0] = 2;
        assert_eq!(
            PublicKey(off_curve).to_verifying_key(),
            Err(KeyError::InvalidPoint(PublicKey(off_curve)))
        );
        assert!(!PublicKey(identity).verify(&message(1), &Signature::default()));
    }
}
