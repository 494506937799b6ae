//! The p2p layer over real TCP on 127.0.0.1: peer managers talking to each
//! other, and hand-written "raw" peers that misbehave on purpose. Timeouts
//! are shortened through the configuration so every test takes well under
//! a few seconds.

#![allow(
    clippy::unwrap_used,
    reason = "test helpers outside #[test] functions: a failed unwrap is a failed test"
)]

mod raw_peer;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ledger::{BlockHeight, ChainId, NetworkParams, Transaction};
use node::p2p::chain_view::fixture_chain;
use node::p2p::{
    ChainView, Direction, DisconnectReason, Handshake, Message, NodeId, P2pCommand, P2pConfig,
    P2pEvent, P2pHandle, PeerManager, VecChain,
};
use raw_peer::RawPeer;
use tokio::net::TcpStream;
use tokio_util::sync::CancellationToken;

const WAIT: Duration = Duration::from_secs(5);

fn fast_config(network: &str) -> P2pConfig {
    let mut params = NetworkParams::devnet();
    params.chain_id = ChainId::for_network(network);
    let mut config = P2pConfig::new(&params, "127.0.0.1:0".parse().unwrap());
    config.handshake_timeout = Duration::from_secs(1);
    config.ping_interval = Duration::from_millis(200);
    config.idle_timeout = Duration::from_secs(2);
    config.request_timeout = Duration::from_secs(1);
    config.write_timeout = Duration::from_secs(1);
    config.dial_interval = Duration::from_millis(50);
    config.peer_exchange_interval = Duration::from_millis(100);
    config.ban_duration = Duration::from_secs(30);
    config.transactions_per_second = 10;
    config.transaction_burst = 20;
    config.target_outbound = 2;
    config
}

struct TestNode {
    handle: P2pHandle,
    chain: Arc<VecChain>,
    events: Arc<Mutex<Vec<P2pEvent>>>,
    shutdown: CancellationToken,
}

impl TestNode {
    async fn start(config: P2pConfig, chain_length: u64) -> TestNode {
        let chain = Arc::new(VecChain::new(fixture_chain(chain_length, 0)));
        let shutdown = CancellationToken::new();
        let (handle, mut receiver) = PeerManager::start(
            config,
            Arc::clone(&chain) as Arc<dyn ChainView>,
            shutdown.clone(),
        )
        .await
        .unwrap();
        let events = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&events);
        tokio::spawn(async move {
            while let Some(event) = receiver.recv().await {
                sink.lock().unwrap().push(event);
            }
        });
        TestNode {
            handle,
            chain,
            events,
            shutdown,
        }
    }

    fn address(&self) -> SocketAddr {
        self.handle.local_address()
    }

    fn events(&self) -> Vec<P2pEvent> {
        self.events.lock().unwrap().clone()
    }

    fn connected_to(&self, other: &TestNode) -> bool {
        self.handle
            .peers()
            .iter()
            .any(|peer| peer.node_id == other.handle.node_id())
    }
}

impl Drop for TestNode {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

async fn wait_until(what: &str, mut condition: impl FnMut() -> bool) {
    let start = Instant::now();
    while !condition() {
        assert!(start.elapsed() < WAIT, "timed out waiting until {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

async fn within<T>(what: &str, future: impl Future<Output = T>) -> T {
    tokio::time::timeout(WAIT, future)
        .await
        .unwrap_or_else(|_| panic!("timed out: {what}"))
}

/// A handshake for `network` as `node_id`, on the fixture chain's genesis.
fn handshake_for(network: &str, node_id: NodeId) -> Handshake {
    RawPeer::handshake(
        ChainId::for_network(network),
        node_id,
        fixture_chain(1, 0)[0].id(),
    )
}

/// Connects and completes a devnet handshake with a fresh node ID.
async fn connected(address: SocketAddr) -> RawPeer {
    let mut peer = RawPeer::connect(address).await;
    let theirs = peer
        .exchange(handshake_for("devnet", NodeId::random()))
        .await;
    assert!(matches!(theirs, Some(Message::Handshake(_))), "{theirs:?}");
    peer
}

fn localhost() -> std::net::IpAddr {
    "127.0.0.1".parse().unwrap()
}

#[tokio::test]
async fn handshake_succeeds_and_blocks_and_transactions_flow() {
    let a = TestNode::start(fast_config("devnet"), 30).await;
    let mut b_config = fast_config("devnet");
    b_config.seeds = vec![a.address()];
    let b = TestNode::start(b_config, 1).await;
    wait_until("both sides see each other", || {
        a.connected_to(&b) && b.connected_to(&a)
    })
    .await;

    let b_view = &b.handle.peers()[0];
    assert_eq!(b_view.direction, Direction::Outbound);
    assert_eq!(b_view.best_height, BlockHeight(29));
    assert_eq!(a.handle.peers()[0].direction, Direction::Inbound);
    assert_eq!(a.handle.peers()[0].dial_back, Some(b.address()));
    let metrics = a.handle.metrics();
    assert_eq!((metrics.peers_inbound, metrics.peers_outbound), (1, 0));

    // Sync B from A in batches of 8 with block locators, as the node will.
    let a_id = a.handle.node_id();
    loop {
        let before = b.events().len();
        b.handle
            .execute(P2pCommand::RequestBlocks {
                peer: a_id,
                locator: b.chain.locator(),
                limit: 8,
            })
            .unwrap();
        wait_until("a batch arrives", || {
            b.events()[before..]
                .iter()
                .any(|event| matches!(event, P2pEvent::BlocksReceived { .. }))
        })
        .await;
        let blocks = b.events()[before..]
            .iter()
            .find_map(|event| match event {
                P2pEvent::BlocksReceived { blocks, .. } => Some(blocks.clone()),
                _ => None,
            })
            .unwrap();
        if blocks.is_empty() {
            break;
        }
        assert!(blocks.len() <= 8);
        for block in blocks {
            assert_eq!(block.header.parent, b.chain.tip().id);
            b.chain.push(block);
        }
    }
    assert_eq!(b.chain.tip(), a.chain.tip());

    // Single block fetch and a NotFound.
    let wanted = a.chain.block_id_at(BlockHeight(7)).unwrap();
    b.handle
        .execute(P2pCommand::RequestBlock {
            peer: a_id,
            id: wanted,
        })
        .unwrap();
    let missing = ledger::BlockId(ledger::Hash32([0xab; 32]));
    b.handle
        .execute(P2pCommand::RequestBlock {
            peer: a_id,
            id: missing,
        })
        .unwrap();
    wait_until("block and not-found arrive", || {
        let events = b.events();
        events
            .iter()
            .any(|e| matches!(e, P2pEvent::BlockReceived { block, .. } if block.id() == wanted))
            && events
                .iter()
                .any(|e| matches!(e, P2pEvent::BlockNotFound { id, .. } if *id == missing))
    })
    .await;

    // Relay and announcement reach the other side.
    let queued = b
        .handle
        .execute(P2pCommand::BroadcastTransactions {
            transactions: vec![Transaction::new(); 3],
            except: None,
        })
        .unwrap();
    assert_eq!(queued, 1);
    let tip = a.chain.block_at(BlockHeight(29)).unwrap();
    a.handle
        .execute(P2pCommand::BroadcastBlock {
            header: tip.header,
            height: BlockHeight(29),
            except: None,
        })
        .unwrap();
    wait_until("relay and announcement arrive", || {
        a.events().iter().any(|e| {
            matches!(e, P2pEvent::TransactionsReceived { transactions, .. } if transactions.len() == 3)
        }) && b.events().iter().any(|e| {
            matches!(e, P2pEvent::BlockAnnounced { header, height, .. } if *header == tip.header && *height == BlockHeight(29))
        })
    })
    .await;
    // Pings keep the idle connection alive past the idle timeout.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(a.connected_to(&b));
    assert!(a.handle.metrics().bytes_in > 0 && a.handle.metrics().frames_out > 0);
}

#[tokio::test]
async fn peer_of_another_chain_is_refused_and_banned() {
    let a = TestNode::start(fast_config("devnet"), 1).await;
    let mut raw = RawPeer::connect(a.address()).await;
    let answer = raw
        .exchange(handshake_for("testnet", NodeId::random()))
        .await;
    // A sends its own handshake first, then the refusal.
    assert!(matches!(answer, Some(Message::Handshake(_))));
    assert_eq!(
        raw.disconnect_reason().await,
        Some(DisconnectReason::WrongChain)
    );
    assert!(a.handle.peers().is_empty());
    assert!(a.handle.is_banned(localhost()));
    assert_eq!(a.handle.metrics().handshakes_refused, 1);

    // Two managers of different chains never connect either.
    let c = TestNode::start(fast_config("devnet"), 1).await;
    let mut d_config = fast_config("testnet");
    d_config.seeds = vec![c.address()];
    let d = TestNode::start(d_config, 1).await;
    wait_until("the handshake is refused", || {
        c.handle.metrics().handshakes_refused >= 1 && d.handle.metrics().handshakes_refused >= 1
    })
    .await;
    assert!(c.handle.peers().is_empty() && d.handle.peers().is_empty());
}

#[tokio::test]
async fn connection_to_self_is_refused_and_not_retried() {
    let mut config = fast_config("devnet");
    // Advertise another address so the real one is not known to be ours.
    config.advertised_address = Some("127.0.0.1:9".parse().unwrap());
    let a = TestNode::start(config, 1).await;
    assert!(a.handle.add_address(a.address()));
    wait_until("both ends refuse", || {
        a.handle.metrics().handshakes_refused >= 2
    })
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(a.handle.peers().is_empty());
    assert_eq!(
        a.handle.metrics().handshakes_refused,
        2,
        "address marked as self, not redialed"
    );
    assert!(!a.handle.is_banned(localhost()));

    // A raw peer claiming our node ID is refused too.
    let mut raw = RawPeer::connect(a.address()).await;
    raw.exchange(handshake_for("devnet", a.handle.node_id()))
        .await;
    assert_eq!(
        raw.disconnect_reason().await,
        Some(DisconnectReason::SelfConnection)
    );
}

#[tokio::test]
async fn duplicate_connection_with_the_same_node_id_is_refused() {
    let a = TestNode::start(fast_config("devnet"), 1).await;
    let node_id = NodeId::random();
    let mut first = RawPeer::connect(a.address()).await;
    first.exchange(handshake_for("devnet", node_id)).await;
    wait_until("first is registered", || a.handle.peers().len() == 1).await;
    let mut second = RawPeer::connect(a.address()).await;
    second.exchange(handshake_for("devnet", node_id)).await;
    assert_eq!(
        second.disconnect_reason().await,
        Some(DisconnectReason::DuplicateConnection)
    );
    assert_eq!(a.handle.peers().len(), 1);
    first.send(Message::Ping { nonce: 1 }).await;
    // The node may ask the registered peer for its peers first (peer
    // exchange runs on its own timer; CI once saw GetPeers before Pong).
    loop {
        match first.next().await {
            Some(Message::GetPeers) => continue,
            other => {
                assert_eq!(other, Some(Message::Pong { nonce: 1 }));
                break;
            }
        }
    }
}

#[tokio::test]
async fn garbage_bytes_ban_the_sender_while_a_good_peer_stays() {
    let a = TestNode::start(fast_config("devnet"), 1).await;
    let mut good_config = fast_config("devnet");
    good_config.seeds = vec![a.address()];
    let good = TestNode::start(good_config, 1).await;
    wait_until("good peer connected", || a.connected_to(&good)).await;

    let mut raw = connected(a.address()).await;
    raw.send_bytes(&[8, 0, 0, 0, 0xde, 0xad, 0xbe, 0xef, 0xde, 0xad, 0xbe, 0xef])
        .await;
    assert_eq!(
        raw.disconnect_reason().await,
        Some(DisconnectReason::Banned)
    );
    assert!(a.handle.is_banned(localhost()));
    let metrics = a.handle.metrics();
    assert_eq!((metrics.bans, metrics.frames_rejected), (1, 1));

    // New connections from the banned IP are refused before any handshake…
    let mut again = RawPeer::connect(a.address()).await;
    assert_eq!(
        again.next().await,
        Some(Message::Disconnect {
            reason: DisconnectReason::Banned
        })
    );
    // …while the good peer, already connected, stays (pings keep flowing).
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert!(a.connected_to(&good) && good.connected_to(&a));
}

#[tokio::test]
async fn garbage_instead_of_a_handshake_bans_too() {
    let a = TestNode::start(fast_config("devnet"), 1).await;
    let mut raw = RawPeer::connect(a.address()).await;
    raw.send_bytes(b"GET / HTTP/1.1\r\n\r\n").await;
    // "GET " read as a length is far above the handshake frame limit.
    assert!(matches!(raw.next().await, Some(Message::Handshake(_))));
    assert_eq!(
        raw.disconnect_reason().await,
        Some(DisconnectReason::ProtocolViolation)
    );
    assert!(a.handle.is_banned(localhost()));
}

#[tokio::test]
async fn oversized_frame_length_disconnects_before_the_payload() {
    let a = TestNode::start(fast_config("devnet"), 1).await;
    let mut raw = connected(a.address()).await;
    let started = Instant::now();
    // Only the length prefix: 4 GiB - 1 claimed, nothing follows.
    raw.send_bytes(&u32::MAX.to_le_bytes()).await;
    assert_eq!(
        raw.disconnect_reason().await,
        Some(DisconnectReason::Banned)
    );
    assert!(
        started.elapsed() < Duration::from_millis(500),
        "not waiting for the payload"
    );
    assert_eq!(a.handle.metrics().frames_rejected, 1);
}

#[tokio::test]
async fn transaction_flood_beyond_the_rate_is_banned() {
    let a = TestNode::start(fast_config("devnet"), 1).await;
    let mut raw = connected(a.address()).await;
    // The burst of 20 is fine; four more bursts at once are a flood (25 points each).
    for _ in 0..5 {
        raw.send(Message::Transactions(vec![Transaction::new(); 20]))
            .await;
    }
    assert_eq!(
        raw.disconnect_reason().await,
        Some(DisconnectReason::Banned)
    );
    assert!(a.handle.is_banned(localhost()));
    let relayed: Vec<usize> = a
        .events()
        .iter()
        .filter_map(|event| match event {
            P2pEvent::TransactionsReceived { transactions, .. } => Some(transactions.len()),
            _ => None,
        })
        .collect();
    assert_eq!(
        relayed,
        [20],
        "only the burst within the limit reached the node"
    );
}

#[tokio::test]
async fn unsolicited_answers_cost_points_but_one_does_not_ban() {
    let a = TestNode::start(fast_config("devnet"), 1).await;
    let mut raw = connected(a.address()).await;
    raw.send(Message::Blocks(vec![])).await;
    raw.send(Message::Ping { nonce: 5 }).await;
    loop {
        match raw.next().await {
            Some(Message::Pong { nonce: 5 }) => break,
            Some(_) => continue,
            None => panic!("disconnected after one unsolicited message"),
        }
    }
    assert!(!a.handle.is_banned(localhost()));
    // Five more make 120 points.
    for _ in 0..5 {
        raw.send(Message::Peers(vec![])).await;
    }
    assert_eq!(
        raw.disconnect_reason().await,
        Some(DisconnectReason::Banned)
    );
}

#[tokio::test]
async fn ban_expiry_lets_the_peer_reconnect() {
    let mut config = fast_config("devnet");
    config.ban_duration = Duration::from_millis(300);
    let a = TestNode::start(config, 1).await;
    let mut raw = connected(a.address()).await;
    raw.send_bytes(&[1, 0, 0, 0, 0xff]).await;
    assert_eq!(
        raw.disconnect_reason().await,
        Some(DisconnectReason::Banned)
    );
    let mut refused = RawPeer::connect(a.address()).await;
    assert_eq!(
        refused.next().await,
        Some(Message::Disconnect {
            reason: DisconnectReason::Banned
        })
    );
    tokio::time::sleep(Duration::from_millis(350)).await;
    assert!(!a.handle.is_banned(localhost()));
    let _back = connected(a.address()).await;
    wait_until("reconnected peer registered", || {
        a.handle.peers().len() == 1
    })
    .await;
}

#[tokio::test]
async fn peer_exchange_connects_managers_that_know_one_seed() {
    let seed = TestNode::start(fast_config("devnet"), 1).await;
    let mut nodes = Vec::new();
    for _ in 0..2 {
        let mut config = fast_config("devnet");
        config.seeds = vec![seed.address()];
        nodes.push(TestNode::start(config, 1).await);
    }
    let (b, c) = (&nodes[0], &nodes[1]);
    wait_until("everyone is connected to everyone", || {
        seed.connected_to(b) && seed.connected_to(c) && b.connected_to(c) && c.connected_to(b)
    })
    .await;
    // Exactly one connection per pair, even if B and C dialed each other at once.
    tokio::time::sleep(Duration::from_millis(200)).await;
    for node in [&seed, b, c] {
        assert_eq!(node.handle.peers().len(), 2);
    }
}

#[tokio::test]
async fn shutdown_closes_every_socket_and_task() {
    let a = TestNode::start(fast_config("devnet"), 1).await;
    let mut b_config = fast_config("devnet");
    b_config.seeds = vec![a.address()];
    let b = TestNode::start(b_config, 1).await;
    wait_until("connected", || a.connected_to(&b)).await;
    let address = a.address();
    within("shutdown", a.handle.shutdown()).await;
    wait_until("B saw the disconnect", || {
        b.events().iter().any(|event| {
            matches!(event, P2pEvent::PeerDisconnected { reason, .. } if reason.contains("shutting down"))
        })
    })
    .await;
    assert!(
        TcpStream::connect(address).await.is_err(),
        "listener closed"
    );
    assert_eq!(a.handle.metrics().peers_inbound, 0);
}

#[tokio::test]
async fn inbound_limit_refuses_extra_connections() {
    let mut config = fast_config("devnet");
    config.max_inbound = 1;
    let a = TestNode::start(config, 1).await;
    let _first = connected(a.address()).await;
    let mut second = RawPeer::connect(a.address()).await;
    assert_eq!(
        second.next().await,
        Some(Message::Disconnect {
            reason: DisconnectReason::TooManyPeers
        })
    );
    assert_eq!(a.handle.metrics().connections_refused, 1);
    assert!(!a.handle.is_banned(localhost()));
}

#[tokio::test]
async fn unanswered_request_times_out_and_is_reported() {
    let a = TestNode::start(fast_config("devnet"), 1).await;
    let node_id = NodeId::random();
    let mut raw = RawPeer::connect(a.address()).await;
    raw.exchange(handshake_for("devnet", node_id)).await;
    wait_until("registered", || a.handle.peers().len() == 1).await;
    a.handle
        .execute(P2pCommand::RequestBlocks {
            peer: node_id,
            locator: a.chain.locator(),
            limit: 10,
        })
        .unwrap();
    // The raw peer reads the request and never answers (but keeps ponging).
    loop {
        match raw.next().await {
            Some(Message::GetBlocks { limit: 10, .. }) => break,
            Some(Message::Ping { nonce }) => raw.send(Message::Pong { nonce }).await,
            Some(_) => {}
            None => panic!("disconnected"),
        }
    }
    wait_until("the timeout is reported", || {
        a.events().iter().any(|event| {
            matches!(event, P2pEvent::RequestTimedOut { peer, request: node::p2p::RequestKind::Blocks } if *peer == node_id)
        })
    })
    .await;
    assert_eq!(a.handle.peers().len(), 1, "one slow answer does not ban");
    // A command for an unknown peer is a typed error.
    let stranger = NodeId::random();
    assert_eq!(
        a.handle.execute(P2pCommand::RequestBlock {
            peer: stranger,
            id: a.chain.tip().id
        }),
        Err(node::p2p::CommandError::NotConnected { peer: stranger })
    );
}
