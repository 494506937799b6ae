//! What gets signed. Every signature in the system signs the 64-byte
//! challenge of a merlin transcript that first commits to the protocol, the
//! purpose and the chain ID, then to the purpose's fields. A signature made
//! for one purpose or one chain therefore never verifies for another.

use std::fmt;

use merlin::Transcript;

use super::hash::{HashTag, tagged_hash};
use crate::types::Hash32;

/// The merlin protocol label shared by every signature of this chain.
pub const PROTOCOL_LABEL: &[u8] = b"blockstake/signature/v1";

/// Identifies one chain (network); committed into every signature.
#[derive(
    Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, bincode::Encode, bincode::Decode,
)]
pub struct ChainId(pub Hash32);

impl ChainId {
    /// The chain ID of a network: `H("blockstake/chain-id/v1" ‖ name)`.
    pub fn for_network(name: &str) -> ChainId {
        ChainId(tagged_hash(HashTag::ChainId, name.as_bytes()))
    }
}

impl fmt::Display for ChainId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

impl fmt::Debug for ChainId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ChainId({})", self.0)
    }
}

/// Why something is signed. Each purpose has its own transcript label.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SigningPurpose {
    /// Spending a coin or blockstake input.
    TransactionInput,
    /// Authorizing a transaction payload (mint or authority fulfillment).
    PayloadAuthorization,
    IdentityStatement,
    NodeReport,
    ChatMessage,
    LoginChallenge,
    /// Writing or deleting a shard on a storage node (owner or repair key).
    StorageWrite,
}

impl SigningPurpose {
    pub const fn label(self) -> &'static [u8] {
        match self {
            SigningPurpose::TransactionInput => b"transaction-input",
            SigningPurpose::PayloadAuthorization => b"payload-authorization",
            SigningPurpose::IdentityStatement => b"identity-statement",
            SigningPurpose::NodeReport => b"node-report",
            SigningPurpose::ChatMessage => b"chat-message",
            SigningPurpose::LoginChallenge => b"login-challenge",
            SigningPurpose::StorageWrite => b"storage-write",
        }
    }
}

/// The 64 bytes an ed25519 key signs.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct SigningMessage([u8; 64]);

impl SigningMessage {
    pub const fn as_bytes(&self) -> &[u8; 64] {
        &self.0
    }
}

impl fmt::Debug for SigningMessage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SigningMessage({})", hex::encode(self.0))
    }
}

/// A transcript under construction: protocol label, purpose, chain ID,
/// then the caller's labelled fields in order.
pub struct SigningTranscript {
    transcript: Transcript,
}

impl SigningTranscript {
    pub fn new(purpose: SigningPurpose, chain_id: &ChainId) -> SigningTranscript {
        let mut transcript = Transcript::new(PROTOCOL_LABEL);
        transcript.append_message(b"purpose", purpose.label());
        transcript.append_message(b"chain-id", chain_id.0.as_bytes());
        SigningTranscript { transcript }
    }

    /// Appends a labelled byte string.
    pub fn append(&mut self, label: &'static [u8], bytes: &[u8]) {
        self.transcript.append_message(label, bytes);
    }

    /// Appends a labelled integer as 8 little-endian bytes.
    pub fn append_u64(&mut self, label: &'static [u8], value: u64) {
        self.transcript.append_u64(label, value);
    }

    /// The message to sign: `challenge_bytes("sig", 64)`.
    pub fn challenge(mut self) -> SigningMessage {
        let mut bytes = [0u8; 64];
        self.transcript.challenge_bytes(b"sig", &mut bytes);
        SigningMessage(bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn challenge(purpose: SigningPurpose, network: &str, field: &[u8]) -> SigningMessage {
        let mut transcript = SigningTranscript::new(purpose, &ChainId::for_network(network));
        transcript.append(b"field", field);
        transcript.challenge()
    }

    #[test]
    fn purpose_chain_and_fields_all_change_the_message() {
        let base = challenge(SigningPurpose::ChatMessage, "devnet", b"hi");
        assert_eq!(
            base,
            challenge(SigningPurpose::ChatMessage, "devnet", b"hi")
        );
        assert_ne!(
            base,
            challenge(SigningPurpose::LoginChallenge, "devnet", b"hi")
        );
        assert_ne!(
            base,
            challenge(SigningPurpose::ChatMessage, "testnet", b"hi")
        );
        assert_ne!(
            base,
            challenge(SigningPurpose::ChatMessage, "devnet", b"ho")
        );
    }

    #[test]
    fn purpose_labels_are_distinct() {
        let all = [
            SigningPurpose::TransactionInput,
            SigningPurpose::PayloadAuthorization,
            SigningPurpose::IdentityStatement,
            SigningPurpose::NodeReport,
            SigningPurpose::ChatMessage,
            SigningPurpose::LoginChallenge,
        ];
        for a in all {
            for b in all {
                assert_eq!(a == b, a.label() == b.label());
            }
        }
    }
}
