//! The node's block store and the shared handle to its chain.
//!
//! [`open_chain`] is the one place that picks the store: `chain::RedbStore`
//! in `<data dir>/chain.redb`, reopened with `Chain::open` (the main chain
//! redone from its stored diffs). [`SharedChain`] lets the p2p layer read
//! the chain ([`ChainView`]) while the runtime, the only writer, changes
//! it.

use std::path::Path;
use std::sync::{Arc, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};

use chain::redb_store::{OpenError, RedbStoreOptions};
use chain::{Chain, ChainConfig, ChainUpdate, Clock, RedbStore, RedbStoreError};
use ledger::{Block, BlockHeight, BlockId};
use thiserror::Error;

use crate::p2p::{ChainTip, ChainView};

/// The store the node runs on.
pub type NodeStore = RedbStore;

/// The node's chain.
pub type NodeChain = Chain<NodeStore>;

/// Why the store could not be opened.
#[derive(Debug, Error)]
pub enum StoreOpenError {
    #[error("cannot create the data dir {path}: {source}")]
    DataDir {
        path: String,
        source: std::io::Error,
    },
    #[error("opening the block store {path}: {source}")]
    Store {
        path: String,
        source: RedbStoreError,
    },
    #[error("reopening the chain from {path}: {source}")]
    Reopen {
        path: String,
        source: Box<OpenError>,
    },
}

/// Opens (or creates) the chain in `data_dir`. The update is non-empty
/// when reopening switched to a heavier stored branch.
/// `cache_mib` sizes the store's page cache.
pub fn open_chain(
    data_dir: &Path,
    config: Arc<ChainConfig>,
    clock: Arc<dyn Clock>,
    cache_mib: u64,
) -> Result<(NodeChain, ChainUpdate), StoreOpenError> {
    std::fs::create_dir_all(data_dir).map_err(|source| StoreOpenError::DataDir {
        path: data_dir.display().to_string(),
        source,
    })?;
    let path = data_dir.join("chain.redb");
    let options = RedbStoreOptions {
        cache_bytes: usize::try_from(cache_mib.saturating_mul(1024 * 1024)).ok(),
        ..RedbStoreOptions::default()
    };
    let store =
        RedbStore::open_with(&path, &config, options).map_err(|source| StoreOpenError::Store {
            path: path.display().to_string(),
            source,
        })?;
    let reopened = {
        let domains = chain::domains::standard(&config);
        Chain::open(config, clock, store, domains)
    }
    .map_err(|source| StoreOpenError::Reopen {
        path: path.display().to_string(),
        source: Box::new(source),
    })?;
    Ok((reopened.chain, reopened.update))
}

/// The chain behind a lock: one writer (the runtime), many readers.
#[derive(Clone)]
pub struct SharedChain(Arc<RwLock<NodeChain>>);

impl SharedChain {
    pub fn new(chain: NodeChain) -> SharedChain {
        SharedChain(Arc::new(RwLock::new(chain)))
    }

    /// Reads (a panic elsewhere never makes the chain unreadable: every
    /// chain change is all-or-nothing).
    pub fn read(&self) -> RwLockReadGuard<'_, NodeChain> {
        self.0.read().unwrap_or_else(PoisonError::into_inner)
    }

    pub fn write(&self) -> RwLockWriteGuard<'_, NodeChain> {
        self.0.write().unwrap_or_else(PoisonError::into_inner)
    }
}

impl ChainView for SharedChain {
    fn tip(&self) -> ChainTip {
        let chain = self.read();
        let tip = chain.tip();
        ChainTip {
            id: tip.id,
            height: tip.height,
        }
    }

    fn block_id_at(&self, height: BlockHeight) -> Option<BlockId> {
        self.read().main_chain_id(height)
    }

    fn best_chain_height(&self, id: &BlockId) -> Option<BlockHeight> {
        let chain = self.read();
        let node = chain.node(id)?;
        (chain.main_chain_id(node.height) == Some(*id)).then_some(node.height)
    }

    fn block(&self, id: &BlockId) -> Option<Block> {
        match self.read().block(id) {
            Ok(block) => block,
            Err(error) => {
                tracing::warn!(%id, %error, "reading a block for a peer");
                None
            }
        }
    }
}
