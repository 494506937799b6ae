//! Zero storage's client library, shared by the wallet (`stor put|get`),
//! the stor-node service and the repair service:
//!
//! * [`keys`]: object keys derived from the owner's storage key, key
//!   fingerprints, object IDs that commit to the owner's key, keyed content
//!   hashes, shard checksums (BLAKE2b-256 throughout);
//! * [`codec`]: the streaming pipeline — chunking, optional zstd,
//!   XChaCha20-Poly1305 per chunk, Reed–Solomon `k + m`, framed pieces with
//!   per-piece checksums — and its inverse, plus single-shard verification
//!   and key-less shard rebuilding for repair;
//! * [`auth`]: signed shard writes and deletes (`storage-write`
//!   transcript), checked by stor-nodes;
//! * [`transfer`]: whole objects to and from stor-nodes over HTTP,
//!   streaming, with lazy spare shards and key-less rebuilds.
//!
//! Placement (which node holds which shard) is
//! `chain::domains::storage::placement`. docs/storage.md describes the
//! formats.

pub mod auth;
pub mod codec;
pub mod keys;
pub mod transfer;

pub use auth::{AuthError, ShardOperation, WriteAuthorization, WriteRequest};
pub use codec::{
    CodecError, CodecParams, Compression, DecodeSummary, EncodeSummary, Encoder, ObjectExpectation,
    ShardFault, decode_stream, encode_stream, rebuild_shards, verify_shard,
};
pub use keys::{ObjectKey, Salt, ShardHasher, StorageKey, object_id};
pub use transfer::{NodeClient, ObjectRecord, PutRequest, TransferError, get_object, put_object};
