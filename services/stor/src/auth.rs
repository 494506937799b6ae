//! Signed shard writes and deletes: who may change what a stor-node holds.
//!
//! A [`WriteAuthorization`] names the operation, the object, the shard
//! index, the exact length and checksum of the bytes to store (zero for a
//! delete), an expiry time, the object's owner key and salt, and the
//! signer. Its signature is over a `storage-write` transcript
//! ([`SigningPurpose::StorageWrite`]) with the chain ID, so it is valid on
//! one network only and for nothing else.
//!
//! A stor-node accepts it when the signature verifies, it has not expired
//! (and does not expire more than [`MAX_VALIDITY_SECS`] ahead), the object
//! ID is `object_id(owner, salt)` — so the ID itself names the owner's key
//! — and the signer is the owner or one of the repair keys the node trusts
//! (repair moves shards of objects it does not own).
//!
//! On the wire it is one header, [`HEADER`], holding the hex of
//! [`WriteAuthorization::to_bytes`].

use ledger::crypto::{SigningMessage, SigningPurpose, SigningTranscript};
use ledger::payload::storage::ObjectId;
use ledger::{ChainId, Hash32, PublicKey, SecretKey, Signature};
use thiserror::Error;

use crate::keys::{Salt, object_id};

/// The HTTP header carrying an authorization.
pub const HEADER: &str = "x-bsc-storage-authorization";
/// How far ahead an authorization may expire.
pub const MAX_VALIDITY_SECS: u64 = 3600;
const ENCODED_BYTES: usize = 1 + 32 + 1 + 8 + 32 + 8 + 32 + 32 + 16 + 64;

/// What a write authorization allows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ShardOperation {
    Put,
    Delete,
}

impl ShardOperation {
    fn code(self) -> u8 {
        match self {
            ShardOperation::Put => 1,
            ShardOperation::Delete => 2,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            ShardOperation::Put => "put",
            ShardOperation::Delete => "delete",
        }
    }
}

/// The signed fields (everything but the signature).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WriteRequest {
    pub operation: ShardOperation,
    pub object: ObjectId,
    pub shard: u8,
    /// Bytes of the shard file (0 for a delete).
    pub length: u64,
    /// Whole-shard checksum (zero for a delete).
    pub checksum: Hash32,
    /// Unix seconds after which the authorization is refused.
    pub expires_at: u64,
    pub owner: PublicKey,
    pub salt: Salt,
    pub signer: PublicKey,
}

/// A signed [`WriteRequest`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WriteAuthorization {
    pub request: WriteRequest,
    pub signature: Signature,
}

/// Why a stor-node refuses a write or delete.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum AuthError {
    #[error("missing {HEADER} header")]
    Missing,
    #[error("the {HEADER} header is not {expected} hex bytes")]
    Malformed { expected: usize },
    #[error("unknown operation code {0}")]
    Operation(u8),
    #[error("the authorization is for {signed}, the request is {requested}")]
    WrongTarget { signed: String, requested: String },
    #[error("the signature does not verify for signer {signer}")]
    BadSignature { signer: String },
    #[error("object {object} is not the ID of owner {owner} with the given salt")]
    NotOwnersObject { object: ObjectId, owner: String },
    #[error("signer {signer} is neither the object's owner nor a trusted repair key")]
    NotAllowed { signer: String },
    #[error("the authorization expired at {expires_at} (now {now})")]
    Expired { expires_at: u64, now: u64 },
    #[error(
        "the authorization expires at {expires_at}, more than {MAX_VALIDITY_SECS} s after now ({now})"
    )]
    TooLong { expires_at: u64, now: u64 },
}

impl WriteRequest {
    pub fn signing_message(&self, chain_id: &ChainId) -> SigningMessage {
        let mut transcript = SigningTranscript::new(SigningPurpose::StorageWrite, chain_id);
        transcript.append(b"operation", self.operation.name().as_bytes());
        transcript.append(b"object", self.object.0.as_bytes());
        transcript.append_u64(b"shard", u64::from(self.shard));
        transcript.append_u64(b"length", self.length);
        transcript.append(b"checksum", self.checksum.as_bytes());
        transcript.append_u64(b"expires-at", self.expires_at);
        transcript.append(b"owner", &self.owner.0);
        transcript.append(b"salt", &self.salt);
        transcript.append(b"signer", &self.signer.0);
        transcript.challenge()
    }

    /// Signs with `secret` (whose public key must be `signer`).
    pub fn sign(self, secret: &SecretKey, chain_id: &ChainId) -> WriteAuthorization {
        WriteAuthorization {
            signature: secret.sign(&self.signing_message(chain_id)),
            request: self,
        }
    }
}

impl WriteAuthorization {
    pub fn to_bytes(&self) -> Vec<u8> {
        let r = &self.request;
        let mut bytes = Vec::with_capacity(ENCODED_BYTES);
        bytes.push(r.operation.code());
        bytes.extend_from_slice(r.object.0.as_bytes());
        bytes.push(r.shard);
        bytes.extend_from_slice(&r.length.to_le_bytes());
        bytes.extend_from_slice(r.checksum.as_bytes());
        bytes.extend_from_slice(&r.expires_at.to_le_bytes());
        bytes.extend_from_slice(&r.owner.0);
        bytes.extend_from_slice(&r.salt);
        bytes.extend_from_slice(&r.signer.0);
        bytes.extend_from_slice(&self.signature.0);
        bytes
    }

    pub fn to_header(&self) -> String {
        hex::encode(self.to_bytes())
    }

    pub fn from_header(text: &str) -> Result<WriteAuthorization, AuthError> {
        let malformed = AuthError::Malformed {
            expected: ENCODED_BYTES,
        };
        let bytes = hex::decode(text.trim()).map_err(|_| malformed.clone())?;
        if bytes.len() != ENCODED_BYTES {
            return Err(malformed);
        }
        let mut at = 0;
        let mut take = |n: usize| {
            let slice = &bytes[at..at + n];
            at += n;
            slice
        };
        let array32 = |slice: &[u8]| {
            let mut out = [0u8; 32];
            out.copy_from_slice(slice);
            out
        };
        let u64_of = |slice: &[u8]| {
            let mut out = [0u8; 8];
            out.copy_from_slice(slice);
            u64::from_le_bytes(out)
        };
        let operation = match take(1)[0] {
            1 => ShardOperation::Put,
            2 => ShardOperation::Delete,
            other => return Err(AuthError::Operation(other)),
        };
        let object = ObjectId(Hash32(array32(take(32))));
        let shard = take(1)[0];
        let length = u64_of(take(8));
        let checksum = Hash32(array32(take(32)));
        let expires_at = u64_of(take(8));
        let owner = PublicKey(array32(take(32)));
        let mut salt = [0u8; 16];
        salt.copy_from_slice(take(16));
        let signer = PublicKey(array32(take(32)));
        let mut signature = [0u8; 64];
        signature.copy_from_slice(take(64));
        Ok(WriteAuthorization {
            request: WriteRequest {
                operation,
                object,
                shard,
                length,
                checksum,
                expires_at,
                owner,
                salt,
                signer,
            },
            signature: Signature(signature),
        })
    }

    /// Checks the authorization allows `operation` on `object`/`shard` at
    /// unix time `now`, signed by the owner or one of `repair_keys`.
    pub fn verify(
        &self,
        chain_id: &ChainId,
        operation: ShardOperation,
        object: &ObjectId,
        shard: u8,
        now: u64,
        repair_keys: &[PublicKey],
    ) -> Result<(), AuthError> {
        let r = &self.request;
        if r.operation != operation || r.object != *object || r.shard != shard {
            return Err(AuthError::WrongTarget {
                signed: format!(
                    "{} of shard {} of {}",
                    r.operation.name(),
                    r.shard,
                    r.object
                ),
                requested: format!("{} of shard {shard} of {object}", operation.name()),
            });
        }
        if now > r.expires_at {
            return Err(AuthError::Expired {
                expires_at: r.expires_at,
                now,
            });
        }
        if r.expires_at > now.saturating_add(MAX_VALIDITY_SECS) {
            return Err(AuthError::TooLong {
                expires_at: r.expires_at,
                now,
            });
        }
        if object_id(&r.owner, &r.salt) != r.object {
            return Err(AuthError::NotOwnersObject {
                object: r.object,
                owner: hex::encode(r.owner.0),
            });
        }
        if r.signer != r.owner && !repair_keys.contains(&r.signer) {
            return Err(AuthError::NotAllowed {
                signer: hex::encode(r.signer.0),
            });
        }
        if !r
            .signer
            .verify(&r.signing_message(chain_id), &self.signature)
        {
            return Err(AuthError::BadSignature {
                signer: hex::encode(r.signer.0),
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(owner: &SecretKey, signer: &SecretKey) -> WriteRequest {
        let salt = [9; 16];
        WriteRequest {
            operation: ShardOperation::Put,
            object: object_id(&owner.public_key(), &salt),
            shard: 3,
            length: 1000,
            checksum: Hash32([5; 32]),
            expires_at: 5_000,
            owner: owner.public_key(),
            salt,
            signer: signer.public_key(),
        }
    }

    #[test]
    fn only_the_owner_or_a_repair_key_may_write_and_only_what_it_signed() {
        let chain = ChainId::for_network("devnet");
        let owner = SecretKey::from_seed([1; 32]);
        let repair = SecretKey::from_seed([2; 32]);
        let stranger = SecretKey::from_seed([3; 32]);
        let signed = request(&owner, &owner).sign(&owner, &chain);
        let object = signed.request.object;
        let parsed = WriteAuthorization::from_header(&signed.to_header()).unwrap();
        assert_eq!(parsed, signed);
        assert_eq!(
            parsed.verify(&chain, ShardOperation::Put, &object, 3, 4_000, &[]),
            Ok(())
        );
        assert!(matches!(
            parsed.verify(&chain, ShardOperation::Delete, &object, 3, 4_000, &[]),
            Err(AuthError::WrongTarget { .. })
        ));
        assert!(matches!(
            parsed.verify(&chain, ShardOperation::Put, &object, 4, 4_000, &[]),
            Err(AuthError::WrongTarget { .. })
        ));
        assert_eq!(
            parsed.verify(&chain, ShardOperation::Put, &object, 3, 5_001, &[]),
            Err(AuthError::Expired {
                expires_at: 5_000,
                now: 5_001
            })
        );
        assert!(matches!(
            parsed.verify(&chain, ShardOperation::Put, &object, 3, 10, &[]),
            Err(AuthError::TooLong { .. })
        ));
        let other_chain = ChainId::for_network("testnet");
        assert!(matches!(
            parsed.verify(&other_chain, ShardOperation::Put, &object, 3, 4_000, &[]),
            Err(AuthError::BadSignature { .. })
        ));

        let by_repair = request(&owner, &repair).sign(&repair, &chain);
        assert!(matches!(
            by_repair.verify(&chain, ShardOperation::Put, &object, 3, 4_000, &[]),
            Err(AuthError::NotAllowed { .. })
        ));
        assert_eq!(
            by_repair.verify(
                &chain,
                ShardOperation::Put,
                &object,
                3,
                4_000,
                &[repair.public_key()]
            ),
            Ok(())
        );
        // A stranger claiming to be the owner: the signature fails.
        let forged = request(&owner, &owner).sign(&stranger, &chain);
        assert!(matches!(
            forged.verify(&chain, ShardOperation::Put, &object, 3, 4_000, &[]),
            Err(AuthError::BadSignature { .. })
        ));
        // A stranger's own key on someone else's object: not its object.
        let mut stolen = request(&owner, &stranger);
        stolen.owner = stranger.public_key();
        let stolen = stolen.sign(&stranger, &chain);
        assert!(matches!(
            stolen.verify(&chain, ShardOperation::Put, &object, 3, 4_000, &[]),
            Err(AuthError::NotOwnersObject { .. })
        ));
        assert!(matches!(
            WriteAuthorization::from_header("abcd"),
            Err(AuthError::Malformed { .. })
        ));
    }
}
