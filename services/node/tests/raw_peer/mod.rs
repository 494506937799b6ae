//! A peer driven by hand for p2p tests: speaks the framing and sends what
//! the test wants, including garbage. Included by the in-process p2p tests
//! and by the abuse test against a node process.

#![allow(dead_code, clippy::unwrap_used)]

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use futures::{SinkExt, StreamExt};
use ledger::{BlockHeight, BlockId, ChainId, Hash32};
use node::p2p::{DisconnectReason, FrameCodec, Handshake, Message, NodeId};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpSocket;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio_util::codec::{FramedRead, FramedWrite};

/// How long [`RawPeer::next`] waits for a frame.
const FRAME_WAIT: Duration = Duration::from_secs(10);

/// The largest frame the raw peer reads or writes.
const MAX_FRAME: usize = 4 << 20;

pub struct RawPeer {
    reader: FramedRead<OwnedReadHalf, FrameCodec>,
    writer: FramedWrite<OwnedWriteHalf, FrameCodec>,
}

impl RawPeer {
    /// Connects from 127.0.0.1 to `address`.
    pub async fn connect(address: SocketAddr) -> RawPeer {
        RawPeer::connect_from(IpAddr::from([127, 0, 0, 1]), address).await
    }

    /// Connects from `ip` (a 127.x.y.z address, so bans stay per peer) to
    /// `address`.
    pub async fn connect_from(ip: IpAddr, address: SocketAddr) -> RawPeer {
        let socket = TcpSocket::new_v4().unwrap();
        socket.bind(SocketAddr::new(ip, 0)).unwrap();
        let stream = socket.connect(address).await.unwrap();
        let (read, write) = stream.into_split();
        RawPeer {
            reader: FramedRead::new(read, FrameCodec::new(MAX_FRAME)),
            writer: FramedWrite::new(write, FrameCodec::new(MAX_FRAME)),
        }
    }

    /// A handshake for `chain_id` at height 0 with tip `tip`.
    pub fn handshake(chain_id: ChainId, node_id: NodeId, tip: BlockId) -> Handshake {
        Handshake {
            protocol_version: node::p2p::message::PROTOCOL_VERSION,
            chain_id,
            node_id,
            listen_address: None,
            best_height: BlockHeight(0),
            tip,
        }
    }

    /// A handshake for `chain_id` with a fresh node ID and a zero tip.
    pub fn any_handshake(chain_id: ChainId) -> Handshake {
        RawPeer::handshake(chain_id, NodeId::random(), BlockId(Hash32([0; 32])))
    }

    /// Sends a message; fails the test if the connection is gone.
    pub async fn send(&mut self, message: Message) {
        self.writer.send(message).await.unwrap();
    }

    /// Sends a message to a node that may already have closed the
    /// connection (an attacker does not care).
    pub async fn send_lossy(&mut self, message: Message) {
        let _ = self.writer.send(message).await;
    }

    /// Writes raw bytes; fails the test if the connection is gone.
    pub async fn send_bytes(&mut self, bytes: &[u8]) {
        self.writer.get_mut().write_all(bytes).await.unwrap();
        self.writer.get_mut().flush().await.unwrap();
    }

    /// Writes raw bytes to a node that may already have closed.
    pub async fn send_bytes_lossy(&mut self, bytes: &[u8]) {
        let _ = self.writer.get_mut().write_all(bytes).await;
        let _ = self.writer.get_mut().flush().await;
    }

    /// Sends a handshake and reads the answer.
    pub async fn exchange(&mut self, handshake: Handshake) -> Option<Message> {
        self.send(Message::Handshake(handshake)).await;
        self.next().await
    }

    /// The next frame, or None when the connection closed, a frame was
    /// bad or none came within 10 s.
    pub async fn next(&mut self) -> Option<Message> {
        match tokio::time::timeout(FRAME_WAIT, self.reader.next()).await {
            Ok(Some(Ok(message))) => Some(message),
            _ => None,
        }
    }

    /// Reads until the node closes; the reason it sent, if any.
    pub async fn disconnect_reason(&mut self) -> Option<DisconnectReason> {
        loop {
            match self.next().await {
                Some(Message::Disconnect { reason }) => return Some(reason),
                Some(_) => continue,
                None => return None,
            }
        }
    }
}
