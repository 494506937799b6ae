//! Running one read model against the stream: a single writer (PostgreSQL
//! advisory lock), a durable JetStream pull consumer positioned from the
//! model's checkpoint, batches applied in one transaction each, acks only
//! after commit, a notification after each commit, and reconnection after
//! PostgreSQL or NATS outages.
//!
//! The checkpoint is the truth: on start and after any failure the
//! consumer is re-created to deliver from the message after the checkpoint,
//! so a crash between commit and ack, or a redelivery, never applies a
//! block twice.
//!
//! Backfill: when the stream no longer holds the messages after the
//! checkpoint (its limits removed them), or its first message is not the
//! next block of an empty model, the runner asks a node on
//! `ledger.<network>.blocks` (`chain::stream::BlocksRequest`) for the
//! main-chain blocks up to the chain the stream's first retained message
//! continues, folds them through the same batch path (each node reply in
//! one transaction with the checkpoint, each block checked to be the
//! checkpoint's child), and then reads the stream from its first retained
//! message. No node answering is an outage: retried with backoff. A model
//! whose tip is not on the node's main chain (a reorganisation in the part
//! of the stream that is gone) first reverts its own blocks back to the
//! common ancestor, found within the finality depth (docs/projector.md,
//! "Backfill from a node").

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use async_nats::jetstream::{self, consumer};
use chain::stream::{
    self, BLOCKS_PER_REPLY, BLOCKS_REPLY_SIZE_LIMIT, BlockMessage, BlockMessageKind, BlocksReply,
    BlocksRequest, HEIGHT_HEADER,
};
use futures::StreamExt;
use ledger::{BlockHeight, BlockId};
use sqlx::postgres::PgConnectOptions;
use sqlx::{Connection, PgConnection};
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use crate::batch::{
    BatchOutcome, BatchSettings, Source, StreamHint, StreamMessage, apply_batch, revert_to,
};
use crate::checkpoint::Checkpoint;
use crate::error::{ProjectionError, nats};
use crate::model::{ReadModel, valid_model_name};
use crate::schema;

/// Advisory-lock namespace of the live writer of a model.
const WRITER_LOCK: i32 = 0x5052_4f4a; // "PROJ"
/// Advisory-lock namespace of a rebuild that wants to swap its schema in.
const SWAP_LOCK: i32 = 0x5357_4150; // "SWAP"

/// Upper bound of the payload bytes one fetch asks for. NATS closes a
/// connection whose undelivered output passes `max_pending` (64 MiB by
/// default) as a slow consumer, losing the messages in flight (they come
/// back only after `ack_wait`): 256 messages of blocks with 1,000 transfers
/// each (about 0.8 MB) already pass it. Above the largest message the
/// server accepts (`max_payload`, 8 MB in `scripts/services`), so a single
/// message always fits.
const FETCH_MAX_BYTES: usize = 32 * 1024 * 1024;

/// Backfilled blocks between two progress lines in the log.
const BACKFILL_LOG_EVERY: u64 = 1_000;

/// Settings shared by every model's runner.
#[derive(Debug, Clone)]
pub struct RunnerConfig {
    /// Network name: selects the stream and subjects.
    pub network: String,
    /// The chain's finality depth.
    pub finality_depth: u64,
    /// Messages per batch (and per PostgreSQL transaction).
    pub batch_size: usize,
    /// How long one fetch waits for messages.
    pub fetch_wait: Duration,
    /// Pause before the first retry after an outage; doubled after each
    /// further failure without progress, up to `max_retry_delay`.
    pub retry_delay: Duration,
    /// Longest pause between retries.
    pub max_retry_delay: Duration,
    /// How long a node may take to answer one blocks request.
    pub backfill_timeout: Duration,
    /// The network's genesis block (its chain ID), when known from its
    /// configuration: a model whose checkpoint names another genesis is
    /// refused on start ([`ProjectionError::OtherChain`]).
    pub genesis_id: Option<BlockId>,
}

impl RunnerConfig {
    /// Defaults for a network.
    pub fn new(network: impl Into<String>, finality_depth: u64) -> RunnerConfig {
        RunnerConfig {
            network: network.into(),
            finality_depth,
            batch_size: 256,
            fetch_wait: Duration::from_millis(500),
            retry_delay: Duration::from_secs(1),
            max_retry_delay: Duration::from_secs(30),
            backfill_timeout: Duration::from_secs(5),
            genesis_id: None,
        }
    }
}

/// Live figures of one model, for status and metrics.
#[derive(Debug, Default)]
pub struct ModelMetrics {
    pub height: AtomicU64,
    pub stream_seq: AtomicU64,
    pub stream_last_seq: AtomicU64,
    pub blocks_applied: AtomicU64,
    pub blocks_reverted: AtomicU64,
    pub messages_skipped: AtomicU64,
    pub events: AtomicU64,
    pub transactions: AtomicU64,
    pub batches: AtomicU64,
    pub retries: AtomicU64,
    /// Blocks folded in from a node because the stream no longer held them.
    pub blocks_backfilled: AtomicU64,
    /// The last outage the runner is retrying after (cleared on progress).
    pub last_error: std::sync::Mutex<Option<String>>,
}

impl ModelMetrics {
    fn record(&self, checkpoint: Option<&Checkpoint>) {
        if let Some(at) = checkpoint {
            self.height.store(at.height.0, Ordering::Relaxed);
            self.stream_seq.store(at.stream_seq, Ordering::Relaxed);
        }
    }

    fn count(&self, outcome: &BatchOutcome) {
        self.record(outcome.checkpoint.as_ref());
        self.blocks_applied
            .fetch_add(outcome.applied, Ordering::Relaxed);
        self.blocks_reverted
            .fetch_add(outcome.reverted, Ordering::Relaxed);
        self.messages_skipped
            .fetch_add(outcome.skipped, Ordering::Relaxed);
        self.events.fetch_add(outcome.events, Ordering::Relaxed);
        self.transactions
            .fetch_add(outcome.transactions, Ordering::Relaxed);
        self.batches.fetch_add(1, Ordering::Relaxed);
        self.set_last_error(None);
    }

    fn set_last_error(&self, error: Option<String>) {
        let mut slot = self
            .last_error
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if slot.is_some() || error.is_some() {
            *slot = error;
        }
    }

    /// The outage the runner is retrying after, if any.
    pub fn last_error(&self) -> Option<String> {
        self.last_error
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// Messages in the stream the model has not folded in yet.
    pub fn lag(&self) -> u64 {
        self.stream_last_seq
            .load(Ordering::Relaxed)
            .saturating_sub(self.stream_seq.load(Ordering::Relaxed))
    }
}

/// The NATS subject on which a model announces the height it reached.
pub fn notification_subject(network: &str, model: &str) -> String {
    format!("projections.{network}.{model}.height")
}

/// Payload of a notification (JSON).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct HeightReached {
    pub model: String,
    pub height: u64,
    pub block_id: String,
    pub stream_seq: u64,
}

/// Runs one model (writing into `schema_name`) until `shutdown` fires,
/// the stream has nothing newer than `until_seq` (when given), or bad data
/// stops it.
pub struct Runner {
    pub model: Arc<dyn ReadModel>,
    pub schema_name: String,
    pub database: PgConnectOptions,
    pub nats: async_nats::Client,
    pub config: RunnerConfig,
    pub metrics: Arc<ModelMetrics>,
}

/// Why a run ended without an error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunEnd {
    Shutdown,
    CaughtUp(Option<Checkpoint>),
}

impl Runner {
    fn consumer_name(&self) -> String {
        format!("projector-{}", self.schema_name)
    }

    /// Runs as the live writer of the model: waits for the writer lock,
    /// installs the schema, then folds the stream until shutdown, stepping
    /// aside whenever a rebuild asks to swap its schema in.
    pub async fn run(&self, shutdown: CancellationToken) -> Result<(), ProjectionError> {
        let name = self.model.name();
        if !valid_model_name(name) {
            return Err(ProjectionError::BadModelName(name.to_owned()));
        }
        let mut delay = self.config.retry_delay;
        let mut failed_at = None;
        loop {
            let outcome = self.run_once(&shutdown, None, true).await;
            match outcome {
                Ok(RunEnd::Shutdown) => return Ok(()),
                Ok(RunEnd::CaughtUp(_)) => continue, // stepped aside for a swap
                Err(error) if error.is_transient() => {
                    self.metrics.retries.fetch_add(1, Ordering::Relaxed);
                    // Back off while failures repeat without progress.
                    let position = (
                        self.metrics.height.load(Ordering::Relaxed),
                        self.metrics.stream_seq.load(Ordering::Relaxed),
                    );
                    if failed_at != Some(position) {
                        delay = self.config.retry_delay;
                    }
                    failed_at = Some(position);
                    warn!(model = name, %error, retry_in_ms = delay.as_millis() as u64,
                          "outage; retrying from the checkpoint");
                    self.metrics.set_last_error(Some(error.to_string()));
                    tokio::select! {
                        _ = shutdown.cancelled() => return Ok(()),
                        _ = tokio::time::sleep(delay) => {}
                    }
                    delay =
                        (delay * 2).min(self.config.max_retry_delay.max(self.config.retry_delay));
                }
                Err(error) => return Err(error),
            }
        }
    }

    /// One session: lock, install, position, fold. Returns on shutdown, on
    /// catching up to `until_seq`, when a swap is requested (live writer),
    /// or on the first error.
    async fn run_once(
        &self,
        shutdown: &CancellationToken,
        until_seq: Option<u64>,
        live: bool,
    ) -> Result<RunEnd, ProjectionError> {
        let name = self.model.name();
        let mut lock_connection = PgConnection::connect_with(&self.database).await?;
        if live {
            loop {
                let acquired: bool =
                    sqlx::query_scalar("SELECT pg_try_advisory_lock($1, hashtext($2))")
                        .bind(WRITER_LOCK)
                        .bind(name)
                        .fetch_one(&mut lock_connection)
                        .await?;
                if acquired {
                    break;
                }
                info!(model = name, "another projector writes this model; waiting");
                tokio::select! {
                    _ = shutdown.cancelled() => return Ok(RunEnd::Shutdown),
                    _ = tokio::time::sleep(self.config.retry_delay) => {}
                }
            }
        }
        schema::install(
            &self.database,
            &self.schema_name,
            name,
            self.model.migrator(),
        )
        .await?;
        let mut connection = PgConnection::connect_with(&schema::options_for_schema(
            &self.database,
            &self.schema_name,
        ))
        .await?;
        let mut checkpoint = schema::read_checkpoint(&mut connection, name).await?;
        self.metrics.record(checkpoint.as_ref());

        let js = jetstream::new(self.nats.clone());
        let stream_name = stream::stream_name(&self.config.network);
        let mut ledger_stream = js.get_stream(&stream_name).await.map_err(nats)?;
        let Some(mut consumer) = self
            .position(
                &mut connection,
                &mut ledger_stream,
                &mut checkpoint,
                shutdown,
                live,
            )
            .await?
        else {
            return Ok(RunEnd::Shutdown);
        };
        info!(model = name, schema = %self.schema_name, height = checkpoint.map(|c| c.height.0),
              "folding the ledger stream");
        // Positioned: whatever the runner retried after is over.
        self.metrics.set_last_error(None);

        loop {
            if shutdown.is_cancelled() {
                return Ok(RunEnd::Shutdown);
            }
            if live && self.swap_requested(&mut lock_connection).await? {
                info!(
                    model = name,
                    "a rebuild is ready; stepping aside for the swap"
                );
                let _: bool = sqlx::query_scalar("SELECT pg_advisory_unlock($1, hashtext($2))")
                    .bind(WRITER_LOCK)
                    .bind(name)
                    .fetch_one(&mut lock_connection)
                    .await?;
                // Wait until the rebuild has swapped and let go.
                sqlx::query("SELECT pg_advisory_lock_shared($1, hashtext($2))")
                    .bind(SWAP_LOCK)
                    .bind(name)
                    .execute(&mut lock_connection)
                    .await?;
                sqlx::query("SELECT pg_advisory_unlock_shared($1, hashtext($2))")
                    .bind(SWAP_LOCK)
                    .bind(name)
                    .execute(&mut lock_connection)
                    .await?;
                return Ok(RunEnd::CaughtUp(checkpoint));
            }
            let last_seq = ledger_stream
                .info()
                .await
                .map_err(nats)?
                .state
                .last_sequence;
            self.metrics
                .stream_last_seq
                .store(last_seq, Ordering::Relaxed);
            let position = checkpoint.map_or(0, |at| at.stream_seq);
            if let Some(until) = until_seq
                && position >= until.min(last_seq)
            {
                return Ok(RunEnd::CaughtUp(checkpoint));
            }

            let fetched = tokio::select! {
                _ = shutdown.cancelled() => return Ok(RunEnd::Shutdown),
                fetched = self.fetch(&consumer) => fetched?,
            };
            if fetched.is_empty() {
                continue;
            }
            // Only a run of consecutive messages right after the checkpoint
            // may be folded; anything else means the consumer must be
            // repositioned (a redelivery overtook, or messages are missing).
            let mut expected = position + 1;
            let mut usable = Vec::with_capacity(fetched.len());
            let mut acks = Vec::with_capacity(fetched.len());
            for (message, stream_seq) in fetched {
                if stream_seq < expected {
                    acks.push(message); // already folded in
                    continue;
                }
                if stream_seq != expected {
                    break;
                }
                usable.push(StreamMessage::from_stream(
                    stream_seq,
                    message.payload.clone(),
                ));
                acks.push(message);
                expected += 1;
            }
            // A gap, or an empty model whose stream was empty when it
            // started and whose first message is not the genesis block (a
            // new stream beside a node that published elsewhere): both are
            // what `position` backfills from a node.
            let reposition = if usable.is_empty() {
                warn!(
                    model = name,
                    expected = position + 1,
                    "stream gap; repositioning the consumer"
                );
                true
            } else if checkpoint.is_none()
                && let Some(Ok(head)) = usable
                    .first()
                    .map(|message| BlockMessage::decode(&message.payload))
                && (head.kind != BlockMessageKind::Applied || head.height != BlockHeight(0))
            {
                info!(
                    model = name,
                    height = head.height.0,
                    "the stream's first message is not the genesis block; backfilling from a node"
                );
                true
            } else {
                false
            };
            if reposition {
                match self
                    .position(
                        &mut connection,
                        &mut ledger_stream,
                        &mut checkpoint,
                        shutdown,
                        live,
                    )
                    .await?
                {
                    Some(repositioned) => consumer = repositioned,
                    None => return Ok(RunEnd::Shutdown),
                }
                continue;
            }
            let hint = self.stream_hint(&ledger_stream).await;
            let started = Instant::now();
            let outcome = apply_batch(
                &mut connection,
                self.model.as_ref(),
                &self.schema_name,
                &usable,
                hint,
                BatchSettings {
                    finality_depth: self.config.finality_depth,
                },
            )
            .await?;
            for message in &acks {
                if let Err(error) = message.ack().await {
                    // The commit stands; an unacked message is redelivered
                    // and skipped by its stream sequence.
                    warn!(model = name, %error, "ack failed after commit");
                }
            }
            checkpoint = outcome.checkpoint;
            self.metrics.count(&outcome);
            if let Some(at) = checkpoint {
                tracing::debug!(
                    model = name,
                    height = at.height.0,
                    applied = outcome.applied,
                    reverted = outcome.reverted,
                    millis = started.elapsed().as_millis() as u64,
                    "batch committed"
                );
                if live {
                    self.announce(&at).await;
                }
            }
        }
    }

    async fn fetch(
        &self,
        consumer: &consumer::PullConsumer,
    ) -> Result<Vec<(jetstream::Message, u64)>, ProjectionError> {
        let mut batch = consumer
            .fetch()
            .max_messages(self.config.batch_size)
            .max_bytes(FETCH_MAX_BYTES)
            .expires(self.config.fetch_wait)
            .messages()
            .await
            .map_err(nats)?;
        let mut messages = Vec::new();
        while let Some(message) = batch.next().await {
            let message = match message {
                Ok(message) => message,
                // The server ends a fetch whose next message would pass
                // `max_bytes` with this status (409); what came before it
                // is a complete, consecutive batch.
                Err(error)
                    if !messages.is_empty()
                        && error.to_string().contains("Message Size Exceeds MaxBytes") =>
                {
                    break;
                }
                Err(error) => return Err(nats(error)),
            };
            let stream_seq = message.info().map_err(nats)?.stream_sequence;
            messages.push((message, stream_seq));
        }
        Ok(messages)
    }

    /// Backfills from a node what the stream no longer holds, then
    /// (re)creates the consumer. `None` on shutdown.
    async fn position(
        &self,
        connection: &mut PgConnection,
        ledger_stream: &mut jetstream::stream::Stream,
        checkpoint: &mut Option<Checkpoint>,
        shutdown: &CancellationToken,
        live: bool,
    ) -> Result<Option<consumer::PullConsumer>, ProjectionError> {
        self.check_chain(ledger_stream, checkpoint.as_ref()).await?;
        if !self
            .backfill(connection, ledger_stream, checkpoint, shutdown, live)
            .await?
        {
            return Ok(None);
        }
        // If the stream lost more meanwhile, this is `StreamTruncated`
        // (transient): the next round backfills again.
        self.position_consumer(ledger_stream, checkpoint.as_ref())
            .await
            .map(Some)
    }

    /// Refuses a checkpoint from another chain than the one the network
    /// and the stream carry (docs/projector.md, "Another chain"): its
    /// genesis must be the network's, and the stream's message at its
    /// stream position must be the one the model folded there (stream
    /// sequences never go back, so another message there means the stream
    /// was recreated and carries another history). A stream that ends
    /// before the checkpoint's position was recreated too; unless its
    /// first message is another genesis, that is retried until the stream
    /// reaches the position (a node republishing its outbox refills it
    /// with the same messages), and then judged.
    async fn check_chain(
        &self,
        ledger_stream: &mut jetstream::stream::Stream,
        checkpoint: Option<&Checkpoint>,
    ) -> Result<(), ProjectionError> {
        let Some(at) = checkpoint else {
            return Ok(());
        };
        let name = self.model.name();
        let other_chain =
            |what: String, expected: BlockId, found: BlockId| ProjectionError::OtherChain {
                model: name.to_owned(),
                checkpoint: Box::new(*at),
                what,
                expected,
                found,
            };
        if let (Some(expected), Some(found)) = (at.genesis_id, self.config.genesis_id)
            && expected != found
        {
            return Err(other_chain(
                format!(
                    "the genesis block (chain ID) of network {}",
                    self.config.network
                ),
                expected,
                found,
            ));
        }
        let state = ledger_stream.info().await.map_err(nats)?.state.clone();
        let read = |seq: u64| {
            let ledger_stream = &*ledger_stream;
            async move {
                let raw = ledger_stream.get_raw_message(seq).await.map_err(nats)?;
                BlockMessage::decode(&raw.payload).map_err(|source| ProjectionError::BadMessage {
                    model: name.to_owned(),
                    origin: Source::Stream,
                    stream_seq: seq,
                    source,
                })
            }
        };
        if at.stream_seq > state.last_sequence {
            if let Some(expected) = at.genesis_id
                && state.messages > 0
                && state.first_sequence == 1
            {
                let first = read(1).await?;
                if first.kind == BlockMessageKind::Applied
                    && first.height == BlockHeight(0)
                    && first.block_id() != expected
                {
                    return Err(other_chain(
                        format!(
                            "the genesis block at message 1 of the recreated stream {}",
                            stream::stream_name(&self.config.network)
                        ),
                        expected,
                        first.block_id(),
                    ));
                }
            }
            return Err(ProjectionError::StreamBehindCheckpoint {
                model: name.to_owned(),
                stream: stream::stream_name(&self.config.network),
                last: state.last_sequence,
                stream_seq: at.stream_seq,
                height: at.height,
            });
        }
        if state.messages == 0 || at.stream_seq < state.first_sequence {
            // Not retained (a stream with limits): the backfill from a node
            // checks the model's tip against the node's main chain.
            return Ok(());
        }
        let message = read(at.stream_seq).await?;
        if !at.matches_stream_message(&message) {
            return Err(other_chain(
                format!(
                    "the block of message {} of stream {} ({} at height {})",
                    at.stream_seq,
                    stream::stream_name(&self.config.network),
                    match message.kind {
                        BlockMessageKind::Applied => "applied",
                        BlockMessageKind::Reverted => "reverted",
                    },
                    message.height
                ),
                at.stream_block.unwrap_or(at.block_id),
                message.block_id(),
            ));
        }
        Ok(())
    }

    /// Makes the stream's first retained message the next one the model
    /// needs: when that message lies beyond the checkpoint (the stream's
    /// limits removed older ones, or an empty model faces a stream that
    /// does not start at genesis), folds the missing main-chain blocks in
    /// from a node and moves the checkpoint's stream position to just
    /// before it. `false` on shutdown.
    async fn backfill(
        &self,
        connection: &mut PgConnection,
        ledger_stream: &mut jetstream::stream::Stream,
        checkpoint: &mut Option<Checkpoint>,
        shutdown: &CancellationToken,
        live: bool,
    ) -> Result<bool, ProjectionError> {
        let name = self.model.name();
        let next = checkpoint.map_or(1, |at| at.stream_seq + 1);
        let state = ledger_stream.info().await.map_err(nats)?.state.clone();
        if state.messages == 0 || state.first_sequence < next {
            return Ok(true);
        }
        let first = state.first_sequence;
        let raw = ledger_stream.get_raw_message(first).await.map_err(nats)?;
        let head =
            BlockMessage::decode(&raw.payload).map_err(|source| ProjectionError::BadMessage {
                model: name.to_owned(),
                origin: Source::Stream,
                stream_seq: first,
                source,
            })?;
        // The chain the model must hold before the first retained message.
        let target: Option<(BlockHeight, BlockId)> = match head.kind {
            BlockMessageKind::Applied => head
                .height
                .0
                .checked_sub(1)
                .map(|below| (BlockHeight(below), head.block.header.parent)),
            BlockMessageKind::Reverted => Some((head.height, head.block_id())),
        };
        // The model may hold a block at the height the stream continues
        // from that is not the one the stream continues: its tip sits on a
        // branch reverted in the part of the stream that is gone.
        if let (Some(at), Some((target_height, target_block))) = (*checkpoint, target)
            && target_height <= at.height
        {
            let held = if target_height == at.height {
                Some(at.block_id)
            } else {
                schema::remembered_at(connection, name, target_height)
                    .await?
                    .map(|known| known.block_id)
            };
            if held.is_some_and(|held| held != target_block) {
                warn!(model = name, height = target_height.0, stream_expects = %target_block,
                      "the model holds another block where the stream continues; rejoining the node's main chain");
                self.rejoin(
                    connection,
                    checkpoint,
                    target_height.0.checked_sub(1),
                    first,
                    head.height,
                    live,
                )
                .await?;
            }
        }
        let from = checkpoint.map_or(0, |at| at.height.0.saturating_add(1));
        let Some((target_height, target_block)) = target.filter(|(h, _)| h.0 >= from) else {
            // Nothing to fetch; only the stream position moves (the
            // continuity rule then judges the first retained message).
            if let Some(at) = checkpoint.as_mut()
                && first > next
            {
                warn!(
                    model = name,
                    needed = next,
                    first,
                    height = at.height.0,
                    "the stream no longer holds messages after the checkpoint, but the model already holds the blocks they lead to; continuing from the stream's first message"
                );
                let mut transaction = connection.begin().await?;
                at.stream_seq = first - 1;
                at.stream_block = None;
                schema::write_checkpoint(&mut transaction, at).await?;
                transaction.commit().await?;
                self.metrics.record(Some(at));
            }
            return Ok(true);
        };
        let total = target_height.0 - from + 1;
        info!(
            model = name,
            from,
            to = target_height.0,
            blocks = total,
            stream_first = first,
            "the stream no longer holds blocks the model needs; backfilling them from a node"
        );
        let hint = self.stream_hint(ledger_stream).await;
        let settings = BatchSettings {
            finality_depth: self.config.finality_depth,
        };
        let started = Instant::now();
        let mut done = 0u64;
        let mut logged = 0u64;
        loop {
            let from = checkpoint.map_or(0, |at| at.height.0.saturating_add(1));
            if from > target_height.0 {
                break;
            }
            if shutdown.is_cancelled() {
                return Ok(false);
            }
            // From the checkpoint's own height: the node's block there tells
            // whether the model's tip is on the node's main chain.
            let per_request = (self.config.batch_size as u64).clamp(2, BLOCKS_PER_REPLY);
            let request_from = checkpoint.map_or(0, |at| at.height.0);
            let to = target_height
                .0
                .min(request_from.saturating_add(per_request - 1));
            let mut blocks = self
                .node_blocks(
                    BlockHeight(request_from),
                    BlockHeight(to),
                    (BlockHeight(from), target_height),
                    first,
                    head.height,
                )
                .await?;
            if let Some(at) = *checkpoint {
                let (tip_block, _) = blocks.remove(0);
                if tip_block.block_id() != at.block_id {
                    warn!(model = name, height = at.height.0, model_block = %at.block_id, node_block = %tip_block.block_id(),
                          "the model's tip is not on the node's main chain; rejoining it");
                    self.rejoin(
                        connection,
                        checkpoint,
                        at.height.0.checked_sub(1),
                        first,
                        head.height,
                        live,
                    )
                    .await?;
                    continue;
                }
                if blocks.is_empty() {
                    return Err(ProjectionError::NodeRefused {
                        model: name.to_owned(),
                        from: BlockHeight(from),
                        to: BlockHeight(to),
                        reason: stream::BlocksRefusal::Unavailable,
                        message: format!("the node's main chain ends at height {}", at.height),
                    });
                }
            }
            let messages: Vec<StreamMessage> = blocks
                .into_iter()
                .map(|(_, payload)| StreamMessage {
                    stream_seq: first - 1,
                    payload: payload.into(),
                    source: Source::Node,
                })
                .collect();
            let outcome = apply_batch(
                connection,
                self.model.as_ref(),
                &self.schema_name,
                &messages,
                hint,
                settings,
            )
            .await?;
            *checkpoint = outcome.checkpoint;
            self.metrics.count(&outcome);
            self.metrics
                .blocks_backfilled
                .fetch_add(outcome.applied, Ordering::Relaxed);
            done += outcome.applied;
            if let Some(at) = checkpoint.as_ref() {
                if done - logged >= BACKFILL_LOG_EVERY {
                    logged = done;
                    info!(
                        model = name,
                        height = at.height.0,
                        to = target_height.0,
                        done,
                        of = total,
                        "backfilling from a node"
                    );
                }
                if live {
                    self.announce(at).await;
                }
            }
        }
        if let Some(at) = checkpoint.as_ref() {
            if at.block_id != target_block {
                warn!(model = name, height = at.height.0, node_block = %at.block_id, stream_expects = %target_block, stream_first = first,
                      "the node's main chain differs from the chain the stream continues; the stream's first message decides whether it follows");
            }
            info!(
                model = name,
                height = at.height.0,
                blocks = done,
                seconds = started.elapsed().as_secs_f64(),
                "backfill from a node done; continuing from the stream"
            );
        }
        Ok(true)
    }

    /// The model's tip is not on the node's main chain: finds their common
    /// ancestor (at most `high`, at least the finality depth below the
    /// tip) and reverts the model's blocks above it, in one transaction
    /// with the checkpoint.
    async fn rejoin(
        &self,
        connection: &mut PgConnection,
        checkpoint: &mut Option<Checkpoint>,
        high: Option<u64>,
        first: u64,
        first_height: BlockHeight,
        live: bool,
    ) -> Result<(), ProjectionError> {
        let Some(tip) = *checkpoint else {
            return Ok(());
        };
        let ancestor = self
            .common_ancestor(connection, tip, high, first, first_height)
            .await?;
        let outcome =
            revert_to(connection, self.model.as_ref(), &self.schema_name, ancestor).await?;
        warn!(
            model = self.model.name(),
            from = tip.height.0,
            to = ancestor.0.0,
            ancestor = %ancestor.1,
            reverted = outcome.reverted,
            "reverted the model's own blocks back to the common ancestor with the node's main chain"
        );
        *checkpoint = outcome.checkpoint;
        self.metrics.count(&outcome);
        if live && let Some(at) = checkpoint.as_ref() {
            self.announce(at).await;
        }
        Ok(())
    }

    /// The highest height at most `high` at which the model and the node's
    /// main chain hold the same block. Blocks name their parents, so the
    /// heights where they agree are a prefix: the search walks down from
    /// `high` with requests of up to `batch_size` blocks, comparing with
    /// the blocks the model remembers, and gives up at the finality depth
    /// below the model's tip (no node reorganises deeper) or where the
    /// model no longer remembers its blocks.
    async fn common_ancestor(
        &self,
        connection: &mut PgConnection,
        tip: Checkpoint,
        high: Option<u64>,
        first: u64,
        first_height: BlockHeight,
    ) -> Result<(BlockHeight, BlockId), ProjectionError> {
        let name = self.model.name();
        let depth = self.config.finality_depth;
        let floor = tip.height.0.saturating_sub(depth);
        let none = |reason: String| ProjectionError::NoCommonAncestor {
            model: name.to_owned(),
            height: tip.height,
            block: tip.block_id,
            depth,
            reason,
        };
        let Some(mut high) = high else {
            return Err(none(
                "the node's genesis block differs from the model's".to_owned(),
            ));
        };
        let per_request = (self.config.batch_size as u64).clamp(1, BLOCKS_PER_REPLY);
        // A height known to agree; the ancestor is at or above it.
        let mut agreed: Option<(BlockHeight, BlockId)> = None;
        loop {
            let bottom = agreed.map_or(floor, |(height, _)| height.0 + 1);
            if high < bottom {
                return agreed.ok_or_else(|| {
                    none(format!("the node's blocks differ down to height {floor}"))
                });
            }
            let low = high.saturating_sub(per_request - 1).max(bottom);
            let blocks = self
                .node_blocks(
                    BlockHeight(low),
                    BlockHeight(high),
                    (BlockHeight(low), BlockHeight(high)),
                    first,
                    first_height,
                )
                .await?;
            let top = low + blocks.len() as u64 - 1;
            let mut found = None;
            for (block, _) in blocks.iter().rev() {
                let Some(known) = schema::remembered_at(connection, name, block.height).await?
                else {
                    return Err(none(format!(
                        "the model no longer remembers its block at height {} (below its finality horizon)",
                        block.height
                    )));
                };
                if known.block_id == block.block_id() {
                    found = Some((block.height, known.block_id));
                    break;
                }
            }
            match (found, agreed) {
                // The reply stopped short: the heights above it are unknown.
                (Some((height, id)), _) if height.0 == top && top < high => {
                    agreed = Some((height, id));
                }
                (Some(ancestor), _) | (None, Some(ancestor)) => return Ok(ancestor),
                (None, None) if low == 0 => {
                    return Err(none(
                        "the node's genesis block differs from the model's".to_owned(),
                    ));
                }
                (None, None) if low <= floor => {
                    return Err(none(format!(
                        "the node's blocks differ down to height {floor}"
                    )));
                }
                (None, None) => high = low - 1,
            }
        }
    }

    /// Asks the nodes of the network for the blocks at `from..=to`: some,
    /// in order, at least one, decoded, each with its bytes (a block at
    /// another height than asked is a bad reply). For the error: the model
    /// misses `missing` (first and last height), and the stream starts at
    /// message `first`, at `first_height`.
    async fn node_blocks(
        &self,
        from: BlockHeight,
        to: BlockHeight,
        missing: (BlockHeight, BlockHeight),
        first: u64,
        first_height: BlockHeight,
    ) -> Result<Vec<(BlockMessage, Vec<u8>)>, ProjectionError> {
        let model = self.model.name().to_owned();
        let subject = stream::blocks_subject(&self.config.network);
        let request = BlocksRequest::new(
            from,
            to,
            u32::try_from(BLOCKS_REPLY_SIZE_LIMIT).unwrap_or(u32::MAX),
        );
        let no_answer = |reason: String| ProjectionError::NoNodeAnswered {
            model: model.clone(),
            from: missing.0,
            to: missing.1,
            first,
            first_height,
            subject: subject.clone(),
            reason,
        };
        let reply = tokio::time::timeout(
            self.config.backfill_timeout,
            self.nats.request(subject.clone(), request.encode().into()),
        )
        .await
        .map_err(|_| {
            no_answer(format!(
                "no reply within {:?}",
                self.config.backfill_timeout
            ))
        })?
        .map_err(|error| no_answer(error.to_string()))?;
        let bad = |reason: String| ProjectionError::BadNodeReply {
            model: model.clone(),
            from,
            to,
            reason,
        };
        let payloads = match BlocksReply::decode(&reply.payload)
            .map_err(|error| bad(error.to_string()))?
        {
            BlocksReply::Refused { reason, message } => {
                return Err(ProjectionError::NodeRefused {
                    model: model.clone(),
                    from,
                    to,
                    reason,
                    message,
                });
            }
            BlocksReply::Blocks { messages, .. } if messages.is_empty() => {
                return Err(bad("the reply holds no block".to_owned()));
            }
            BlocksReply::Blocks { messages, .. } if messages.len() as u64 > to.0 - from.0 + 1 => {
                return Err(bad(format!(
                    "the reply holds {} blocks, more than the {} asked for",
                    messages.len(),
                    to.0 - from.0 + 1
                )));
            }
            BlocksReply::Blocks { messages, .. } => messages,
        };
        let mut blocks = Vec::with_capacity(payloads.len());
        for (offset, payload) in (0u64..).zip(payloads) {
            let block =
                BlockMessage::decode(&payload).map_err(|source| ProjectionError::BadMessage {
                    model: model.clone(),
                    origin: Source::Node,
                    stream_seq: first - 1,
                    source,
                })?;
            let expected = from.0.saturating_add(offset);
            if block.height.0 != expected || block.kind != BlockMessageKind::Applied {
                return Err(bad(format!(
                    "block {} of the reply is {:?} at height {}, not applied at height {expected}",
                    offset + 1,
                    block.kind,
                    block.height
                )));
            }
            blocks.push((block, payload));
        }
        Ok(blocks)
    }

    /// (Re)creates the durable consumer so it delivers the message after
    /// the checkpoint next.
    async fn position_consumer(
        &self,
        ledger_stream: &mut jetstream::stream::Stream,
        checkpoint: Option<&Checkpoint>,
    ) -> Result<consumer::PullConsumer, ProjectionError> {
        let name = self.consumer_name();
        let next = checkpoint.map_or(1, |at| at.stream_seq + 1);
        let state = ledger_stream.info().await.map_err(nats)?.state.clone();
        if state.messages > 0 && state.first_sequence > next {
            return Err(ProjectionError::StreamTruncated {
                model: self.model.name().to_owned(),
                needed: next,
                first: state.first_sequence,
            });
        }
        // Deleting a consumer that does not exist is fine.
        let _ = ledger_stream.delete_consumer(&name).await;
        ledger_stream
            .create_consumer(consumer::pull::Config {
                durable_name: Some(name),
                description: Some(format!("read model {}", self.model.name())),
                filter_subject: stream::block_subjects(&self.config.network),
                deliver_policy: if next <= 1 {
                    consumer::DeliverPolicy::All
                } else {
                    consumer::DeliverPolicy::ByStartSequence {
                        start_sequence: next,
                    }
                },
                ack_policy: consumer::AckPolicy::Explicit,
                ack_wait: Duration::from_secs(120),
                max_ack_pending: i64::try_from(self.config.batch_size * 4).unwrap_or(i64::MAX),
                ..Default::default()
            })
            .await
            .map_err(nats)
    }

    /// The stream's head: height of the newest applied block (from its
    /// header, else its payload) and position of the newest revert.
    async fn stream_hint(&self, ledger_stream: &jetstream::stream::Stream) -> Option<StreamHint> {
        let last = ledger_stream
            .get_last_raw_message_by_subject(&stream::applied_subject(&self.config.network))
            .await
            .ok()?;
        let head_height = match last
            .headers
            .get(HEIGHT_HEADER)
            .and_then(|value| value.as_str().parse::<u64>().ok())
        {
            Some(height) => BlockHeight(height),
            None => BlockMessage::decode(&last.payload).ok()?.height,
        };
        let last_revert_seq = match ledger_stream
            .get_last_raw_message_by_subject(&stream::reverted_subject(&self.config.network))
            .await
        {
            Ok(revert) => revert.sequence,
            Err(error)
                if matches!(
                    error.kind(),
                    jetstream::stream::LastRawMessageErrorKind::NoMessageFound
                ) =>
            {
                0
            }
            // Unknown: record everything rather than guess.
            Err(_) => return None,
        };
        Some(StreamHint {
            head_height,
            last_revert_seq,
        })
    }

    async fn swap_requested(
        &self,
        lock_connection: &mut PgConnection,
    ) -> Result<bool, ProjectionError> {
        let free: bool = sqlx::query_scalar("SELECT pg_try_advisory_lock_shared($1, hashtext($2))")
            .bind(SWAP_LOCK)
            .bind(self.model.name())
            .fetch_one(&mut *lock_connection)
            .await?;
        if free {
            sqlx::query("SELECT pg_advisory_unlock_shared($1, hashtext($2))")
                .bind(SWAP_LOCK)
                .bind(self.model.name())
                .execute(&mut *lock_connection)
                .await?;
        }
        Ok(!free)
    }

    async fn announce(&self, at: &Checkpoint) {
        let name = self.model.name();
        let payload = HeightReached {
            model: name.to_owned(),
            height: at.height.0,
            block_id: at.block_id.to_string(),
            stream_seq: at.stream_seq,
        };
        match serde_json::to_vec(&payload) {
            Ok(bytes) => {
                if let Err(error) = self
                    .nats
                    .publish(
                        notification_subject(&self.config.network, name),
                        bytes.into(),
                    )
                    .await
                {
                    warn!(model = name, %error, "could not announce the new height");
                }
            }
            Err(error) => warn!(model = name, %error, "could not encode the announcement"),
        }
    }
}

/// Rebuilds a model from the start of the stream into a second schema while
/// the live one stays queryable, then swaps it in. A live projector running
/// the model steps aside for the swap and resumes on the rebuilt schema.
pub async fn rebuild(
    model: Arc<dyn ReadModel>,
    database: PgConnectOptions,
    nats_client: async_nats::Client,
    config: RunnerConfig,
    shutdown: CancellationToken,
    metrics: Arc<ModelMetrics>,
) -> Result<Option<Checkpoint>, ProjectionError> {
    let name = model.name();
    if !valid_model_name(name) {
        return Err(ProjectionError::BadModelName(name.to_owned()));
    }
    let shadow = schema::rebuild_schema(name);
    schema::drop_schema(&database, &shadow).await?;
    let runner = Runner {
        model: model.clone(),
        schema_name: shadow.clone(),
        database: database.clone(),
        nats: nats_client.clone(),
        config: config.clone(),
        metrics,
    };
    let js = jetstream::new(nats_client);
    let stream_name = stream::stream_name(&config.network);
    // Catch up without disturbing the live writer.
    loop {
        let last = js
            .get_stream(&stream_name)
            .await
            .map_err(nats)?
            .info()
            .await
            .map_err(nats)?
            .state
            .last_sequence;
        match runner.run_once(&shutdown, Some(last), false).await? {
            RunEnd::Shutdown => return Ok(None),
            RunEnd::CaughtUp(at) if at.map_or(0, |c| c.stream_seq) >= last => break,
            RunEnd::CaughtUp(_) => continue,
        }
    }
    // Ask the live writer to step aside, then take its lock.
    let mut lock_connection = PgConnection::connect_with(&database).await?;
    sqlx::query("SELECT pg_advisory_lock($1, hashtext($2))")
        .bind(SWAP_LOCK)
        .bind(name)
        .execute(&mut lock_connection)
        .await?;
    sqlx::query("SELECT pg_advisory_lock($1, hashtext($2))")
        .bind(WRITER_LOCK)
        .bind(name)
        .execute(&mut lock_connection)
        .await?;
    // With the writer paused, fold what arrived meanwhile, then swap.
    let last = js
        .get_stream(&stream_name)
        .await
        .map_err(nats)?
        .info()
        .await
        .map_err(nats)?
        .state
        .last_sequence;
    let end = runner.run_once(&shutdown, Some(last), false).await?;
    let checkpoint = match end {
        RunEnd::CaughtUp(at) => at,
        RunEnd::Shutdown => {
            lock_connection.close().await?;
            return Ok(None);
        }
    };
    let live_exists = schema::schema_exists(&mut lock_connection, name).await?;
    if live_exists {
        schema::swap_in(&mut lock_connection, name, &shadow).await?;
    } else {
        sqlx::query(&format!("ALTER SCHEMA \"{shadow}\" RENAME TO \"{name}\""))
            .execute(&mut lock_connection)
            .await?;
    }
    // Closing the session releases both locks; the live writer resumes.
    lock_connection.close().await?;
    let _ = js
        .get_stream(&stream_name)
        .await
        .map_err(nats)?
        .delete_consumer(&runner.consumer_name())
        .await;
    info!(
        model = name,
        height = checkpoint.map(|c| c.height.0),
        "rebuild swapped in"
    );
    Ok(checkpoint)
}
