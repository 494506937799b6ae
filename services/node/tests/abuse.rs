//! Abuse against a running `node` process: garbage, an oversized frame, a
//! handshake of another chain, an invalid block and a transaction flood,
//! each from its own loopback IP (bans are per IP). Every attacker is
//! disconnected and banned while the node keeps creating blocks and an
//! honest follower keeps up.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod raw_peer;
mod support;

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use ledger::{Block, BlockHeight, BlockStakePosition, ChainId, Timestamp, Transaction};
use node::p2p::{DisconnectReason, Message};
use raw_peer::RawPeer;
use support::*;

/// A new connection from `ip` is refused as banned.
async fn assert_banned(ip: IpAddr, address: SocketAddr, chain_id: ChainId) {
    let mut again = RawPeer::connect_from(ip, address).await;
    again
        .send_lossy(Message::Handshake(RawPeer::any_handshake(chain_id)))
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
        NodeOptions::staker(STAKER),
    );
    let b = NodeProcess::start(
        "b",
        &dir.path().join("b"),
        &network,
        NodeOptions::follower(vec![a.p2p]),
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
        let mut garbage = RawPeer::connect_from(ip(21), address).await;
        garbage
            .send_lossy(Message::Handshake(RawPeer::any_handshake(chain_id)))
            .await;
        garbage
            .send_bytes_lossy(&[8, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff])
            .await;
        assert_eq!(
            garbage.disconnect_reason().await,
            Some(DisconnectReason::Banned)
        );
        assert_banned(ip(21), address, chain_id).await;

        // An oversized frame length, before any payload.
        let mut oversized = RawPeer::connect_from(ip(22), address).await;
        oversized
            .send_lossy(Message::Handshake(RawPeer::any_handshake(chain_id)))
            .await;
        oversized.send_bytes_lossy(&[0xff, 0xff, 0xff, 0x7f]).await;
        assert_eq!(
            oversized.disconnect_reason().await,
            Some(DisconnectReason::Banned)
        );
        assert_banned(ip(22), address, chain_id).await;

        // Another chain's handshake.
        let mut other = RawPeer::connect_from(ip(23), address).await;
        other
            .send_lossy(Message::Handshake(RawPeer::any_handshake(
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
        let mut liar = RawPeer::connect_from(ip(24), address).await;
        liar.send_lossy(Message::Handshake(RawPeer::any_handshake(chain_id)))
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
        liar.send_lossy(Message::BlockAnnouncement {
            header: block.header,
            height: BlockHeight(theirs.best_height.0 + 1),
        })
        .await;
        let mut reason = None;
        while let Some(message) = liar.next().await {
            match message {
                Message::GetBlock(asked) if asked == id => {
                    liar.send_lossy(Message::Block(block.clone())).await;
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
        let mut flood = RawPeer::connect_from(ip(25), address).await;
        flood
            .send_lossy(Message::Handshake(RawPeer::any_handshake(chain_id)))
            .await;
        for _ in 0..8 {
            flood
                .send_lossy(Message::Transactions(vec![Transaction::new(); 1_000]))
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
