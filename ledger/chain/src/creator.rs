//! Block creation: find the earliest second at which one of our
//! blockstake outputs wins the lottery on top of the tip, and build that
//! block (the signed respend first, then the given transactions, payouts
//! of creator fee plus fees to the staker's address).
//!
//! The pool may hold a transaction spending one of our stake outputs (the
//! staker sending blockstakes). The respend must spend the winning output
//! in the block's first transaction, so such a transaction can never share
//! a block with it: [`find_winning_stake`] stakes with an output no pooled
//! transaction spends while there is one that may stake, and
//! [`assemble_block`] leaves out every transaction conflicting with the
//! stake input (and their pooled descendants). Before a block is returned
//! it passes the rules every peer applies ([`check_block`]); a transaction
//! that breaks them is left out, so no pool content can make the creator
//! produce an invalid block.

use std::collections::HashSet;

use ledger::crypto::SecretKey;
use ledger::fulfillment::{InputKind, SingleSignatureFulfillment, signing_message};
use ledger::validation::{BlockError, validate_block};
use ledger::{
    Address, Block, BlockHeight, BlockId, BlockStakeInput, BlockStakePosition, Currency,
    Fulfillment, Hash32, Payout, Timestamp, Transaction, TransactionId,
};
use thiserror::Error;

use crate::chain::Chain;
use crate::mempool::Mempool;
use crate::pobs::{lottery_hash, winning_bound, wins};
use crate::store::ChainStore;
use crate::validation::{BlockRuleError, apply_block};

/// Why a block could not be built.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum CreatorError {
    #[error(
        "no unspent blockstake output at height {}, transaction {}, output {}",
        .0.height, .0.transaction_index, .0.output_index
    )]
    NoStakeOutput(BlockStakePosition),
    #[error("the key {0} cannot sign for the stake output's {1} condition")]
    WrongKey(ledger::PublicKey, &'static str),
    #[error("fees overflow")]
    FeeOverflow,
    #[error("block {0} does not build on a block of the tree")]
    UnknownParent(BlockId),
    #[error("block timestamp {timestamp} is before the median {median}")]
    BeforeMedian {
        timestamp: Timestamp,
        median: Timestamp,
    },
    #[error("the assembled block breaks a stateless rule: {0}")]
    Stateless(Box<BlockError>),
    #[error("the assembled block breaks a rule: {0}")]
    Rules(Box<BlockRuleError>),
}

/// Why a pooled transaction was left out of a block (it stays in the pool
/// until the pool drops it).
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum SkipReason {
    #[error("it spends the stake output the block respends, or descends from one that does")]
    SpendsStakeInput,
    #[error("it breaks a rule in the block: {0}")]
    Invalid(String),
}

/// A block ready to sign off and announce, and the pool's transactions
/// left out of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Assembled {
    pub block: Block,
    pub skipped: Vec<(TransactionId, SkipReason)>,
}

/// When the output at `position` may stake (outputs of genesis and of
/// respends at once, others after `blockstake_aging`); `None` if it is not
/// an unspent blockstake output of the tip.
fn stake_ready_at<S: ChainStore>(
    chain: &Chain<S>,
    position: &BlockStakePosition,
) -> Option<Timestamp> {
    let (_, entry) = chain.state().blockstake_at(position)?;
    let exempt =
        position.height.0 == 0 || (position.transaction_index == 0 && position.output_index == 0);
    if exempt {
        Some(Timestamp(0))
    } else {
        entry
            .created_at
            .checked_add_seconds(chain.config().consensus.blockstake_aging)
    }
}

/// The earliest timestamp in `[from, until)` (and after the tip's, not
/// before the median rule allows) at which one of `positions` wins on top of the tip, with
/// the winning position. Outputs still aging are skipped until they may
/// stake.
pub fn find_winning_timestamp<S: ChainStore>(
    chain: &Chain<S>,
    positions: &[BlockStakePosition],
    from: Timestamp,
    until: Timestamp,
) -> Option<(Timestamp, BlockStakePosition)> {
    let tip = chain.tip();
    let (context, median) = chain.child_context(&tip.id)?;
    let candidates: Vec<_> = positions
        .iter()
        .filter_map(|position| {
            let (_, entry) = chain.state().blockstake_at(position)?;
            let ready = stake_ready_at(chain, position)?;
            Some((
                *position,
                ready,
                winning_bound(context.target, entry.output.value),
            ))
        })
        .collect();
    let start = from
        .max(median)
        .max(Timestamp(tip.timestamp.0.saturating_add(1)));
    for second in start.0..until.0 {
        let timestamp = Timestamp(second);
        for (position, ready, bound) in &candidates {
            if timestamp >= *ready
                && wins(
                    &lottery_hash(&context.stake_modifier, position, timestamp),
                    bound,
                )
            {
                return Some((timestamp, *position));
            }
        }
    }
    None
}

/// [`find_winning_timestamp`] preferring the outputs no pooled transaction
/// spends: a pooled transaction spending a stake output (the staker moving
/// its blockstakes) cannot go into a block that respends that output, so
/// while any other output may stake in `[from, until)` only those are
/// tried. The contested outputs are tried only when no other output can
/// stake (a lone staker with a single output would otherwise stop the
/// chain); the block then leaves the conflicting transaction out, and it
/// leaves the pool once the respend has spent its input.
pub fn find_winning_stake<S: ChainStore>(
    chain: &Chain<S>,
    pool: &Mempool,
    positions: &[BlockStakePosition],
    from: Timestamp,
    until: Timestamp,
) -> Option<(Timestamp, BlockStakePosition)> {
    let (contested, free): (Vec<BlockStakePosition>, Vec<BlockStakePosition>) =
        positions.iter().partition(|position| {
            chain
                .state()
                .blockstake_at(position)
                .is_some_and(|(id, _)| pool.spender(&id.0).is_some())
        });
    let free_may_stake = free
        .iter()
        .any(|position| stake_ready_at(chain, position).is_some_and(|ready| ready < until));
    if contested.is_empty() || free_may_stake {
        find_winning_timestamp(chain, &free, from, until)
    } else {
        find_winning_timestamp(chain, positions, from, until)
    }
}

/// Builds a block on the tip staking the output at `position` (owned by
/// `key` through a single-key condition) at `timestamp`, carrying
/// `transactions` after the respend.
pub fn build_block<S: ChainStore>(
    chain: &Chain<S>,
    key: &SecretKey,
    position: BlockStakePosition,
    timestamp: Timestamp,
    transactions: Vec<Transaction>,
) -> Result<Block, CreatorError> {
    let tip = chain.tip();
    let height = tip.height.0 + 1;
    let (stake_id, entry) = chain
        .state()
        .blockstake_at(&position)
        .ok_or(CreatorError::NoStakeOutput(position))?;
    let public_key = key.public_key();
    let staker = entry.output.condition.address();
    if staker != Address::for_public_key(&public_key) {
        return Err(CreatorError::WrongKey(
            public_key,
            entry.output.condition.kind_name(),
        ));
    }
    let mut respend = Transaction {
        blockstake_inputs: vec![BlockStakeInput {
            parent_id: stake_id,
            fulfillment: Fulfillment::Nil,
        }],
        blockstake_outputs: vec![entry.output.clone()],
        ..Transaction::new()
    };
    let context = Transaction::input_context(
        &respend.id(),
        &chain.config().params,
        InputKind::BlockStake,
        0,
        ledger::BlockHeight(height),
        timestamp,
    );
    let signature = key.sign(&signing_message(&context, &public_key, None));
    respend.blockstake_inputs[0].fulfillment =
        Fulfillment::SingleSignature(SingleSignatureFulfillment {
            public_key,
            signature,
        });
    let fees = Currency::checked_sum(transactions.iter().map(|tx| tx.fee))
        .and_then(|fees| fees.checked_add(chain.config().consensus.block_creator_fee))
        .ok_or(CreatorError::FeeOverflow)?;
    let payouts = if fees.is_zero() {
        Vec::new()
    } else {
        vec![Payout {
            value: fees,
            address: staker,
        }]
    };
    let mut all = Vec::with_capacity(transactions.len() + 1);
    all.push(respend);
    all.extend(transactions);
    Ok(Block::new(tip.id, timestamp, position, payouts, all))
}

/// Checks `block` (a child of the tip) with the rules a peer's block
/// meets: the median rule, the stateless rules and the stateful rules
/// against a copy of the tip state. The clock checks do not apply to our
/// own blocks, whose timestamps are at most the clock's now.
pub fn check_block<S: ChainStore>(chain: &Chain<S>, block: &Block) -> Result<(), CreatorError> {
    let parent = block.header.parent;
    let (context, median) = chain
        .child_context(&parent)
        .ok_or(CreatorError::UnknownParent(parent))?;
    let timestamp = block.header.timestamp;
    if timestamp < median {
        return Err(CreatorError::BeforeMedian { timestamp, median });
    }
    let valid = validate_block(block.clone(), &chain.config().params)
        .map_err(|error| CreatorError::Stateless(Box::new(error)))?;
    let mut state = chain.state().clone();
    apply_block(&mut state, &valid, &context, chain.config())
        .map_err(|error| CreatorError::Rules(Box::new(error)))?;
    Ok(())
}

/// The block staking `position` at `timestamp` with as many of
/// `candidates` (the pool's selection: parents before children) as fit
/// and may go in, checked with [`check_block`]:
///
/// 1. transactions spending the stake input, and their descendants, are
///    left out;
/// 2. the last ones are left out until the block fits the size limit;
/// 3. if the block still breaks a rule, each transaction is tried in
///    order against a copy of the tip state and those that fail are left
///    out; if even that block fails, the block carries the respend alone.
pub fn assemble_block<S: ChainStore>(
    chain: &Chain<S>,
    key: &SecretKey,
    position: BlockStakePosition,
    timestamp: Timestamp,
    candidates: Vec<Transaction>,
) -> Result<Assembled, CreatorError> {
    let (stake_id, _) = chain
        .state()
        .blockstake_at(&position)
        .ok_or(CreatorError::NoStakeOutput(position))?;
    let mut skipped = Vec::new();
    let mut excluded: HashSet<Hash32> = HashSet::from([stake_id.0]);
    let mut transactions = Vec::with_capacity(candidates.len());
    for transaction in candidates {
        let spends_excluded = transaction
            .coin_inputs
            .iter()
            .map(|input| input.parent_id.0)
            .chain(transaction.blockstake_inputs.iter().map(|i| i.parent_id.0))
            .any(|output| excluded.contains(&output));
        if spends_excluded {
            let id = transaction.id();
            excluded.extend(transaction.coin_output_ids(&id).into_iter().map(|o| o.0));
            excluded.extend(
                transaction
                    .blockstake_output_ids(&id)
                    .into_iter()
                    .map(|o| o.0),
            );
            skipped.push((id, SkipReason::SpendsStakeInput));
        } else {
            transactions.push(transaction);
        }
    }
    let limit = chain.config().params.block_size_limit;
    let block = loop {
        let block = build_block(chain, key, position, timestamp, transactions.clone())?;
        if block.encoded_size() as u64 <= limit || transactions.is_empty() {
            break block;
        }
        // Children follow parents in the selection, so dropping from the
        // end never orphans an included transaction.
        transactions.pop();
    };
    if check_block(chain, &block).is_ok() {
        return Ok(Assembled { block, skipped });
    }
    // Some transaction no longer fits the tip (the pool never admits one
    // that breaks a rule, so this is a pool out of step): keep those that
    // apply in order.
    let height = BlockHeight(chain.tip().height.0 + 1);
    let mut state = chain.state().clone();
    let mut kept = Vec::with_capacity(transactions.len());
    for transaction in transactions {
        let id = transaction.id();
        match crate::validation::apply_transaction(
            &mut state,
            &transaction,
            &id,
            kept.len() + 1,
            height,
            timestamp,
            chain.config(),
        ) {
            Ok(_) => kept.push(transaction),
            Err(error) => skipped.push((id, SkipReason::Invalid(error.to_string()))),
        }
    }
    let block = build_block(chain, key, position, timestamp, kept.clone())?;
    match check_block(chain, &block) {
        Ok(()) => Ok(Assembled { block, skipped }),
        Err(error) => {
            let reason = SkipReason::Invalid(error.to_string());
            skipped.extend(kept.iter().map(|tx| (tx.id(), reason.clone())));
            let block = build_block(chain, key, position, timestamp, Vec::new())?;
            check_block(chain, &block)?;
            Ok(Assembled { block, skipped })
        }
    }
}

/// Room left in a block for its header, payouts and the respend when
/// filling it from the pool.
pub const BLOCK_OVERHEAD_RESERVE: u64 = 10_000;

/// The staking loop of a node: called once a second, it tries every second
/// since its last call (each at most once per tip) for every owned
/// blockstake output that may stake, and on a win builds the block from the
/// signed respend and the pool's best transactions.
#[derive(Debug)]
pub struct BlockCreator {
    keys: Vec<SecretKey>,
    /// The tip and the last timestamp tried on it.
    tried: Option<(ledger::BlockId, Timestamp)>,
}

impl BlockCreator {
    pub fn new(keys: Vec<SecretKey>) -> BlockCreator {
        BlockCreator { keys, tried: None }
    }

    /// The unspent blockstake outputs in the tip state that one of our keys
    /// can spend alone, with that key's index.
    pub fn owned_positions<S: ChainStore>(
        &self,
        chain: &Chain<S>,
    ) -> Vec<(BlockStakePosition, usize)> {
        let addresses: Vec<Address> = self
            .keys
            .iter()
            .map(|key| Address::for_public_key(&key.public_key()))
            .collect();
        let mut owned: Vec<(BlockStakePosition, usize)> = chain
            .state()
            .blockstake_outputs()
            .filter_map(|(_, entry)| {
                let address = entry.output.condition.address();
                addresses
                    .iter()
                    .position(|own| *own == address)
                    .map(|index| (entry.position, index))
            })
            .collect();
        owned.sort();
        owned
    }

    /// Tries the seconds up to the clock's now; returns a block to accept
    /// and broadcast if one of our outputs wins.
    pub fn try_create<S: ChainStore>(
        &mut self,
        chain: &Chain<S>,
        pool: &Mempool,
    ) -> Result<Option<Block>, CreatorError> {
        let tip = chain.tip();
        let now = chain.clock().now();
        let from = match self.tried {
            Some((tried_tip, last)) if tried_tip == tip.id => Timestamp(last.0 + 1),
            _ => Timestamp(tip.timestamp.0 + 1),
        };
        if from > now {
            return Ok(None);
        }
        self.tried = Some((tip.id, now));
        let assembled = self.create_between(chain, pool, from, Timestamp(now.0 + 1))?;
        Ok(assembled.map(|assembled| assembled.block))
    }

    /// The block of the first winning (second, output) in `[from, until)`,
    /// preferring outputs no pooled transaction spends
    /// ([`find_winning_stake`]), filled from the pool's best transactions
    /// within `limit − BLOCK_OVERHEAD_RESERVE` bytes ([`assemble_block`]).
    pub fn create_between<S: ChainStore>(
        &self,
        chain: &Chain<S>,
        pool: &Mempool,
        from: Timestamp,
        until: Timestamp,
    ) -> Result<Option<Assembled>, CreatorError> {
        let owned = self.owned_positions(chain);
        let positions: Vec<BlockStakePosition> = owned.iter().map(|(p, _)| *p).collect();
        let Some((timestamp, position)) = find_winning_stake(chain, pool, &positions, from, until)
        else {
            return Ok(None);
        };
        let key = owned
            .iter()
            .find(|(p, _)| *p == position)
            .and_then(|(_, index)| self.keys.get(*index))
            .ok_or(CreatorError::NoStakeOutput(position))?;
        let limit = chain.config().params.block_size_limit;
        let candidates = pool.select(limit.saturating_sub(BLOCK_OVERHEAD_RESERVE));
        assemble_block(chain, key, position, timestamp, candidates).map(Some)
    }

    /// Whether there is any key to create blocks with.
    pub fn has_keys(&self) -> bool {
        !self.keys.is_empty()
    }
}
