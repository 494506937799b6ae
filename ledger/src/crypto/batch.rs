//! Verifying many signatures at once under the consensus rule of
//! [`super::verify`]. Callers push (message, key, signature) triples tagged
//! with where they came from; [`SignatureBatch::verify`] checks them with
//! one cofactored batch equation and, only when it fails, one by one to
//! name the culprit. Because the rule is cofactored, the batch accepts
//! exactly when every single check accepts (up to a 2⁻¹²⁸ chance of a
//! wrong accept), so the outcome does not depend on the random
//! coefficients and is the same on every node.

use std::collections::HashMap;

use curve25519_dalek::edwards::EdwardsPoint;
use thiserror::Error;

use super::keys::{KeyError, PublicKey, Signature};
use super::transcript::SigningMessage;
use super::verify::{Prepared, batch_equation_holds, decode_public_key, equation_holds, prepare};

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
}

/// Signatures waiting to be verified together.
#[derive(Default)]
pub struct SignatureBatch {
    messages: Vec<SigningMessage>,
    signatures: Vec<Signature>,
    /// Index into `points` of each signature's key.
    key_indices: Vec<usize>,
    public_keys: Vec<PublicKey>,
    origins: Vec<String>,
    /// Distinct decoded keys, in order of first appearance.
    points: Vec<EdwardsPoint>,
    point_index: HashMap<PublicKey, usize>,
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

    /// Queues one signature. Fails at once if the key is unusable (not a
    /// point, or of small order; see [`super::verify`]).
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
        let key_index = match self.point_index.get(&public_key) {
            Some(index) => *index,
            None => match decode_public_key(&public_key) {
                Ok(point) => {
                    self.points.push(point);
                    self.point_index.insert(public_key, self.points.len() - 1);
                    self.points.len() - 1
                }
                Err(source) => return Err(SignatureError::UnusableKey { origin, source }),
            },
        };
        self.messages.push(message);
        self.signatures.push(signature);
        self.key_indices.push(key_index);
        self.public_keys.push(public_key);
        self.origins.push(origin);
        Ok(())
    }

    /// Verifies every queued signature with one batch equation. On
    /// failure, checks them one by one and reports the first that does not
    /// verify.
    pub fn verify(self) -> Result<(), SignatureError> {
        if self.is_empty() {
            return Ok(());
        }
        let mut items = Vec::with_capacity(self.len());
        for index in 0..self.len() {
            match self.prepare(index) {
                Some(prepared) => items.push((self.key_indices[index], prepared)),
                // An undecodable R or s: the one-by-one pass names it.
                None => return self.verify_each(),
            }
        }
        if batch_equation_holds(&self.points, &items) {
            return Ok(());
        }
        // Some signature fails its single check (a batch of signatures that
        // each verify always satisfies the cofactored batch equation), and
        // the one-by-one pass names the first such.
        self.verify_each()
    }

    /// Verifies every queued signature individually, reporting the first
    /// that does not verify.
    pub fn verify_each(&self) -> Result<(), SignatureError> {
        for index in 0..self.len() {
            let valid = self.prepare(index).is_some_and(|prepared| {
                equation_holds(&self.points[self.key_indices[index]], &prepared)
            });
            if !valid {
                return Err(SignatureError::Invalid {
                    origin: self.origins[index].clone(),
                    public_key: self.public_keys[index],
                });
            }
        }
        Ok(())
    }

    fn prepare(&self, index: usize) -> Option<Prepared> {
        prepare(
            &self.public_keys[index],
            self.messages[index].as_bytes(),
            &self.signatures[index],
        )
        .ok()
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
