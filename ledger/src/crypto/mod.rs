//! Hashing and signatures: BLAKE2b-256 with a domain tag per kind of
//! digest ([`hash`]), ed25519 keys ([`keys`]), signed messages built from
//! purpose-labelled merlin transcripts ([`transcript`]) and batch
//! verification ([`batch`]).

pub mod batch;
pub mod hash;
pub mod keys;
pub mod transcript;

pub use batch::{SignatureBatch, SignatureError};
pub use hash::{HashTag, tagged_hash, tagged_hash_parts};
pub use keys::{KeyError, PublicKey, SecretKey, Signature};
pub use transcript::{ChainId, SigningMessage, SigningPurpose, SigningTranscript};
