//! Hashing and signatures: BLAKE2b-256 with a domain tag per kind of
//! digest ([`hash`]), ed25519 keys ([`keys`]), signed messages built from
//! purpose-labelled merlin transcripts ([`transcript`]), login challenges
//! signed through the login purpose ([`login`]), the consensus
//! verification rule ([`verify`]: cofactored, ZIP 215 decoding) and batch
//! verification under that same rule ([`batch`]), and end-to-end
//! encryption to identity keys for private content ([`sealing`]).

pub mod batch;
pub mod hash;
pub mod keys;
pub mod login;
pub mod sealing;
pub mod transcript;
pub mod verify;

pub use batch::{SignatureBatch, SignatureError};
pub use hash::{HashTag, tagged_hash, tagged_hash_parts};
pub use keys::{KeyError, PublicKey, SecretKey, Signature};
pub use login::{LoginChallenge, LoginError};
pub use transcript::{ChainId, SigningMessage, SigningPurpose, SigningTranscript};
pub use verify::{VerifyError, decode_public_key, verify_signature};
