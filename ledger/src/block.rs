//! Blocks: a header (parent, timestamp, the winning blockstake output's
//! position, merkle root) plus the creator's payouts and the transactions.
//!
//! The block ID is `H("blockstake/block-id/v1" ‖ encode(header))` (the
//! header encodes to exactly 96 bytes). The merkle root covers the
//! encoded payouts, then the encoded transactions (with fulfillments), as
//! leaves of [`crate::merkle`].

use crate::address::Address;
use crate::codec;
use crate::crypto::hash::{HashTag, tagged_hash, tagged_hash_parts};
use crate::merkle::{leaf_hash, merkle_root};
use crate::transaction::Transaction;
use crate::types::{BlockHeight, BlockId, CoinOutputId, Currency, Hash32, Timestamp};

/// Where the blockstake output that won the lottery was created: block
/// height, transaction index in that block, output index in that
/// transaction (by position, as in Rivine, not by ID).
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Default,
    bincode::Encode,
    bincode::Decode,
)]
pub struct BlockStakePosition {
    pub height: BlockHeight,
    pub transaction_index: u64,
    pub output_index: u64,
}

/// The part of a block its ID is computed from. Encodes to 96 bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, bincode::Encode, bincode::Decode)]
pub struct BlockHeader {
    pub parent: BlockId,
    pub timestamp: Timestamp,
    pub stake_output: BlockStakePosition,
    pub merkle_root: Hash32,
}

/// A coin payout of the block creator (creator fee, transaction fees).
#[derive(Debug, Clone, PartialEq, Eq, Hash, bincode::Encode, bincode::Decode)]
pub struct Payout {
    pub value: Currency,
    pub address: Address,
}

/// A block as received or built; not yet validated (see
/// [`crate::validation::StatelesslyValidBlock`]).
#[derive(Debug, Clone, PartialEq, Eq, Hash, bincode::Encode, bincode::Decode)]
pub struct Block {
    pub header: BlockHeader,
    pub payouts: Vec<Payout>,
    pub transactions: Vec<Transaction>,
}

impl BlockHeader {
    pub fn id(&self) -> BlockId {
        BlockId(tagged_hash(HashTag::BlockId, &codec::encode(self)))
    }
}

impl CoinOutputId {
    /// `H("blockstake/payout-id/v1" ‖ block ID ‖ u64 LE index)`.
    pub fn for_payout(block_id: &BlockId, index: u64) -> CoinOutputId {
        CoinOutputId(tagged_hash_parts(
            HashTag::PayoutId,
            &[block_id.0.as_bytes(), &index.to_le_bytes()],
        ))
    }
}

impl Block {
    /// Builds a block, computing its merkle root.
    pub fn new(
        parent: BlockId,
        timestamp: Timestamp,
        stake_output: BlockStakePosition,
        payouts: Vec<Payout>,
        transactions: Vec<Transaction>,
    ) -> Block {
        let mut block = Block {
            header: BlockHeader {
                parent,
                timestamp,
                stake_output,
                merkle_root: Hash32::ZERO,
            },
            payouts,
            transactions,
        };
        block.header.merkle_root = block.compute_merkle_root();
        block
    }

    pub fn id(&self) -> BlockId {
        self.header.id()
    }

    /// The merkle root of the payouts and transactions as they are now.
    pub fn compute_merkle_root(&self) -> Hash32 {
        let leaves: Vec<Hash32> = self
            .payouts
            .iter()
            .map(|payout| leaf_hash(&codec::encode(payout)))
            .chain(
                self.transactions
                    .iter()
                    .map(|transaction| leaf_hash(&codec::encode(transaction))),
            )
            .collect();
        merkle_root(&leaves)
    }

    /// Canonical encoding length in bytes.
    pub fn encoded_size(&self) -> usize {
        codec::encoded_len(self)
    }

    /// The IDs of the payouts.
    pub fn payout_ids(&self) -> Vec<CoinOutputId> {
        let id = self.id();
        (0..self.payouts.len() as u64)
            .map(|index| CoinOutputId::for_payout(&id, index))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::address::AddressKind;

    fn block() -> Block {
        Block::new(
            BlockId(Hash32([1; 32])),
            Timestamp(1_700_000_000),
            BlockStakePosition {
                height: BlockHeight(3),
                transaction_index: 1,
                output_index: 2,
            },
            vec![Payout {
                value: Currency(10),
                address: Address::new(AddressKind::PubKey, Hash32([2; 32])),
            }],
            vec![Transaction::new()],
        )
    }

    #[test]
    fn header_is_96_bytes() {
        assert_eq!(codec::encode(&block().header).len(), 96);
    }

    #[test]
    fn id_commits_to_body_through_merkle_root() {
        let original = block();
        let mut changed = original.clone();
        changed.transactions[0].fee = Currency(1);
        assert_eq!(original.id(), changed.id(), "header not recomputed yet");
        changed.header.merkle_root = changed.compute_merkle_root();
        assert_ne!(original.id(), changed.id());
        assert_eq!(original.compute_merkle_root(), original.header.merkle_root);
    }

    #[test]
    fn payout_ids_are_distinct() {
        let mut two = block();
        two.payouts.push(two.payouts[0].clone());
        let ids = two.payout_ids();
        assert_ne!(ids[0], ids[1]);
        assert_eq!(ids[0], CoinOutputId::for_payout(&two.id(), 0));
    }
}
