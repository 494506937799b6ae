//! What the peer-to-peer layer needs to read from the chain: the tip and
//! the blocks of the best chain by height and by ID. The chain crate
//! implements [`ChainView`] for its state; [`VecChain`] implements it over
//! a plain list of blocks (tests, and until the chain crate exists).
//!
//! Reads only: the p2p layer answers `GetBlocks` and `GetBlock` itself
//! from this view, and hands everything that changes the chain (received
//! blocks, transactions, announcements) to the node as events.

use std::collections::HashMap;
use std::sync::RwLock;

use ledger::{Block, BlockHeight, BlockId, BlockStakePosition, Hash32, Timestamp};

use super::sync;

/// The head of the best chain.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChainTip {
    pub id: BlockId,
    pub height: BlockHeight,
}

/// Read access to the best chain. Implementations must be cheap to call
/// from async tasks (no blocking I/O beyond a local store read) and must
/// answer from one consistent chain per call where it matters; small
/// races between calls (a block applied in between) are tolerated by the
/// callers.
pub trait ChainView: Send + Sync + 'static {
    /// The best chain's tip.
    fn tip(&self) -> ChainTip;

    /// The ID of the best-chain block at `height`, if the chain is that long.
    fn block_id_at(&self, height: BlockHeight) -> Option<BlockId>;

    /// The height of `id` if it is a block of the best chain (blocks on side
    /// branches answer `None`).
    fn best_chain_height(&self, id: &BlockId) -> Option<BlockHeight>;

    /// Any stored block by ID (best chain or not).
    fn block(&self, id: &BlockId) -> Option<Block>;

    /// The best-chain block at `height`.
    fn block_at(&self, height: BlockHeight) -> Option<Block> {
        self.block_id_at(height).and_then(|id| self.block(&id))
    }

    /// The block locator of the best chain (see [`sync::block_locator`]).
    fn locator(&self) -> Vec<BlockId>
    where
        Self: Sized,
    {
        sync::block_locator(self)
    }
}

/// A best chain held as a vector of blocks, index = height. Appends and
/// truncations model growth and reorgs. Not a chain implementation: it
/// trusts the blocks it is given.
#[derive(Debug, Default)]
pub struct VecChain {
    inner: RwLock<VecChainInner>,
}

#[derive(Debug, Default)]
struct VecChainInner {
    blocks: Vec<Block>,
    heights: HashMap<BlockId, BlockHeight>,
}

impl VecChain {
    /// A chain of `blocks`, the first being genesis.
    pub fn new(blocks: Vec<Block>) -> VecChain {
        let chain = VecChain::default();
        for block in blocks {
            chain.push(block);
        }
        chain
    }

    /// Appends a block on top of the tip.
    pub fn push(&self, block: Block) {
        let mut inner = self.write();
        let height = BlockHeight(inner.blocks.len() as u64);
        inner.heights.insert(block.id(), height);
        inner.blocks.push(block);
    }

    /// Drops every block above `height` (a reorg's first half).
    pub fn truncate(&self, height: BlockHeight) {
        let mut inner = self.write();
        let keep = usize::try_from(height.0).map_or(usize::MAX, |h| h.saturating_add(1));
        while inner.blocks.len() > keep.max(1) {
            if let Some(block) = inner.blocks.pop() {
                inner.heights.remove(&block.id());
            }
        }
    }

    pub fn len(&self) -> usize {
        self.read().blocks.len()
    }

    pub fn is_empty(&self) -> bool {
        self.read().blocks.is_empty()
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, VecChainInner> {
        // A poisoned lock means a writer panicked mid-update; the fixture
        // has no invariants a panic could break, so keep reading.
        self.inner
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, VecChainInner> {
        self.inner
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl ChainView for VecChain {
    fn tip(&self) -> ChainTip {
        let inner = self.read();
        let height = inner.blocks.len().saturating_sub(1);
        ChainTip {
            id: inner.blocks.last().map(Block::id).unwrap_or_default(),
            height: BlockHeight(height as u64),
        }
    }

    fn block_id_at(&self, height: BlockHeight) -> Option<BlockId> {
        let inner = self.read();
        let index = usize::try_from(height.0).ok()?;
        inner.blocks.get(index).map(Block::id)
    }

    fn best_chain_height(&self, id: &BlockId) -> Option<BlockHeight> {
        self.read().heights.get(id).copied()
    }

    fn block(&self, id: &BlockId) -> Option<Block> {
        let inner = self.read();
        let height = inner.heights.get(id)?;
        inner.blocks.get(usize::try_from(height.0).ok()?).cloned()
    }
}

/// A deterministic genesis block for fixtures.
pub fn fixture_genesis() -> Block {
    Block::new(
        BlockId(Hash32::ZERO),
        Timestamp(1_700_000_000),
        BlockStakePosition::default(),
        vec![],
        vec![],
    )
}

/// `count` real blocks on top of `parent` (at `parent_height`), each
/// linked to the previous one. `branch` goes into the stake position so
/// two branches from the same parent have different IDs.
pub fn fixture_blocks(
    parent: &Block,
    parent_height: BlockHeight,
    count: u64,
    branch: u64,
) -> Vec<Block> {
    let mut blocks = Vec::new();
    let mut parent_id = parent.id();
    let mut timestamp = parent.header.timestamp;
    for offset in 1..=count {
        timestamp = Timestamp(timestamp.0 + 10);
        let block = Block::new(
            parent_id,
            timestamp,
            BlockStakePosition {
                height: BlockHeight(parent_height.0 + offset),
                transaction_index: branch,
                output_index: 0,
            },
            vec![],
            vec![],
        );
        parent_id = block.id();
        blocks.push(block);
    }
    blocks
}

/// Genesis plus `length - 1` blocks: a chain `length` blocks long.
pub fn fixture_chain(length: u64, branch: u64) -> Vec<Block> {
    let genesis = fixture_genesis();
    let mut blocks = vec![genesis.clone()];
    blocks.extend(fixture_blocks(
        &genesis,
        BlockHeight::GENESIS,
        length.saturating_sub(1),
        branch,
    ));
    blocks
}
