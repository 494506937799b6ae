//! The running node: wires the chain and its store, the pool, the block
//! creator, the p2p layer, the outbox and publisher, the NATS
//! submission endpoint and (when publishing) the block backfill endpoint,
//! and drives them from one loop (the only writer of the chain).
//!
//! The loop reacts to p2p events (sync as in `docs/p2p.md` §7, block
//! fetches, relayed transactions, punishments), to submissions from NATS,
//! and to a one-second tick (parked blocks, block creation, pool expiry,
//! sync polling). After every change of the best chain it appends the
//! change to the outbox (and wakes the publisher), moves the pool to the
//! new tip (re-admitting reverted transactions) and announces the tip.
//!
//! Shutdown (SIGINT/SIGTERM): the loop stops between two steps, the p2p
//! layer says goodbye to every peer, the publisher gets a moment to send
//! what is left, and the store, whose every commit is already durable, is
//! closed.

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use chain::mempool::{Mempool, MempoolConfig, PoolError};
use chain::{AcceptOutcome, ChainError, ChainUpdate, Clock, SystemClock};
use futures::StreamExt;
use ledger::{Block, BlockHeight, BlockId, Transaction, codec};
use tokio::sync::{Notify, mpsc, oneshot};
use tokio_util::sync::CancellationToken;
use tracing::{debug, error, info, warn};

use crate::creation::Creator;
use crate::outbox::Outbox;
use crate::p2p::{
    ChainView, Misbehaviour, NodeId, P2pCommand, P2pConfig, P2pEvent, P2pHandle, PeerManager,
    RequestKind,
};
use crate::publisher::{Publisher, StreamSettings};
use crate::settings::Settings;
use crate::status::NodeStatus;
use crate::store::{SharedChain, open_chain};
use crate::submission::{
    PoolEvent, RejectReason, SubmitReply, pool_accepted_subject, pool_dropped_subject, rejection,
    submit_subject,
};

/// Blocks asked for per `GetBlocks`.
const SYNC_BATCH: u32 = 500;
/// How often an idle node asks a peer that may know more.
const SYNC_POLL: Duration = Duration::from_secs(10);

/// A submission waiting for the loop.
struct Submission {
    transaction: Transaction,
    reply: oneshot::Sender<SubmitReply>,
}

/// Runs the node until `shutdown` is cancelled.
pub async fn run(settings: Settings, shutdown: CancellationToken) -> anyhow::Result<()> {
    let network = settings.network.params.network_name.clone();
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let started = Instant::now();
    let (chain, reopen_update) = open_chain(
        &settings.data_dir,
        settings.network.clone(),
        clock,
        settings.store_cache_mib,
    )?;
    info!(
        network = %network,
        height = chain.height().0,
        tip = %chain.tip().id,
        seconds = started.elapsed().as_secs_f64(),
        data_dir = %settings.data_dir.display(),
        "chain opened"
    );
    if !reopen_update.is_empty() {
        info!(
            applied = reopen_update.applied.len(),
            "reopening switched to a heavier stored branch"
        );
    }
    let mut outbox = Outbox::open(&settings.data_dir.join("outbox"))?;
    let publishing = settings.publish && settings.nats_url.is_some();
    if publishing {
        let appended = outbox.follow(&chain)?;
        if appended > 0 {
            info!(appended, "outbox caught up with the chain");
        }
    }
    let pool = Mempool::new(MempoolConfig::default(), &chain);
    let status = Arc::new(NodeStatus::new(&network, publishing));
    status
        .outbox_last
        .store(outbox.last_sequence(), Ordering::Relaxed);
    status.outbox_acked.store(outbox.acked(), Ordering::Relaxed);
    let outbox = Arc::new(Mutex::new(outbox));
    let chain = SharedChain::new(chain);

    let (health_address, health_task) =
        service::serve_health(settings.health_listen, status.clone(), shutdown.clone())
            .await
            .with_context(|| format!("binding the health endpoint {}", settings.health_listen))?;
    info!(address = %health_address, "health and metrics endpoint");

    let mut p2p_config = P2pConfig::new(&settings.network.params, settings.listen);
    p2p_config.seeds = settings.seeds.clone();
    p2p_config.advertised_address = settings.advertise;
    p2p_config.dial_interval = settings.dial_interval;
    p2p_config.request_timeout = settings.request_timeout;
    p2p_config.ban_duration = settings.ban_duration;
    if p2p_config.idle_timeout <= p2p_config.ping_interval {
        p2p_config.idle_timeout = p2p_config.ping_interval * 3;
    }
    let p2p_shutdown = CancellationToken::new();
    let (p2p, p2p_events) =
        PeerManager::start(p2p_config, Arc::new(chain.clone()), p2p_shutdown.clone()).await?;
    let _ = status.p2p.set(p2p.clone());

    let tasks = tokio_util::task::TaskTracker::new();
    let publisher_shutdown = CancellationToken::new();
    let nats_shutdown = shutdown.child_token();
    let wake = Arc::new(Notify::new());
    let (submissions_sender, submissions) = mpsc::channel::<Submission>(256);
    let nats = match &settings.nats_url {
        Some(url) => {
            let client = async_nats::ConnectOptions::new()
                .retry_on_initial_connect()
                .connection_timeout(Duration::from_secs(5))
                .connect(nats_servers(url))
                .await
                .with_context(|| format!("connecting to NATS at {url}"))?;
            info!(url = %url, publishing, "NATS");
            if publishing {
                let publisher = Publisher {
                    outbox: outbox.clone(),
                    jetstream: async_nats::jetstream::new(client.clone()),
                    settings: StreamSettings {
                        network: network.clone(),
                        replicas: settings.stream_replicas,
                        duplicate_window: settings.duplicate_window,
                    },
                    status: status.clone(),
                    wake: wake.clone(),
                };
                tasks.spawn(publisher.run(publisher_shutdown.clone()));
                tasks.spawn(crate::blocks::serve_blocks(
                    client.clone(),
                    chain::stream::blocks_subject(&network),
                    outbox.clone(),
                    status.clone(),
                    nats_shutdown.clone(),
                ));
            }
            tasks.spawn(serve_submissions(
                client.clone(),
                submit_subject(&network),
                settings.network.params.transaction_size_limit,
                submissions_sender,
                nats_shutdown.clone(),
            ));
            Some(client)
        }
        None => {
            warn!("no NATS URL: the node neither publishes events nor answers submissions");
            None
        }
    };
    tasks.close();

    let lookback = settings.network.consensus.block_frequency.max(1) * 2;
    let mut runtime = Runtime {
        network: network.clone(),
        chain,
        pool,
        creator: Creator::new(settings.keys.clone(), lookback),
        outbox,
        publishing,
        wake,
        p2p: p2p.clone(),
        nats,
        status,
        peers: HashMap::new(),
        sync: None,
        last_poll: Instant::now(),
        last_expiry: Instant::now(),
        request_timeout: settings.request_timeout,
    };
    runtime.refresh_status();
    if runtime.creator.has_keys() {
        let owned = runtime.chain.read().config().params.network_name.clone();
        info!(keys = settings.keys.len(), network = %owned, "block creation enabled");
    }
    let result = runtime
        .drive(p2p_events, submissions, shutdown.clone())
        .await;

    info!("shutting down: closing peer connections");
    p2p_shutdown.cancel();
    p2p.shutdown().await;
    nats_shutdown.cancel();
    publisher_shutdown.cancel();
    tasks.wait().await;
    if let Some(client) = &runtime.nats {
        let _ = tokio::time::timeout(Duration::from_secs(2), client.flush()).await;
    }
    shutdown.cancel();
    let _ = health_task.await;
    let height = runtime.chain.read().height();
    info!(height = height.0, "stopped; the store is consistent");
    result
}

struct Runtime {
    network: String,
    chain: SharedChain,
    pool: Mempool,
    creator: Creator,
    outbox: Arc<Mutex<Outbox>>,
    /// Only a publishing node keeps its outbox up to date (a node started
    /// later with publishing on catches up from its stream view).
    publishing: bool,
    wake: Arc<Notify>,
    p2p: P2pHandle,
    nats: Option<async_nats::Client>,
    status: Arc<NodeStatus>,
    /// What each peer said its best chain is.
    peers: HashMap<NodeId, (BlockHeight, BlockId)>,
    /// The peer we sync with and when we last asked it.
    sync: Option<(NodeId, Instant)>,
    last_poll: Instant,
    last_expiry: Instant,
    request_timeout: Duration,
}

/// Whether a refused block is the sender's fault.
fn is_invalid(error: &ChainError) -> bool {
    matches!(
        error,
        ChainError::KnownInvalid { .. }
            | ChainError::InvalidAncestor { .. }
            | ChainError::Stateless { .. }
            | ChainError::TimestampBeforeMedian { .. }
            | ChainError::TimestampNotAfterParent { .. }
            | ChainError::Rules { .. }
    )
}

impl Runtime {
    async fn drive(
        &mut self,
        mut events: mpsc::Receiver<P2pEvent>,
        mut submissions: mpsc::Receiver<Submission>,
        shutdown: CancellationToken,
    ) -> anyhow::Result<()> {
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                biased;
                _ = shutdown.cancelled() => return Ok(()),
                event = events.recv() => match event {
                    Some(event) => self.on_p2p(event)?,
                    None => anyhow::bail!("the p2p layer stopped"),
                },
                Some(submission) = submissions.recv() => {
                    let reply = self.submit(submission.transaction, None);
                    let _ = submission.reply.send(reply);
                }
                _ = tick.tick() => self.on_tick()?,
            }
        }
    }

    fn command(&self, command: P2pCommand) {
        if let Err(error) = self.p2p.execute(command) {
            debug!(%error, "p2p command not queued");
        }
    }

    fn height(&self) -> BlockHeight {
        self.chain.read().height()
    }

    fn start_sync(&mut self, peer: NodeId) {
        if let Some((current, asked)) = self.sync
            && (current != peer && asked.elapsed() < self.request_timeout)
        {
            return;
        }
        let locator = self.chain.locator();
        self.sync = Some((peer, Instant::now()));
        self.status.syncing.store(true, Ordering::Relaxed);
        self.command(P2pCommand::RequestBlocks {
            peer,
            locator,
            limit: SYNC_BATCH,
        });
    }

    fn end_sync(&mut self) {
        self.sync = None;
        self.status.syncing.store(false, Ordering::Relaxed);
    }

    /// Picks the peer that claims the most and asks it, if it may know more.
    fn maybe_sync(&mut self, poll: bool) {
        if self.sync.is_some() {
            return;
        }
        let (own_height, own_tip) = {
            let chain = self.chain.read();
            (chain.height(), chain.tip().id)
        };
        let best = self
            .peers
            .iter()
            .filter(|(_, (height, tip))| {
                *height > own_height || (poll && *height == own_height && *tip != own_tip)
            })
            .max_by_key(|(_, (height, _))| *height)
            .map(|(peer, _)| *peer);
        if let Some(peer) = best {
            self.start_sync(peer);
        }
    }

    fn on_p2p(&mut self, event: P2pEvent) -> anyhow::Result<()> {
        match event {
            P2pEvent::PeerConnected(info) => {
                debug!(peer = %info.node_id, address = %info.address, height = info.best_height.0, "peer connected");
                self.peers
                    .insert(info.node_id, (info.best_height, info.tip));
                if info.best_height > self.height() {
                    self.start_sync(info.node_id);
                }
            }
            P2pEvent::PeerDisconnected { node_id, .. } => {
                self.peers.remove(&node_id);
                if self.sync.map(|(peer, _)| peer) == Some(node_id) {
                    self.end_sync();
                    self.maybe_sync(false);
                }
            }
            P2pEvent::BlockAnnounced {
                peer,
                header,
                height,
            } => {
                let id = header.id();
                self.peers.insert(peer, (height, id));
                let (known, parent_known) = {
                    let chain = self.chain.read();
                    (
                        chain.node(&id).is_some() || chain.is_known_invalid(&id),
                        chain.node(&header.parent).is_some(),
                    )
                };
                if known {
                } else if parent_known {
                    self.command(P2pCommand::RequestBlock { peer, id });
                } else {
                    self.start_sync(peer);
                }
            }
            P2pEvent::BlockReceived { peer, block } => {
                let mut update = ChainUpdate::default();
                let orphan = self.accept(block, Some(peer), &mut update)?;
                self.after_update(update, Some(peer))?;
                if orphan {
                    self.start_sync(peer);
                }
            }
            P2pEvent::BlocksReceived { peer, blocks } => self.on_batch(peer, blocks)?,
            P2pEvent::BlockNotFound { peer, id } => {
                debug!(%peer, %id, "peer does not have an announced block");
            }
            P2pEvent::TransactionsReceived { peer, transactions } => {
                for transaction in transactions {
                    self.submit(transaction, Some(peer));
                }
            }
            P2pEvent::RequestTimedOut { peer, request } => {
                if matches!(request, RequestKind::Blocks) && self.sync.map(|(p, _)| p) == Some(peer)
                {
                    warn!(%peer, "sync request timed out; trying another peer");
                    self.peers.remove(&peer);
                    self.end_sync();
                    self.maybe_sync(false);
                }
            }
        }
        Ok(())
    }

    fn on_batch(&mut self, peer: NodeId, blocks: Vec<Block>) -> anyhow::Result<()> {
        let syncing_with_peer = self.sync.map(|(p, _)| p) == Some(peer);
        if blocks.is_empty() {
            if syncing_with_peer {
                debug!(%peer, height = self.height().0, "sync: peer has nothing more");
                self.end_sync();
                self.maybe_sync(false);
            }
            return Ok(());
        }
        let started = Instant::now();
        let count = blocks.len();
        let mut update = ChainUpdate::default();
        let mut punished = false;
        for block in blocks {
            let id = block.id();
            let known = self.chain.read().node(&id).is_some();
            if known {
                continue;
            }
            match self.accept_or_punish(block, peer, &mut update)? {
                true => {}
                false => {
                    punished = true;
                    break;
                }
            }
        }
        let height = self.height();
        self.after_update(update, Some(peer))?;
        let seconds = started.elapsed().as_secs_f64();
        info!(
            %peer,
            blocks = count,
            height = height.0,
            blocks_per_second = (count as f64 / seconds.max(1e-9)).round(),
            "sync: batch applied"
        );
        if punished {
            self.end_sync();
            self.maybe_sync(false);
        } else if syncing_with_peer || self.sync.is_none() {
            self.sync = None;
            self.start_sync(peer);
        }
        Ok(())
    }

    /// Accepts a block from `peer`; `false` if it was invalid (punished).
    fn accept_or_punish(
        &mut self,
        block: Block,
        peer: NodeId,
        update: &mut ChainUpdate,
    ) -> anyhow::Result<bool> {
        let id = block.id();
        let result = self.chain.write().accept_block(block);
        match result {
            Ok(outcome) => {
                self.take_outcome(outcome, update);
                Ok(true)
            }
            Err(error) if is_invalid(&error) => {
                self.status.blocks_invalid.fetch_add(1, Ordering::Relaxed);
                warn!(%peer, block = %id, %error, "invalid block from peer: punishing");
                self.command(P2pCommand::Punish {
                    peer,
                    offence: Misbehaviour::InvalidBlock,
                });
                Ok(false)
            }
            Err(error @ (ChainError::Store(_) | ChainError::Inconsistent(_))) => {
                Err(anyhow::Error::new(error).context("the block store failed"))
            }
            Err(error) => {
                debug!(%peer, block = %id, %error, "block refused");
                Ok(true)
            }
        }
    }

    /// Accepts a block; returns whether it was an orphan.
    fn accept(
        &mut self,
        block: Block,
        from: Option<NodeId>,
        update: &mut ChainUpdate,
    ) -> anyhow::Result<bool> {
        let id = block.id();
        if let Some(peer) = from {
            let before = self.chain.read().orphan_count();
            self.accept_or_punish(block, peer, update)?;
            let chain = self.chain.read();
            return Ok(chain.node(&id).is_none() && chain.orphan_count() > before);
        }
        let result = self.chain.write().accept_block(block);
        match result {
            Ok(outcome) => {
                let orphan = matches!(outcome, AcceptOutcome::Orphan { .. });
                self.take_outcome(outcome, update);
                Ok(orphan)
            }
            Err(error @ (ChainError::Store(_) | ChainError::Inconsistent(_))) => {
                Err(anyhow::Error::new(error).context("the block store failed"))
            }
            Err(error) => {
                error!(block = %id, %error, "own block refused");
                Ok(false)
            }
        }
    }

    fn take_outcome(&mut self, outcome: AcceptOutcome, update: &mut ChainUpdate) {
        if let AcceptOutcome::Connected {
            update: more,
            rejected_orphans,
        } = outcome
        {
            for (id, reason) in rejected_orphans {
                warn!(block = %id, %reason, "orphan refused");
            }
            update.reverted.extend(more.reverted);
            update.applied.extend(more.applied);
            update.events.extend(more.events);
        }
    }

    /// After a change of the best chain: outbox, pool, status, announce.
    fn after_update(&mut self, update: ChainUpdate, from: Option<NodeId>) -> anyhow::Result<()> {
        if update.is_empty() {
            return Ok(());
        }
        self.status
            .blocks_applied
            .fetch_add(update.applied.len() as u64, Ordering::Relaxed);
        self.status
            .blocks_reverted
            .fetch_add(update.reverted.len() as u64, Ordering::Relaxed);
        if !update.reverted.is_empty() {
            info!(
                reverted = update.reverted.len(),
                applied = update.applied.len(),
                "best chain switched branch"
            );
        }
        let chain = self.chain.clone();
        let chain = chain.read();
        let appended = if self.publishing {
            self.outbox
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .follow(&chain)
                .context("appending to the outbox")?
        } else {
            0
        };
        if appended > 0 {
            self.status
                .outbox_last
                .fetch_add(appended as u64, Ordering::Relaxed);
            self.wake.notify_one();
        }
        let dropped = match self.pool.on_chain_update(&chain, &update) {
            Ok(dropped) => dropped,
            Err(error) => {
                warn!(%error, "pool could not follow the chain; starting an empty pool");
                self.pool = Mempool::new(MempoolConfig::default(), &chain);
                Vec::new()
            }
        };
        for id in dropped {
            self.pool_event(PoolEvent::Dropped {
                id,
                reason: "no longer valid on the new best chain".to_owned(),
            });
        }
        let tip = chain.tip().clone();
        if !update.applied.is_empty()
            && let Ok(Some(block)) = chain.block(&tip.id)
        {
            self.command(P2pCommand::BroadcastBlock {
                header: block.header,
                height: tip.height,
                except: from,
            });
        }
        drop(chain);
        self.refresh_status();
        Ok(())
    }

    fn refresh_status(&self) {
        let chain = self.chain.read();
        let tip = chain.tip();
        self.status.height.store(tip.height.0, Ordering::Relaxed);
        if let Ok(mut slot) = self.status.tip.lock() {
            *slot = tip.id.to_string();
        }
        self.status
            .tip_timestamp
            .store(tip.timestamp.0, Ordering::Relaxed);
        if let Some(parent) = chain.node(&tip.parent) {
            self.status.last_block_interval.store(
                tip.timestamp.0.saturating_sub(parent.timestamp.0),
                Ordering::Relaxed,
            );
        }
        self.status
            .pool_transactions
            .store(self.pool.len() as u64, Ordering::Relaxed);
        self.status
            .pool_bytes
            .store(self.pool.total_bytes(), Ordering::Relaxed);
    }

    fn on_tick(&mut self) -> anyhow::Result<()> {
        let parked = self.chain.write().poll_parked();
        let mut update = ChainUpdate::default();
        for (id, result) in parked {
            match result {
                Ok(outcome) => self.take_outcome(outcome, &mut update),
                Err(error) => debug!(block = %id, %error, "parked block refused"),
            }
        }
        self.after_update(update, None)?;

        let syncing = self
            .sync
            .is_some_and(|(_, asked)| asked.elapsed() < self.request_timeout);
        if !syncing {
            if self.sync.is_some() {
                self.end_sync();
            }
            let created = {
                let chain = self.chain.read();
                self.creator.try_create(&chain, &self.pool)
            };
            match created {
                Ok(Some(block)) => {
                    let id = block.id();
                    let transactions = block.transactions.len().saturating_sub(1);
                    let mut update = ChainUpdate::default();
                    self.accept(block, None, &mut update)?;
                    if update.applied.contains(&id) {
                        self.status.blocks_created.fetch_add(1, Ordering::Relaxed);
                        info!(height = self.height().0, block = %id, transactions, "block created");
                    }
                    self.after_update(update, None)?;
                }
                Ok(None) => {}
                Err(error) => warn!(%error, "block creation failed"),
            }
        }
        if self.last_poll.elapsed() >= SYNC_POLL {
            self.last_poll = Instant::now();
            self.maybe_sync(true);
        }
        if self.last_expiry.elapsed() >= Duration::from_secs(60) {
            self.last_expiry = Instant::now();
            let chain = self.chain.clone();
            let chain = chain.read();
            if let Ok(expired) = self.pool.expire(&chain) {
                for id in expired {
                    self.pool_event(PoolEvent::Dropped {
                        id,
                        reason: "waited longer than the pool's maximum age".to_owned(),
                    });
                }
            }
        }
        self.refresh_status();
        Ok(())
    }

    /// Offers a transaction to the pool (from NATS or, with `from`, a peer).
    fn submit(&mut self, transaction: Transaction, from: Option<NodeId>) -> SubmitReply {
        let result = {
            let chain = self.chain.clone();
            let chain = chain.read();
            self.pool.add(&chain, transaction.clone())
        };
        match result {
            Ok((id, evicted)) => {
                self.status
                    .transactions_accepted
                    .fetch_add(1, Ordering::Relaxed);
                debug!(transaction = %id, "transaction accepted into the pool");
                self.command(P2pCommand::BroadcastTransactions {
                    transactions: vec![transaction.clone()],
                    except: from,
                });
                self.pool_event(PoolEvent::Accepted {
                    id,
                    transaction: Box::new(transaction),
                });
                for other in evicted {
                    self.pool_event(PoolEvent::Dropped {
                        id: other,
                        reason: "evicted by better-paying transactions (pool full)".to_owned(),
                    });
                }
                self.refresh_status();
                SubmitReply::Accepted { id }
            }
            Err(error) => {
                self.status
                    .transactions_rejected
                    .fetch_add(1, Ordering::Relaxed);
                if let (Some(peer), PoolError::Stateless { .. }) = (from, &error) {
                    self.command(P2pCommand::Punish {
                        peer,
                        offence: Misbehaviour::InvalidTransaction,
                    });
                }
                debug!(%error, "transaction refused");
                rejection(&error)
            }
        }
    }

    fn pool_event(&self, event: PoolEvent) {
        let Some(client) = self.nats.clone() else {
            return;
        };
        let subject = match &event {
            PoolEvent::Accepted { .. } => pool_accepted_subject(&self.network),
            PoolEvent::Dropped { .. } => pool_dropped_subject(&self.network),
        };
        let payload = codec::encode(&event);
        tokio::spawn(async move {
            if let Err(error) = client.publish(subject, payload.into()).await {
                debug!(%error, "pool event not published");
            }
        });
    }
}

/// Answers `ledger.<network>.submit` requests through the loop.
async fn serve_submissions(
    client: async_nats::Client,
    subject: String,
    size_limit: u64,
    loop_sender: mpsc::Sender<Submission>,
    shutdown: CancellationToken,
) {
    let Some(mut subscription) =
        subscribe_nodes(&client, &subject, "transaction submissions", &shutdown).await
    else {
        return;
    };
    let limit = usize::try_from(size_limit).unwrap_or(usize::MAX);
    while let Some((message, reply_to)) = next_request(&mut subscription, &shutdown).await {
        let reply = match codec::decode_with_limit::<Transaction>(&message.payload, limit) {
            Err(error) => SubmitReply::Rejected {
                reason: if message.payload.len() > limit {
                    RejectReason::TooLarge
                } else {
                    RejectReason::Malformed
                },
                message: format!(
                    "the request ({} bytes) is not one canonical transaction: {error}",
                    message.payload.len()
                ),
            },
            Ok(transaction) => {
                let (sender, receiver) = oneshot::channel();
                let queued = loop_sender
                    .send(Submission {
                        transaction,
                        reply: sender,
                    })
                    .await;
                match queued {
                    Ok(()) => receiver.await.unwrap_or_else(|_| unavailable()),
                    Err(_) => unavailable(),
                }
            }
        };
        if let Err(error) = client.publish(reply_to, codec::encode(&reply).into()).await {
            debug!(%error, "submission reply not sent");
        }
    }
    let _ = subscription.unsubscribe().await;
}

/// Subscribes to `subject` in the queue group `node` (so one node of the
/// network answers each request), retrying every second until it works or
/// `shutdown`; `None` on shutdown.
pub(crate) async fn subscribe_nodes(
    client: &async_nats::Client,
    subject: &str,
    what: &str,
    shutdown: &CancellationToken,
) -> Option<async_nats::Subscriber> {
    loop {
        match client
            .queue_subscribe(subject.to_owned(), "node".to_owned())
            .await
        {
            Ok(subscription) => {
                info!(%subject, "answering {what}");
                return Some(subscription);
            }
            Err(error) => {
                warn!(%error, %subject, "cannot subscribe for {what}; retrying");
                tokio::select! {
                    _ = shutdown.cancelled() => return None,
                    _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                }
            }
        }
    }
}

/// The next request that expects a reply; `None` on shutdown or when
/// the subscription ends.
pub(crate) async fn next_request(
    subscription: &mut async_nats::Subscriber,
    shutdown: &CancellationToken,
) -> Option<(async_nats::Message, async_nats::Subject)> {
    loop {
        let message = tokio::select! {
            _ = shutdown.cancelled() => return None,
            message = subscription.next() => message?,
        };
        if let Some(reply_to) = message.reply.clone() {
            return Some((message, reply_to));
        }
    }
}

/// The servers of a NATS URL list (`nats://a:4222,nats://b:4222`): a
/// cluster's members, so the client can start while any one is up.
fn nats_servers(url: &str) -> Vec<String> {
    url.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

fn unavailable() -> SubmitReply {
    SubmitReply::Rejected {
        reason: RejectReason::Unavailable,
        message: "the node is shutting down".to_owned(),
    }
}

/// `node republish --from --to`.
pub async fn republish(settings: Settings, from: u64, to: u64) -> anyhow::Result<()> {
    let url = settings
        .nats_url
        .clone()
        .context("republish needs a NATS URL (--nats-url or NATS_URL)")?;
    anyhow::ensure!(from <= to, "--from {from} is above --to {to}");
    let outbox = Outbox::open_read_only(&settings.data_dir.join("outbox"))?;
    let client = async_nats::connect(nats_servers(&url))
        .await
        .with_context(|| format!("connecting to NATS at {url}"))?;
    let jetstream = async_nats::jetstream::new(client.clone());
    let network = settings.network.params.network_name.clone();
    let (stored, duplicates) = crate::publisher::republish(
        &outbox,
        &jetstream,
        &network,
        BlockHeight(from),
        BlockHeight(to),
    )
    .await?;
    client.flush().await.ok();
    info!(stored, duplicates, from, to, "republished");
    println!(
        "republished heights {from}..={to}: {stored} stored, {duplicates} dropped as duplicates"
    );
    Ok(())
}
