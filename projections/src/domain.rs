//! What the chain-domain read models (identity, storage, compute, chat)
//! share: picking their own events out of an applied block and decoding
//! them, finding the transaction an event belongs to, and the one error
//! type that stops a model on bad data.
//!
//! A domain model's `apply_block` starts with [`domain_events`] and
//! returns [`ModelError`]; its [`crate::ReadModel::apply`] turns that into
//! `sqlx::Error` (bad data becomes `sqlx::Error::Decode`, which the runner
//! reports and stops the model on).

use std::fmt::Display;

use chain::events::{Direction, EventBody};
use chain::stream::BlockMessage;
use ledger::{BlockHeight, TransactionId};

/// Why a domain model could not fold a block.
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    #[error("PostgreSQL: {0}")]
    Database(#[from] sqlx::Error),
    #[error("block at height {height}: {domain} event {index} does not decode: {reason}")]
    Undecodable {
        domain: &'static str,
        height: BlockHeight,
        index: u64,
        reason: String,
    },
    #[error("block at height {height}: event {index} is a revert event in an applied block")]
    RevertEventInApply { height: BlockHeight, index: u64 },
    #[error(
        "block at height {height}: {domain} event {index} names transaction {transaction:?}, which the block does not hold"
    )]
    NoTransaction {
        domain: &'static str,
        height: BlockHeight,
        index: u64,
        transaction: Option<u64>,
    },
    /// The block contradicts what the model already holds (a row it needs
    /// is missing or unreadable): the model's rows or the stream are bad.
    #[error("block at height {height}: {domain} read model: {detail}")]
    Inconsistent {
        domain: &'static str,
        height: BlockHeight,
        detail: String,
    },
}

impl From<ModelError> for sqlx::Error {
    fn from(error: ModelError) -> sqlx::Error {
        match error {
            ModelError::Database(error) => error,
            other => sqlx::Error::Decode(Box::new(other)),
        }
    }
}

/// One decoded event of a domain, with its place in the block.
#[derive(Debug, Clone)]
pub struct DomainEvent<E> {
    /// The event's index in the block's event list.
    pub index: u64,
    /// The index of the transaction that caused it (`None` for block-level
    /// events such as billing at the end of a block).
    pub transaction: Option<u64>,
    pub event: E,
}

/// The events of `domain` in an applied block, decoded in order. A revert
/// event or one that does not decode is an error (nothing is folded).
pub fn domain_events<E, D: Display>(
    message: &BlockMessage,
    domain: &'static str,
    decode: impl Fn(&[u8]) -> Result<E, D>,
) -> Result<Vec<DomainEvent<E>>, ModelError> {
    let height = message.height;
    let mut events = Vec::new();
    for event in &message.events {
        let EventBody::Domain {
            domain: name, data, ..
        } = &event.body
        else {
            continue;
        };
        if name != domain {
            continue;
        }
        let index = event.position.index;
        if event.direction != Direction::Apply {
            return Err(ModelError::RevertEventInApply { height, index });
        }
        let decoded = decode(data).map_err(|error| ModelError::Undecodable {
            domain,
            height,
            index,
            reason: error.to_string(),
        })?;
        events.push(DomainEvent {
            index,
            transaction: event.position.transaction,
            event: decoded,
        });
    }
    Ok(events)
}

/// The IDs of a block's transactions, hashed on first use.
pub struct TransactionIds<'a> {
    message: &'a BlockMessage,
    domain: &'static str,
    ids: Option<Vec<TransactionId>>,
}

impl<'a> TransactionIds<'a> {
    pub fn new(message: &'a BlockMessage, domain: &'static str) -> TransactionIds<'a> {
        TransactionIds {
            message,
            domain,
            ids: None,
        }
    }

    /// The ID of the transaction `event` belongs to; an event without one,
    /// or naming one the block does not hold, is an error.
    pub fn of<E>(&mut self, event: &DomainEvent<E>) -> Result<TransactionId, ModelError> {
        let message = self.message;
        let ids = self.ids.get_or_insert_with(|| {
            message
                .block
                .transactions
                .iter()
                .map(ledger::Transaction::id)
                .collect()
        });
        event
            .transaction
            .and_then(|tx| usize::try_from(tx).ok())
            .and_then(|tx| ids.get(tx))
            .copied()
            .ok_or(ModelError::NoTransaction {
                domain: self.domain,
                height: message.height,
                index: event.index,
                transaction: event.transaction,
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chain::events::{EventPosition, LedgerEvent};
    use chain::stream::BlockMessageKind;
    use ledger::{Block, BlockId, BlockStakePosition, Hash32, Timestamp};

    fn event(direction: Direction, index: u64, domain: &str, data: &[u8]) -> LedgerEvent {
        LedgerEvent {
            direction,
            block: BlockId(Hash32::ZERO),
            position: EventPosition {
                height: BlockHeight(5),
                transaction: Some(0),
                index,
            },
            body: EventBody::Domain {
                domain: domain.to_owned(),
                kind: "test".to_owned(),
                data: data.to_vec(),
            },
        }
    }

    fn message(events: Vec<LedgerEvent>) -> BlockMessage {
        let block = Block::new(
            BlockId(Hash32::ZERO),
            Timestamp(1_000),
            BlockStakePosition {
                height: BlockHeight(0),
                transaction_index: 0,
                output_index: 0,
            },
            Vec::new(),
            Vec::new(),
        );
        BlockMessage {
            kind: BlockMessageKind::Applied,
            height: BlockHeight(5),
            outbox_sequence: 1,
            block,
            events,
        }
    }

    /// A one-byte event: the byte itself, or an error for 0xff.
    fn decode(data: &[u8]) -> Result<u8, String> {
        match data {
            [byte] if *byte != 0xff => Ok(*byte),
            _ => Err(format!("{} bytes", data.len())),
        }
    }

    #[test]
    fn only_the_domains_own_events_are_decoded_in_order() {
        let message = message(vec![
            event(Direction::Apply, 0, "storage", &[1]),
            event(Direction::Apply, 1, "chat", &[2]),
            event(Direction::Apply, 2, "storage", &[3]),
        ]);
        let events = domain_events(&message, "storage", decode).unwrap();
        let seen: Vec<(u64, u8)> = events.iter().map(|e| (e.index, e.event)).collect();
        assert_eq!(seen, vec![(0, 1), (2, 3)]);
    }

    #[test]
    fn bad_events_stop_the_fold_with_their_place() {
        let undecodable = message(vec![
            event(Direction::Apply, 0, "chat", &[1]),
            event(Direction::Apply, 1, "chat", &[1, 2]),
        ]);
        let error = domain_events(&undecodable, "chat", decode).unwrap_err();
        assert!(
            matches!(
                &error,
                ModelError::Undecodable { domain: "chat", height: BlockHeight(5), index: 1, reason }
                    if reason == "2 bytes"
            ),
            "{error}"
        );
        let reverted = message(vec![event(Direction::Revert, 3, "chat", &[1])]);
        let error = domain_events(&reverted, "chat", decode).unwrap_err();
        assert!(matches!(
            error,
            ModelError::RevertEventInApply { index: 3, .. }
        ));
        // Bad data reaches the runner as a decode error, not a database one.
        assert!(matches!(sqlx::Error::from(error), sqlx::Error::Decode(_)));
    }

    #[test]
    fn an_event_naming_a_missing_transaction_is_an_error() {
        let message = message(vec![event(Direction::Apply, 0, "identity", &[1])]);
        let events = domain_events(&message, "identity", decode).unwrap();
        let error = TransactionIds::new(&message, "identity")
            .of(&events[0])
            .unwrap_err();
        assert!(matches!(
            error,
            ModelError::NoTransaction {
                transaction: Some(0),
                ..
            }
        ));
    }
}
