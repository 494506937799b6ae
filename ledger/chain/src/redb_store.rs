//! The persistent block store: one redb file, crash-safe, and reopening a
//! [`Chain`] from it after a restart.
//!
//! Tables (keys are raw 32-byte IDs or heights; values are canonical
//! bytes from `ledger::codec` unless said otherwise):
//!
//! * `meta`: `schema_version` (u32 LE), `chain_id` (the genesis ID), `tip`
//!   (a [`Tip`]), `outbox_cursor` (u64 LE, see [`RedbStore::outbox_cursor`]);
//! * `blocks`: block ID → block, for main-chain and side-branch blocks;
//! * `links`: block ID → parent ID ‖ timestamp (u64 LE), the 40 bytes the
//!   block tree needs, so a reopen re-indexes side branches without
//!   reading whole blocks;
//! * `diffs`: block ID → [`BlockDiff`], for main-chain blocks only;
//! * `main_chain`: height (u64) → block ID, genesis to tip.
//!
//! Atomicity: [`ChainStore::commit`] writes one [`ChainChange`] (diffs and
//! index entries of reverted blocks removed, those of applied blocks
//! written, the tip) in one redb write transaction with
//! [`redb::Durability::Immediate`]: after a crash the file holds the chain
//! before or after the change, never a mix. [`ChainStore::put_block`]
//! commits without waiting for the disk: redb makes such a transaction
//! durable with the next durable commit, which comes at the latest with
//! the change that puts the block on the main chain. A crash may lose
//! side-branch blocks stored since the last change; peers send them again.
//!
//! Reopen ([`Chain::open`]): the state is not persisted as tables; it is
//! rebuilt by redoing the stored diffs from genesis (no signature checks),
//! then side-branch blocks are re-indexed and fork choice runs once. See
//! `docs/store.md`.

use std::collections::{HashMap, HashSet, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use ledger::codec::{self, DecodeError};
use ledger::{Block, BlockHeight, BlockId, Hash32, Timestamp};
use redb::{
    Database, Durability, ReadTransaction, ReadableDatabase, ReadableTable, TableDefinition,
    TableHandle,
};
use thiserror::Error;

use crate::chain::{Chain, ChainError, ChainUpdate};
use crate::clock::Clock;
use crate::config::ChainConfig;
use crate::state::{BlockDiff, DomainState, Tip};
use crate::store::{ChainChange, ChainStore, StoreError};

/// The layout version written by this build; another version is refused.
pub const SCHEMA_VERSION: u32 = 1;

/// Upper bound on one stored diff's encoding (its ops and events are a few
/// times the size of its block).
const DIFF_LIMIT: usize = codec::DECODE_ALLOCATION_LIMIT;

const META: TableDefinition<'_, &str, &[u8]> = TableDefinition::new("meta");
const BLOCKS: TableDefinition<'_, &[u8; 32], &[u8]> = TableDefinition::new("blocks");
const LINKS: TableDefinition<'_, &[u8; 32], &[u8; 40]> = TableDefinition::new("links");
const DIFFS: TableDefinition<'_, &[u8; 32], &[u8]> = TableDefinition::new("diffs");
const MAIN_CHAIN: TableDefinition<'_, u64, &[u8; 32]> = TableDefinition::new("main_chain");

const META_SCHEMA_VERSION: &str = "schema_version";
const META_CHAIN_ID: &str = "chain_id";
const META_TIP: &str = "tip";
const META_OUTBOX_CURSOR: &str = "outbox_cursor";

/// Why the store failed; every variant names the table and key involved.
#[derive(Debug, Error)]
pub enum RedbStoreError {
    #[error("block store {path}: cannot open: {source}")]
    Open {
        path: PathBuf,
        source: Box<redb::DatabaseError>,
    },
    #[error("block store: {operation}: {source}")]
    Redb {
        operation: String,
        source: Box<redb::Error>,
    },
    #[error("block store table `{table}`, key {key}: {reason}")]
    Corrupt {
        table: &'static str,
        key: String,
        reason: String,
    },
    #[error(
        "block store holds chain {stored}, but the configured chain (genesis ID) is {expected}"
    )]
    OtherChain { stored: BlockId, expected: BlockId },
    #[error("block store has schema version {found}; this build reads version {supported}")]
    SchemaVersion { found: u32, supported: u32 },
    #[error("block store table `{table}` has no entry for block {id} at height {height}")]
    Missing {
        table: &'static str,
        id: BlockId,
        height: BlockHeight,
    },
    #[error(
        "block store table `main_chain` has no block at height {height}, below the tip at {tip}"
    )]
    MainChainGap {
        height: BlockHeight,
        tip: BlockHeight,
    },
    #[error("block store refuses a chain change: {0}")]
    BadChange(String),
}

impl From<RedbStoreError> for StoreError {
    fn from(error: RedbStoreError) -> StoreError {
        StoreError(error.to_string())
    }
}

/// A redb failure during `operation`.
fn redb_error<E: Into<redb::Error>>(operation: &'static str) -> impl FnOnce(E) -> RedbStoreError {
    move |source| RedbStoreError::Redb {
        operation: operation.to_owned(),
        source: Box::new(source.into()),
    }
}

fn corrupt(table: &'static str, key: impl ToString, reason: impl ToString) -> RedbStoreError {
    RedbStoreError::Corrupt {
        table,
        key: key.to_string(),
        reason: reason.to_string(),
    }
}

fn decode_error(
    table: &'static str,
    key: impl ToString,
) -> impl FnOnce(DecodeError) -> RedbStoreError {
    move |error| corrupt(table, key, error)
}

/// When [`ChainStore::commit`] returns relative to the disk.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum CommitDurability {
    /// Every change is on disk when `commit` returns (fsync). The only
    /// setting for a node.
    #[default]
    Immediate,
    /// Changes are written but not synced; a crash may lose every change
    /// since the store was opened. For benchmarks that separate the cost
    /// of the writes from the cost of the syncs; never for a node.
    Deferred,
}

/// How to open a store.
#[derive(Debug, Clone, Copy, Default)]
pub struct RedbStoreOptions {
    pub durability: CommitDurability,
    /// Bytes of redb's in-memory page cache; `None`: redb's default
    /// (1 GiB), which a long-running node fills and keeps as resident
    /// memory. Reads beyond it go to the OS page cache.
    pub cache_bytes: Option<usize>,
}

/// Where a main-chain block came from and when: what the block tree needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BlockLink {
    pub parent: BlockId,
    pub timestamp: Timestamp,
}

impl BlockLink {
    fn of(block: &Block) -> BlockLink {
        BlockLink {
            parent: block.header.parent,
            timestamp: block.header.timestamp,
        }
    }

    fn to_bytes(self) -> [u8; 40] {
        let mut bytes = [0u8; 40];
        bytes[..32].copy_from_slice(&self.parent.0.0);
        bytes[32..].copy_from_slice(&self.timestamp.0.to_le_bytes());
        bytes
    }

    fn from_bytes(bytes: &[u8; 40]) -> BlockLink {
        let mut parent = [0u8; 32];
        parent.copy_from_slice(&bytes[..32]);
        let mut timestamp = [0u8; 8];
        timestamp.copy_from_slice(&bytes[32..]);
        BlockLink {
            parent: BlockId(Hash32(parent)),
            timestamp: Timestamp(u64::from_le_bytes(timestamp)),
        }
    }
}

fn id_from(bytes: &[u8; 32]) -> BlockId {
    BlockId(Hash32(*bytes))
}

/// The redb-backed [`ChainStore`].
pub struct RedbStore {
    db: Database,
    path: PathBuf,
    durability: CommitDurability,
    block_limit: usize,
}

impl std::fmt::Debug for RedbStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedbStore")
            .field("path", &self.path)
            .field("durability", &self.durability)
            .finish()
    }
}

impl RedbStore {
    /// Opens (or creates) the store at `path` for the chain of `config`,
    /// with durable commits.
    pub fn open(path: impl AsRef<Path>, config: &ChainConfig) -> Result<RedbStore, RedbStoreError> {
        RedbStore::open_with(path, config, RedbStoreOptions::default())
    }

    /// Opens (or creates) the store at `path` for the chain of `config`.
    /// A new store records the schema version, the chain ID and genesis as
    /// the tip; an existing one must carry this build's schema version and
    /// the same chain ID.
    pub fn open_with(
        path: impl AsRef<Path>,
        config: &ChainConfig,
        options: RedbStoreOptions,
    ) -> Result<RedbStore, RedbStoreError> {
        let path = path.as_ref().to_path_buf();
        let mut builder = redb::Builder::new();
        if let Some(bytes) = options.cache_bytes {
            builder.set_cache_size(bytes);
        }
        let db = builder
            .create(&path)
            .map_err(|source| RedbStoreError::Open {
                path: path.clone(),
                source: Box::new(source),
            })?;
        let block_limit = usize::try_from(config.params.block_size_limit)
            .unwrap_or(usize::MAX)
            .max(codec::DEFAULT_INPUT_LIMIT);
        let store = RedbStore {
            db,
            path,
            durability: options.durability,
            block_limit,
        };
        store.initialise(config)?;
        Ok(store)
    }

    fn initialise(&self, config: &ChainConfig) -> Result<(), RedbStoreError> {
        let mut txn = self.db.begin_write().map_err(redb_error("begin write"))?;
        txn.set_durability(Durability::Immediate)
            .map_err(redb_error("set durability"))?;
        {
            let mut meta = txn
                .open_table(META)
                .map_err(redb_error("open table meta"))?;
            let version = meta
                .get(META_SCHEMA_VERSION)
                .map_err(redb_error("read schema version"))?
                .map(|value| value.value().to_vec());
            if let Some(bytes) = version {
                let found = <[u8; 4]>::try_from(bytes.as_slice())
                    .map(u32::from_le_bytes)
                    .map_err(|_| corrupt("meta", META_SCHEMA_VERSION, "not a 4-byte version"))?;
                if found != SCHEMA_VERSION {
                    return Err(RedbStoreError::SchemaVersion {
                        found,
                        supported: SCHEMA_VERSION,
                    });
                }
                let stored = meta
                    .get(META_CHAIN_ID)
                    .map_err(redb_error("read chain ID"))?
                    .ok_or_else(|| corrupt("meta", META_CHAIN_ID, "missing"))?
                    .value()
                    .to_vec();
                let stored = <[u8; 32]>::try_from(stored.as_slice())
                    .map(|bytes| id_from(&bytes))
                    .map_err(|_| corrupt("meta", META_CHAIN_ID, "not a 32-byte ID"))?;
                if stored != config.genesis_id {
                    return Err(RedbStoreError::OtherChain {
                        stored,
                        expected: config.genesis_id,
                    });
                }
                // Nothing to write: the transaction is dropped (aborted).
                return Ok(());
            }
            let genesis = Tip {
                id: config.genesis_id,
                height: BlockHeight::GENESIS,
                timestamp: config.genesis.header.timestamp,
            };
            meta.insert(META_SCHEMA_VERSION, SCHEMA_VERSION.to_le_bytes().as_slice())
                .map_err(redb_error("write schema version"))?;
            meta.insert(META_CHAIN_ID, config.genesis_id.0.0.as_slice())
                .map_err(redb_error("write chain ID"))?;
            meta.insert(META_TIP, codec::encode(&genesis).as_slice())
                .map_err(redb_error("write tip"))?;
            let key = &config.genesis_id.0.0;
            txn.open_table(BLOCKS)
                .map_err(redb_error("open table blocks"))?
                .insert(key, codec::encode(&config.genesis).as_slice())
                .map_err(redb_error("write genesis block"))?;
            txn.open_table(LINKS)
                .map_err(redb_error("open table links"))?
                .insert(key, &BlockLink::of(&config.genesis).to_bytes())
                .map_err(redb_error("write genesis link"))?;
            txn.open_table(MAIN_CHAIN)
                .map_err(redb_error("open table main_chain"))?
                .insert(0, key)
                .map_err(redb_error("write genesis index"))?;
            txn.open_table(DIFFS)
                .map_err(redb_error("open table diffs"))?;
        }
        txn.commit().map_err(redb_error("commit new store"))
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn read(&self) -> Result<Reader, RedbStoreError> {
        Ok(Reader {
            txn: self.db.begin_read().map_err(redb_error("begin read"))?,
            block_limit: self.block_limit,
        })
    }

    /// The tip recorded by the last commit (genesis for a new store).
    pub fn tip(&self) -> Result<Tip, RedbStoreError> {
        self.read()?.tip()
    }

    /// The main-chain block at `height` as recorded by the last commit.
    pub fn main_chain_id(&self, height: BlockHeight) -> Result<Option<BlockId>, RedbStoreError> {
        self.read()?.main_chain_id(height)
    }

    /// The parent and timestamp of a stored block.
    pub fn link(&self, id: &BlockId) -> Result<Option<BlockLink>, RedbStoreError> {
        self.read()?.link(id)
    }

    /// The node's outbox position last acknowledged by JetStream (see
    /// `stream::BlockMessage::outbox_sequence`); `None` until first set.
    pub fn outbox_cursor(&self) -> Result<Option<u64>, RedbStoreError> {
        let reader = self.read()?;
        let meta = reader.table(META)?;
        let Some(value) = meta
            .get(META_OUTBOX_CURSOR)
            .map_err(redb_error("read outbox cursor"))?
        else {
            return Ok(None);
        };
        <[u8; 8]>::try_from(value.value())
            .map(|bytes| Some(u64::from_le_bytes(bytes)))
            .map_err(|_| corrupt("meta", META_OUTBOX_CURSOR, "not an 8-byte position"))
    }

    /// Records (durably) the outbox position acknowledged by JetStream.
    pub fn set_outbox_cursor(&self, position: u64) -> Result<(), RedbStoreError> {
        let mut txn = self.db.begin_write().map_err(redb_error("begin write"))?;
        txn.set_durability(Durability::Immediate)
            .map_err(redb_error("set durability"))?;
        txn.open_table(META)
            .map_err(redb_error("open table meta"))?
            .insert(META_OUTBOX_CURSOR, position.to_le_bytes().as_slice())
            .map_err(redb_error("write outbox cursor"))?;
        txn.commit().map_err(redb_error("commit outbox cursor"))
    }

    fn commit_change(&self, change: ChainChange<'_>) -> Result<(), RedbStoreError> {
        let mut txn = self.db.begin_write().map_err(redb_error("begin write"))?;
        let durability = match self.durability {
            CommitDurability::Immediate => Durability::Immediate,
            CommitDurability::Deferred => Durability::None,
        };
        txn.set_durability(durability)
            .map_err(redb_error("set durability"))?;
        {
            let mut meta = txn
                .open_table(META)
                .map_err(redb_error("open table meta"))?;
            let old_tip = meta
                .get(META_TIP)
                .map_err(redb_error("read tip"))?
                .ok_or_else(|| corrupt("meta", META_TIP, "missing"))
                .and_then(|value| {
                    codec::decode::<Tip>(value.value()).map_err(decode_error("meta", META_TIP))
                })?;
            let mut main = txn
                .open_table(MAIN_CHAIN)
                .map_err(redb_error("open table main_chain"))?;
            let mut diffs = txn
                .open_table(DIFFS)
                .map_err(redb_error("open table diffs"))?;
            let blocks = txn
                .open_table(BLOCKS)
                .map_err(redb_error("open table blocks"))?;

            let mut height = old_tip.height.0;
            for id in change.reverted {
                let recorded = main
                    .remove(height)
                    .map_err(redb_error("remove main-chain entry"))?
                    .map(|value| id_from(value.value()));
                if recorded != Some(*id) || height == 0 {
                    return Err(RedbStoreError::BadChange(format!(
                        "reverting {id} at height {height}, but the main chain holds {recorded:?} there"
                    )));
                }
                diffs.remove(&id.0.0).map_err(redb_error("remove diff"))?;
                height -= 1;
            }
            for diff in change.applied {
                let key = &diff.block.0.0;
                if diff.height.0 != height + 1 {
                    return Err(RedbStoreError::BadChange(format!(
                        "applying {} at height {}, on top of height {height}",
                        diff.block, diff.height
                    )));
                }
                if blocks.get(key).map_err(redb_error("read block"))?.is_none() {
                    return Err(RedbStoreError::Missing {
                        table: "blocks",
                        id: diff.block,
                        height: diff.height,
                    });
                }
                diffs
                    .insert(key, codec::encode(diff).as_slice())
                    .map_err(redb_error("write diff"))?;
                main.insert(diff.height.0, key)
                    .map_err(redb_error("write main-chain entry"))?;
                height += 1;
            }
            if change.tip.height.0 != height
                || main
                    .get(height)
                    .map_err(redb_error("read main-chain entry"))?
                    .map(|value| id_from(value.value()))
                    != Some(change.tip.id)
            {
                return Err(RedbStoreError::BadChange(format!(
                    "new tip {} at height {} is not the main-chain block at height {height}",
                    change.tip.id, change.tip.height
                )));
            }
            // Stale entries above the new tip cannot exist: every height
            // above it was reverted (removed) or applied (rewritten) above.
            meta.insert(META_TIP, codec::encode(&change.tip).as_slice())
                .map_err(redb_error("write tip"))?;
        }
        txn.commit().map_err(redb_error("commit chain change"))
    }

    fn store_block(&self, id: BlockId, block: &Block) -> Result<(), RedbStoreError> {
        let mut txn = self.db.begin_write().map_err(redb_error("begin write"))?;
        // Made durable by the next durable commit, at the latest the one
        // that puts this block on the main chain.
        txn.set_durability(Durability::None)
            .map_err(redb_error("set durability"))?;
        {
            let mut blocks = txn
                .open_table(BLOCKS)
                .map_err(redb_error("open table blocks"))?;
            let key = &id.0.0;
            if blocks.get(key).map_err(redb_error("read block"))?.is_some() {
                return Ok(());
            }
            blocks
                .insert(key, codec::encode(block).as_slice())
                .map_err(redb_error("write block"))?;
            txn.open_table(LINKS)
                .map_err(redb_error("open table links"))?
                .insert(key, &BlockLink::of(block).to_bytes())
                .map_err(redb_error("write link"))?;
        }
        txn.commit().map_err(redb_error("commit block"))
    }
}

/// One consistent read view of the store.
struct Reader {
    txn: ReadTransaction,
    block_limit: usize,
}

impl Reader {
    fn table<K: redb::Key + 'static, V: redb::Value + 'static>(
        &self,
        definition: TableDefinition<'_, K, V>,
    ) -> Result<redb::ReadOnlyTable<K, V>, RedbStoreError> {
        self.txn
            .open_table(definition)
            .map_err(|source| RedbStoreError::Redb {
                operation: format!("open table {}", definition.name()),
                source: Box::new(source.into()),
            })
    }

    fn tip(&self) -> Result<Tip, RedbStoreError> {
        let meta = self.table(META)?;
        let value = meta
            .get(META_TIP)
            .map_err(redb_error("read tip"))?
            .ok_or_else(|| corrupt("meta", META_TIP, "missing"))?;
        codec::decode(value.value()).map_err(decode_error("meta", META_TIP))
    }

    fn main_chain_id(&self, height: BlockHeight) -> Result<Option<BlockId>, RedbStoreError> {
        Ok(self
            .table(MAIN_CHAIN)?
            .get(height.0)
            .map_err(redb_error("read main-chain entry"))?
            .map(|value| id_from(value.value())))
    }

    fn link(&self, id: &BlockId) -> Result<Option<BlockLink>, RedbStoreError> {
        Ok(self
            .table(LINKS)?
            .get(&id.0.0)
            .map_err(redb_error("read link"))?
            .map(|value| BlockLink::from_bytes(value.value())))
    }

    fn block(&self, id: &BlockId) -> Result<Option<Block>, RedbStoreError> {
        let blocks = self.table(BLOCKS)?;
        let Some(value) = blocks.get(&id.0.0).map_err(redb_error("read block"))? else {
            return Ok(None);
        };
        let block: Block = codec::decode_with_limit(value.value(), self.block_limit)
            .map_err(decode_error("blocks", id))?;
        if block.id() != *id {
            return Err(corrupt("blocks", id, format!("holds block {}", block.id())));
        }
        Ok(Some(block))
    }

    fn diff(&self, id: &BlockId) -> Result<Option<BlockDiff>, RedbStoreError> {
        let diffs = self.table(DIFFS)?;
        let Some(value) = diffs.get(&id.0.0).map_err(redb_error("read diff"))? else {
            return Ok(None);
        };
        let diff: BlockDiff = codec::decode_with_limit(value.value(), DIFF_LIMIT)
            .map_err(decode_error("diffs", id))?;
        if diff.block != *id {
            return Err(corrupt(
                "diffs",
                id,
                format!("holds the diff of block {}", diff.block),
            ));
        }
        Ok(Some(diff))
    }
}

impl ChainStore for RedbStore {
    fn put_block(&mut self, id: BlockId, block: &Block) -> Result<(), StoreError> {
        Ok(self.store_block(id, block)?)
    }

    fn block(&self, id: &BlockId) -> Result<Option<Block>, StoreError> {
        Ok(self.read()?.block(id)?)
    }

    fn diff(&self, id: &BlockId) -> Result<Option<BlockDiff>, StoreError> {
        Ok(self.read()?.diff(id)?)
    }

    fn commit(&mut self, change: ChainChange<'_>) -> Result<(), StoreError> {
        Ok(self.commit_change(change)?)
    }
}

/// Why a chain could not be rebuilt from its store.
#[derive(Debug, Error)]
pub enum OpenError {
    #[error(transparent)]
    Store(#[from] RedbStoreError),
    #[error("reopening at genesis: {0}")]
    Genesis(ChainError),
    #[error("replaying the stored diff of block {id} at height {height}: {source}")]
    Replay {
        id: BlockId,
        height: BlockHeight,
        source: ChainError,
    },
    #[error("the replayed state is at {replayed}, but the store records the tip {stored}")]
    TipMismatch { replayed: BlockId, stored: BlockId },
    #[error("fork choice over the reopened block tree: {0}")]
    ForkChoice(ChainError),
}

/// A reopened chain and what fork choice changed while reopening.
pub struct Reopened {
    pub chain: Chain<RedbStore>,
    /// Non-empty when a stored side branch out-weighed the stored tip (a
    /// block stored but not yet committed when the process stopped).
    pub update: ChainUpdate,
}

impl Chain<RedbStore> {
    /// Rebuilds the chain recorded in `store`: the main chain from its
    /// stored diffs (redone without validation), then the side branches
    /// from the stored blocks' links; then fork choice runs once. The
    /// reopened chain has the stored tip (or a heavier stored branch) and
    /// its state has the same commitment as before the restart. Invalid
    /// blocks, orphans and parked blocks are not remembered.
    pub fn open(
        config: Arc<ChainConfig>,
        clock: Arc<dyn Clock>,
        store: RedbStore,
        domains: Vec<Box<dyn DomainState>>,
    ) -> Result<Reopened, OpenError> {
        let reader = store.read()?;
        let tip = reader.tip()?;
        let mut chain = Chain::new(config, clock, store, domains).map_err(OpenError::Genesis)?;
        let mut main = HashSet::from([chain.tip().id]);
        for height in 1..=tip.height.0 {
            let height = BlockHeight(height);
            let id = reader
                .main_chain_id(height)?
                .ok_or(RedbStoreError::MainChainGap {
                    height,
                    tip: tip.height,
                })?;
            let missing = |table| RedbStoreError::Missing { table, id, height };
            let link = reader.link(&id)?.ok_or_else(|| missing("links"))?;
            let diff = reader.diff(&id)?.ok_or_else(|| missing("diffs"))?;
            chain
                .restore_main_block(id, link.parent, link.timestamp, &diff)
                .map_err(|source| OpenError::Replay { id, height, source })?;
            main.insert(id);
        }
        if chain.tip().id != tip.id {
            return Err(OpenError::TipMismatch {
                replayed: chain.tip().id,
                stored: tip.id,
            });
        }

        // Side branches, parents before children.
        let mut waiting: HashMap<BlockId, Vec<(BlockId, Timestamp)>> = HashMap::new();
        {
            let links = reader.table(LINKS)?;
            for entry in links.iter().map_err(redb_error("iterate links"))? {
                let (key, value) = entry.map_err(redb_error("iterate links"))?;
                let id = id_from(key.value());
                if !main.contains(&id) {
                    let link = BlockLink::from_bytes(value.value());
                    waiting
                        .entry(link.parent)
                        .or_default()
                        .push((id, link.timestamp));
                }
            }
        }
        drop(reader);
        let mut ready: VecDeque<BlockId> = main.into_iter().collect();
        while let Some(parent) = ready.pop_front() {
            for (id, timestamp) in waiting.remove(&parent).unwrap_or_default() {
                if chain.restore_side_block(id, parent, timestamp) {
                    ready.push_back(id);
                }
            }
        }
        // Blocks left in `waiting` descend from no indexed block (their
        // parent was never stored); they stay in the file, unused.

        let update = chain.choose_best_branch().map_err(OpenError::ForkChoice)?;
        Ok(Reopened { chain, update })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn link_round_trips() {
        let link = BlockLink {
            parent: BlockId(Hash32([7; 32])),
            timestamp: Timestamp(1_700_000_123),
        };
        assert_eq!(BlockLink::from_bytes(&link.to_bytes()), link);
    }
}
