//! Verifying many signatures at once. Callers push (message, key,
//! signature) triples tagged with where they came from; [`SignatureBatch::
//! verify`] checks them in one ed25519 batch and, only when the batch
//! fails, one by one to name the culprit.

use ed25519_dalek::VerifyingKey;
use thiserror::Error;

use super::keys::{KeyError, PublicKey, Signature};
use super::transcript::SigningMessage;

/// A failed signature, named by the origin the caller gave it.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum SignatureError {
    #[error("{origin}: {source}")]
    UnusableKey { origin: String, source: KeyError },
    #[error("{origin}: signature by {public_key} does not verify")]
    Invalid {
        origin: String,
        public_key: PublicKey,
    },
    #[error("a batch of {count} signatures fails the batch equation although each verifies alone")]
    BatchOnly { count: usize },
}

/// Signatures waiting to be verified together.
#[derive(Default)]
pub struct SignatureBatch {
    messages: Vec<SigningMessage>,
    signatures: Vec<ed25519_dalek::Signature>,
    keys: Vec<VerifyingKey>,
    public_keys: Vec<PublicKey>,
    origins: Vec<String>,
}

impl SignatureBatch {
    pub fn new() -> SignatureBatch {
        SignatureBatch::default()
    }

    pub fn len(&self) -> usize {
        self.messages.len()
    }

    pub fn is_empty(&self) -> bool {
        self.messages.is_empty()
    }

    /// Queues one signature. Fails at once if the key is unusable.
    /// `origin` describes the signature in error messages, e.g.
    /// "transaction 3 coin input 0".
    pub fn push(
        &mut self,
        origin: impl Into<String>,
        message: SigningMessage,
        public_key: PublicKey,
        signature: Signature,
    ) -> Result<(), SignatureError> {
        let origin = origin.into();
        let key = match public_key.to_verifying_key() {
            Ok(key) => key,
            Err(source) => return Err(SignatureError::UnusableKey { origin, source }),
        };
        self.messages.push(message);
        self.signatures.push(signature.to_dalek());
        self.keys.push(key);
        self.public_keys.push(public_key);
        self.origins.push(origin);
        Ok(())
    }

    /// Verifies every queued signature in one batch. On failure, checks
    /// them one by one and reports the first that does not verify.
    pub fn verify(self) -> Result<(), SignatureError> {
        if self.is_empty() {
            return Ok(());
        }
        let messages: Vec<&[u8]> = self.messages.iter().map(|m| &m.as_bytes()[..]).collect();
        if ed25519_dalek::verify_batch(&messages, &self.signatures, &self.keys).is_ok() {
            return Ok(());
        }
        self.verify_each()?;
        // The batch equation failed yet every signature verifies alone:
        // only possible with deliberately malformed signatures; refuse.
        Err(SignatureError::BatchOnly {
            count: self.messages.len(),
        })
    }

    /// Verifies every queued signature individually (strict ed25519).
    pub fn verify_each(&self) -> Result<(), SignatureError> {
        for index in 0..self.messages.len() {
            if self.keys[index]
                .verify_strict(self.messages[index].as_bytes(), &self.signatures[index])
                .is_err()
            {
                return Err(SignatureError::Invalid {
                    origin: self.origins[index].clone(),
                    public_key: self.public_keys[index],
                });
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::{ChainId, SecretKey, SigningPurpose, SigningTranscript};

    fn message(index: u64) -> SigningMessage {
        let mut transcript =
            SigningTranscript::new(SigningPurpose::NodeReport, &ChainId::for_network("test"));
        transcript.append_u64(b"index", index);
        transcript.challenge()
    }

    fn batch_of(count: u64, corrupt: Option<u64>) -> SignatureBatch {
        let mut batch = SignatureBatch::new();
        for index in 0..count {
            let key = SecretKey::from_seed([index as u8 + 1; 32]);
            let signed = if corrupt == Some(index) {
                message(index + 1000)
            } else {
                message(index)
            };
            batch
                .push(
                    format!("item {index}"),
                    message(index),
                    key.public_key(),
                    key.sign(&signed),
                )
                .unwrap();
        }
        batch
    }

    #[test]
    fn good_batch_verifies() {
        assert_eq!(batch_of(16, None).verify(), Ok(()));
        assert_eq!(SignatureBatch::new().verify(), Ok(()));
    }

    #[test]
    fn bad_signature_is_named() {
        let key = SecretKey::from_seed([6; 32]).public_key();
        assert_eq!(
            batch_of(16, Some(5)).verify(),
            Err(SignatureError::Invalid {
                origin: "item 5".into(),
                public_key: key
            })
        );
    }

    #[test]
    fn unusable_key_is_refused_on_push() {
        let mut identity = [0u8; 32];
        identity[0] = 1;
        let error = SignatureBatch::new()
            .push(
                "input 0",
                message(0),
                PublicKey(identity),
                Signature::default(),
            )
            .unwrap_err();
        assert!(error.to_string().starts_with("input 0: public key"));
    }
}
