//! Publishing the outbox to NATS JetStream, in order, exactly once.
//!
//! The node creates (or finds) the network's stream ([`stream_config`]).
//! The publisher sends the outbox's messages after the acknowledged cursor
//! in order, up to [`WINDOW`] at a time without waiting, then awaits the
//! acknowledgements in order and moves the cursor past every one received.
//! Each message carries:
//!
//! * `Nats-Msg-Id` = `chain::stream::message_id` (kind, block, outbox
//!   sequence): JetStream drops a resend within its duplicate window;
//! * `Nats-Expected-Last-Msg-Id` = the previous message's ID: JetStream
//!   refuses a message whose predecessor is not the stream's last, so a
//!   message lost on the way can never be overtaken by the next one;
//! * `Ledger-Height`.
//!
//! After any failure (NATS down, timeout, refusal) the publisher
//! *resynchronises*: it reads the ID of the stream's last message, finds
//! it in the outbox and continues after it (an empty stream means: start
//! at sequence 1). So after an outage nothing is lost, nothing is sent
//! twice even beyond the duplicate window, and nothing is reordered.

use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use async_nats::jetstream::{self, message::PublishMessage as Publish, stream};
use bytes::Bytes;
use chain::stream::{HEIGHT_HEADER, MESSAGE_SIZE_LIMIT, block_subjects, stream_name, subject_for};
use ledger::BlockHeight;
use thiserror::Error;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use crate::outbox::{Outbox, OutboxError};
use crate::status::NodeStatus;

/// Messages in flight before the publisher waits for acknowledgements.
pub const WINDOW: u64 = 64;
/// How long one acknowledgement may take.
pub const ACK_TIMEOUT: Duration = Duration::from_secs(10);

/// The stream's settings that the node controls.
#[derive(Debug, Clone)]
pub struct StreamSettings {
    pub network: String,
    pub replicas: usize,
    pub duplicate_window: Duration,
}

/// The JetStream stream of a network, as the node creates it: file
/// storage, limits retention without limits (the stream is the history a
/// read model rebuilds from), old messages never discarded, no deletes,
/// messages up to `chain::stream::MESSAGE_SIZE_LIMIT`.
pub fn stream_config(settings: &StreamSettings) -> stream::Config {
    stream::Config {
        name: stream_name(&settings.network),
        description: Some(format!(
            "Blocks applied to and reverted from the {} best chain (chain::stream::BlockMessage)",
            settings.network
        )),
        subjects: vec![block_subjects(&settings.network)],
        storage: stream::StorageType::File,
        retention: stream::RetentionPolicy::Limits,
        discard: stream::DiscardPolicy::New,
        max_bytes: -1,
        max_messages: -1,
        max_age: Duration::ZERO,
        max_message_size: i32::try_from(MESSAGE_SIZE_LIMIT).unwrap_or(i32::MAX),
        num_replicas: settings.replicas,
        duplicate_window: settings.duplicate_window,
        deny_delete: true,
        allow_direct: true,
        ..Default::default()
    }
}

/// Why a publish round failed.
#[derive(Debug, Error)]
pub enum PublishError {
    #[error("JetStream: {0}")]
    JetStream(String),
    #[error(
        "the stream's last message {id} is not in this node's outbox: another node or an older data dir published to the stream {stream}"
    )]
    ForeignStream { stream: String, id: String },
    #[error(transparent)]
    Outbox(#[from] OutboxError),
    #[error("no acknowledgement for outbox sequence {sequence} within {ACK_TIMEOUT:?}")]
    AckTimeout { sequence: u64 },
}

fn js_error(error: impl std::fmt::Display) -> PublishError {
    PublishError::JetStream(error.to_string())
}

/// The publishing task's parts.
pub struct Publisher {
    pub outbox: Arc<Mutex<Outbox>>,
    pub jetstream: jetstream::Context,
    pub settings: StreamSettings,
    pub status: Arc<NodeStatus>,
    pub wake: Arc<Notify>,
}

impl Publisher {
    fn outbox(&self) -> std::sync::MutexGuard<'_, Outbox> {
        self.outbox.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Runs until `shutdown`; then tries for a moment to publish what is
    /// left.
    pub async fn run(self, shutdown: CancellationToken) {
        let mut ready = false;
        let mut backoff = Duration::from_millis(100);
        loop {
            if shutdown.is_cancelled() {
                if ready {
                    let _ = tokio::time::timeout(Duration::from_secs(2), self.drain()).await;
                }
                return;
            }
            if !ready {
                match self.resynchronise().await {
                    Ok(()) => {
                        ready = true;
                        backoff = Duration::from_millis(100);
                        self.status.set_publish_error(None);
                    }
                    Err(error) => {
                        self.failed(&error);
                        tokio::select! {
                            _ = shutdown.cancelled() => {}
                            _ = tokio::time::sleep(backoff) => {}
                        }
                        backoff = (backoff * 2).min(Duration::from_secs(2));
                        continue;
                    }
                }
            }
            match self.publish_round().await {
                Ok(0) => {
                    tokio::select! {
                        _ = shutdown.cancelled() => {}
                        _ = self.wake.notified() => {}
                        _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                    }
                }
                Ok(_) => {}
                Err(error) => {
                    self.failed(&error);
                    ready = false;
                }
            }
        }
    }

    fn failed(&self, error: &PublishError) {
        warn!(%error, lag = self.status.publish_lag(), "publishing to JetStream failed; will resume from the stream's last message");
        self.status.set_publish_error(Some(error.to_string()));
    }

    async fn drain(&self) {
        while let Ok(count) = self.publish_round().await {
            if count == 0 {
                break;
            }
        }
    }

    /// Makes sure the stream exists and sets the cursor to its last
    /// message.
    pub async fn resynchronise(&self) -> Result<(), PublishError> {
        let config = stream_config(&self.settings);
        let name = config.name.clone();
        let mut stream = self
            .jetstream
            .get_or_create_stream(config)
            .await
            .map_err(js_error)?;
        let state = stream.info().await.map_err(js_error)?.state.clone();
        let acked = if state.messages == 0 {
            0
        } else {
            let last = stream
                .get_raw_message(state.last_sequence)
                .await
                .map_err(js_error)?;
            let id = last
                .headers
                .get(async_nats::header::NATS_MESSAGE_ID)
                .map(|value| value.as_str().to_owned())
                .unwrap_or_default();
            let sequence = id
                .rsplit('-')
                .next()
                .and_then(|s| s.parse::<u64>().ok())
                .unwrap_or(0);
            let outbox = self.outbox();
            match outbox.entry(sequence) {
                Ok(entry) if entry.message_id() == id => sequence,
                _ => return Err(PublishError::ForeignStream { stream: name, id }),
            }
        };
        let mut outbox = self.outbox();
        if acked != outbox.acked() {
            info!(
                stream = %name,
                cursor = outbox.acked(),
                stream_last = acked,
                "outbox cursor set to the stream's last message"
            );
        }
        outbox.set_acked(acked)?;
        self.status.outbox_acked.store(acked, Ordering::Relaxed);
        self.status
            .outbox_last
            .store(outbox.last_sequence(), Ordering::Relaxed);
        Ok(())
    }

    /// Sends up to [`WINDOW`] messages after the cursor and awaits their
    /// acknowledgements; returns how many were acknowledged.
    pub async fn publish_round(&self) -> Result<u64, PublishError> {
        let (acked, last) = {
            let outbox = self.outbox();
            (outbox.acked(), outbox.last_sequence())
        };
        self.status.outbox_last.store(last, Ordering::Relaxed);
        if acked >= last {
            return Ok(0);
        }
        let until = last.min(acked + WINDOW);
        let mut pending = Vec::new();
        for sequence in acked + 1..=until {
            let (entry, payload, previous) = {
                let outbox = self.outbox();
                let (entry, payload) = outbox.payload(sequence)?;
                let previous = if sequence > 1 {
                    Some(outbox.entry(sequence - 1)?.message_id())
                } else {
                    None
                };
                (entry, payload, previous)
            };
            let mut message = Publish::build()
                .payload(Bytes::from(payload))
                .message_id(entry.message_id())
                .header(HEIGHT_HEADER, entry.height.0.to_string().as_str());
            if let Some(previous) = previous {
                message = message.expected_last_message_id(previous);
            }
            let ack = self
                .jetstream
                .send_publish(subject_for(&self.settings.network, entry.kind), message)
                .await
                .map_err(js_error)?;
            pending.push((sequence, entry.height, ack));
        }
        let mut done = acked;
        let mut failure = None;
        for (sequence, height, ack) in pending {
            match tokio::time::timeout(ACK_TIMEOUT, ack.into_future()).await {
                Ok(Ok(_)) => done = sequence,
                Ok(Err(error)) => {
                    failure = Some(js_error(format!(
                        "outbox sequence {sequence} (height {height}): {error}"
                    )));
                    break;
                }
                Err(_) => {
                    failure = Some(PublishError::AckTimeout { sequence });
                    break;
                }
            }
        }
        if done > acked {
            self.outbox().set_acked(done)?;
            self.status.outbox_acked.store(done, Ordering::Relaxed);
        }
        match failure {
            Some(error) => Err(error),
            None => Ok(done - acked),
        }
    }
}

/// `node republish`: sends the `Applied` messages of the stream view's
/// blocks at `from..=to` again, with their original outbox sequences and
/// IDs (no expected-last check: these are deliberate repeats). Returns
/// (stored, duplicates).
pub async fn republish(
    outbox: &Outbox,
    jetstream: &jetstream::Context,
    network: &str,
    from: BlockHeight,
    to: BlockHeight,
) -> Result<(u64, u64), PublishError> {
    let mut stored = 0;
    let mut duplicates = 0;
    for height in from.0..=to.0 {
        let Some(entry) = outbox.applied_at(BlockHeight(height)) else {
            warn!(
                height,
                "no applied block at this height in the outbox; stopping"
            );
            break;
        };
        let (_, payload) = outbox.payload(entry.sequence)?;
        let message = Publish::build()
            .payload(Bytes::from(payload))
            .message_id(entry.message_id())
            .header(HEIGHT_HEADER, height.to_string().as_str());
        let ack = jetstream
            .send_publish(subject_for(network, entry.kind), message)
            .await
            .map_err(js_error)?
            .await
            .map_err(js_error)?;
        if ack.duplicate {
            duplicates += 1;
        } else {
            stored += 1;
        }
        if height % 100 == 0 || height == to.0 {
            info!(height, stored, duplicates, "republishing");
        }
    }
    Ok((stored, duplicates))
}
