//! The transaction pool: unconfirmed transactions validated against the
//! tip, ready for the block creator.
//!
//! * **Validation against the tip.** The pool keeps a *pool state*: the
//!   tip's state with every pooled transaction applied in arrival order.
//!   A new transaction is checked statelessly, then applied to the pool
//!   state with the full stateful rules (inputs, fulfillments at the next
//!   height and the clock's time, balances, payload and address rules,
//!   signatures), so it may spend outputs of pooled transactions (chains
//!   of unconfirmed transactions).
//! * **Conflicts.** A transaction spending an output that a pooled
//!   transaction already spends is refused (first seen wins).
//! * **Ordering.** [`Mempool::select`] picks transactions by fee per byte,
//!   a transaction only after all its pooled parents, within a size budget.
//! * **Limits and eviction.** The pool holds at most `max_bytes` of
//!   transactions; above that the lowest fee-rate transactions without
//!   pooled children are evicted (a newcomer that would be evicted at once
//!   is refused as `PoolFull`).
//! * **Expiry.** Transactions older than `max_age` seconds are dropped
//!   with their descendants ([`Mempool::expire`]).
//! * **Chain changes.** [`Mempool::on_chain_update`] drops transactions
//!   confirmed by applied blocks, re-admits those of reverted blocks
//!   (except the staking respends), and rebuilds the pool state on the new
//!   tip, dropping whatever no longer validates.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::Arc;

use ledger::validation::{FeeRule, TransactionError, validate_transaction};
use ledger::{BlockHeight, Currency, Hash32, Timestamp, Transaction, TransactionId};
use thiserror::Error;

use crate::chain::{Chain, ChainError, ChainUpdate};
use crate::config::ChainConfig;
use crate::state::{ChainState, StateOp};
use crate::store::ChainStore;
use crate::validation::{TransactionRuleError, apply_transaction};

/// Pool limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MempoolConfig {
    /// Total encoded bytes of pooled transactions.
    pub max_bytes: u64,
    /// Seconds a transaction may wait before it is dropped.
    pub max_age: u64,
}

impl Default for MempoolConfig {
    fn default() -> Self {
        MempoolConfig {
            // Rivine's pool limit: about ten 2 MB blocks.
            max_bytes: 20_000_000,
            max_age: 24 * 3600,
        }
    }
}

/// Why a transaction was not admitted.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum PoolError {
    #[error("transaction {0} is already in the pool")]
    AlreadyPooled(TransactionId),
    #[error("transaction {id}: {source}")]
    Stateless {
        id: TransactionId,
        source: Box<TransactionError>,
    },
    #[error(
        "transaction {id} input {input} spends {output}, already spent by pooled transaction {other}"
    )]
    Conflict {
        id: TransactionId,
        input: usize,
        output: Hash32,
        other: TransactionId,
    },
    #[error("transaction {id}: {source}")]
    Rules {
        id: TransactionId,
        source: Box<TransactionRuleError>,
    },
    #[error(
        "transaction {id} pays {fee:?} for {size} bytes; the pool is full and keeps better-paying transactions"
    )]
    PoolFull {
        id: TransactionId,
        fee: Currency,
        size: u64,
    },
    #[error(
        "the pool is built on block {pool_tip} but the chain's tip is {chain_tip}; call on_chain_update first"
    )]
    StaleTip {
        pool_tip: ledger::BlockId,
        chain_tip: ledger::BlockId,
    },
    #[error(transparent)]
    Chain(#[from] ChainError),
}

#[derive(Debug, Clone)]
struct PoolEntry {
    transaction: Transaction,
    size: u64,
    fee: Currency,
    added_at: Timestamp,
    /// Arrival order (re-admitted transactions of reverted blocks first).
    sequence: u64,
    parents: HashSet<TransactionId>,
    ops: Vec<StateOp>,
}

impl PoolEntry {
    /// Fee per byte compared exactly: a/b > c/d ⇔ a·d > c·b.
    fn pays_more_than(&self, other: &PoolEntry) -> bool {
        let left = self.fee.0.saturating_mul(u128::from(other.size));
        let right = other.fee.0.saturating_mul(u128::from(self.size));
        left > right
    }
}

/// The pool.
pub struct Mempool {
    config: MempoolConfig,
    entries: HashMap<TransactionId, PoolEntry>,
    /// Output (coin or blockstake, by hash) → the pooled transaction spending it.
    spenders: HashMap<Hash32, TransactionId>,
    /// Coin outputs created by pooled transactions → their creator.
    creators: HashMap<Hash32, TransactionId>,
    /// The tip's state, and the pool state built on it.
    base: ChainState,
    state: ChainState,
    chain_config: Arc<ChainConfig>,
    next_height: BlockHeight,
    tip_timestamp: Timestamp,
    total_bytes: u64,
    next_sequence: u64,
    last_evicted: Option<(Currency, u64)>,
}

impl Mempool {
    pub fn new<S: ChainStore>(config: MempoolConfig, chain: &Chain<S>) -> Mempool {
        Mempool {
            config,
            entries: HashMap::new(),
            spenders: HashMap::new(),
            creators: HashMap::new(),
            base: chain.state().clone(),
            state: chain.state().clone(),
            chain_config: chain.config().clone(),
            next_height: BlockHeight(chain.tip().height.0 + 1),
            tip_timestamp: chain.tip().timestamp,
            total_bytes: 0,
            next_sequence: 0,
            last_evicted: None,
        }
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub fn total_bytes(&self) -> u64 {
        self.total_bytes
    }

    pub fn contains(&self, id: &TransactionId) -> bool {
        self.entries.contains_key(id)
    }

    /// The pooled transaction spending the coin or blockstake output with
    /// this ID, if any.
    pub fn spender(&self, output: &Hash32) -> Option<TransactionId> {
        self.spenders.get(output).copied()
    }

    /// The pool's view of the chain state (tip plus pooled transactions).
    pub fn state(&self) -> &ChainState {
        &self.state
    }

    /// Admits a transaction. Returns its ID and the IDs of transactions
    /// evicted to make room.
    pub fn add<S: ChainStore>(
        &mut self,
        chain: &Chain<S>,
        transaction: Transaction,
    ) -> Result<(TransactionId, Vec<TransactionId>), PoolError> {
        if chain.tip().id != self.base.tip().id {
            return Err(PoolError::StaleTip {
                pool_tip: self.base.tip().id,
                chain_tip: chain.tip().id,
            });
        }
        let now = chain.clock().now();
        let sequence = self.next_sequence;
        self.next_sequence += 1;
        let id = self.admit(transaction, now, now, sequence)?;
        let evicted = self.evict_over_limit();
        if evicted.contains(&id) {
            let (fee, size) = self.last_evicted.unwrap_or((Currency::ZERO, 0));
            return Err(PoolError::PoolFull { id, fee, size });
        }
        Ok((id, evicted))
    }

    /// Validates against the pool state and inserts; `now` is the clock
    /// (time locks), `added_at` the admission time (expiry).
    fn admit(
        &mut self,
        transaction: Transaction,
        now: Timestamp,
        added_at: Timestamp,
        sequence: u64,
    ) -> Result<TransactionId, PoolError> {
        let id = transaction.id();
        if self.entries.contains_key(&id) {
            return Err(PoolError::AlreadyPooled(id));
        }
        let config = &self.chain_config;
        validate_transaction(&transaction, &config.params, FeeRule::Required).map_err(
            |source| PoolError::Stateless {
                id,
                source: Box::new(source),
            },
        )?;
        let inputs: Vec<Hash32> = transaction
            .coin_inputs
            .iter()
            .map(|input| input.parent_id.0)
            .chain(
                transaction
                    .blockstake_inputs
                    .iter()
                    .map(|input| input.parent_id.0),
            )
            .collect();
        for (input, output) in inputs.iter().enumerate() {
            if let Some(other) = self.spenders.get(output) {
                return Err(PoolError::Conflict {
                    id,
                    input,
                    output: *output,
                    other: *other,
                });
            }
        }
        let timestamp = now.max(self.tip_timestamp);
        let ops = apply_transaction(
            &mut self.state,
            &transaction,
            &id,
            1 + self.entries.len(),
            self.next_height,
            timestamp,
            &self.chain_config,
        )
        .map_err(|source| PoolError::Rules {
            id,
            source: Box::new(source),
        })?;
        let parents: HashSet<TransactionId> = inputs
            .iter()
            .filter_map(|output| self.creators.get(output).copied())
            .collect();
        for output in &inputs {
            self.spenders.insert(*output, id);
        }
        for output in transaction.coin_output_ids(&id) {
            self.creators.insert(output.0, id);
        }
        for output in transaction.blockstake_output_ids(&id) {
            self.creators.insert(output.0, id);
        }
        let size = transaction.encoded_size() as u64;
        self.total_bytes += size;
        self.entries.insert(
            id,
            PoolEntry {
                fee: transaction.fee,
                transaction,
                size,
                added_at,
                sequence,
                parents,
                ops,
            },
        );
        Ok(id)
    }

    /// Transactions for a block, best fee rate first, parents before
    /// children, at most `max_bytes` in total.
    pub fn select(&self, max_bytes: u64) -> Vec<Transaction> {
        let mut included: HashSet<TransactionId> = HashSet::new();
        let mut chosen = Vec::new();
        let mut budget = max_bytes;
        let mut skipped: HashSet<TransactionId> = HashSet::new();
        loop {
            let best = self
                .entries
                .iter()
                .filter(|(id, entry)| {
                    !included.contains(*id)
                        && !skipped.contains(*id)
                        && entry.parents.iter().all(|parent| included.contains(parent))
                })
                .max_by(|(a_id, a), (b_id, b)| {
                    if a.pays_more_than(b) {
                        std::cmp::Ordering::Greater
                    } else if b.pays_more_than(a) {
                        std::cmp::Ordering::Less
                    } else {
                        b.sequence.cmp(&a.sequence).then(b_id.cmp(a_id))
                    }
                });
            let Some((id, entry)) = best else {
                break;
            };
            if entry.size <= budget {
                budget -= entry.size;
                included.insert(*id);
                chosen.push(entry.transaction.clone());
            } else {
                skipped.insert(*id);
            }
        }
        chosen
    }

    /// Drops transactions older than `max_age` (and their descendants).
    pub fn expire<S: ChainStore>(
        &mut self,
        chain: &Chain<S>,
    ) -> Result<Vec<TransactionId>, PoolError> {
        let now = chain.clock().now();
        let old: Vec<TransactionId> = self
            .entries
            .iter()
            .filter(|(_, entry)| entry.added_at.0.saturating_add(self.config.max_age) < now.0)
            .map(|(id, _)| *id)
            .collect();
        if old.is_empty() {
            return Ok(Vec::new());
        }
        let dropped = self.with_descendants(&old);
        self.rebuild(Vec::new(), &dropped, now);
        Ok(dropped.into_iter().collect())
    }

    /// Follows a change of the best chain: drops confirmed transactions,
    /// re-admits those of reverted blocks, rebuilds on the new tip.
    /// Returns the pooled transactions that no longer validate.
    pub fn on_chain_update<S: ChainStore>(
        &mut self,
        chain: &Chain<S>,
        update: &ChainUpdate,
    ) -> Result<Vec<TransactionId>, PoolError> {
        let mut confirmed = BTreeSet::new();
        for id in &update.applied {
            if let Some(block) = chain.block(id)? {
                confirmed.extend(block.transactions.iter().map(Transaction::id));
            }
        }
        let mut readmit = Vec::new();
        // Reverted blocks come tip first; re-admit oldest block first.
        for id in update.reverted.iter().rev() {
            if let Some(block) = chain.block(id)? {
                readmit.extend(
                    block
                        .transactions
                        .into_iter()
                        .skip(1)
                        .filter(|tx| !confirmed.contains(&tx.id())),
                );
            }
        }
        self.base = chain.state().clone();
        self.next_height = BlockHeight(chain.tip().height.0 + 1);
        self.tip_timestamp = chain.tip().timestamp;
        Ok(self.rebuild(
            readmit,
            &confirmed.into_iter().collect(),
            chain.clock().now(),
        ))
    }

    /// Every transaction in `roots` and all pooled transactions spending
    /// their outputs, transitively.
    fn with_descendants(&self, roots: &[TransactionId]) -> HashSet<TransactionId> {
        let mut result: HashSet<TransactionId> = roots.iter().copied().collect();
        loop {
            let more: Vec<TransactionId> = self
                .entries
                .iter()
                .filter(|(id, entry)| {
                    !result.contains(*id) && entry.parents.iter().any(|p| result.contains(p))
                })
                .map(|(id, _)| *id)
                .collect();
            if more.is_empty() {
                return result;
            }
            result.extend(more);
        }
    }

    /// Rebuilds the pool state on the base (tip) state: `first`
    /// (re-admitted), then the current entries in arrival order without
    /// `remove`. Returns the IDs of current entries that no longer validate
    /// or no longer fit.
    fn rebuild(
        &mut self,
        first: Vec<Transaction>,
        remove: &HashSet<TransactionId>,
        now: Timestamp,
    ) -> Vec<TransactionId> {
        let mut old: Vec<PoolEntry> = self.entries.drain().map(|(_, entry)| entry).collect();
        old.sort_by_key(|entry| entry.sequence);
        self.spenders.clear();
        self.creators.clear();
        self.total_bytes = 0;
        self.state = self.base.clone();
        for transaction in first {
            let sequence = self.next_sequence;
            self.next_sequence += 1;
            // A reverted transaction that no longer validates is simply gone.
            let _ = self.admit(transaction, now, now, sequence);
        }
        let mut dropped = Vec::new();
        for entry in old {
            let id = entry.transaction.id();
            if remove.contains(&id) {
                continue;
            }
            match self.admit(entry.transaction, now, entry.added_at, entry.sequence) {
                Ok(_) | Err(PoolError::AlreadyPooled(_)) => {}
                Err(_) => dropped.push(id),
            }
        }
        dropped.extend(self.evict_over_limit());
        dropped
    }

    /// Evicts the lowest fee-rate leaves until the pool fits.
    fn evict_over_limit(&mut self) -> Vec<TransactionId> {
        let mut evicted = Vec::new();
        while self.total_bytes > self.config.max_bytes {
            let has_children: HashSet<TransactionId> = self
                .entries
                .values()
                .flat_map(|entry| entry.parents.iter().copied())
                .collect();
            let worst = self
                .entries
                .iter()
                .filter(|(id, _)| !has_children.contains(*id))
                .min_by(|(a_id, a), (b_id, b)| {
                    if a.pays_more_than(b) {
                        std::cmp::Ordering::Greater
                    } else if b.pays_more_than(a) {
                        std::cmp::Ordering::Less
                    } else {
                        // Among equals the newest goes first.
                        b.sequence.cmp(&a.sequence).then(a_id.cmp(b_id))
                    }
                })
                .map(|(id, _)| *id);
            let Some(id) = worst else {
                break;
            };
            self.remove_leaf(&id);
            evicted.push(id);
        }
        evicted
    }

    /// Removes a transaction no pooled transaction spends from, undoing it
    /// in the pool state. If its ops do not undo cleanly (a later
    /// transaction relied on a state change it made, such as a new mint
    /// condition), the pool is rebuilt without it.
    fn remove_leaf(&mut self, id: &TransactionId) {
        let Some(entry) = self.entries.remove(id) else {
            return;
        };
        self.total_bytes -= entry.size;
        self.last_evicted = Some((entry.fee, entry.size));
        if self.state.revert_ops(&entry.ops).is_err() {
            let now = self.tip_timestamp.max(entry.added_at);
            self.rebuild(Vec::new(), &HashSet::new(), now);
            return;
        }
        self.spenders.retain(|_, spender| spender != id);
        self.creators.retain(|_, creator| creator != id);
    }
}
