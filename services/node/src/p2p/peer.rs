//! One connection: handshake, registration, then the message loop until
//! either side closes, the peer is banned, or shutdown.
//!
//! The loop owns the socket. It answers requests from the [`ChainView`]
//! (`GetBlocks`, `GetBlock`, `GetPeers`, `Ping`), checks that answers
//! were asked for, rate-limits relayed transactions, scores misbehaviour,
//! pings an idle peer and drops a silent one, and turns everything the
//! node must decide on into a [`P2pEvent`].
//!
//! [`ChainView`]: super::chain_view::ChainView

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::{SinkExt, StreamExt};
use ledger::BlockId;
use rand_core::{OsRng, RngCore};
use tokio::net::TcpStream;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::sync::mpsc;
use tokio::time::MissedTickBehavior;
use tokio_util::codec::{FramedRead, FramedWrite};
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn};

use super::config::{FRAME_MARGIN_BYTES, HANDSHAKE_MAX_FRAME_BYTES};
use super::frame::{EncodedMessage, FrameCodec, FrameError};
use super::handshake::{HandshakeError, exchange_handshakes, our_handshake};
use super::manager::{
    ConnectionSlot, Direction, P2pEvent, PeerCommand, PeerInfo, PeerSlot, RequestKind, Shared,
};
use super::message::{DisconnectReason, Handshake, Message};
use super::metrics::P2pMetrics;
use super::score::{Misbehaviour, TokenBucket};
use super::sync::blocks_after_locator;

type Reader = FramedRead<OwnedReadHalf, FrameCodec>;
type Writer = FramedWrite<OwnedWriteHalf, FrameCodec>;

/// What the loop does after handling one input.
enum Flow {
    Continue,
    /// Close the connection, telling the peer `notify` if set.
    Close {
        notify: Option<DisconnectReason>,
        reason: String,
    },
}

/// Runs a connection from the first byte to the closed socket.
pub(crate) async fn run_connection(
    shared: Arc<Shared>,
    stream: TcpStream,
    remote: SocketAddr,
    direction: Direction,
    _slot: ConnectionSlot,
) {
    let _ = stream.set_nodelay(true);
    let (read, write) = stream.into_split();
    let mut reader = FramedRead::new(read, FrameCodec::new(HANDSHAKE_MAX_FRAME_BYTES));
    let mut writer = FramedWrite::new(write, FrameCodec::new(shared.config.max_frame_bytes));
    let config = &shared.config;
    let ours = our_handshake(
        config.chain_id,
        config.node_id,
        shared.advertised,
        shared.chain.tip(),
    );
    let exchanged = tokio::select! {
        _ = shared.shutdown.cancelled() => return,
        exchanged = exchange_handshakes(remote, &mut reader, &mut writer, &ours, config.handshake_timeout) => exchanged,
    };
    account(&shared, &mut reader, &mut writer);
    let theirs = match exchanged {
        Ok(theirs) => theirs,
        Err(error) => {
            handshake_failed(&shared, remote, direction, &error, &mut writer).await;
            return;
        }
    };
    let info = peer_info(remote, direction, &theirs);
    let (commands_sender, commands) = mpsc::channel(config.peer_queue_length);
    let kick = shared.shutdown.child_token();
    let connection = shared
        .next_connection
        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let registered = shared.register(PeerSlot {
        info: info.clone(),
        connection,
        dialer: match direction {
            Direction::Outbound => config.node_id,
            Direction::Inbound => theirs.node_id,
        },
        commands: commands_sender,
        kick: kick.clone(),
    });
    if !registered {
        let error = HandshakeError::Duplicate {
            peer: remote,
            node_id: theirs.node_id,
        };
        handshake_failed(&shared, remote, direction, &error, &mut writer).await;
        return;
    }
    if let Some(address) = info.dial_back {
        shared.record_dial_success(address);
    }
    info!(
        peer = %remote,
        node_id = %info.node_id,
        %direction,
        best_height = %info.best_height,
        "peer connected"
    );
    shared
        .emit(P2pEvent::PeerConnected(info.clone()), &kick)
        .await;
    reader
        .decoder_mut()
        .set_max_frame_bytes(config.max_frame_bytes);

    let now = Instant::now();
    let mut task = PeerTask {
        transactions: TokenBucket::new(
            config.transactions_per_second,
            config.transaction_burst,
            now,
        ),
        shared: Arc::clone(&shared),
        info: info.clone(),
        reader,
        writer,
        commands,
        kick: kick.clone(),
        score: 0,
        last_received: now,
        last_ping: now,
        ping_outstanding: None,
        awaiting_batches: VecDeque::new(),
        awaiting_blocks: HashMap::new(),
        awaiting_peers: None,
    };
    let reason = task.run(direction == Direction::Outbound).await;
    drop(task);
    if shared.unregister(info.node_id, connection) {
        info!(peer = %remote, node_id = %info.node_id, reason, "peer disconnected");
        shared
            .emit(
                P2pEvent::PeerDisconnected {
                    node_id: info.node_id,
                    address: remote,
                    reason,
                },
                &shared.shutdown,
            )
            .await;
    } else {
        debug!(peer = %remote, node_id = %info.node_id, reason, "replaced connection closed");
    }
}

fn peer_info(remote: SocketAddr, direction: Direction, theirs: &Handshake) -> PeerInfo {
    let dial_back = match direction {
        Direction::Outbound => Some(remote),
        // Trust only the port: dialing back the IP the connection came
        // from cannot be abused to make us connect to a third party.
        Direction::Inbound => theirs
            .listen_address
            .filter(|address| address.is_dialable())
            .map(|address| SocketAddr::new(remote.ip(), address.socket_addr().port())),
    };
    PeerInfo {
        node_id: theirs.node_id,
        address: remote,
        direction,
        dial_back,
        protocol_version: theirs.protocol_version,
        best_height: theirs.best_height,
        tip: theirs.tip,
    }
}

async fn handshake_failed(
    shared: &Shared,
    remote: SocketAddr,
    direction: Direction,
    error: &HandshakeError,
    writer: &mut Writer,
) {
    P2pMetrics::add(&shared.metrics.handshakes_refused, 1);
    if matches!(error, HandshakeError::Frame { .. }) {
        P2pMetrics::add(&shared.metrics.frames_rejected, 1);
    }
    info!(peer = %remote, %direction, %error, "handshake failed");
    if let Some(offence) = error.offence() {
        shared.ban(remote.ip(), &format!("{offence}: {error}"));
    }
    if direction == Direction::Outbound {
        match error {
            HandshakeError::SelfConnection { .. } => shared.mark_self(remote),
            HandshakeError::Duplicate { .. } => {}
            _ => shared.record_dial_failure(remote),
        }
    }
    if let Some(reason) = error.disconnect_reason() {
        let timeout = shared.config.write_timeout.min(Duration::from_secs(1));
        let _ = tokio::time::timeout(timeout, writer.send(Message::Disconnect { reason })).await;
    }
}

fn account(shared: &Shared, reader: &mut Reader, writer: &mut Writer) {
    P2pMetrics::add(
        &shared.metrics.bytes_in,
        reader.decoder_mut().take_bytes_decoded(),
    );
    P2pMetrics::add(
        &shared.metrics.bytes_out,
        writer.encoder_mut().take_bytes_encoded(),
    );
}

struct PeerTask {
    shared: Arc<Shared>,
    info: PeerInfo,
    reader: Reader,
    writer: Writer,
    commands: mpsc::Receiver<PeerCommand>,
    kick: CancellationToken,
    score: u32,
    transactions: TokenBucket,
    last_received: Instant,
    last_ping: Instant,
    ping_outstanding: Option<u64>,
    /// Outstanding GetBlocks (limit, deadline), answered in order.
    awaiting_batches: VecDeque<(usize, Instant)>,
    awaiting_blocks: HashMap<BlockId, Instant>,
    awaiting_peers: Option<Instant>,
}

impl PeerTask {
    async fn run(&mut self, ask_for_peers: bool) -> String {
        let config = &self.shared.config;
        let period = config
            .ping_interval
            .min(config.idle_timeout)
            .min(config.request_timeout)
            / 4;
        let mut ticker = tokio::time::interval(period.max(Duration::from_millis(5)));
        ticker.set_missed_tick_behavior(MissedTickBehavior::Delay);
        if ask_for_peers
            && let Flow::Close { reason, .. } = self.send_request(Message::GetPeers).await
        {
            return reason;
        }
        loop {
            let flow = tokio::select! {
                biased;
                _ = self.kick.cancelled() => {
                    let notify = if self.shared.shutdown.is_cancelled() {
                        DisconnectReason::ShuttingDown
                    } else {
                        DisconnectReason::Requested
                    };
                    Flow::Close { notify: Some(notify), reason: notify.to_string() }
                }
                command = self.commands.recv() => match command {
                    Some(command) => self.on_command(command).await,
                    None => Flow::Close {
                        notify: Some(DisconnectReason::DuplicateConnection),
                        reason: "removed from the peer table".to_owned(),
                    },
                },
                frame = self.reader.next() => self.on_frame(frame).await,
                _ = ticker.tick() => self.on_tick().await,
            };
            if let Flow::Close { notify, reason } = flow {
                if let Some(reason) = notify {
                    let timeout = self.shared.config.write_timeout.min(Duration::from_secs(1));
                    let _ = tokio::time::timeout(
                        timeout,
                        self.writer.send(Message::Disconnect { reason }),
                    )
                    .await;
                }
                account(&self.shared, &mut self.reader, &mut self.writer);
                return reason;
            }
        }
    }

    async fn on_command(&mut self, command: PeerCommand) -> Flow {
        match command {
            PeerCommand::Send(message) => self.send_request(message).await,
            PeerCommand::SendEncoded(message) => self.send_encoded(message).await,
            PeerCommand::Punish(offence) => self.punish(offence, "reported by the node"),
            PeerCommand::Disconnect(reason) => Flow::Close {
                notify: Some(reason),
                reason: format!("disconnected by the node: {reason}"),
            },
            PeerCommand::Ban(reason) => {
                self.shared.ban(self.info.address.ip(), &reason);
                Flow::Close {
                    notify: Some(DisconnectReason::Banned),
                    reason: format!("banned by the node: {reason}"),
                }
            }
        }
    }

    async fn on_frame(&mut self, frame: Option<Result<Message, FrameError>>) -> Flow {
        let message = match frame {
            None => {
                return Flow::Close {
                    notify: None,
                    reason: "closed by the peer".to_owned(),
                };
            }
            Some(Err(FrameError::Io(error))) => {
                return Flow::Close {
                    notify: None,
                    reason: format!("socket error: {error}"),
                };
            }
            Some(Err(error)) => {
                P2pMetrics::add(&self.shared.metrics.frames_rejected, 1);
                let offence = match error {
                    FrameError::Oversized { .. } | FrameError::Empty => {
                        Misbehaviour::OversizedFrame
                    }
                    _ => Misbehaviour::MalformedFrame,
                };
                // The stream cannot be resynchronised after a bad frame.
                return match self.punish(offence, &error.to_string()) {
                    Flow::Continue => Flow::Close {
                        notify: Some(DisconnectReason::ProtocolViolation),
                        reason: error.to_string(),
                    },
                    close => close,
                };
            }
            Some(Ok(message)) => message,
        };
        P2pMetrics::add(&self.shared.metrics.frames_in, 1);
        P2pMetrics::add(
            &self.shared.metrics.bytes_in,
            self.reader.decoder_mut().take_bytes_decoded(),
        );
        self.last_received = Instant::now();
        if let Err(error) = message.check_limits(&self.shared.config.limits) {
            P2pMetrics::add(&self.shared.metrics.frames_rejected, 1);
            return self.punish(Misbehaviour::LimitExceeded, &error.to_string());
        }
        debug!(peer = %self.info.address, kind = message.kind(), "received");
        self.on_message(message).await
    }

    async fn on_message(&mut self, message: Message) -> Flow {
        let peer = self.info.node_id;
        match message {
            Message::Handshake(_) => {
                self.punish(Misbehaviour::HandshakeViolation, "second handshake")
            }
            Message::Ping { nonce } => self.send(Message::Pong { nonce }).await,
            Message::Pong { nonce } => {
                if self.ping_outstanding == Some(nonce) {
                    self.ping_outstanding = None;
                    Flow::Continue
                } else {
                    self.punish(
                        Misbehaviour::Unsolicited,
                        &format!("Pong {nonce} without our Ping"),
                    )
                }
            }
            Message::GetPeers => {
                let addresses = self.shared.addresses_to_share(self.info.dial_back);
                self.send(Message::Peers(addresses)).await
            }
            Message::Peers(addresses) => {
                if self.awaiting_peers.take().is_none() {
                    return self.punish(Misbehaviour::Unsolicited, "Peers without GetPeers");
                }
                let learnt = self.shared.learn_addresses(&addresses);
                debug!(peer = %self.info.address, received = addresses.len(), learnt, "peer exchange");
                Flow::Continue
            }
            Message::BlockAnnouncement { header, height } => {
                self.emit(P2pEvent::BlockAnnounced {
                    peer,
                    header,
                    height,
                })
                .await
            }
            Message::GetBlocks { locator, limit } => {
                let budget = self
                    .shared
                    .config
                    .max_frame_bytes
                    .saturating_sub(FRAME_MARGIN_BYTES / 2);
                let blocks =
                    blocks_after_locator(&*self.shared.chain, &locator, limit as usize, budget);
                debug!(peer = %self.info.address, limit, served = blocks.len(), "serving blocks");
                self.send(Message::Blocks(blocks)).await
            }
            Message::Blocks(blocks) => match self.awaiting_batches.pop_front() {
                None => self.punish(Misbehaviour::Unsolicited, "Blocks without GetBlocks"),
                Some((limit, _)) if blocks.len() > limit => self.punish(
                    Misbehaviour::LimitExceeded,
                    &format!("{} blocks for a GetBlocks limit of {limit}", blocks.len()),
                ),
                Some(_) => self.emit(P2pEvent::BlocksReceived { peer, blocks }).await,
            },
            Message::GetBlock(id) => match self.shared.chain.block(&id) {
                Some(block) => self.send(Message::Block(block)).await,
                None => self.send(Message::NotFound(id)).await,
            },
            Message::Block(block) => {
                let id = block.id();
                if self.awaiting_blocks.remove(&id).is_none() {
                    return self.punish(
                        Misbehaviour::Unsolicited,
                        &format!("Block {id} without GetBlock"),
                    );
                }
                self.emit(P2pEvent::BlockReceived { peer, block }).await
            }
            Message::NotFound(id) => {
                if self.awaiting_blocks.remove(&id).is_none() {
                    return self.punish(
                        Misbehaviour::Unsolicited,
                        &format!("NotFound {id} without GetBlock"),
                    );
                }
                self.emit(P2pEvent::BlockNotFound { peer, id }).await
            }
            Message::Transactions(transactions) => {
                if !self
                    .transactions
                    .try_take(transactions.len(), Instant::now())
                {
                    let config = &self.shared.config;
                    let detail = format!(
                        "{} transactions beyond the relay limit of {} per second (burst {})",
                        transactions.len(),
                        config.transactions_per_second,
                        config.transaction_burst
                    );
                    return self.punish(Misbehaviour::TransactionFlood, &detail);
                }
                self.emit(P2pEvent::TransactionsReceived { peer, transactions })
                    .await
            }
            Message::Disconnect { reason } => Flow::Close {
                notify: None,
                reason: format!("peer disconnected: {reason}"),
            },
        }
    }

    async fn on_tick(&mut self) -> Flow {
        let now = Instant::now();
        let config = &self.shared.config;
        let silent = now.duration_since(self.last_received);
        if silent > config.idle_timeout {
            return Flow::Close {
                notify: Some(DisconnectReason::Timeout),
                reason: format!(
                    "silent for {silent:?}, idle timeout {:?}",
                    config.idle_timeout
                ),
            };
        }
        let mut timed_out = Vec::new();
        while let Some((_, deadline)) = self.awaiting_batches.front() {
            if *deadline > now {
                break;
            }
            self.awaiting_batches.pop_front();
            timed_out.push(RequestKind::Blocks);
        }
        let expired: Vec<BlockId> = self
            .awaiting_blocks
            .iter()
            .filter(|(_, deadline)| **deadline <= now)
            .map(|(id, _)| *id)
            .collect();
        for id in expired {
            self.awaiting_blocks.remove(&id);
            timed_out.push(RequestKind::Block(id));
        }
        if self.awaiting_peers.is_some_and(|deadline| deadline <= now) {
            self.awaiting_peers = None;
            timed_out.push(RequestKind::Peers);
        }
        for request in timed_out {
            let detail = format!(
                "{request:?} unanswered after {:?}",
                self.shared.config.request_timeout
            );
            if let close @ Flow::Close { .. } = self.punish(Misbehaviour::SlowResponse, &detail) {
                return close;
            }
            let peer = self.info.node_id;
            if let close @ Flow::Close { .. } =
                self.emit(P2pEvent::RequestTimedOut { peer, request }).await
            {
                return close;
            }
        }
        if now.duration_since(self.last_ping) >= self.shared.config.ping_interval {
            let nonce = OsRng.next_u64();
            self.last_ping = now;
            self.ping_outstanding = Some(nonce);
            return self.send(Message::Ping { nonce }).await;
        }
        Flow::Continue
    }

    /// Sends a message, recording it as outstanding if it is a request.
    async fn send_request(&mut self, message: Message) -> Flow {
        let deadline = Instant::now() + self.shared.config.request_timeout;
        match &message {
            Message::GetBlocks { limit, .. } => {
                self.awaiting_batches.push_back((*limit as usize, deadline))
            }
            Message::GetBlock(id) => {
                self.awaiting_blocks.insert(*id, deadline);
            }
            Message::GetPeers => self.awaiting_peers = Some(deadline),
            _ => {}
        }
        self.send(message).await
    }

    async fn send(&mut self, message: Message) -> Flow {
        let kind = message.kind();
        let timeout = self.shared.config.write_timeout;
        let result = tokio::time::timeout(timeout, self.writer.send(&message)).await;
        self.after_write(kind, result)
    }

    async fn send_encoded(&mut self, message: EncodedMessage) -> Flow {
        let kind = message.kind;
        let timeout = self.shared.config.write_timeout;
        let result = tokio::time::timeout(timeout, self.writer.send(message)).await;
        self.after_write(kind, result)
    }

    fn after_write(
        &mut self,
        kind: &'static str,
        result: Result<Result<(), FrameError>, tokio::time::error::Elapsed>,
    ) -> Flow {
        P2pMetrics::add(
            &self.shared.metrics.bytes_out,
            self.writer.encoder_mut().take_bytes_encoded(),
        );
        match result {
            Ok(Ok(())) => {
                P2pMetrics::add(&self.shared.metrics.frames_out, 1);
                Flow::Continue
            }
            Ok(Err(error @ FrameError::OutgoingTooLarge { .. })) => {
                // Our own message is too big: a bug or a misconfiguration on
                // this side; the peer is not at fault, the connection is fine.
                warn!(peer = %self.info.address, %error, "message not sent");
                Flow::Continue
            }
            Ok(Err(error)) => Flow::Close {
                notify: None,
                reason: format!("writing {kind} failed: {error}"),
            },
            Err(_) => Flow::Close {
                notify: None,
                reason: format!(
                    "writing {kind} timed out after {:?}",
                    self.shared.config.write_timeout
                ),
            },
        }
    }

    async fn emit(&mut self, event: P2pEvent) -> Flow {
        self.shared.emit(event, &self.kick).await;
        Flow::Continue
    }

    fn punish(&mut self, offence: Misbehaviour, detail: &str) -> Flow {
        let threshold = self.shared.config.ban_threshold;
        self.score = self.score.saturating_add(offence.points(threshold));
        warn!(
            peer = %self.info.address,
            node_id = %self.info.node_id,
            %offence,
            detail,
            score = self.score,
            threshold,
            "peer misbehaved"
        );
        if self.score < threshold {
            return Flow::Continue;
        }
        let reason = format!("{offence}: {detail}");
        self.shared.ban(self.info.address.ip(), &reason);
        Flow::Close {
            notify: Some(DisconnectReason::Banned),
            reason: format!("banned for {reason}"),
        }
    }
}
