//! Block creation: find the earliest second at which one of our
//! blockstake outputs wins the lottery on top of the tip, and build that
//! block (the signed respend first, then the given transactions, payouts
//! of creator fee plus fees to the staker's address).

use ledger::crypto::SecretKey;
use ledger::fulfillment::{InputKind, SingleSignatureFulfillment, signing_message};
use ledger::{
    Address, Block, BlockStakeInput, BlockStakePosition, Currency, Fulfillment, Payout, Timestamp,
    Transaction,
};
use thiserror::Error;

use crate::chain::Chain;
use crate::pobs::{lottery_hash, winning_bound, wins};
use crate::store::ChainStore;

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
}

/// The earliest timestamp in `[from, until)` (and not before the median
/// rule allows) at which one of `positions` wins on top of the tip, with
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
    let aging = chain.config().consensus.blockstake_aging;
    let candidates: Vec<_> = positions
        .iter()
        .filter_map(|position| {
            let (_, entry) = chain.state().blockstake_at(position)?;
            let exempt = position.height.0 == 0
                || (position.transaction_index == 0 && position.output_index == 0);
            let ready = if exempt {
                Timestamp(0)
            } else {
                entry.created_at.checked_add_seconds(aging)?
            };
            Some((
                *position,
                ready,
                winning_bound(context.target, entry.output.value),
            ))
        })
        .collect();
    let start = from.max(median);
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
        pool: &crate::mempool::Mempool,
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
        let owned = self.owned_positions(chain);
        let positions: Vec<BlockStakePosition> = owned.iter().map(|(p, _)| *p).collect();
        let until = Timestamp(now.0 + 1);
        let Some((timestamp, position)) = find_winning_timestamp(chain, &positions, from, until)
        else {
            return Ok(None);
        };
        let key_index = owned
            .iter()
            .find(|(p, _)| *p == position)
            .map(|(_, index)| *index)
            .ok_or(CreatorError::NoStakeOutput(position))?;
        let limit = chain.config().params.block_size_limit;
        let mut transactions = pool.select(limit.saturating_sub(BLOCK_OVERHEAD_RESERVE));
        loop {
            let block = build_block(
                chain,
                &self.keys[key_index],
                position,
                timestamp,
                transactions.clone(),
            )?;
            if block.encoded_size() as u64 <= limit || transactions.is_empty() {
                return Ok(Some(block));
            }
            // Children follow parents in the selection, so dropping from
            // the end never orphans an included transaction.
            transactions.pop();
        }
    }
}
