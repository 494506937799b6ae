//! Domain-separated BLAKE2b-256: every digest is `BLAKE2b-256(tag ‖ bytes)`
//! with a distinct ASCII tag per kind, so a transaction ID can never equal a
//! block ID or an address over the same bytes.

use blake2::{Blake2b, Digest, digest::consts::U32};

use crate::types::Hash32;

type Blake2b256 = Blake2b<U32>;

/// The domain tags. Each is hashed verbatim (no length prefix, no
/// terminator) before the data; no tag is a prefix of another.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HashTag {
    BlockId,
    TransactionId,
    CoinOutputId,
    BlockStakeOutputId,
    PayoutId,
    MerkleLeaf,
    MerkleNode,
    PubKeyAddress,
    MultisigAddress,
    AtomicSwapAddress,
    ChainId,
    GenesisStakeModifier,
    StakeLottery,
    StateCommitment,
    ComputeSchedulerRank,
    StoragePlacement,
    SealedKey,
    IdentityId,
    OrganizationId,
    AttributeCommitment,
    ChatId,
    ComputeNodeId,
    ComputeEscrow,
    StorageNodeId,
    StorageObjectId,
    DomainOutputId,
}

impl HashTag {
    /// The exact bytes hashed before the data.
    pub const fn bytes(self) -> &'static [u8] {
        match self {
            HashTag::BlockId => b"blockstake/block-id/v1",
            HashTag::TransactionId => b"blockstake/transaction-id/v1",
            HashTag::CoinOutputId => b"blockstake/coin-output-id/v1",
            HashTag::BlockStakeOutputId => b"blockstake/blockstake-output-id/v1",
            HashTag::PayoutId => b"blockstake/payout-id/v1",
            HashTag::MerkleLeaf => b"blockstake/merkle-leaf/v1",
            HashTag::MerkleNode => b"blockstake/merkle-node/v1",
            HashTag::PubKeyAddress => b"blockstake/address/pubkey/v1",
            HashTag::MultisigAddress => b"blockstake/address/multisig/v1",
            HashTag::AtomicSwapAddress => b"blockstake/address/atomic-swap/v1",
            HashTag::ChainId => b"blockstake/chain-id/v1",
            HashTag::GenesisStakeModifier => b"blockstake/genesis-stake-modifier/v1",
            HashTag::StakeLottery => b"blockstake/stake-lottery/v1",
            HashTag::StateCommitment => b"blockstake/state-commitment/v1",
            HashTag::ComputeSchedulerRank => b"blockstake/compute/scheduler-rank/v1",
            HashTag::StoragePlacement => b"blockstake/storage/placement/v1",
            HashTag::SealedKey => b"blockstake/sealed-key/v1",
            HashTag::IdentityId => b"blockstake/identity-id/v1",
            HashTag::OrganizationId => b"blockstake/organization-id/v1",
            HashTag::AttributeCommitment => b"blockstake/attribute-commitment/v1",
            HashTag::ChatId => b"blockstake/chat-id/v1",
            HashTag::ComputeNodeId => b"blockstake/compute/node-id/v1",
            HashTag::ComputeEscrow => b"blockstake/compute/escrow/v1",
            HashTag::StorageNodeId => b"blockstake/storage/node-id/v1",
            HashTag::StorageObjectId => b"blockstake/storage/object-id/v1",
            HashTag::DomainOutputId => b"blockstake/domain-output-id/v1",
        }
    }

    pub const ALL: [HashTag; 26] = [
        HashTag::BlockId,
        HashTag::TransactionId,
        HashTag::CoinOutputId,
        HashTag::BlockStakeOutputId,
        HashTag::PayoutId,
        HashTag::MerkleLeaf,
        HashTag::MerkleNode,
        HashTag::PubKeyAddress,
        HashTag::MultisigAddress,
        HashTag::AtomicSwapAddress,
        HashTag::ChainId,
        HashTag::GenesisStakeModifier,
        HashTag::StakeLottery,
        HashTag::StateCommitment,
        HashTag::ComputeSchedulerRank,
        HashTag::StoragePlacement,
        HashTag::SealedKey,
        HashTag::IdentityId,
        HashTag::OrganizationId,
        HashTag::AttributeCommitment,
        HashTag::ChatId,
        HashTag::ComputeNodeId,
        HashTag::ComputeEscrow,
        HashTag::StorageNodeId,
        HashTag::StorageObjectId,
        HashTag::DomainOutputId,
    ];
}

/// `BLAKE2b-256(tag ‖ data)`.
pub fn tagged_hash(tag: HashTag, data: &[u8]) -> Hash32 {
    tagged_hash_parts(tag, &[data])
}

/// `BLAKE2b-256(tag ‖ part₀ ‖ part₁ ‖ …)`.
pub fn tagged_hash_parts(tag: HashTag, parts: &[&[u8]]) -> Hash32 {
    let mut hasher = Blake2b256::new();
    hasher.update(tag.bytes());
    for part in parts {
        hasher.update(part);
    }
    Hash32(hasher.finalize().into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_are_distinct_and_prefix_free() {
        for a in HashTag::ALL {
            for b in HashTag::ALL {
                if a != b {
                    assert!(!b.bytes().starts_with(a.bytes()), "{a:?} prefixes {b:?}");
                }
            }
        }
    }

    #[test]
    fn known_answer() {
        // BLAKE2b-256 of the empty string (RFC 7693 parameters, 32-byte output).
        let empty = Hash32(Blake2b256::new().finalize().into());
        assert_eq!(
            empty.to_string(),
            "0e5751c026e543b2e8ab2eb06099daa1d1e5df47778f7787faab45cdf12fe3a8"
        );
        assert_eq!(
            tagged_hash(HashTag::BlockId, b"x"),
            tagged_hash_parts(HashTag::BlockId, &[b"", b"x"])
        );
        assert_ne!(
            tagged_hash(HashTag::BlockId, b"x"),
            tagged_hash(HashTag::TransactionId, b"x")
        );
    }
}
