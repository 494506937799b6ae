//! Abuse against a running `node` process: garbage, an oversized frame, a
//! handshake of another chain, an invalid block and a transaction flood,
//! each from its own loopback IP (bans are per IP). Every attacker is
//! disconnected and banned while the node keeps creating blocks and an
//! honest follower keeps up.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use futures::{SinkExt, StreamExt};
use ledger::{Block, BlockHeight, BlockStakePosition, ChainId, Hash32, Timestamp, Transaction};
use node::p2p::{DisconnectReason, FrameCodec, Handshake, Message, NodeId};
use support::*;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpSocket;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio_util::codec::{FramedRead, FramedWrite};

const WAIT: Duration = Duration::from_secs(10);

struct RawPeer {
    reader: FramedRead<OwnedReadHalf, FrameCodec>,
    writer: FramedWrite<OwnedWriteHalf, FrameCodec>,
}

impl RawPeer {
    /// Connects from `ip` (a 127.x.y.z address) to `address`.
    async fn connect(ip: IpAddr, address: SocketAddr) -> RawPeer {
        let socket = TcpSocket::new_v4().unwrap();
        socket.bind(SocketAddr::new(ip, 0)).unwrap();
        let stream = socket.connect(address).await.unwrap();
        let (read, write) = stream.into_split();
        RawPeer {
            reader: FramedRead::new(read, FrameCodec::new(4 << 20)),
            writer: FramedWrite::new(write, FrameCodec::new(4 << 20)),
        }
    }

    fn handshake(chain_id: ChainId) -> Handshake {
        Handshake {
            protocol_version: node::p2p::message::PROTOCOL_VERSION,
            chain_id,
            node_id: NodeId::random(),
            listen_address: None,
            best_height: BlockHeight(0),
            tip: ledger::BlockId(Hash32([0; 32])),
        }
    }

    async fn send(&mut self, message: Message) {
        // The node may already have closed the connection.
        let _ = self.writer.send(message).await;
    }

    async fn send_bytes(&mut self, bytes: &[u8]) {
        let _ = self.writer.get_mut().write_all(bytes).await;
        let _ = self.writer.get_mut().flush().await;
    }

    async fn next(&mut self) -> Option<Message> {
        match tokio::time::timeout(WAIT, self.reader.next()).await {
            Ok(Some(Ok(message))) => Some(message),
            _ => None,
        }
    }

    /// Reads until the node closes; the reason it sent, if any.
    async fn disconnect_reason(&mut self) -> Option<DisconnectReason> {
        loop {
            match self.next().await {
                Some(Message::Disconnect { reason }) => return Some(reason),
                Some(_) => continue,
                None => return None,
            }
        }
    }
}

/// A new connection from `ip` is refused as banned.
async fn assert_banned(ip: IpAddr, address: SocketAddr, chain_id: ChainId) {
    let mut again = RawPeer::connect(ip, address).await;
    again
        .send(Message::Handshake(RawPeer::handshake(chain_id)))
        .await;
    assert_eq!(
        again.disconnect_reason().await,
        Some(DisconnectReason::Banned),
        "{ip} should be banned"
    );
}

#[test]
fn abusive_peers_are_banned_while_the_node_produces_and_serves() {
    let dir = tempfile::tempdir().unwrap();
    let network = TestNetwork::new(dir.path(), 1, false);
    let a = NodeProcess::start(
        "a",
        &dir.path().join("a"),
        &network,
        NodeOptions {
            key_seed: Some(STAKER),
            ..NodeOptions::default()
        },
    );
    let b = NodeProcess::start(
        "b",
        &dir.path().join("b"),
        &network,
        NodeOptions {
            seeds: vec![a.p2p],
            ..NodeOptions::default()
        },
    );
    a.wait_height(2, Duration::from_secs(30));
    b.wait_height(2, Duration::from_secs(30));
    let chain_id = network.config.params.chain_id;
    let address = a.p2p;
    let ip = |last: u8| IpAddr::from([127, 0, 0, last]);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        // Garbage: a frame whose payload is no message.
        let mut garbage = RawPeer::connect(ip(21), address).await;
        garbage
            .send(Message::Handshake(RawPeer::handshake(chain_id)))
            .await;
        garbage
            .send_bytes(&[8, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff])
            .await;
        assert_eq!(
            garbage.disconnect_reason().await,
            Some(DisconnectReason::Banned)
        );
        assert_banned(ip(21), address, chain_id).await;

        // An oversized frame length, before any payload.
        let mut oversized = RawPeer::connect(ip(22), address).await;
        oversized
            .send(Message::Handshake(RawPeer::handshake(chain_id)))
            .await;
        oversized.send_bytes(&[0xff, 0xff, 0xff, 0x7f]).await;
        assert_eq!(
            oversized.disconnect_reason().await,
            Some(DisconnectReason::Banned)
        );
        assert_banned(ip(22), address, chain_id).await;

        // Another chain's handshake.
        let mut other = RawPeer::connect(ip(23), address).await;
        other
            .send(Message::Handshake(RawPeer::handshake(
                ChainId::for_network("elsewhere"),
            )))
            .await;
        assert_eq!(
            other.disconnect_reason().await,
            Some(DisconnectReason::WrongChain)
        );
        assert_banned(ip(23), address, chain_id).await;

        // An invalid block: announced on the node's tip, fetched by the
        // node, refused by consensus (no respend), punished with a ban.
        let mut liar = RawPeer::connect(ip(24), address).await;
        liar.send(Message::Handshake(RawPeer::handshake(chain_id)))
            .await;
        let Some(Message::Handshake(theirs)) = liar.next().await else {
            panic!("no handshake from the node");
        };
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs();
        let block = Block::new(
            theirs.tip,
            Timestamp(now),
            BlockStakePosition {
                height: BlockHeight(0),
                transaction_index: 0,
                output_index: 0,
            },
            Vec::new(),
            Vec::new(),
        );
        let id = block.id();
        liar.send(Message::BlockAnnouncement {
            header: block.header,
            height: BlockHeight(theirs.best_height.0 + 1),
        })
        .await;
        let mut reason = None;
        while let Some(message) = liar.next().await {
            match message {
                Message::GetBlock(asked) if asked == id => {
                    liar.send(Message::Block(block.clone())).await;
                }
                Message::Disconnect { reason: sent } => {
                    reason = Some(sent);
                    break;
                }
                _ => {}
            }
        }
        assert_eq!(reason, Some(DisconnectReason::Banned));
        assert_banned(ip(24), address, chain_id).await;

        // A transaction flood: far beyond the relay rate.
        let mut flood = RawPeer::connect(ip(25), address).await;
        flood
            .send(Message::Handshake(RawPeer::handshake(chain_id)))
            .await;
        for _ in 0..8 {
            flood
                .send(Message::Transactions(vec![Transaction::new(); 1_000]))
                .await;
        }
        assert_eq!(
            flood.disconnect_reason().await,
            Some(DisconnectReason::Banned)
        );
        assert_banned(ip(25), address, chain_id).await;
    });

    assert!(a.metric("node_p2p_bans_total").unwrap_or(0.0) >= 5.0);
    assert!(a.metric("node_blocks_invalid_total").unwrap_or(0.0) >= 1.0);
    // Still producing, and the honest follower still follows.
    let height = a.height();
    a.wait_height(height + 3, Duration::from_secs(30));
    b.wait_height(height + 3, Duration::from_secs(30));
    assert_eq!(b.metric("node_peers"), Some(1.0));
}
