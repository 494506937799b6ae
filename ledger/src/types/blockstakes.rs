//! `BlockStakes`: the staking currency, whole units only.

use std::fmt;

/// A number of blockstakes. Blockstakes have no decimals.
#[derive(
    Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, bincode::Encode, bincode::Decode,
)]
pub struct BlockStakes(pub u64);

impl BlockStakes {
    pub const ZERO: BlockStakes = BlockStakes(0);

    pub fn is_zero(self) -> bool {
        self.0 == 0
    }

    pub fn checked_add(self, other: BlockStakes) -> Option<BlockStakes> {
        self.0.checked_add(other.0).map(BlockStakes)
    }

    pub fn checked_sub(self, other: BlockStakes) -> Option<BlockStakes> {
        self.0.checked_sub(other.0).map(BlockStakes)
    }

    /// The sum of many amounts, or `None` on overflow.
    pub fn checked_sum<I: IntoIterator<Item = BlockStakes>>(amounts: I) -> Option<BlockStakes> {
        amounts
            .into_iter()
            .try_fold(BlockStakes::ZERO, BlockStakes::checked_add)
    }
}

impl fmt::Display for BlockStakes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} BS", self.0)
    }
}

impl fmt::Debug for BlockStakes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "BlockStakes({})", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checked_arithmetic() {
        assert_eq!(
            BlockStakes(2).checked_add(BlockStakes(3)),
            Some(BlockStakes(5))
        );
        assert_eq!(BlockStakes(u64::MAX).checked_add(BlockStakes(1)), None);
        assert_eq!(BlockStakes(2).checked_sub(BlockStakes(3)), None);
        assert_eq!(
            BlockStakes::checked_sum([BlockStakes(1), BlockStakes(2)]),
            Some(BlockStakes(3))
        );
        assert_eq!(
            BlockStakes::checked_sum([BlockStakes(u64::MAX), BlockStakes(1)]),
            None
        );
        assert_eq!(BlockStakes(7).to_string(), "7 BS");
    }
}
