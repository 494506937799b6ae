//! The peer manager: listens, dials, keeps the peer table, and connects the
//! per-peer tasks to the node.
//!
//! [`PeerManager::start`] binds the listener and spawns the accept loop and
//! the dial loop; each connection runs in its own task ([`super::peer`]).
//! The node receives [`P2pEvent`]s on a channel and drives the network
//! with [`P2pCommand`]s through the cloneable [`P2pHandle`]. All tasks stop
//! when the shutdown token is cancelled; [`P2pHandle::shutdown`] cancels it
//! and waits until every socket is closed.

use std::collections::{HashMap, HashSet};
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use futures::SinkExt;
use ledger::{Block, BlockHeader, BlockHeight, BlockId, Transaction};
use thiserror::Error;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio::time::MissedTickBehavior;
use tokio_util::codec::FramedWrite;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{debug, info, warn};

use super::address_book::AddressBook;
use super::ban_list::BanList;
use super::chain_view::ChainView;
use super::config::{ConfigError, P2pConfig};
use super::frame::{EncodedMessage, FrameCodec};
use super::message::{DisconnectReason, Message, NodeId, PeerAddress};
use super::metrics::{MetricsSnapshot, P2pMetrics};
use super::peer::run_connection;
use super::score::Misbehaviour;

/// Who opened the connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Direction {
    Inbound,
    Outbound,
}

impl std::fmt::Display for Direction {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Direction::Inbound => "inbound",
            Direction::Outbound => "outbound",
        })
    }
}

/// A connected peer as the node sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerInfo {
    pub node_id: NodeId,
    /// The socket's remote address.
    pub address: SocketAddr,
    pub direction: Direction,
    /// Where the peer accepts connections (the dialed address, or the
    /// remote IP with the port from its handshake).
    pub dial_back: Option<SocketAddr>,
    pub protocol_version: u32,
    /// The peer's best chain at handshake time.
    pub best_height: BlockHeight,
    pub tip: BlockId,
}

/// An outstanding request that was not answered in time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RequestKind {
    Blocks,
    Block(BlockId),
    Peers,
}

/// What the p2p layer tells the node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum P2pEvent {
    /// A handshake completed. For a node ID already connected this means
    /// the connection was replaced (a simultaneous dial resolved).
    PeerConnected(PeerInfo),
    PeerDisconnected {
        node_id: NodeId,
        address: SocketAddr,
        reason: String,
    },
    /// A peer announced a block on its best chain; fetch it with
    /// [`P2pCommand::RequestBlock`] if it is unknown.
    BlockAnnounced {
        peer: NodeId,
        header: BlockHeader,
        height: BlockHeight,
    },
    /// The answer to [`P2pCommand::RequestBlocks`]; empty means the peer
    /// has nothing after the locator's fork point.
    BlocksReceived {
        peer: NodeId,
        blocks: Vec<Block>,
    },
    /// The answer to [`P2pCommand::RequestBlock`].
    BlockReceived {
        peer: NodeId,
        block: Block,
    },
    BlockNotFound {
        peer: NodeId,
        id: BlockId,
    },
    /// Relayed transactions within the peer's rate limit.
    TransactionsReceived {
        peer: NodeId,
        transactions: Vec<Transaction>,
    },
    /// A request to `peer` went unanswered; ask another peer.
    RequestTimedOut {
        peer: NodeId,
        request: RequestKind,
    },
}

/// What the node tells the p2p layer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum P2pCommand {
    /// Announce a block that became the tip, to every peer but `except`.
    BroadcastBlock {
        header: BlockHeader,
        height: BlockHeight,
        except: Option<NodeId>,
    },
    /// Relay transactions the pool accepted, to every peer but `except`.
    BroadcastTransactions {
        transactions: Vec<Transaction>,
        except: Option<NodeId>,
    },
    RequestBlocks {
        peer: NodeId,
        locator: Vec<BlockId>,
        limit: u32,
    },
    RequestBlock {
        peer: NodeId,
        id: BlockId,
    },
    /// The node found a block or transaction from `peer` invalid.
    Punish {
        peer: NodeId,
        offence: Misbehaviour,
    },
    Disconnect {
        peer: NodeId,
        reason: DisconnectReason,
    },
    /// Disconnect and ban the peer's IP for the configured duration.
    Ban {
        peer: NodeId,
        reason: String,
    },
}

/// Why a command could not be queued.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum CommandError {
    #[error("peer {peer} is not connected")]
    NotConnected { peer: NodeId },
    #[error("peer {peer}'s queue is full ({capacity} messages); {kind} dropped")]
    QueueFull {
        peer: NodeId,
        kind: &'static str,
        capacity: usize,
    },
    #[error("{kind} of {length} bytes exceeds the frame maximum of {max} bytes")]
    TooLarge {
        kind: &'static str,
        length: usize,
        max: usize,
    },
    #[error("{kind} is not valid to send: {detail}")]
    Invalid { kind: &'static str, detail: String },
}

/// Why the manager did not start.
#[derive(Debug, Error)]
pub enum StartError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("cannot listen on {address}: {source}")]
    Bind {
        address: SocketAddr,
        #[source]
        source: std::io::Error,
    },
}

/// Instructions from the manager (or the node) to one peer task.
#[derive(Debug)]
pub(crate) enum PeerCommand {
    Send(Message),
    SendEncoded(EncodedMessage),
    Punish(Misbehaviour),
    Disconnect(DisconnectReason),
    Ban(String),
}

pub(crate) struct PeerSlot {
    pub info: PeerInfo,
    pub connection: u64,
    /// The node that dialed this connection (tie-break for duplicates).
    pub dialer: NodeId,
    pub commands: mpsc::Sender<PeerCommand>,
    pub kick: CancellationToken,
}

/// State shared by all tasks of one manager.
pub(crate) struct Shared {
    pub config: P2pConfig,
    pub chain: Arc<dyn ChainView>,
    pub metrics: Arc<P2pMetrics>,
    pub events: mpsc::Sender<P2pEvent>,
    pub shutdown: CancellationToken,
    pub tracker: TaskTracker,
    pub local_address: SocketAddr,
    pub advertised: Option<SocketAddr>,
    pub next_connection: AtomicU64,
    inbound: AtomicUsize,
    outbound: AtomicUsize,
    peers: Mutex<HashMap<NodeId, PeerSlot>>,
    bans: Mutex<BanList>,
    book: Mutex<AddressBook>,
    dialing: Mutex<HashSet<SocketAddr>>,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // The guarded tables stay consistent across a panic in another task
    // (every update is a single insert or remove), so keep going.
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Holds one inbound or outbound connection slot until dropped.
pub(crate) struct ConnectionSlot {
    shared: Arc<Shared>,
    direction: Direction,
}

impl ConnectionSlot {
    fn acquire(shared: &Arc<Shared>, direction: Direction) -> Option<ConnectionSlot> {
        let (counter, max) = shared.slot_counter(direction);
        let previous = counter.fetch_add(1, Ordering::SeqCst);
        if previous >= max {
            counter.fetch_sub(1, Ordering::SeqCst);
            return None;
        }
        Some(ConnectionSlot {
            shared: Arc::clone(shared),
            direction,
        })
    }
}

impl Drop for ConnectionSlot {
    fn drop(&mut self) {
        let (counter, _) = self.shared.slot_counter(self.direction);
        counter.fetch_sub(1, Ordering::SeqCst);
    }
}

impl Shared {
    fn slot_counter(&self, direction: Direction) -> (&AtomicUsize, usize) {
        match direction {
            Direction::Inbound => (&self.inbound, self.config.max_inbound),
            Direction::Outbound => (&self.outbound, self.config.max_outbound),
        }
    }

    /// Sends an event to the node unless the connection is being torn down.
    pub async fn emit(&self, event: P2pEvent, kick: &CancellationToken) {
        tokio::select! {
            _ = self.events.send(event) => {}
            _ = kick.cancelled() => {}
        }
    }

    pub fn is_banned(&self, ip: IpAddr) -> bool {
        lock(&self.bans).is_banned(ip, Instant::now())
    }

    pub fn ban(&self, ip: IpAddr, reason: &str) {
        lock(&self.bans).ban(ip, Instant::now() + self.config.ban_duration);
        P2pMetrics::add(&self.metrics.bans, 1);
        warn!(%ip, reason, duration = ?self.config.ban_duration, "peer banned");
    }

    /// Adds a peer to the table. A second connection to the same node ID is
    /// refused, unless it was dialed by the node with the smaller node ID
    /// and the existing one was not: then it replaces the existing one, so
    /// both ends of a simultaneous dial keep the same connection.
    /// Returns whether the slot was registered.
    pub fn register(&self, slot: PeerSlot) -> bool {
        let mut peers = lock(&self.peers);
        let node_id = slot.info.node_id;
        if let Some(existing) = peers.get(&node_id) {
            if slot.dialer >= existing.dialer {
                return false;
            }
            debug!(node_id = %node_id, "replacing a connection after a simultaneous dial");
            if existing
                .commands
                .try_send(PeerCommand::Disconnect(
                    DisconnectReason::DuplicateConnection,
                ))
                .is_err()
            {
                existing.kick.cancel();
            }
        }
        peers.insert(node_id, slot);
        self.update_peer_gauges(&peers);
        true
    }

    /// Removes a peer if the table still holds this connection of it.
    pub fn unregister(&self, node_id: NodeId, connection: u64) -> bool {
        let mut peers = lock(&self.peers);
        let ours = peers
            .get(&node_id)
            .is_some_and(|slot| slot.connection == connection);
        if ours {
            peers.remove(&node_id);
            self.update_peer_gauges(&peers);
        }
        ours
    }

    fn update_peer_gauges(&self, peers: &HashMap<NodeId, PeerSlot>) {
        let outbound = peers
            .values()
            .filter(|slot| slot.info.direction == Direction::Outbound)
            .count() as u64;
        let inbound = peers.len() as u64 - outbound;
        self.metrics.peers_inbound.store(inbound, Ordering::Relaxed);
        self.metrics
            .peers_outbound
            .store(outbound, Ordering::Relaxed);
    }

    pub fn record_dial_success(&self, address: SocketAddr) {
        lock(&self.book).record_success(address, Instant::now());
    }

    pub fn record_dial_failure(&self, address: SocketAddr) {
        lock(&self.book).record_failure(address);
    }

    pub fn mark_self(&self, address: SocketAddr) {
        lock(&self.book).mark_self(address, Instant::now());
    }

    /// Addresses learnt from a `Peers` message.
    pub fn learn_addresses(&self, addresses: &[PeerAddress]) -> usize {
        let now = Instant::now();
        let mut book = lock(&self.book);
        addresses
            .iter()
            .filter(|address| address.is_dialable())
            .map(PeerAddress::socket_addr)
            .filter(|address| Some(*address) != self.advertised)
            .filter(|address| book.add(*address, now))
            .count()
    }

    /// Addresses to answer a `GetPeers` with: connected peers' dial-back
    /// addresses first, then the address book.
    pub fn addresses_to_share(&self, requester: Option<SocketAddr>) -> Vec<PeerAddress> {
        let count = self.config.peers_per_answer;
        let mut exclude: HashSet<SocketAddr> = requester.into_iter().collect();
        let mut shared: Vec<SocketAddr> = lock(&self.peers)
            .values()
            .filter_map(|slot| slot.info.dial_back)
            .filter(|address| !exclude.contains(address))
            .take(count)
            .collect();
        exclude.extend(shared.iter().copied());
        let rest = count.saturating_sub(shared.len());
        shared.extend(lock(&self.book).share(rest, &exclude));
        shared.into_iter().map(PeerAddress::from).collect()
    }

    fn peer_sender(&self, peer: NodeId) -> Result<mpsc::Sender<PeerCommand>, CommandError> {
        lock(&self.peers)
            .get(&peer)
            .map(|slot| slot.commands.clone())
            .ok_or(CommandError::NotConnected { peer })
    }

    fn queue(
        &self,
        peer: NodeId,
        command: PeerCommand,
        kind: &'static str,
    ) -> Result<(), CommandError> {
        self.peer_sender(peer)?
            .try_send(command)
            .map_err(|error| match error {
                mpsc::error::TrySendError::Full(_) => CommandError::QueueFull {
                    peer,
                    kind,
                    capacity: self.config.peer_queue_length,
                },
                mpsc::error::TrySendError::Closed(_) => CommandError::NotConnected { peer },
            })
    }

    /// Queues one encoded message to every peer but `except`; returns how
    /// many peers it was queued to. Full queues drop it (counted).
    fn broadcast(&self, message: &EncodedMessage, except: Option<NodeId>) -> usize {
        let senders: Vec<(NodeId, mpsc::Sender<PeerCommand>)> = lock(&self.peers)
            .iter()
            .filter(|(node_id, _)| Some(**node_id) != except)
            .map(|(node_id, slot)| (*node_id, slot.commands.clone()))
            .collect();
        let mut queued = 0;
        for (node_id, sender) in senders {
            match sender.try_send(PeerCommand::SendEncoded(message.clone())) {
                Ok(()) => queued += 1,
                Err(_) => {
                    P2pMetrics::add(&self.metrics.messages_dropped, 1);
                    debug!(peer = %node_id, kind = message.kind, "peer queue full; broadcast dropped");
                }
            }
        }
        queued
    }

    fn encode_checked(&self, message: &Message) -> Result<EncodedMessage, CommandError> {
        message
            .check_limits(&self.config.limits)
            .map_err(|error| CommandError::Invalid {
                kind: message.kind(),
                detail: error.to_string(),
            })?;
        let encoded = EncodedMessage::new(message);
        if encoded.payload.len() > self.config.max_frame_bytes {
            return Err(CommandError::TooLarge {
                kind: message.kind(),
                length: encoded.payload.len(),
                max: self.config.max_frame_bytes,
            });
        }
        Ok(encoded)
    }

    /// Asks every connected peer for addresses.
    fn ask_for_peers(&self) {
        let senders: Vec<mpsc::Sender<PeerCommand>> = lock(&self.peers)
            .values()
            .map(|slot| slot.commands.clone())
            .collect();
        for sender in senders {
            let _ = sender.try_send(PeerCommand::Send(Message::GetPeers));
        }
    }
}

/// Starts the peer-to-peer layer.
pub struct PeerManager;

impl PeerManager {
    /// Binds the listener and starts accepting and dialing. Returns the
    /// handle and the event stream, which the node must keep reading
    /// (peers are back-pressured while it does not).
    pub async fn start(
        config: P2pConfig,
        chain: Arc<dyn ChainView>,
        shutdown: CancellationToken,
    ) -> Result<(P2pHandle, mpsc::Receiver<P2pEvent>), StartError> {
        config.validate()?;
        let listener = TcpListener::bind(config.listen_address)
            .await
            .map_err(|source| StartError::Bind {
                address: config.listen_address,
                source,
            })?;
        let local_address = listener.local_addr().map_err(|source| StartError::Bind {
            address: config.listen_address,
            source,
        })?;
        let advertised = config
            .advertised_address
            .or_else(|| (!local_address.ip().is_unspecified()).then_some(local_address));
        let now = Instant::now();
        let mut book = AddressBook::new(config.max_addresses, config.dial_interval);
        for seed in &config.seeds {
            book.add_seed(*seed, now);
        }
        if let Some(own) = advertised {
            book.mark_self(own, now);
        }
        let (events, events_receiver) = mpsc::channel(config.event_queue_length);
        info!(
            node_id = %config.node_id,
            listen = %local_address,
            advertised = ?advertised,
            chain_id = %config.chain_id,
            seeds = config.seeds.len(),
            "p2p started"
        );
        let shared = Arc::new(Shared {
            chain,
            metrics: Arc::new(P2pMetrics::default()),
            events,
            shutdown,
            tracker: TaskTracker::new(),
            local_address,
            advertised,
            next_connection: AtomicU64::new(0),
            inbound: AtomicUsize::new(0),
            outbound: AtomicUsize::new(0),
            peers: Mutex::new(HashMap::new()),
            bans: Mutex::new(BanList::default()),
            book: Mutex::new(book),
            dialing: Mutex::new(HashSet::new()),
            config,
        });
        shared
            .tracker
            .spawn(accept_loop(Arc::clone(&shared), listener));
        shared.tracker.spawn(dial_loop(Arc::clone(&shared)));
        Ok((P2pHandle { shared }, events_receiver))
    }
}

/// The node's side of the p2p layer: commands, queries, shutdown.
#[derive(Clone)]
pub struct P2pHandle {
    shared: Arc<Shared>,
}

impl P2pHandle {
    pub fn node_id(&self) -> NodeId {
        self.shared.config.node_id
    }

    /// The address the listener is bound to.
    pub fn local_address(&self) -> SocketAddr {
        self.shared.local_address
    }

    pub fn peers(&self) -> Vec<PeerInfo> {
        let mut peers: Vec<PeerInfo> = lock(&self.shared.peers)
            .values()
            .map(|slot| slot.info.clone())
            .collect();
        peers.sort_by_key(|peer| peer.node_id);
        peers
    }

    pub fn metrics(&self) -> MetricsSnapshot {
        self.shared.metrics.snapshot()
    }

    pub fn is_banned(&self, ip: IpAddr) -> bool {
        self.shared.is_banned(ip)
    }

    /// Addresses in the address book (including seeds and our own).
    pub fn known_addresses(&self) -> usize {
        lock(&self.shared.book).len()
    }

    /// Adds an address to dial (an operator's "connect to", or an address
    /// learnt outside the protocol); returns whether it was new.
    pub fn add_address(&self, address: SocketAddr) -> bool {
        lock(&self.shared.book).add(address, Instant::now())
    }

    /// Queues a command; returns how many peers it was queued to.
    pub fn execute(&self, command: P2pCommand) -> Result<usize, CommandError> {
        let shared = &self.shared;
        match command {
            P2pCommand::BroadcastBlock {
                header,
                height,
                except,
            } => {
                let message = Message::BlockAnnouncement { header, height };
                Ok(shared.broadcast(&shared.encode_checked(&message)?, except))
            }
            P2pCommand::BroadcastTransactions {
                transactions,
                except,
            } => {
                let mut queued = 0;
                for chunk in
                    transactions.chunks(shared.config.limits.max_transactions_per_message.max(1))
                {
                    let message = Message::Transactions(chunk.to_vec());
                    queued =
                        queued.max(shared.broadcast(&shared.encode_checked(&message)?, except));
                }
                Ok(queued)
            }
            P2pCommand::RequestBlocks {
                peer,
                locator,
                limit,
            } => {
                let message = Message::GetBlocks { locator, limit };
                shared.encode_checked(&message)?;
                shared.queue(peer, PeerCommand::Send(message), "GetBlocks")?;
                Ok(1)
            }
            P2pCommand::RequestBlock { peer, id } => {
                shared.queue(peer, PeerCommand::Send(Message::GetBlock(id)), "GetBlock")?;
                Ok(1)
            }
            P2pCommand::Punish { peer, offence } => {
                shared.queue(peer, PeerCommand::Punish(offence), "Punish")?;
                Ok(1)
            }
            P2pCommand::Disconnect { peer, reason } => {
                shared.queue(peer, PeerCommand::Disconnect(reason), "Disconnect")?;
                Ok(1)
            }
            P2pCommand::Ban { peer, reason } => {
                shared.queue(peer, PeerCommand::Ban(reason), "Ban")?;
                Ok(1)
            }
        }
    }

    /// Stops every task and closes every socket; returns when all are done.
    pub async fn shutdown(&self) {
        self.shared.shutdown.cancel();
        self.closed().await;
    }

    /// Waits until every task has stopped (after the token was cancelled).
    pub async fn closed(&self) {
        self.shared.tracker.close();
        self.shared.tracker.wait().await;
        info!(node_id = %self.shared.config.node_id, "p2p stopped");
    }
}

async fn accept_loop(shared: Arc<Shared>, listener: TcpListener) {
    loop {
        let accepted = tokio::select! {
            _ = shared.shutdown.cancelled() => break,
            accepted = listener.accept() => accepted,
        };
        let (stream, remote) = match accepted {
            Ok(accepted) => accepted,
            Err(error) => {
                // Typically out of file descriptors: back off briefly.
                warn!(%error, "accept failed");
                tokio::select! {
                    _ = shared.shutdown.cancelled() => break,
                    _ = tokio::time::sleep(Duration::from_millis(100)) => continue,
                }
            }
        };
        if shared.is_banned(remote.ip()) {
            refuse(&shared, stream, remote, DisconnectReason::Banned);
            continue;
        }
        let Some(slot) = ConnectionSlot::acquire(&shared, Direction::Inbound) else {
            refuse(&shared, stream, remote, DisconnectReason::TooManyPeers);
            continue;
        };
        debug!(peer = %remote, "inbound connection");
        let task_shared = Arc::clone(&shared);
        shared.tracker.spawn(async move {
            run_connection(task_shared, stream, remote, Direction::Inbound, slot).await;
        });
    }
    debug!(listen = %shared.local_address, "listener closed");
}

/// Closes a connection before the handshake, telling the peer why.
fn refuse(shared: &Arc<Shared>, stream: TcpStream, remote: SocketAddr, reason: DisconnectReason) {
    P2pMetrics::add(&shared.metrics.connections_refused, 1);
    info!(peer = %remote, %reason, "connection refused");
    let max_frame = shared.config.max_frame_bytes;
    let timeout = shared.config.write_timeout.min(Duration::from_secs(1));
    shared.tracker.spawn(async move {
        let mut writer = FramedWrite::new(stream, FrameCodec::new(max_frame));
        let _ = tokio::time::timeout(timeout, writer.send(Message::Disconnect { reason })).await;
    });
}

async fn dial_loop(shared: Arc<Shared>) {
    let mut ticker = tokio::time::interval(shared.config.dial_interval);
    ticker.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let mut last_exchange: Option<Instant> = None;
    loop {
        tokio::select! {
            _ = shared.shutdown.cancelled() => break,
            _ = ticker.tick() => {}
        }
        let outbound = shared.outbound.load(Ordering::SeqCst);
        let target = shared.config.target_outbound;
        if outbound >= target {
            continue;
        }
        let now = Instant::now();
        let mut exclude: HashSet<SocketAddr> = lock(&shared.peers)
            .values()
            .filter_map(|slot| slot.info.dial_back)
            .collect();
        exclude.extend(lock(&shared.dialing).iter().copied());
        let candidates: Vec<SocketAddr> = lock(&shared.book)
            .candidates(now, &exclude, target - outbound)
            .into_iter()
            .filter(|address| !shared.is_banned(address.ip()))
            .collect();
        if candidates.len() < target - outbound
            && last_exchange
                .is_none_or(|last| now.duration_since(last) >= shared.config.peer_exchange_interval)
        {
            shared.ask_for_peers();
            last_exchange = Some(now);
        }
        for address in candidates {
            let Some(slot) = ConnectionSlot::acquire(&shared, Direction::Outbound) else {
                break;
            };
            lock(&shared.book).record_attempt(address, now);
            lock(&shared.dialing).insert(address);
            let task_shared = Arc::clone(&shared);
            shared.tracker.spawn(dial(task_shared, address, slot));
        }
    }
}

async fn dial(shared: Arc<Shared>, address: SocketAddr, slot: ConnectionSlot) {
    debug!(peer = %address, "dialing");
    let connect =
        tokio::time::timeout(shared.config.handshake_timeout, TcpStream::connect(address));
    let connected = tokio::select! {
        _ = shared.shutdown.cancelled() => None,
        connected = connect => Some(connected),
    };
    match connected {
        Some(Ok(Ok(stream))) => {
            run_connection(
                Arc::clone(&shared),
                stream,
                address,
                Direction::Outbound,
                slot,
            )
            .await;
        }
        Some(Ok(Err(error))) => {
            debug!(peer = %address, %error, "dial failed");
            shared.record_dial_failure(address);
        }
        Some(Err(_)) => {
            debug!(peer = %address, "dial timed out");
            shared.record_dial_failure(address);
        }
        None => {}
    }
    lock(&shared.dialing).remove(&address);
}
