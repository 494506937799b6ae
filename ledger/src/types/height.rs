//! `BlockHeight`: the position of a block in its chain (genesis is 0).

use std::fmt;

/// A block height.
#[derive(
    Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, bincode::Encode, bincode::Decode,
)]
pub struct BlockHeight(pub u64);

impl BlockHeight {
    pub const GENESIS: BlockHeight = BlockHeight(0);

    pub fn checked_add(self, blocks: u64) -> Option<BlockHeight> {
        self.0.checked_add(blocks).map(BlockHeight)
    }

    pub fn checked_sub(self, blocks: u64) -> Option<BlockHeight> {
        self.0.checked_sub(blocks).map(BlockHeight)
    }
}

impl fmt::Display for BlockHeight {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl fmt::Debug for BlockHeight {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "BlockHeight({})", self.0)
    }
}
