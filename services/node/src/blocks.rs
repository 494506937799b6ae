//! The block backfill endpoint: `ledger.<network>.blocks` (core NATS
//! request/reply, queue group `node`), the contract in `chain::stream`
//! ([`BlocksRequest`] → [`BlocksReply`]).
//!
//! A read model whose JetStream stream no longer holds old messages (the
//! stream's limits removed them) asks for the main-chain blocks it misses.
//! The node answers from its outbox: the `Applied` entries of the stream
//! view (the chain the outbox describes) at the asked heights, as the very
//! bytes it published, so a model folds them exactly as it would have
//! folded the stream. Only a publishing node serves (only its outbox
//! follows the chain).
//!
//! Bounds: at most [`BLOCKS_PER_REPLY`] blocks, and at most the smallest
//! of the request's `max_bytes`, the NATS server's `max_payload` and
//! [`BLOCKS_REPLY_SIZE_LIMIT`] bytes per reply; a reply holds at least one
//! block or is a refusal. Every bad request gets a typed refusal
//! ([`BlocksRefusal`]).

use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, PoisonError};

use chain::stream::{
    BLOCKS_PER_REPLY, BLOCKS_PROTOCOL_VERSION, BLOCKS_REPLY_SIZE_LIMIT, BlocksRefusal, BlocksReply,
    BlocksRequest,
};
use ledger::BlockHeight;
use tokio_util::sync::CancellationToken;
use tracing::{debug, warn};

use crate::outbox::Outbox;
use crate::runtime::{next_request, subscribe_nodes};
use crate::status::NodeStatus;

/// `max_payload` of a NATS server that has not told us (the server's
/// default).
pub const DEFAULT_MAX_PAYLOAD: usize = 1024 * 1024;

fn refused(reason: BlocksRefusal, message: String) -> BlocksReply {
    BlocksReply::Refused { reason, message }
}

/// Answers one request (the raw request bytes) from `outbox`, keeping the
/// reply within `max_payload` bytes and `max_blocks` blocks (the endpoint
/// passes [`BLOCKS_PER_REPLY`]).
pub fn answer(outbox: &Outbox, request: &[u8], max_payload: usize, max_blocks: u64) -> BlocksReply {
    let request = match BlocksRequest::decode(request) {
        Ok(request) => request,
        Err(error) => {
            return refused(
                BlocksRefusal::Malformed,
                format!(
                    "the request ({} bytes) is not one canonical blocks request: {error}",
                    request.len()
                ),
            );
        }
    };
    if request.version != BLOCKS_PROTOCOL_VERSION {
        return refused(
            BlocksRefusal::UnsupportedVersion,
            format!(
                "blocks request version {} is not supported; this node speaks version {BLOCKS_PROTOCOL_VERSION}",
                request.version
            ),
        );
    }
    let (from, to) = (request.from, request.to);
    if from > to {
        return refused(
            BlocksRefusal::BadRange,
            format!("from height {from} is above to height {to}"),
        );
    }
    let tip = match outbox.view_tip() {
        Some((_, tip)) if tip >= from => tip,
        Some((_, tip)) => {
            return refused(
                BlocksRefusal::Unavailable,
                format!(
                    "no main-chain block at height {from}: this node's chain reaches height {tip}"
                ),
            );
        }
        None => {
            return refused(
                BlocksRefusal::Unavailable,
                format!("no main-chain block at height {from}: this node's outbox is empty"),
            );
        }
    };
    let limit = (request.max_bytes as usize)
        .min(max_payload)
        .min(BLOCKS_REPLY_SIZE_LIMIT);
    let last =
        to.0.min(tip.0)
            .min(from.0.saturating_add(max_blocks.max(1) - 1));
    let mut messages: Vec<Vec<u8>> = Vec::new();
    let mut size = BlocksReply::blocks_encoded_len([]);
    for height in from.0..=last {
        let height = BlockHeight(height);
        let read = outbox
            .applied_at(height)
            .ok_or_else(|| format!("the outbox has no applied entry at height {height}"))
            .and_then(|entry| {
                outbox
                    .payload(entry.sequence)
                    .map_err(|error| error.to_string())
            });
        let bytes = match read {
            Ok((_, bytes)) => bytes,
            Err(reason) if messages.is_empty() => {
                return refused(BlocksRefusal::Internal, reason);
            }
            Err(reason) => {
                warn!(%height, %reason, "blocks request: ending the reply early");
                break;
            }
        };
        let grown =
            BlocksReply::blocks_encoded_len([bytes.len()]) - BlocksReply::blocks_encoded_len([]);
        if size + grown > limit {
            if messages.is_empty() {
                return refused(
                    BlocksRefusal::TooLarge,
                    format!(
                        "the block at height {height} takes {} bytes in a reply; the limit is {limit} bytes (the request's max_bytes {}, the NATS server's max_payload {max_payload})",
                        size + grown,
                        request.max_bytes
                    ),
                );
            }
            break;
        }
        size += grown;
        messages.push(bytes);
    }
    BlocksReply::Blocks { tip, messages }
}

/// Answers `ledger.<network>.blocks` requests from the outbox until
/// `shutdown`.
pub async fn serve_blocks(
    client: async_nats::Client,
    subject: String,
    outbox: Arc<Mutex<Outbox>>,
    status: Arc<NodeStatus>,
    shutdown: CancellationToken,
) {
    let Some(mut subscription) =
        subscribe_nodes(&client, &subject, "block backfill requests", &shutdown).await
    else {
        return;
    };
    while let Some((message, reply_to)) = next_request(&mut subscription, &shutdown).await {
        let max_payload = match client.server_info().max_payload {
            0 => DEFAULT_MAX_PAYLOAD,
            known => known,
        };
        let outbox = outbox.clone();
        let request = message.payload.clone();
        let reply = tokio::task::spawn_blocking(move || {
            let outbox = outbox.lock().unwrap_or_else(PoisonError::into_inner);
            answer(&outbox, &request, max_payload, BLOCKS_PER_REPLY)
        })
        .await
        .unwrap_or_else(|error| {
            refused(
                BlocksRefusal::Internal,
                format!("reading the outbox failed: {error}"),
            )
        });
        status.block_requests.fetch_add(1, Ordering::Relaxed);
        match &reply {
            BlocksReply::Blocks { messages, .. } => {
                status
                    .blocks_served
                    .fetch_add(messages.len() as u64, Ordering::Relaxed);
                debug!(blocks = messages.len(), "blocks request served");
            }
            BlocksReply::Refused { reason, message } => {
                status
                    .block_requests_refused
                    .fetch_add(1, Ordering::Relaxed);
                debug!(?reason, %message, "blocks request refused");
            }
        }
        if let Err(error) = client.publish(reply_to, reply.encode().into()).await {
            warn!(%error, "blocks reply not sent");
        }
    }
    let _ = subscription.unsubscribe().await;
}

#[cfg(test)]
mod tests {
    use super::*;
    use chain::mempool::{Mempool, MempoolConfig};
    use chain::stream::{BlockMessage, BlockMessageKind};
    use chain::{Chain, ChainConfig, ManualClock};
    use ledger::{SecretKey, Timestamp, codec};

    /// An outbox that followed a chain of `blocks` blocks above genesis.
    fn outbox(dir: &std::path::Path, blocks: u64) -> Outbox {
        let config = Arc::new(ChainConfig::devnet().unwrap());
        let clock = Arc::new(ManualClock::new(Timestamp(
            config.genesis.header.timestamp.0 + 100,
        )));
        let mut chain = Chain::in_memory(config, clock.clone()).unwrap();
        let mut creator = crate::creation::Creator::new(vec![SecretKey::from_seed([1; 32])], 2);
        let pool = Mempool::new(MempoolConfig::default(), &chain);
        while chain.height().0 < blocks {
            clock.advance(1);
            if let Some(block) = creator.try_create(&chain, &pool).unwrap() {
                chain.accept_block(block).unwrap();
            }
        }
        let mut outbox = Outbox::open(dir).unwrap();
        outbox.follow(&chain).unwrap();
        outbox
    }

    fn request(from: u64, to: u64, max_bytes: u32) -> Vec<u8> {
        BlocksRequest::new(BlockHeight(from), BlockHeight(to), max_bytes).encode()
    }

    fn served(reply: BlocksReply) -> (BlockHeight, Vec<BlockMessage>) {
        match reply {
            BlocksReply::Blocks { tip, messages } => (
                tip,
                messages
                    .iter()
                    .map(|bytes| BlockMessage::decode(bytes).unwrap())
                    .collect(),
            ),
            BlocksReply::Refused { reason, message } => panic!("refused: {reason:?} {message}"),
        }
    }

    fn refusal(reply: BlocksReply) -> BlocksRefusal {
        match reply {
            BlocksReply::Refused { reason, message } => {
                assert!(!message.is_empty());
                reason
            }
            BlocksReply::Blocks { messages, .. } => panic!("served {} blocks", messages.len()),
        }
    }

    #[test]
    fn serves_the_published_applied_messages_in_height_order() {
        let dir = tempfile::tempdir().unwrap();
        let outbox = outbox(dir.path(), 6);
        let (tip, messages) = served(answer(
            &outbox,
            &request(2, 4, 1 << 20),
            1 << 20,
            BLOCKS_PER_REPLY,
        ));
        assert_eq!(tip, BlockHeight(6));
        assert_eq!(messages.len(), 3);
        for (message, height) in messages.iter().zip(2..) {
            assert_eq!(message.kind, BlockMessageKind::Applied);
            assert_eq!(message.height, BlockHeight(height));
            let entry = outbox.applied_at(BlockHeight(height)).unwrap();
            assert_eq!(*message, outbox.message(entry.sequence).unwrap());
        }
        // `to` above the tip: served up to the tip.
        let (_, messages) = served(answer(
            &outbox,
            &request(5, 100, 1 << 20),
            1 << 20,
            BLOCKS_PER_REPLY,
        ));
        assert_eq!(messages.len(), 2);
        // At most `max_blocks` blocks.
        let (_, messages) = served(answer(&outbox, &request(1, 6, 1 << 20), 1 << 20, 2));
        assert_eq!(messages.len(), 2);
        // Genesis is served too.
        let (_, messages) = served(answer(
            &outbox,
            &request(0, 0, 1 << 20),
            1 << 20,
            BLOCKS_PER_REPLY,
        ));
        assert_eq!(messages[0].height, BlockHeight(0));
    }

    #[test]
    fn replies_stay_within_the_byte_limits() {
        let dir = tempfile::tempdir().unwrap();
        let outbox = outbox(dir.path(), 6);
        let one = |height| {
            let entry = outbox.applied_at(BlockHeight(height)).unwrap();
            outbox.payload(entry.sequence).unwrap().1.len()
        };
        // Room for exactly two blocks: the request's max_bytes…
        let two = BlocksReply::blocks_encoded_len([one(1), one(2)]);
        let reply = answer(
            &outbox,
            &request(1, 6, two as u32),
            1 << 20,
            BLOCKS_PER_REPLY,
        );
        assert!(codec::encode(&reply).len() <= two);
        assert_eq!(served(reply).1.len(), 2);
        // …or the server's max_payload.
        assert_eq!(
            served(answer(
                &outbox,
                &request(1, 6, 1 << 20),
                two,
                BLOCKS_PER_REPLY
            ))
            .1
            .len(),
            2
        );
        // Not even the first block fits: refused, never an empty list.
        assert_eq!(
            refusal(answer(
                &outbox,
                &request(1, 6, 30),
                1 << 20,
                BLOCKS_PER_REPLY
            )),
            BlocksRefusal::TooLarge
        );
    }

    #[test]
    fn bad_requests_get_typed_refusals() {
        let dir = tempfile::tempdir().unwrap();
        let outbox = outbox(dir.path(), 3);
        assert_eq!(
            refusal(answer(&outbox, b"garbage", 1 << 20, BLOCKS_PER_REPLY)),
            BlocksRefusal::Malformed
        );
        assert_eq!(
            refusal(answer(&outbox, &[], 1 << 20, BLOCKS_PER_REPLY)),
            BlocksRefusal::Malformed
        );
        let mut future = BlocksRequest::new(BlockHeight(1), BlockHeight(2), 1 << 20);
        future.version = BLOCKS_PROTOCOL_VERSION + 1;
        assert_eq!(
            refusal(answer(&outbox, &future.encode(), 1 << 20, BLOCKS_PER_REPLY)),
            BlocksRefusal::UnsupportedVersion
        );
        assert_eq!(
            refusal(answer(
                &outbox,
                &request(3, 2, 1 << 20),
                1 << 20,
                BLOCKS_PER_REPLY
            )),
            BlocksRefusal::BadRange
        );
        assert_eq!(
            refusal(answer(
                &outbox,
                &request(4, 9, 1 << 20),
                1 << 20,
                BLOCKS_PER_REPLY
            )),
            BlocksRefusal::Unavailable
        );
        assert_eq!(
            refusal(answer(
                &outbox,
                &request(u64::MAX, u64::MAX, u32::MAX),
                1 << 20,
                BLOCKS_PER_REPLY
            )),
            BlocksRefusal::Unavailable
        );
        let empty_dir = tempfile::tempdir().unwrap();
        let empty = Outbox::open(empty_dir.path()).unwrap();
        assert_eq!(
            refusal(answer(
                &empty,
                &request(0, 0, 1 << 20),
                1 << 20,
                BLOCKS_PER_REPLY
            )),
            BlocksRefusal::Unavailable
        );
    }
}
