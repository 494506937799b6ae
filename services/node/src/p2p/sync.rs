//! Sync helpers: block locators and the fork point they identify.
//!
//! A locator lists best-chain block IDs from the tip backwards: the last
//! [`DENSE_LOCATOR_ENTRIES`] blocks one by one, then with a step that
//! doubles each time, always ending with genesis. A responder walks it in
//! order and takes the first ID on its own best chain as the fork point;
//! it then serves the blocks after that. The locator has `O(log height)`
//! entries yet pins the fork point exactly within the dense part and to a
//! factor of two beyond it (the requester re-asks from there).

use ledger::{Block, BlockHeight, BlockId, codec};

use super::chain_view::ChainView;

/// Entries at step one from the tip before the step starts doubling.
pub const DENSE_LOCATOR_ENTRIES: u64 = 10;

/// The heights a locator of a chain with tip `tip_height` lists, tip first,
/// genesis last.
pub fn locator_heights(tip_height: BlockHeight) -> Vec<BlockHeight> {
    let mut heights = Vec::new();
    let mut height = tip_height.0;
    let mut step = 1u64;
    loop {
        heights.push(BlockHeight(height));
        if height == 0 {
            break;
        }
        if heights.len() as u64 >= DENSE_LOCATOR_ENTRIES {
            step = step.saturating_mul(2);
        }
        height = height.saturating_sub(step);
    }
    heights
}

/// The block locator of `view`'s best chain.
pub fn block_locator<V: ChainView + ?Sized>(view: &V) -> Vec<BlockId> {
    locator_heights(view.tip().height)
        .into_iter()
        .filter_map(|height| view.block_id_at(height))
        .collect()
}

/// The first locator entry that is on `view`'s best chain, with its
/// height: the last block both chains share (as far as the locator can
/// tell). `None` if no entry is known, i.e. the chains do not even share
/// genesis.
pub fn find_fork_point<V: ChainView + ?Sized>(
    view: &V,
    locator: &[BlockId],
) -> Option<(BlockId, BlockHeight)> {
    locator.iter().find_map(|id| {
        let height = view.best_chain_height(id)?;
        // Guard against a view whose index and chain disagree mid-reorg.
        (view.block_id_at(height) == Some(*id)).then_some((*id, height))
    })
}

/// The best-chain blocks after the fork point of `locator`, in order, at
/// most `limit` of them and at most `byte_budget` bytes of canonical
/// encoding together (the first block is always included, since a block
/// fits a frame by the block size limit). Empty when the fork point is the
/// tip or unknown.
pub fn blocks_after_locator<V: ChainView + ?Sized>(
    view: &V,
    locator: &[BlockId],
    limit: usize,
    byte_budget: usize,
) -> Vec<Block> {
    let Some((_, fork_height)) = find_fork_point(view, locator) else {
        return Vec::new();
    };
    let mut blocks = Vec::new();
    let mut used = 0usize;
    let mut height = fork_height;
    while blocks.len() < limit {
        let Some(next) = height.checked_add(1) else {
            break;
        };
        let Some(block) = view.block_at(next) else {
            break;
        };
        let size = codec::encoded_len(&block);
        if !blocks.is_empty() && used.saturating_add(size) > byte_budget {
            break;
        }
        used = used.saturating_add(size);
        blocks.push(block);
        height = next;
    }
    blocks
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::p2p::chain_view::{VecChain, fixture_blocks, fixture_chain};
    use proptest::prelude::*;

    #[test]
    fn locator_is_dense_then_sparse_and_ends_at_genesis() {
        let heights: Vec<u64> = locator_heights(BlockHeight(100))
            .into_iter()
            .map(|h| h.0)
            .collect();
        assert_eq!(
            heights,
            [
                100, 99, 98, 97, 96, 95, 94, 93, 92, 91, 89, 85, 77, 61, 29, 0
            ]
        );
        assert_eq!(locator_heights(BlockHeight(0)), [BlockHeight(0)]);
        assert_eq!(locator_heights(BlockHeight(3)).len(), 4);
        assert!(locator_heights(BlockHeight(u64::MAX)).len() <= 10 + 64 + 1);
    }

    #[test]
    fn locator_of_a_chain_uses_its_ids() {
        let blocks = fixture_chain(30, 0);
        let chain = VecChain::new(blocks.clone());
        let locator = chain.locator();
        assert_eq!(locator.first(), Some(&blocks[29].id()));
        assert_eq!(locator.last(), Some(&blocks[0].id()));
        assert_eq!(locator.len(), locator_heights(BlockHeight(29)).len());
    }

    #[test]
    fn fork_point_and_blocks_after_it() {
        let trunk = fixture_chain(50, 0);
        let ours = VecChain::new(trunk.clone());
        // Theirs forks after height 40 and is 20 blocks longer.
        let mut theirs_blocks = trunk[..=40].to_vec();
        theirs_blocks.extend(fixture_blocks(&trunk[40], BlockHeight(40), 29, 1));
        let theirs = VecChain::new(theirs_blocks.clone());
        let (id, height) = find_fork_point(&theirs, &ours.locator()).unwrap();
        assert_eq!((id, height), (trunk[40].id(), BlockHeight(40)));
        let batch = blocks_after_locator(&theirs, &ours.locator(), 5, usize::MAX);
        assert_eq!(batch, theirs_blocks[41..46].to_vec());
        // A byte budget smaller than two blocks still yields one.
        let one = blocks_after_locator(&theirs, &ours.locator(), 5, 1);
        assert_eq!(one.len(), 1);
        // Nothing after our own tip; nothing for an unknown chain.
        assert!(blocks_after_locator(&ours, &ours.locator(), 5, usize::MAX).is_empty());
        let stranger = VecChain::new(fixture_blocks(&trunk[0], BlockHeight(0), 3, 7));
        assert_eq!(find_fork_point(&ours, &stranger.locator()), None);
    }

    proptest! {
        #[test]
        fn locator_heights_are_well_formed(tip in 0u64..1_000_000) {
            let heights = locator_heights(BlockHeight(tip));
            prop_assert_eq!(heights[0], BlockHeight(tip));
            prop_assert_eq!(*heights.last().unwrap(), BlockHeight::GENESIS);
            prop_assert!(heights.windows(2).all(|pair| pair[0] > pair[1]));
            let dense = heights.len().min(DENSE_LOCATOR_ENTRIES as usize);
            for (index, height) in heights[..dense].iter().enumerate() {
                prop_assert_eq!(height.0, tip - index as u64);
            }
            // Gaps at most double (except the final jump to genesis).
            let gaps: Vec<u64> = heights.windows(2).map(|p| p[0].0 - p[1].0).collect();
            for pair in gaps.windows(2) {
                prop_assert!(pair[1] <= pair[0] * 2);
            }
            prop_assert!(heights.len() <= 10 + 2 + 64 - (tip.leading_zeros() as usize).min(64));
        }

        #[test]
        fn fork_point_is_the_last_common_block_within_a_factor_of_two(
            common in 1u64..120,
            ours_extra in 0u64..40,
            theirs_extra in 0u64..40,
        ) {
            let trunk = fixture_chain(common, 0);
            let fork = &trunk[trunk.len() - 1];
            let fork_height = BlockHeight(common - 1);
            let mut ours_blocks = trunk.clone();
            ours_blocks.extend(fixture_blocks(fork, fork_height, ours_extra, 1));
            let mut theirs_blocks = trunk.clone();
            theirs_blocks.extend(fixture_blocks(fork, fork_height, theirs_extra, 2));
            let ours = VecChain::new(ours_blocks);
            let theirs = VecChain::new(theirs_blocks);

            let (id, height) = find_fork_point(&theirs, &ours.locator()).unwrap();
            // The point found is common to both chains, at or below the real fork…
            prop_assert!(height <= fork_height);
            prop_assert_eq!(ours.block_id_at(height), Some(id));
            // …exact when the fork is within the dense part of the locator…
            if ours_extra < DENSE_LOCATOR_ENTRIES {
                prop_assert_eq!(height, fork_height);
            }
            // …and otherwise less than twice the fork's distance from our tip.
            prop_assert!(fork_height.0 - height.0 <= ours_extra);

            // Serving from it yields a chain that links onto the fork point.
            let batch = blocks_after_locator(&theirs, &ours.locator(), 500, usize::MAX);
            prop_assert_eq!(batch.len() as u64, theirs.tip().height.0 - height.0);
            if let Some(first) = batch.first() {
                prop_assert_eq!(first.header.parent, id);
            }
            prop_assert!(batch.windows(2).all(|pair| pair[1].header.parent == pair[0].id()));
        }
    }
}
