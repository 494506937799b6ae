//! Persistence behind a small trait. The chain hands the store every
//! block it learns of ([`ChainStore::put_block`]) and, for each change of
//! the best chain, one [`ChainChange`] (blocks reverted, blocks applied
//! with their diffs, the new tip) that the store must commit atomically.
//! [`MemoryStore`] keeps everything in maps (tests, simulations).

use std::collections::HashMap;

use ledger::{Block, BlockId};
use thiserror::Error;

use crate::state::{BlockDiff, Tip};

/// A storage failure (I/O, corruption), described.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("block store: {0}")]
pub struct StoreError(pub String);

/// One atomic change of the best chain.
#[derive(Debug, Clone, Copy)]
pub struct ChainChange<'a> {
    /// Main-chain blocks taken off, tip first.
    pub reverted: &'a [BlockId],
    /// Blocks put on the main chain, lowest first, with their diffs.
    pub applied: &'a [BlockDiff],
    /// The tip after the change.
    pub tip: Tip,
}

/// Where blocks and diffs live.
pub trait ChainStore {
    /// Keeps a block the chain knows (main chain or side branch).
    fn put_block(&mut self, id: BlockId, block: &Block) -> Result<(), StoreError>;
    fn block(&self, id: &BlockId) -> Result<Option<Block>, StoreError>;
    /// The diff of a main-chain block.
    fn diff(&self, id: &BlockId) -> Result<Option<BlockDiff>, StoreError>;
    /// Commits a change of the best chain atomically: all of it or none.
    fn commit(&mut self, change: ChainChange<'_>) -> Result<(), StoreError>;
}

/// A store in memory.
#[derive(Debug, Default, Clone)]
pub struct MemoryStore {
    blocks: HashMap<BlockId, Block>,
    diffs: HashMap<BlockId, BlockDiff>,
    tip: Option<Tip>,
}

impl MemoryStore {
    pub fn new() -> MemoryStore {
        MemoryStore::default()
    }

    pub fn tip(&self) -> Option<Tip> {
        self.tip
    }
}

impl ChainStore for MemoryStore {
    fn put_block(&mut self, id: BlockId, block: &Block) -> Result<(), StoreError> {
        self.blocks.entry(id).or_insert_with(|| block.clone());
        Ok(())
    }

    fn block(&self, id: &BlockId) -> Result<Option<Block>, StoreError> {
        Ok(self.blocks.get(id).cloned())
    }

    fn diff(&self, id: &BlockId) -> Result<Option<BlockDiff>, StoreError> {
        Ok(self.diffs.get(id).cloned())
    }

    fn commit(&mut self, change: ChainChange<'_>) -> Result<(), StoreError> {
        for id in change.reverted {
            self.diffs.remove(id);
        }
        for diff in change.applied {
            self.diffs.insert(diff.block, diff.clone());
        }
        self.tip = Some(change.tip);
        Ok(())
    }
}
