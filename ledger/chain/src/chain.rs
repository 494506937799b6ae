//! The block tree and fork choice.
//!
//! [`Chain::accept_block`] takes any block from anywhere:
//!
//! * known invalid (by ID, or descending from one) → refused at once;
//! * unknown parent → kept in a bounded orphan pool and reported
//!   ([`AcceptOutcome::Orphan`]) so the node can ask peers for the parent;
//! * more than `future_threshold` seconds ahead of the clock → parked and
//!   retried by [`Chain::poll_parked`] ([`AcceptOutcome::Parked`]); more
//!   than `extreme_future_threshold` ahead → refused (not remembered: the
//!   clock, not the block, may be wrong);
//! * otherwise stateless rules and the time rules (at least the median of
//!   the last timestamps, and strictly after the parent's), then the block
//!   joins the tree with its height, child target (retarget) and
//!   cumulative difficulty. If its branch out-weighs the tip by more than
//!   the surpass threshold, the chain switches to it: the main chain is
//!   reverted to the fork point with the stored diffs and the branch is
//!   applied with full stateful validation. If any branch block is
//!   invalid, it and its descendants are remembered as invalid and the
//!   previous best chain is restored exactly. Reorganisations deeper than
//!   `finality_depth` are refused.
//!
//! The result lists the events to publish: the reverted blocks' inverse
//! events (tip first), then the applied blocks' events.

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::sync::Arc;

use ledger::validation::{BlockError, StatelesslyValidBlock, validate_block};
use ledger::{Block, BlockHeight, BlockId, Timestamp};
use thiserror::Error;

use crate::clock::Clock;
use crate::config::ChainConfig;
use crate::events::{LedgerEvent, invert};
use crate::pobs::{Difficulty, StakeModifier, Target, pre_genesis_id, retarget, stake_modifier};
use crate::state::{BlockDiff, ChainState, DomainState, InconsistentDiff};
use crate::store::{ChainChange, ChainStore, MemoryStore, StoreError};
use crate::validation::{BlockContext, BlockRuleError, apply_block};

/// Most orphans kept (oldest evicted first).
pub const ORPHAN_LIMIT: usize = 512;
/// Most parked (near-future) blocks kept.
pub const PARKED_LIMIT: usize = 512;
/// Most invalid block IDs remembered.
pub const INVALID_LIMIT: usize = 65_536;

/// What the tree knows of a block without its state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlockNode {
    pub id: BlockId,
    pub parent: BlockId,
    pub height: BlockHeight,
    pub timestamp: Timestamp,
    /// The target this block's child must meet.
    pub child_target: Target,
    /// Sum of the difficulties of the targets met from genesis to here.
    pub cumulative: Difficulty,
}

/// A change of the best chain and the events to publish for it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ChainUpdate {
    /// Blocks taken off the main chain, tip first.
    pub reverted: Vec<BlockId>,
    /// Blocks put on the main chain, lowest first.
    pub applied: Vec<BlockId>,
    /// Inverse events of `reverted`, then events of `applied`.
    pub events: Vec<LedgerEvent>,
}

impl ChainUpdate {
    fn merge(&mut self, other: ChainUpdate) {
        self.reverted.extend(other.reverted);
        self.applied.extend(other.applied);
        self.events.extend(other.events);
    }

    pub fn is_empty(&self) -> bool {
        self.reverted.is_empty() && self.applied.is_empty()
    }
}

/// What became of an accepted block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AcceptOutcome {
    /// In the tree; `update` is empty when it only extended a side branch.
    /// Orphans waiting for it were processed too; their failures are in
    /// `rejected_orphans`.
    Connected {
        update: ChainUpdate,
        rejected_orphans: Vec<(BlockId, String)>,
    },
    /// The parent is unknown; ask peers for it.
    Orphan { missing_parent: BlockId },
    /// Too far in the future for now; retried from `retry_at`.
    Parked { retry_at: Timestamp },
    /// Already in the tree.
    AlreadyKnown,
}

/// Why a block was refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ChainError {
    #[error("block {id} is known to be invalid")]
    KnownInvalid { id: BlockId },
    #[error("block {id} descends from invalid block {ancestor}")]
    InvalidAncestor { id: BlockId, ancestor: BlockId },
    #[error("block {id}: {source}")]
    Stateless {
        id: BlockId,
        source: Box<BlockError>,
    },
    #[error(
        "block {id} has timestamp {timestamp}, before the median {median} of its parent and ancestors"
    )]
    TimestampBeforeMedian {
        id: BlockId,
        timestamp: Timestamp,
        median: Timestamp,
    },
    #[error("block {id} has timestamp {timestamp}, not after its parent's {parent}")]
    TimestampNotAfterParent {
        id: BlockId,
        timestamp: Timestamp,
        parent: Timestamp,
    },
    #[error("block {id} has timestamp {timestamp}, more than {limit} s ahead of the clock ({now})")]
    ExtremeFuture {
        id: BlockId,
        timestamp: Timestamp,
        now: Timestamp,
        limit: u64,
    },
    #[error("block {id} at height {height}: {source}")]
    Rules {
        id: BlockId,
        height: BlockHeight,
        source: Box<BlockRuleError>,
    },
    #[error(
        "switching to block {id} would revert {depth} blocks, deeper than the finality depth {limit}"
    )]
    ReorgTooDeep { id: BlockId, depth: u64, limit: u64 },
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Inconsistent(#[from] InconsistentDiff),
}

/// The chain: block tree, best chain, its state, and the pools of blocks
/// that cannot be connected yet.
pub struct Chain<S: ChainStore = MemoryStore> {
    config: Arc<ChainConfig>,
    clock: Arc<dyn Clock>,
    store: S,
    state: ChainState,
    nodes: HashMap<BlockId, BlockNode>,
    children: HashMap<BlockId, Vec<BlockId>>,
    main: Vec<BlockId>,
    pre_genesis: Vec<BlockId>,
    orphans: HashMap<BlockId, Block>,
    orphan_order: VecDeque<BlockId>,
    parked: BTreeMap<(Timestamp, BlockId), Block>,
    invalid: HashSet<BlockId>,
    invalid_order: VecDeque<BlockId>,
}

impl Chain<MemoryStore> {
    /// A chain at genesis in memory, with the standard domain modules
    /// ([`crate::domains::standard`]).
    pub fn in_memory(config: Arc<ChainConfig>, clock: Arc<dyn Clock>) -> Result<Self, ChainError> {
        let domains = crate::domains::standard(&config);
        Chain::new(config, clock, MemoryStore::new(), domains)
    }
}

impl<S: ChainStore> Chain<S> {
    /// A chain at genesis.
    pub fn new(
        config: Arc<ChainConfig>,
        clock: Arc<dyn Clock>,
        mut store: S,
        domains: Vec<Box<dyn DomainState>>,
    ) -> Result<Self, ChainError> {
        let genesis_id = config.genesis_id;
        store.put_block(genesis_id, &config.genesis)?;
        let genesis = BlockNode {
            id: genesis_id,
            parent: config.genesis.header.parent,
            height: BlockHeight::GENESIS,
            timestamp: config.genesis.header.timestamp,
            child_target: config.consensus.initial_target,
            cumulative: Difficulty::zero(),
        };
        let pre_genesis = (1..=config.consensus.stake_modifier_delay + 256)
            .map(|k| pre_genesis_id(&genesis_id, k))
            .collect();
        let state = ChainState::genesis(&config, domains);
        let mut chain = Chain {
            config,
            clock,
            store,
            state,
            nodes: HashMap::new(),
            children: HashMap::new(),
            main: vec![genesis_id],
            pre_genesis,
            orphans: HashMap::new(),
            orphan_order: VecDeque::new(),
            parked: BTreeMap::new(),
            invalid: HashSet::new(),
            invalid_order: VecDeque::new(),
        };
        chain.nodes.insert(genesis_id, genesis);
        Ok(chain)
    }

    pub fn config(&self) -> &Arc<ChainConfig> {
        &self.config
    }

    pub fn state(&self) -> &ChainState {
        &self.state
    }

    pub fn store(&self) -> &S {
        &self.store
    }

    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.clock
    }

    /// The best chain's tip.
    pub fn tip(&self) -> &BlockNode {
        let id = self
            .main
            .last()
            .expect("the main chain always holds genesis");
        self.nodes
            .get(id)
            .expect("every main-chain block has a node")
    }

    pub fn height(&self) -> BlockHeight {
        BlockHeight(self.main.len() as u64 - 1)
    }

    pub fn node(&self, id: &BlockId) -> Option<&BlockNode> {
        self.nodes.get(id)
    }

    /// The main-chain block at `height`.
    pub fn main_chain_id(&self, height: BlockHeight) -> Option<BlockId> {
        usize::try_from(height.0)
            .ok()
            .and_then(|index| self.main.get(index))
            .copied()
    }

    pub fn block(&self, id: &BlockId) -> Result<Option<Block>, ChainError> {
        Ok(self.store.block(id)?)
    }

    pub fn is_known_invalid(&self, id: &BlockId) -> bool {
        self.invalid.contains(id)
    }

    pub fn orphan_count(&self) -> usize {
        self.orphans.len()
    }

    pub fn parked_count(&self) -> usize {
        self.parked.len()
    }

    /// The context a child of `parent` at `timestamp` is validated in
    /// (height, target, stake modifier), and the earliest timestamp it may
    /// carry (the median rule). For block creators.
    pub fn child_context(&self, parent: &BlockId) -> Option<(BlockContext, Timestamp)> {
        let node = self.nodes.get(parent)?;
        let height = node.height.checked_add(1)?;
        let context = BlockContext {
            height,
            target: node.child_target,
            stake_modifier: self.stake_modifier_for(node, height),
        };
        Some((context, self.median_time(node)))
    }

    /// Accepts a block from anywhere; see the module documentation.
    pub fn accept_block(&mut self, block: Block) -> Result<AcceptOutcome, ChainError> {
        let id = block.id();
        let outcome = self.accept_one(block, id)?;
        let AcceptOutcome::Connected { mut update, .. } = outcome else {
            return Ok(outcome);
        };
        // Orphans waiting for this block (and their descendants).
        let mut rejected_orphans = Vec::new();
        let mut connected = VecDeque::from([id]);
        while let Some(parent) = connected.pop_front() {
            let waiting: Vec<BlockId> = self
                .orphans
                .iter()
                .filter(|(_, orphan)| orphan.header.parent == parent)
                .map(|(orphan_id, _)| *orphan_id)
                .collect();
            for orphan_id in waiting {
                let Some(orphan) = self.orphans.remove(&orphan_id) else {
                    continue;
                };
                self.orphan_order.retain(|queued| *queued != orphan_id);
                match self.accept_one(orphan, orphan_id) {
                    Ok(AcceptOutcome::Connected { update: more, .. }) => {
                        update.merge(more);
                        connected.push_back(orphan_id);
                    }
                    Ok(_) => {}
                    Err(error) => rejected_orphans.push((orphan_id, error.to_string())),
                }
            }
        }
        Ok(AcceptOutcome::Connected {
            update,
            rejected_orphans,
        })
    }

    /// Retries parked blocks whose time has come.
    pub fn poll_parked(&mut self) -> Vec<(BlockId, Result<AcceptOutcome, ChainError>)> {
        let now = self.clock.now();
        let future = self.config.consensus.future_threshold;
        let due: Vec<(Timestamp, BlockId)> = self
            .parked
            .keys()
            .take_while(|(timestamp, _)| timestamp.0 <= now.0.saturating_add(future))
            .copied()
            .collect();
        let mut results = Vec::new();
        for key in due {
            if let Some(block) = self.parked.remove(&key) {
                results.push((key.1, self.accept_block(block)));
            }
        }
        results
    }

    fn accept_one(&mut self, block: Block, id: BlockId) -> Result<AcceptOutcome, ChainError> {
        if self.invalid.contains(&id) {
            return Err(ChainError::KnownInvalid { id });
        }
        if self.nodes.contains_key(&id) {
            return Ok(AcceptOutcome::AlreadyKnown);
        }
        let parent_id = block.header.parent;
        if self.invalid.contains(&parent_id) {
            self.remember_invalid(id);
            return Err(ChainError::InvalidAncestor {
                id,
                ancestor: parent_id,
            });
        }
        let Some(parent) = self.nodes.get(&parent_id).cloned() else {
            self.add_orphan(id, block);
            return Ok(AcceptOutcome::Orphan {
                missing_parent: parent_id,
            });
        };

        let consensus = &self.config.consensus;
        let now = self.clock.now();
        let timestamp = block.header.timestamp;
        if timestamp.0 > now.0.saturating_add(consensus.extreme_future_threshold) {
            return Err(ChainError::ExtremeFuture {
                id,
                timestamp,
                now,
                limit: consensus.extreme_future_threshold,
            });
        }
        if timestamp.0 > now.0.saturating_add(consensus.future_threshold) {
            let retry_at = Timestamp(timestamp.0 - consensus.future_threshold);
            if self.parked.len() >= PARKED_LIMIT {
                // Drop the block due last.
                if let Some(last) = self.parked.keys().next_back().copied() {
                    self.parked.remove(&last);
                }
            }
            self.parked.insert((timestamp, id), block);
            return Ok(AcceptOutcome::Parked { retry_at });
        }

        let median = self.median_time(&parent);
        if timestamp < median {
            self.remember_invalid(id);
            return Err(ChainError::TimestampBeforeMedian {
                id,
                timestamp,
                median,
            });
        }
        if timestamp <= parent.timestamp {
            self.remember_invalid(id);
            return Err(ChainError::TimestampNotAfterParent {
                id,
                timestamp,
                parent: parent.timestamp,
            });
        }
        let validated = match validate_block(block, &self.config.params) {
            Ok(validated) => validated,
            Err(source) => {
                self.remember_invalid(id);
                return Err(ChainError::Stateless {
                    id,
                    source: Box::new(source),
                });
            }
        };

        let node = self.child_node(&parent, id, timestamp);
        self.store.put_block(id, validated.block())?;
        self.nodes.insert(id, node.clone());
        self.children.entry(parent_id).or_default().push(id);

        let tip = self.tip();
        let switch = node.cumulative.surpasses(
            &tip.cumulative,
            &tip.child_target.difficulty(),
            self.config.consensus.surpass_threshold,
        );
        if !switch {
            return Ok(AcceptOutcome::Connected {
                update: ChainUpdate::default(),
                rejected_orphans: Vec::new(),
            });
        }
        let update = self.switch_to(&node, Some(validated))?;
        Ok(AcceptOutcome::Connected {
            update,
            rejected_orphans: Vec::new(),
        })
    }

    fn child_node(&self, parent: &BlockNode, id: BlockId, timestamp: Timestamp) -> BlockNode {
        let consensus = &self.config.consensus;
        let height = BlockHeight(parent.height.0 + 1);
        let interval = consensus.target_window / 2;
        let cumulative = parent.cumulative.plus(&parent.child_target.difficulty());
        let child_target = if height.0.is_multiple_of(interval) {
            let window = consensus.target_window.min(height.0);
            let start = self.ancestor(parent, BlockHeight(height.0 - window));
            let actual = i128::from(timestamp.0) - i128::from(start.timestamp.0);
            let work = Difficulty(&cumulative.0 - &start.cumulative.0);
            retarget(
                parent.child_target,
                actual,
                consensus.block_frequency,
                &work,
                consensus.max_adjustment_up,
                consensus.max_adjustment_down,
            )
        } else {
            parent.child_target
        };
        BlockNode {
            id,
            parent: parent.id,
            height,
            timestamp,
            child_target,
            cumulative,
        }
    }

    fn on_main(&self, node: &BlockNode) -> bool {
        self.main_chain_id(node.height) == Some(node.id)
    }

    /// The node of the ancestor of `from` (inclusive) at `height`.
    fn ancestor<'a>(&'a self, from: &'a BlockNode, height: BlockHeight) -> &'a BlockNode {
        let mut current = from;
        loop {
            if current.height <= height {
                return current;
            }
            if self.on_main(current)
                && let Some(node) = self
                    .main_chain_id(height)
                    .and_then(|id| self.nodes.get(&id))
            {
                return node;
            }
            match self.nodes.get(&current.parent) {
                Some(parent) => current = parent,
                None => return current,
            }
        }
    }

    /// The median of the timestamps of `parent` and its ancestors
    /// (`median_timestamp_window` blocks; missing ones repeat genesis).
    fn median_time(&self, parent: &BlockNode) -> Timestamp {
        let window = self.config.consensus.median_timestamp_window as usize;
        let mut times = Vec::with_capacity(window);
        let mut current = parent;
        while times.len() < window {
            times.push(current.timestamp);
            match self.nodes.get(&current.parent) {
                Some(parent) if current.height > BlockHeight::GENESIS => current = parent,
                _ => break,
            }
        }
        let last = *times.last().expect("at least the parent's time");
        times.resize(window, last);
        times.sort();
        times[window / 2]
    }

    fn stake_modifier_for(&self, parent: &BlockNode, height: BlockHeight) -> StakeModifier {
        let delay = self.config.consensus.stake_modifier_delay;
        // Collect the 256 source IDs from the top one downwards.
        let mut sources: Vec<BlockId> = Vec::with_capacity(256);
        if let Some(top) = height.0.checked_sub(delay) {
            let mut current = self.ancestor(parent, BlockHeight(top));
            loop {
                sources.push(current.id);
                if sources.len() == 256 || current.height == BlockHeight::GENESIS {
                    break;
                }
                current = if self.on_main(current) {
                    let below = BlockHeight(current.height.0 - 1);
                    match self.main_chain_id(below).and_then(|id| self.nodes.get(&id)) {
                        Some(node) => node,
                        None => break,
                    }
                } else {
                    match self.nodes.get(&current.parent) {
                        Some(node) => node,
                        None => break,
                    }
                };
            }
        }
        let top = height.0.saturating_sub(delay);
        stake_modifier(
            height.0,
            delay,
            |source_height| {
                let index = (top - source_height) as usize;
                sources.get(index).copied().unwrap_or_default()
            },
            |k| {
                self.pre_genesis
                    .get(k as usize - 1)
                    .copied()
                    .unwrap_or_else(|| pre_genesis_id(&self.config.genesis_id, k))
            },
        )
    }

    fn add_orphan(&mut self, id: BlockId, block: Block) {
        if self.orphans.contains_key(&id) {
            return;
        }
        while self.orphans.len() >= ORPHAN_LIMIT {
            match self.orphan_order.pop_front() {
                Some(oldest) => {
                    self.orphans.remove(&oldest);
                }
                None => break,
            }
        }
        self.orphans.insert(id, block);
        self.orphan_order.push_back(id);
    }

    fn remember_invalid(&mut self, id: BlockId) {
        if self.invalid.insert(id) {
            self.invalid_order.push_back(id);
            while self.invalid_order.len() > INVALID_LIMIT {
                if let Some(oldest) = self.invalid_order.pop_front() {
                    self.invalid.remove(&oldest);
                }
            }
        }
    }

    /// Removes `id` and its descendants from the tree, remembering them
    /// as invalid.
    fn invalidate_subtree(&mut self, id: BlockId) {
        let mut pending = vec![id];
        while let Some(current) = pending.pop() {
            if let Some(node) = self.nodes.remove(&current)
                && let Some(siblings) = self.children.get_mut(&node.parent)
            {
                siblings.retain(|child| *child != current);
            }
            if let Some(children) = self.children.remove(&current) {
                pending.extend(children);
            }
            self.remember_invalid(current);
        }
    }

    /// Makes `new_tip` the tip: revert to the fork point, apply the branch.
    fn switch_to(
        &mut self,
        new_tip: &BlockNode,
        mut validated_tip: Option<StatelesslyValidBlock>,
    ) -> Result<ChainUpdate, ChainError> {
        // The branch from the fork point (exclusive) up to new_tip.
        let mut branch = Vec::new();
        let mut current = new_tip.clone();
        while !self.on_main(&current) {
            branch.push(current.clone());
            current = match self.nodes.get(&current.parent) {
                Some(parent) => parent.clone(),
                None => {
                    return Err(ChainError::Inconsistent(InconsistentDiff(format!(
                        "block {} has no path to the main chain",
                        new_tip.id
                    ))));
                }
            };
        }
        branch.reverse();
        let fork_height = current.height;
        let depth = self.height().0 - fork_height.0;
        if depth > self.config.consensus.finality_depth {
            return Err(ChainError::ReorgTooDeep {
                id: new_tip.id,
                depth,
                limit: self.config.consensus.finality_depth,
            });
        }

        // Revert the main chain down to the fork point.
        let mut reverted_diffs: Vec<BlockDiff> = Vec::new();
        let mut update = ChainUpdate::default();
        for height in (fork_height.0 + 1..=self.height().0).rev() {
            let id = self.main[height as usize];
            let step = self
                .store
                .diff(&id)
                .map_err(ChainError::from)
                .and_then(|diff| {
                    diff.ok_or_else(|| {
                        ChainError::Store(StoreError(format!(
                            "no diff stored for main-chain block {id}"
                        )))
                    })
                })
                .and_then(|diff| {
                    self.state.revert_diff(&diff)?;
                    Ok(diff)
                });
            match step {
                Ok(diff) => {
                    update.reverted.push(id);
                    update.events.extend(invert(&diff.events));
                    reverted_diffs.push(diff);
                }
                Err(error) => {
                    self.restore(&[], &reverted_diffs)?;
                    return Err(error);
                }
            }
        }

        // Apply the branch, validating every block against the state.
        let mut applied_diffs: Vec<BlockDiff> = Vec::new();
        for node in &branch {
            let validated = match validated_tip.take_if(|v| v.id() == node.id) {
                Some(validated) => Ok(validated),
                None => self.load_validated(&node.id),
            };
            let result = validated.and_then(|validated| {
                let parent = self.nodes.get(&node.parent).cloned().ok_or_else(|| {
                    ChainError::Inconsistent(InconsistentDiff(format!(
                        "parent of {} vanished",
                        node.id
                    )))
                })?;
                let context = BlockContext {
                    height: node.height,
                    target: parent.child_target,
                    stake_modifier: self.stake_modifier_for(&parent, node.height),
                };
                apply_block(&mut self.state, &validated, &context, &self.config).map_err(|source| {
                    ChainError::Rules {
                        id: node.id,
                        height: node.height,
                        source: Box::new(source),
                    }
                })
            });
            match result {
                Ok(diff) => applied_diffs.push(diff),
                Err(error) => {
                    self.restore(&applied_diffs, &reverted_diffs)?;
                    if matches!(
                        error,
                        ChainError::Rules { .. } | ChainError::Stateless { .. }
                    ) {
                        self.invalidate_subtree(node.id);
                        if node.id != new_tip.id {
                            return Err(ChainError::InvalidAncestor {
                                id: new_tip.id,
                                ancestor: node.id,
                            });
                        }
                    }
                    return Err(error);
                }
            }
        }

        let tip = self.state.tip();
        let commit = self.store.commit(ChainChange {
            reverted: &update.reverted,
            applied: &applied_diffs,
            tip,
        });
        if let Err(error) = commit {
            self.restore(&applied_diffs, &reverted_diffs)?;
            return Err(error.into());
        }
        self.main.truncate(fork_height.0 as usize + 1);
        for (node, diff) in branch.iter().zip(&applied_diffs) {
            self.main.push(node.id);
            update.applied.push(node.id);
            update.events.extend(diff.events.iter().cloned());
        }
        Ok(update)
    }

    /// Undoes `applied` (newest last) and redoes `reverted` (tip first).
    fn restore(
        &mut self,
        applied: &[BlockDiff],
        reverted: &[BlockDiff],
    ) -> Result<(), InconsistentDiff> {
        for diff in applied.iter().rev() {
            self.state.revert_diff(diff)?;
        }
        for diff in reverted.iter().rev() {
            self.state.apply_diff(diff)?;
        }
        Ok(())
    }

    fn load_validated(&self, id: &BlockId) -> Result<StatelesslyValidBlock, ChainError> {
        let block = self.store.block(id)?.ok_or_else(|| {
            ChainError::Store(StoreError(format!(
                "block {id} is in the tree but not stored"
            )))
        })?;
        validate_block(block, &self.config.params).map_err(|source| ChainError::Stateless {
            id: *id,
            source: Box::new(source),
        })
    }
}

/// Rebuilding a chain from a store after a restart (used by
/// [`crate::redb_store`]): the main chain is redone block by block from
/// its stored diffs without re-validation (they were validated when they
/// were applied), side-branch blocks are re-indexed, then fork choice runs
/// once over everything indexed.
impl<S: ChainStore> Chain<S> {
    /// Puts the stored block `id` (a child of the tip created at
    /// `timestamp`) on the main chain by redoing its diff.
    pub(crate) fn restore_main_block(
        &mut self,
        id: BlockId,
        parent: BlockId,
        timestamp: Timestamp,
        diff: &BlockDiff,
    ) -> Result<(), ChainError> {
        let tip = self.tip().clone();
        let height = BlockHeight(tip.height.0 + 1);
        if parent != tip.id || diff.block != id || diff.height != height {
            return Err(ChainError::Inconsistent(InconsistentDiff(format!(
                "stored block {id} (parent {parent}, diff of {} at height {}) does not extend \
                 the tip {} at height {}",
                diff.block, diff.height, tip.id, tip.height
            ))));
        }
        let node = self.child_node(&tip, id, timestamp);
        self.state.apply_diff(diff)?;
        if self.state.tip().id != id {
            self.state.revert_diff(diff)?;
            return Err(ChainError::Inconsistent(InconsistentDiff(format!(
                "the stored diff of block {id} does not move the tip to it"
            ))));
        }
        self.nodes.insert(id, node);
        self.children.entry(tip.id).or_default().push(id);
        self.main.push(id);
        Ok(())
    }

    /// Indexes a stored block off the main chain whose parent is already
    /// in the tree; `false` when the parent is unknown or `id` is indexed.
    pub(crate) fn restore_side_block(
        &mut self,
        id: BlockId,
        parent: BlockId,
        timestamp: Timestamp,
    ) -> bool {
        if self.nodes.contains_key(&id) {
            return false;
        }
        let Some(parent_node) = self.nodes.get(&parent).cloned() else {
            return false;
        };
        let node = self.child_node(&parent_node, id, timestamp);
        self.nodes.insert(id, node);
        self.children.entry(parent).or_default().push(id);
        true
    }

    /// Switches to the heaviest indexed branch that surpasses the tip, if
    /// any (a block stored but not yet committed when the process died).
    /// Branches that fail validation are remembered as invalid, as in
    /// [`Chain::accept_block`], and the next heaviest is tried.
    pub(crate) fn choose_best_branch(&mut self) -> Result<ChainUpdate, ChainError> {
        let mut candidates: Vec<BlockNode> = self
            .nodes
            .values()
            .filter(|node| !self.on_main(node))
            .cloned()
            .collect();
        candidates.sort_by(|a, b| b.cumulative.cmp(&a.cumulative).then(a.id.cmp(&b.id)));
        let mut update = ChainUpdate::default();
        for candidate in candidates {
            if !self.nodes.contains_key(&candidate.id) || self.on_main(&candidate) {
                continue;
            }
            let tip = self.tip();
            if !candidate.cumulative.surpasses(
                &tip.cumulative,
                &tip.child_target.difficulty(),
                self.config.consensus.surpass_threshold,
            ) {
                break;
            }
            match self.switch_to(&candidate, None) {
                Ok(more) => update.merge(more),
                Err(error @ (ChainError::Store(_) | ChainError::Inconsistent(_))) => {
                    return Err(error);
                }
                // Invalid (now remembered) or too deep: as when it arrived.
                Err(_) => {}
            }
        }
        Ok(update)
    }
}
