//! Keys and IDs of stored objects, all BLAKE2b-256 under their own tags:
//!
//! * [`StorageKey`]: the owner's 32-byte storage secret (the wallet
//!   derives it from its seed; docs/wallet.md).
//! * [`ObjectKey`]: one object's encryption key,
//!   `H("blockstake/storage/object-key/v1" ‖ storage key ‖ salt)`; a fresh
//!   random 16-byte salt per object, so no two objects share a key.
//! * [`ObjectKey::fingerprint`]: `H("blockstake/storage/key-fingerprint/v1"
//!   ‖ object key)`, registered on chain so a reader can tell a wrong key
//!   from corrupt data without revealing the key.
//! * [`object_id`]: `H("blockstake/storage/object-id/v1" ‖ owner key ‖
//!   salt)`. The ID commits to the owner's public key, so a stor-node can
//!   check a write is signed by the object's owner without asking the chain.
//! * [`ContentHasher`]: `H("blockstake/storage/content/v1" ‖ object key ‖
//!   plaintext)`, keyed so the chain does not reveal which public file an
//!   object holds.

use blake2::digest::consts::U32;
use blake2::{Blake2b, Digest};
use ledger::payload::storage::ObjectId;
use ledger::{Hash32, PublicKey};

pub(crate) type Blake2b256 = Blake2b<U32>;

const OBJECT_KEY_TAG: &[u8] = b"blockstake/storage/object-key/v1";
const FINGERPRINT_TAG: &[u8] = b"blockstake/storage/key-fingerprint/v1";
const CONTENT_TAG: &[u8] = b"blockstake/storage/content/v1";
const SHARD_TAG: &[u8] = b"blockstake/storage/shard/v1";
const PIECE_TAG: &[u8] = b"blockstake/storage/piece/v1";

/// Random bytes chosen per object: they make its key and ID unique.
pub type Salt = [u8; 16];

/// The owner's storage secret. Never leaves the owner's machine.
#[derive(Clone)]
pub struct StorageKey(pub [u8; 32]);

impl std::fmt::Debug for StorageKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("StorageKey(…)")
    }
}

/// The key one object's chunks are encrypted under.
#[derive(Clone)]
pub struct ObjectKey(pub(crate) [u8; 32]);

impl std::fmt::Debug for ObjectKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ObjectKey(fingerprint {})", self.fingerprint().short())
    }
}

fn hash(parts: &[&[u8]]) -> Hash32 {
    let mut hasher = Blake2b256::new();
    for part in parts {
        hasher.update(part);
    }
    Hash32(hasher.finalize().into())
}

impl StorageKey {
    /// The key of the object with `salt`.
    pub fn object_key(&self, salt: &Salt) -> ObjectKey {
        ObjectKey(hash(&[OBJECT_KEY_TAG, &self.0, salt]).0)
    }
}

impl ObjectKey {
    pub fn fingerprint(&self) -> Hash32 {
        hash(&[FINGERPRINT_TAG, &self.0])
    }
}

/// The ID of the object `owner` stores with `salt` (the chain's rule,
/// [`ObjectId::derive`]).
pub fn object_id(owner: &PublicKey, salt: &Salt) -> ObjectId {
    ObjectId::derive(owner, salt)
}

/// The keyed hash of an object's plaintext, fed as it streams.
pub struct ContentHasher(Blake2b256);

impl ContentHasher {
    pub fn new(key: &ObjectKey) -> ContentHasher {
        let mut hasher = Blake2b256::new();
        hasher.update(CONTENT_TAG);
        hasher.update(key.0);
        ContentHasher(hasher)
    }

    pub fn update(&mut self, bytes: &[u8]) {
        self.0.update(bytes);
    }

    pub fn finish(self) -> Hash32 {
        Hash32(self.0.finalize().into())
    }
}

/// The checksum of a whole shard file, fed as it streams (stor-node and
/// clients compute the same).
#[derive(Clone)]
pub struct ShardHasher(Blake2b256);

impl Default for ShardHasher {
    fn default() -> Self {
        ShardHasher::new()
    }
}

impl ShardHasher {
    pub fn new() -> ShardHasher {
        let mut hasher = Blake2b256::new();
        hasher.update(SHARD_TAG);
        ShardHasher(hasher)
    }

    pub fn update(&mut self, bytes: &[u8]) {
        self.0.update(bytes);
    }

    pub fn finish(self) -> Hash32 {
        Hash32(self.0.finalize().into())
    }
}

/// The checksum of one framed piece: its header fields and bytes.
pub(crate) fn piece_checksum(header: &[u8], bytes: &[u8]) -> Hash32 {
    hash(&[PIECE_TAG, header, bytes])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_and_ids_differ_per_salt_and_owner() {
        let storage = StorageKey([7; 32]);
        let a = storage.object_key(&[1; 16]);
        let b = storage.object_key(&[2; 16]);
        assert_ne!(a.0, b.0);
        assert_ne!(a.fingerprint(), b.fingerprint());
        assert_ne!(a.fingerprint().0, a.0);
        let owner = PublicKey([3; 32]);
        let other = PublicKey([4; 32]);
        assert_ne!(object_id(&owner, &[1; 16]), object_id(&owner, &[2; 16]));
        assert_ne!(object_id(&owner, &[1; 16]), object_id(&other, &[1; 16]));
        let mut one = ContentHasher::new(&a);
        one.update(b"hello ");
        one.update(b"world");
        let mut whole = ContentHasher::new(&a);
        whole.update(b"hello world");
        let mut other_key = ContentHasher::new(&b);
        other_key.update(b"hello world");
        let digest = one.finish();
        assert_eq!(digest, whole.finish());
        assert_ne!(digest, other_key.finish());
    }
}
