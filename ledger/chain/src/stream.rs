//! The ledger event stream: the contract between a node, which publishes
//! every change of its best chain to NATS JetStream, and the read models,
//! which fold those changes into PostgreSQL.
//!
//! One JetStream stream per network ([`stream_name`]) holds one message per
//! block applied to or reverted from the best chain, in the order the node
//! made those changes, on the subjects [`applied_subject`] and
//! [`reverted_subject`]. Each message is a [`BlockMessage`] in canonical
//! bytes: the block itself and the events that applying it produced (for a
//! revert: those events inverted, newest first), so a read model never has
//! to ask a node anything.
//!
//! Deduplication: the node gives every message the ID [`message_id`],
//! which names the kind, the block and the node's outbox sequence (the
//! position of the change in the node's own log). A republish after a
//! crash repeats the same ID and JetStream drops it; a block applied again
//! after a reorg back gets a new outbox sequence, so it is not mistaken for
//! a duplicate.
//!
//! Transaction submission ([`submit_subject`], [`SubmitReply`]) is core
//! NATS request/reply, not JetStream, but its subject and reply bytes are
//! part of the same contract: a node answers, the API and wallets ask.
//!
//! Backfill: a stream with limits forgets old messages. A read model that
//! needs them asks a node on [`blocks_subject`] ([`BlocksRequest`] →
//! [`BlocksReply`]); the node answers with the `Applied` messages of its
//! main chain, the same bytes it published, so the model folds them
//! exactly as it would have folded the stream.

use ledger::{Block, BlockHeight, BlockId, Transaction, TransactionId, codec};

use crate::events::LedgerEvent;

/// Largest encoded [`BlockMessage`] a consumer accepts: a block at the
/// 2 MB size limit plus its events.
pub const MESSAGE_SIZE_LIMIT: usize = 8 * 1024 * 1024;

/// NATS header carrying the block's height in decimal, so a consumer can
/// learn the stream head's height without decoding a whole block.
pub const HEIGHT_HEADER: &str = "Ledger-Height";

/// Whether a block joined or left the best chain.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, bincode::Encode, bincode::Decode)]
pub enum BlockMessageKind {
    Applied,
    Reverted,
}

impl BlockMessageKind {
    /// The word used in subjects and message IDs.
    pub fn as_str(self) -> &'static str {
        match self {
            BlockMessageKind::Applied => "applied",
            BlockMessageKind::Reverted => "reverted",
        }
    }
}

/// One change of the best chain, as published.
#[derive(Debug, Clone, PartialEq, Eq, bincode::Encode, bincode::Decode)]
pub struct BlockMessage {
    pub kind: BlockMessageKind,
    /// The block's height.
    pub height: BlockHeight,
    /// The node's outbox sequence of this change (1, 2, 3, … per node).
    pub outbox_sequence: u64,
    pub block: Block,
    /// Applied: the block's events in order. Reverted: their inverse,
    /// newest first.
    pub events: Vec<LedgerEvent>,
}

/// Why bytes from the stream are not a [`BlockMessage`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BlockMessageError {
    #[error("not a canonical block message: {0}")]
    Decode(#[from] codec::DecodeError),
    #[error(
        "message at height {height} carries an event of block {event_block}, not of its block {block}"
    )]
    ForeignEvent {
        height: BlockHeight,
        block: BlockId,
        event_block: BlockId,
    },
    #[error(
        "message for block {block} says height {height} but event {index} is at height {event_height}"
    )]
    HeightMismatch {
        block: BlockId,
        height: BlockHeight,
        index: usize,
        event_height: BlockHeight,
    },
}

impl BlockMessage {
    /// The block's ID.
    pub fn block_id(&self) -> BlockId {
        self.block.id()
    }

    /// Canonical bytes, as published.
    pub fn encode(&self) -> Vec<u8> {
        codec::encode(self)
    }

    /// Decodes and checks a message from the stream: canonical bytes within
    /// [`MESSAGE_SIZE_LIMIT`], and every event belongs to the block and
    /// height the message names.
    pub fn decode(bytes: &[u8]) -> Result<BlockMessage, BlockMessageError> {
        let message: BlockMessage = codec::decode_with_limit(bytes, MESSAGE_SIZE_LIMIT)?;
        let block = message.block_id();
        for (index, event) in message.events.iter().enumerate() {
            if event.block != block {
                return Err(BlockMessageError::ForeignEvent {
                    height: message.height,
                    block,
                    event_block: event.block,
                });
            }
            if event.position.height != message.height {
                return Err(BlockMessageError::HeightMismatch {
                    block,
                    height: message.height,
                    index,
                    event_height: event.position.height,
                });
            }
        }
        Ok(message)
    }
}

/// The JetStream stream of a network, e.g. `LEDGER_DEVNET`.
pub fn stream_name(network: &str) -> String {
    format!("LEDGER_{}", subject_token(network).to_ascii_uppercase())
}

/// All block subjects of a network, e.g. `ledger.devnet.block.>`.
pub fn block_subjects(network: &str) -> String {
    format!("ledger.{}.block.>", subject_token(network))
}

/// Subject of applied blocks, e.g. `ledger.devnet.block.applied`.
pub fn applied_subject(network: &str) -> String {
    subject_for(network, BlockMessageKind::Applied)
}

/// Subject of reverted blocks, e.g. `ledger.devnet.block.reverted`.
pub fn reverted_subject(network: &str) -> String {
    subject_for(network, BlockMessageKind::Reverted)
}

/// Subject for a kind of block message.
pub fn subject_for(network: &str, kind: BlockMessageKind) -> String {
    format!("ledger.{}.block.{}", subject_token(network), kind.as_str())
}

/// JetStream message ID: `<kind>-<block id hex>-<outbox sequence>`.
pub fn message_id(kind: BlockMessageKind, block: &BlockId, outbox_sequence: u64) -> String {
    format!("{}-{}-{}", kind.as_str(), block, outbox_sequence)
}

/// A change of a node's transaction pool, published (not persisted) on the
/// core NATS subjects [`pool_accepted_subject`] and [`pool_dropped_subject`]
/// in canonical bytes. Read models show these as pending, never as final.
#[derive(Debug, Clone, PartialEq, Eq, bincode::Encode, bincode::Decode)]
pub enum PoolEvent {
    Accepted {
        id: TransactionId,
        transaction: Box<Transaction>,
    },
    Dropped {
        id: TransactionId,
        reason: String,
    },
}

impl PoolEvent {
    /// Decodes a pool event (canonical bytes within [`MESSAGE_SIZE_LIMIT`]).
    pub fn decode(bytes: &[u8]) -> Result<PoolEvent, codec::DecodeError> {
        codec::decode_with_limit(bytes, MESSAGE_SIZE_LIMIT)
    }
}

/// All pool subjects of a network, e.g. `ledger.devnet.pool.>`.
pub fn pool_subjects(network: &str) -> String {
    format!("ledger.{}.pool.>", subject_token(network))
}

/// Subject of transactions a node's pool accepted.
pub fn pool_accepted_subject(network: &str) -> String {
    format!("ledger.{}.pool.accepted", subject_token(network))
}

/// Subject of transactions a node's pool dropped (with the reason).
pub fn pool_dropped_subject(network: &str) -> String {
    format!("ledger.{}.pool.dropped", subject_token(network))
}

// ---------------------------------------------------------------------------
// Transaction submission: request/reply on `ledger.<network>.submit`.
// ---------------------------------------------------------------------------

/// The subject on which the nodes of a network take transactions, e.g.
/// `ledger.devnet.submit` (request/reply, queue group `node`, so any one
/// node answers). The request is one canonical `Transaction`; the reply
/// one canonical [`SubmitReply`].
pub fn submit_subject(network: &str) -> String {
    format!("ledger.{}.submit", subject_token(network))
}

/// Why a node refused a transaction, as a stable code for programs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, bincode::Encode, bincode::Decode)]
pub enum RejectReason {
    /// Not a canonical transaction encoding.
    Malformed,
    /// Above the transaction size limit.
    TooLarge,
    /// Fee below the size-based minimum.
    InsufficientFee,
    /// An input spends an output that does not exist or is spent.
    MissingInput,
    /// A signature does not verify.
    BadSignature,
    /// A fulfillment does not satisfy its condition (wrong key, time lock).
    Unauthorized,
    /// Spends an output a pooled transaction already spends.
    Conflict,
    /// Already in the pool.
    AlreadyPooled,
    /// The pool is full of better-paying transactions.
    PoolFull,
    /// Breaks another rule (balance, payload, address rule, …).
    Invalid,
    /// The node could not take it now (shutting down, overloaded).
    Unavailable,
}

impl RejectReason {
    /// The code's name for clients (e.g. GraphQL `extensions.reason`).
    pub fn code(self) -> &'static str {
        match self {
            RejectReason::Malformed => "MALFORMED",
            RejectReason::TooLarge => "TOO_LARGE",
            RejectReason::InsufficientFee => "INSUFFICIENT_FEE",
            RejectReason::MissingInput => "MISSING_INPUT",
            RejectReason::BadSignature => "BAD_SIGNATURE",
            RejectReason::Unauthorized => "UNAUTHORIZED",
            RejectReason::Conflict => "CONFLICT",
            RejectReason::AlreadyPooled => "ALREADY_POOLED",
            RejectReason::PoolFull => "POOL_FULL",
            RejectReason::Invalid => "INVALID",
            RejectReason::Unavailable => "UNAVAILABLE",
        }
    }
}

/// A node's answer to a submission.
#[derive(Debug, Clone, PartialEq, Eq, bincode::Encode, bincode::Decode)]
pub enum SubmitReply {
    Accepted {
        id: TransactionId,
    },
    Rejected {
        reason: RejectReason,
        /// For people: names the value and the rule.
        message: String,
    },
}

impl SubmitReply {
    /// Canonical bytes, as a node replies.
    pub fn encode(&self) -> Vec<u8> {
        codec::encode(self)
    }

    /// Decodes a reply (canonical bytes within [`MESSAGE_SIZE_LIMIT`]).
    pub fn decode(bytes: &[u8]) -> Result<SubmitReply, codec::DecodeError> {
        codec::decode_with_limit(bytes, MESSAGE_SIZE_LIMIT)
    }
}

/// Version of the block backfill contract ([`BlocksRequest`],
/// [`BlocksReply`]); a node refuses other versions with
/// [`BlocksRefusal::UnsupportedVersion`].
pub const BLOCKS_PROTOCOL_VERSION: u16 = 1;

/// Most blocks a node puts in one [`BlocksReply`], whatever the request
/// asks for.
pub const BLOCKS_PER_REPLY: u64 = 1_000;

/// Largest encoded [`BlocksRequest`] a node decodes.
pub const BLOCKS_REQUEST_SIZE_LIMIT: usize = 64;

/// Largest encoded [`BlocksReply`] a consumer accepts (and the most a
/// request may ask for): two messages at [`MESSAGE_SIZE_LIMIT`]. A node
/// also keeps every reply within its NATS server's `max_payload`.
pub const BLOCKS_REPLY_SIZE_LIMIT: usize = 2 * MESSAGE_SIZE_LIMIT;

/// Subject of the block backfill endpoint of a network, e.g.
/// `ledger.devnet.blocks` (core NATS request/reply, queue group `node`).
///
/// A read model whose stream no longer holds old messages (stream limits
/// removed them) asks a node for the main-chain blocks it misses; the node
/// answers from its outbox with the `Applied` messages it published.
pub fn blocks_subject(network: &str) -> String {
    format!("ledger.{}.blocks", subject_token(network))
}

/// A request for the `Applied` messages of the node's main chain (as its
/// outbox describes it) at heights `from..=to`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, bincode::Encode, bincode::Decode)]
pub struct BlocksRequest {
    /// [`BLOCKS_PROTOCOL_VERSION`].
    pub version: u16,
    pub from: BlockHeight,
    pub to: BlockHeight,
    /// The most reply bytes the requester takes (at most
    /// [`BLOCKS_REPLY_SIZE_LIMIT`]); the node may send fewer.
    pub max_bytes: u32,
}

impl BlocksRequest {
    /// A request of the current version.
    pub fn new(from: BlockHeight, to: BlockHeight, max_bytes: u32) -> BlocksRequest {
        BlocksRequest {
            version: BLOCKS_PROTOCOL_VERSION,
            from,
            to,
            max_bytes,
        }
    }

    /// Canonical bytes, as sent.
    pub fn encode(&self) -> Vec<u8> {
        codec::encode(self)
    }

    /// Decodes a request (canonical bytes within
    /// [`BLOCKS_REQUEST_SIZE_LIMIT`]).
    pub fn decode(bytes: &[u8]) -> Result<BlocksRequest, codec::DecodeError> {
        codec::decode_with_limit(bytes, BLOCKS_REQUEST_SIZE_LIMIT)
    }
}

/// Why a node did not serve a [`BlocksRequest`], as a stable code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, bincode::Encode, bincode::Decode)]
pub enum BlocksRefusal {
    /// The request is not a canonical [`BlocksRequest`].
    Malformed,
    /// The request's version is not [`BLOCKS_PROTOCOL_VERSION`].
    UnsupportedVersion,
    /// `from` is above `to`.
    BadRange,
    /// The node has no main-chain block at `from` (it is behind).
    Unavailable,
    /// The block at `from` alone is larger than the reply may be.
    TooLarge,
    /// The node could not read its outbox.
    Internal,
}

/// The answer to a [`BlocksRequest`].
#[derive(Debug, Clone, PartialEq, Eq, bincode::Encode, bincode::Decode)]
pub enum BlocksReply {
    Blocks {
        /// The height of the node's main chain (as its outbox describes it).
        tip: BlockHeight,
        /// Canonical [`BlockMessage`] bytes of kind `Applied`, exactly as
        /// the node published them, at heights `from`, `from + 1`, … in
        /// order: at least one, fewer than asked when the reply reached
        /// its size or count cap or the node's tip.
        messages: Vec<Vec<u8>>,
    },
    Refused {
        reason: BlocksRefusal,
        /// For people: names the value and the limit.
        message: String,
    },
}

impl BlocksReply {
    /// Canonical bytes, as sent.
    pub fn encode(&self) -> Vec<u8> {
        codec::encode(self)
    }

    /// Decodes a reply (canonical bytes within
    /// [`BLOCKS_REPLY_SIZE_LIMIT`]); each message still has to pass
    /// [`BlockMessage::decode`].
    pub fn decode(bytes: &[u8]) -> Result<BlocksReply, codec::DecodeError> {
        codec::decode_with_limit(bytes, BLOCKS_REPLY_SIZE_LIMIT)
    }

    /// The encoded size of a `Blocks` reply holding messages of these
    /// lengths (enum tag, tip, vector length, and each message's length
    /// prefix and bytes).
    pub fn blocks_encoded_len(message_lengths: impl IntoIterator<Item = usize>) -> usize {
        message_lengths
            .into_iter()
            .fold(4 + 8 + 8, |total, length| total + 8 + length)
    }
}

/// A network name reduced to what NATS subjects and stream names allow.
fn subject_token(network: &str) -> String {
    network
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c.to_ascii_lowercase()
            } else {
                '_'
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::{Direction, EventBody, EventPosition};
    use ledger::{BlockStakePosition, Hash32, Timestamp};

    fn block() -> Block {
        Block::new(
            BlockId(Hash32([7; 32])),
            Timestamp(1_700_000_000),
            BlockStakePosition {
                height: BlockHeight(0),
                transaction_index: 0,
                output_index: 0,
            },
            Vec::new(),
            Vec::new(),
        )
    }

    fn message(event_block: BlockId, event_height: u64) -> BlockMessage {
        BlockMessage {
            kind: BlockMessageKind::Applied,
            height: BlockHeight(3),
            outbox_sequence: 9,
            block: block(),
            events: vec![LedgerEvent {
                direction: Direction::Apply,
                block: event_block,
                position: EventPosition {
                    height: BlockHeight(event_height),
                    transaction: None,
                    index: 0,
                },
                body: EventBody::CoinsDestroyed {
                    amount: ledger::Currency(1),
                },
            }],
        }
    }

    #[test]
    fn round_trips_and_checks_events_belong_to_the_block() {
        let good = message(block().id(), 3);
        assert_eq!(BlockMessage::decode(&good.encode()), Ok(good));

        let foreign = message(BlockId(Hash32([1; 32])), 3);
        assert!(matches!(
            BlockMessage::decode(&foreign.encode()),
            Err(BlockMessageError::ForeignEvent { .. })
        ));
        let misplaced = message(block().id(), 4);
        assert!(matches!(
            BlockMessage::decode(&misplaced.encode()),
            Err(BlockMessageError::HeightMismatch { index: 0, .. })
        ));
        assert!(matches!(
            BlockMessage::decode(&[1, 2, 3]),
            Err(BlockMessageError::Decode(_))
        ));
    }

    #[test]
    fn names_follow_the_network() {
        assert_eq!(stream_name("devnet"), "LEDGER_DEVNET");
        assert_eq!(block_subjects("devnet"), "ledger.devnet.block.>");
        assert_eq!(applied_subject("Dev Net"), "ledger.dev_net.block.applied");
        assert_eq!(reverted_subject("devnet"), "ledger.devnet.block.reverted");
        assert_eq!(pool_subjects("devnet"), "ledger.devnet.pool.>");
        assert_eq!(pool_dropped_subject("devnet"), "ledger.devnet.pool.dropped");
        assert_eq!(blocks_subject("Dev Net"), "ledger.dev_net.blocks");
        let id = BlockId(Hash32([0xab; 32]));
        assert!(message_id(BlockMessageKind::Reverted, &id, 5).starts_with("reverted-abab"));
        assert!(message_id(BlockMessageKind::Reverted, &id, 5).ends_with("-5"));
    }

    #[test]
    fn submit_reply_bytes_are_frozen() {
        // bincode 2, fixed-width little-endian integers, u32 enum tags:
        // Accepted = tag 0 then the 32-byte ID; Rejected = tag 1, the
        // reason's tag, u64 length, UTF-8.
        let accepted = SubmitReply::Accepted {
            id: TransactionId(Hash32([0xab; 32])),
        };
        assert_eq!(
            hex::encode(accepted.encode()),
            format!("00000000{}", "ab".repeat(32))
        );
        let rejected = SubmitReply::Rejected {
            reason: RejectReason::InsufficientFee,
            message: "x".to_owned(),
        };
        assert_eq!(
            hex::encode(rejected.encode()),
            "01000000 02000000 0100000000000000 78".replace(' ', "")
        );
        assert_eq!(SubmitReply::decode(&rejected.encode()), Ok(rejected));
        assert_eq!(SubmitReply::decode(&accepted.encode()), Ok(accepted));
        assert!(SubmitReply::decode(&[9, 0, 0, 0]).is_err());
        // The last variant's tag, so appending (never reordering) is the
        // only compatible change.
        assert_eq!(
            hex::encode(codec::encode(&RejectReason::Unavailable)),
            "0a000000"
        );
        assert_eq!(submit_subject("Dev Net"), "ledger.dev_net.submit");
    }

    #[test]
    fn block_requests_and_replies_round_trip_and_sizes_add_up() {
        let request = BlocksRequest::new(BlockHeight(5), BlockHeight(9), 1 << 20);
        assert_eq!(BlocksRequest::decode(&request.encode()), Ok(request));
        assert!(BlocksRequest::decode(&[0; 3]).is_err());
        assert!(matches!(
            BlocksRequest::decode(&[0; BLOCKS_REQUEST_SIZE_LIMIT + 1]),
            Err(codec::DecodeError::TooLarge { .. })
        ));
        let messages = vec![message(block().id(), 3).encode(), vec![1, 2, 3]];
        let reply = BlocksReply::Blocks {
            tip: BlockHeight(12),
            messages: messages.clone(),
        };
        let bytes = reply.encode();
        assert_eq!(
            bytes.len(),
            BlocksReply::blocks_encoded_len(messages.iter().map(Vec::len))
        );
        assert_eq!(BlocksReply::decode(&bytes), Ok(reply));
        let refused = BlocksReply::Refused {
            reason: BlocksRefusal::BadRange,
            message: "from 9 is above to 5".to_owned(),
        };
        assert_eq!(BlocksReply::decode(&refused.encode()), Ok(refused));
    }
}
