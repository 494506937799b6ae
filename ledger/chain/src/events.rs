//! Ledger events: what applying a block changed, in order, each with a
//! stable position (height, transaction index, event index within the
//! block). The node publishes these; read models consume them.
//!
//! Applying a block yields its events with [`Direction::Apply`]; reverting
//! it yields the same events in reverse order with [`Direction::Revert`]
//! ([`invert`]), so a consumer undoes exactly what it did. Events encode
//! with `ledger::codec` like every consensus value.

use ledger::{
    Address, BlockHeight, BlockId, BlockStakeOutputId, BlockStakePosition, BlockStakes,
    CoinOutputId, Condition, Currency, Hash32, Timestamp, TransactionId,
};

/// Whether an event happened (a block was applied) or is undone (reverted).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, bincode::Encode, bincode::Decode)]
pub enum Direction {
    Apply,
    Revert,
}

/// Where an event sits: `(height, transaction, index)`. `transaction` is
/// `None` for block-level events (block applied, payouts); `index` counts
/// every event of the block from 0 and is unique within it.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, bincode::Encode, bincode::Decode,
)]
pub struct EventPosition {
    pub height: BlockHeight,
    pub transaction: Option<u64>,
    pub index: u64,
}

/// What happened.
#[derive(Debug, Clone, PartialEq, Eq, Hash, bincode::Encode, bincode::Decode)]
pub enum EventBody {
    BlockApplied {
        parent: BlockId,
        timestamp: Timestamp,
        stake_output: BlockStakePosition,
        /// The address of the winning blockstake output.
        staker: Address,
    },
    Transaction {
        id: TransactionId,
    },
    CoinOutputCreated {
        id: CoinOutputId,
        value: Currency,
        address: Address,
        /// True for coins created by a minting payload.
        minted: bool,
    },
    CoinOutputSpent {
        id: CoinOutputId,
        value: Currency,
        address: Address,
    },
    BlockStakeOutputCreated {
        id: BlockStakeOutputId,
        value: BlockStakes,
        address: Address,
        position: BlockStakePosition,
    },
    BlockStakeOutputSpent {
        id: BlockStakeOutputId,
        value: BlockStakes,
        address: Address,
    },
    /// A block payout, spendable from `matures_at`.
    PayoutCreated {
        id: CoinOutputId,
        value: Currency,
        address: Address,
        matures_at: BlockHeight,
    },
    /// A payout of an earlier block became spendable at this height.
    PayoutMatured {
        id: CoinOutputId,
        value: Currency,
        address: Address,
    },
    CoinsDestroyed {
        amount: Currency,
    },
    MintConditionChanged {
        before: Option<Condition>,
        after: Option<Condition>,
    },
    AuthorityChanged {
        before: Option<Condition>,
        after: Option<Condition>,
    },
    AddressAuthorized {
        address: Address,
    },
    AddressDeauthorized {
        address: Address,
    },
    NotaryRecorded {
        document_hash: Hash32,
    },
    /// An event of a domain module (identity, storage, …), opaque here.
    Domain {
        domain: String,
        kind: String,
        data: Vec<u8>,
    },
    /// A domain module spent one of the outputs it holds in escrow (see
    /// [`crate::state::DomainCoins`]); no transaction input names it.
    DomainCoinOutputSpent {
        domain: String,
        id: CoinOutputId,
        value: Currency,
        address: Address,
    },
    /// A domain module created coin output `id`
    /// ([`ledger::CoinOutputId::for_domain_output`] of the transaction,
    /// the domain and `index`), e.g. a compute payout or refund. It carries
    /// the whole condition: no transaction output shows it.
    DomainCoinOutputCreated {
        domain: String,
        id: CoinOutputId,
        index: u64,
        value: Currency,
        condition: Condition,
    },
}

/// One event of one block.
#[derive(Debug, Clone, PartialEq, Eq, Hash, bincode::Encode, bincode::Decode)]
pub struct LedgerEvent {
    pub direction: Direction,
    pub block: BlockId,
    pub position: EventPosition,
    pub body: EventBody,
}

/// The events that undo `applied`: reversed, with the direction flipped.
pub fn invert(applied: &[LedgerEvent]) -> Vec<LedgerEvent> {
    applied
        .iter()
        .rev()
        .map(|event| LedgerEvent {
            direction: match event.direction {
                Direction::Apply => Direction::Revert,
                Direction::Revert => Direction::Apply,
            },
            ..event.clone()
        })
        .collect()
}

/// Collects a block's events, numbering them as they come.
#[derive(Debug)]
pub(crate) struct EventLog {
    block: BlockId,
    height: BlockHeight,
    events: Vec<LedgerEvent>,
}

impl EventLog {
    pub(crate) fn new(block: BlockId, height: BlockHeight) -> EventLog {
        EventLog {
            block,
            height,
            events: Vec::new(),
        }
    }

    pub(crate) fn push(&mut self, transaction: Option<u64>, body: EventBody) {
        let index = self.events.len() as u64;
        self.events.push(LedgerEvent {
            direction: Direction::Apply,
            block: self.block,
            position: EventPosition {
                height: self.height,
                transaction,
                index,
            },
            body,
        });
    }

    pub(crate) fn into_events(self) -> Vec<LedgerEvent> {
        self.events
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ledger::codec;

    #[test]
    fn invert_reverses_and_flips() {
        let mut log = EventLog::new(BlockId(Hash32([1; 32])), BlockHeight(4));
        log.push(
            None,
            EventBody::CoinsDestroyed {
                amount: Currency(1),
            },
        );
        log.push(
            Some(0),
            EventBody::NotaryRecorded {
                document_hash: Hash32([2; 32]),
            },
        );
        let applied = log.into_events();
        assert_eq!(applied[1].position.index, 1);
        let reverted = invert(&applied);
        assert_eq!(reverted.len(), 2);
        assert_eq!(reverted[0].body, applied[1].body);
        assert_eq!(reverted[0].direction, Direction::Revert);
        assert_eq!(invert(&reverted), applied);
        let bytes = codec::encode(&applied);
        assert_eq!(codec::decode::<Vec<LedgerEvent>>(&bytes), Ok(applied));
    }
}
