//! Login challenges: what an identity key signs to prove, to an API, that
//! its holder is present (`docs/identity.md`, "Login").
//!
//! The API issues a [`LoginChallenge`] (its origin, a random nonce, when it
//! was issued and when it expires, and optionally the identity name or the
//! key expected to answer); the client signs [`LoginChallenge::signing_message`]
//! with its identity key. The message is a
//! [`SigningPurpose::LoginChallenge`] transcript over the chain ID and every
//! field of the challenge plus the answering key, so a login signature is
//! never valid as a transaction, identity statement or chat signature, nor
//! for another chain, another API origin or another challenge.
//!
//! The challenge travels as text: `hex(canonical bytes) "." hex(tag)`. The
//! tag is the issuer's own (a MAC under a server secret, so that several
//! stateless API replicas accept each other's challenges); clients ignore
//! it and read the fields with [`LoginChallenge::from_text`]. Wallet and API
//! share this module, so they cannot disagree on the bytes.

use thiserror::Error;

use super::keys::{PublicKey, SecretKey, Signature};
use super::transcript::{ChainId, SigningMessage, SigningPurpose, SigningTranscript};
use super::verify::{VerifyError, verify_signature};
use crate::codec;

/// Longest origin a challenge may name (`https://host:port`).
pub const MAX_ORIGIN_LENGTH: usize = 256;
/// Longest identity name a challenge may name.
pub const MAX_IDENTITY_LENGTH: usize = 128;
/// Longest challenge text accepted (fields and tag, in hex).
pub const MAX_CHALLENGE_TEXT: usize = 2 * 1024;

/// A login challenge as the API issued it.
#[derive(Debug, Clone, PartialEq, Eq, bincode::Encode, bincode::Decode)]
pub struct LoginChallenge {
    /// The API's public origin (`scheme://host[:port]`); a challenge signed
    /// for one API is refused by another.
    pub origin: String,
    /// 32 random bytes from the issuer.
    pub nonce: [u8; 32],
    /// Unix seconds when it was issued.
    pub issued_at: u64,
    /// Unix seconds after which it is refused.
    pub expires_at: u64,
    /// The identity the client said it logs in as, if it said one.
    pub identity: Option<String>,
    /// The key the client said will answer, if it said one.
    pub public_key: Option<PublicKey>,
}

/// Why a challenge or its answer is refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum LoginError {
    #[error("the login challenge is not `hex(fields).hex(tag)`: {0}")]
    Malformed(String),
    #[error("the login challenge is for origin {found:?}, not {expected:?}")]
    WrongOrigin { found: String, expected: String },
    #[error("the login challenge expired at {expires_at} (now {now})")]
    Expired { expires_at: u64, now: u64 },
    #[error("the login challenge was issued for key {expected}, answered by {found}")]
    WrongKey {
        expected: PublicKey,
        found: PublicKey,
    },
    #[error("the login signature does not verify: {0}")]
    BadSignature(#[from] VerifyError),
}

impl LoginChallenge {
    /// The message the answering key signs.
    pub fn signing_message(&self, chain_id: &ChainId, signer: &PublicKey) -> SigningMessage {
        let mut transcript = SigningTranscript::new(SigningPurpose::LoginChallenge, chain_id);
        transcript.append(b"origin", self.origin.as_bytes());
        transcript.append(b"nonce", &self.nonce);
        transcript.append_u64(b"issued-at", self.issued_at);
        transcript.append_u64(b"expires-at", self.expires_at);
        transcript.append(
            b"identity",
            self.identity.as_deref().unwrap_or_default().as_bytes(),
        );
        transcript.append(
            b"expected-key",
            self.public_key.as_ref().map_or(&[][..], |key| &key.0[..]),
        );
        transcript.append(b"signer", &signer.0);
        transcript.challenge()
    }

    /// Signs the challenge with `key` (the client's side).
    pub fn sign(&self, chain_id: &ChainId, key: &SecretKey) -> Signature {
        key.sign(&self.signing_message(chain_id, &key.public_key()))
    }

    /// Checks an answer (the issuer's side, after it checked its own tag):
    /// the origin is `origin`, the challenge has not expired at `now`, the
    /// signer is the expected key if one was named, and the signature
    /// verifies under the consensus rule.
    pub fn verify_answer(
        &self,
        chain_id: &ChainId,
        origin: &str,
        now: u64,
        signer: &PublicKey,
        signature: &Signature,
    ) -> Result<(), LoginError> {
        if self.origin != origin {
            return Err(LoginError::WrongOrigin {
                found: self.origin.clone(),
                expected: origin.to_owned(),
            });
        }
        if now > self.expires_at {
            return Err(LoginError::Expired {
                expires_at: self.expires_at,
                now,
            });
        }
        if let Some(expected) = self.public_key
            && expected != *signer
        {
            return Err(LoginError::WrongKey {
                expected,
                found: *signer,
            });
        }
        let message = self.signing_message(chain_id, signer);
        verify_signature(signer, message.as_bytes(), signature)?;
        Ok(())
    }

    /// The canonical bytes of the fields (what an issuer's tag covers).
    pub fn encode(&self) -> Vec<u8> {
        codec::encode(self)
    }

    /// The challenge text: `hex(fields) "." hex(tag)`.
    pub fn to_text(&self, tag: &[u8]) -> String {
        format!("{}.{}", hex::encode(self.encode()), hex::encode(tag))
    }

    /// Splits a challenge text into its fields and the issuer's tag,
    /// refusing anything oversized, non-canonical or out of bounds.
    pub fn from_text(text: &str) -> Result<(LoginChallenge, Vec<u8>), LoginError> {
        let text = text.trim();
        if text.len() > MAX_CHALLENGE_TEXT {
            return Err(LoginError::Malformed(format!(
                "{} characters, at most {MAX_CHALLENGE_TEXT}",
                text.len()
            )));
        }
        let (fields, tag) = text
            .split_once('.')
            .ok_or_else(|| LoginError::Malformed("no `.` between fields and tag".into()))?;
        let fields = hex::decode(fields)
            .map_err(|error| LoginError::Malformed(format!("fields: {error}")))?;
        let tag =
            hex::decode(tag).map_err(|error| LoginError::Malformed(format!("tag: {error}")))?;
        let challenge: LoginChallenge = codec::decode_with_limit(&fields, MAX_CHALLENGE_TEXT)
            .map_err(|error| LoginError::Malformed(error.to_string()))?;
        if challenge.origin.len() > MAX_ORIGIN_LENGTH
            || challenge
                .identity
                .as_ref()
                .is_some_and(|name| name.len() > MAX_IDENTITY_LENGTH)
        {
            return Err(LoginError::Malformed(
                "origin or identity name too long".into(),
            ));
        }
        Ok((challenge, tag))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn challenge() -> LoginChallenge {
        LoginChallenge {
            origin: "http://127.0.0.1:8080".into(),
            nonce: [9; 32],
            issued_at: 1_000,
            expires_at: 1_300,
            identity: Some("alice".into()),
            public_key: None,
        }
    }

    #[test]
    fn an_answer_verifies_only_for_its_chain_origin_time_and_key() {
        let chain = ChainId::for_network("devnet");
        let key = SecretKey::from_seed([4; 32]);
        let signer = key.public_key();
        let original = challenge();
        let signature = original.sign(&chain, &key);
        let origin = original.origin.clone();
        assert_eq!(
            original.verify_answer(&chain, &origin, 1_100, &signer, &signature),
            Ok(())
        );
        assert!(matches!(
            original.verify_answer(&chain, "http://other", 1_100, &signer, &signature),
            Err(LoginError::WrongOrigin { .. })
        ));
        assert!(matches!(
            original.verify_answer(&chain, &origin, 1_301, &signer, &signature),
            Err(LoginError::Expired { .. })
        ));
        let testnet = ChainId::for_network("testnet");
        assert!(matches!(
            original.verify_answer(&testnet, &origin, 1_100, &signer, &signature),
            Err(LoginError::BadSignature(_))
        ));
        let other = SecretKey::from_seed([5; 32]).public_key();
        assert!(matches!(
            original.verify_answer(&chain, &origin, 1_100, &other, &signature),
            Err(LoginError::BadSignature(_))
        ));
        let mut altered = original.clone();
        altered.nonce[0] ^= 1;
        assert!(
            altered
                .verify_answer(&chain, &origin, 1_100, &signer, &signature)
                .is_err()
        );
        let mut for_key = original.clone();
        for_key.public_key = Some(other);
        assert!(matches!(
            for_key.verify_answer(&chain, &origin, 1_100, &signer, &for_key.sign(&chain, &key)),
            Err(LoginError::WrongKey { .. })
        ));
    }

    #[test]
    fn the_login_purpose_separates_it_from_other_signatures() {
        let chain = ChainId::for_network("devnet");
        let key = SecretKey::from_seed([4; 32]);
        let message = challenge().signing_message(&chain, &key.public_key());
        let mut other = SigningTranscript::new(SigningPurpose::IdentityStatement, &chain);
        other.append(b"origin", challenge().origin.as_bytes());
        assert_ne!(message, other.challenge());
    }

    #[test]
    fn text_round_trips_and_refuses_garbage() {
        let original = challenge();
        let text = original.to_text(&[1, 2, 3]);
        assert_eq!(
            LoginChallenge::from_text(&text),
            Ok((original, vec![1, 2, 3]))
        );
        for bad in ["", "zz.00", "00", "00.zz", &"a".repeat(5_000)] {
            assert!(
                matches!(
                    LoginChallenge::from_text(bad),
                    Err(LoginError::Malformed(_))
                ),
                "{bad:?}"
            );
        }
        // Trailing bytes after the fields are not canonical.
        let (fields, tag) = text.split_once('.').unwrap_or_default();
        assert!(LoginChallenge::from_text(&format!("{fields}00.{tag}")).is_err());
    }
}
