//! The handshake: the first frame each way. Both sides send their
//! [`Handshake`] at once, then read the other's within the handshake
//! timeout, and check it with [`check_handshake`]. A refusal is answered
//! with a `Disconnect` frame naming the reason before the socket closes.

use std::net::SocketAddr;
use std::time::Duration;

use futures::{SinkExt, StreamExt};
use ledger::ChainId;
use thiserror::Error;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio_util::codec::{FramedRead, FramedWrite};

use super::frame::{FrameCodec, FrameError};
use super::message::{
    DisconnectReason, Handshake, MIN_PROTOCOL_VERSION, Message, NodeId, PROTOCOL_VERSION,
};
use super::score::Misbehaviour;

/// Why a handshake failed or was refused.
#[derive(Debug, Error)]
pub enum HandshakeError {
    #[error("peer {peer} is on chain {theirs}, we are on {ours}")]
    WrongChain {
        peer: SocketAddr,
        ours: ChainId,
        theirs: ChainId,
    },
    #[error("peer {peer} speaks protocol version {theirs}; we need {min} or later")]
    IncompatibleVersion {
        peer: SocketAddr,
        theirs: u32,
        min: u32,
    },
    #[error("peer {peer} is this node itself (node ID {node_id})")]
    SelfConnection { peer: SocketAddr, node_id: NodeId },
    #[error("peer {peer} has node ID {node_id}, which is already connected")]
    Duplicate { peer: SocketAddr, node_id: NodeId },
    #[error("peer {peer} sent {kind} as its first frame; the first frame must be Handshake")]
    NotAHandshake {
        peer: SocketAddr,
        kind: &'static str,
    },
    #[error("peer {peer} refused us: {reason}")]
    RefusedByPeer {
        peer: SocketAddr,
        reason: DisconnectReason,
    },
    #[error("peer {peer} did not complete the handshake within {timeout:?}")]
    Timeout { peer: SocketAddr, timeout: Duration },
    #[error("peer {peer} closed the connection during the handshake")]
    Closed { peer: SocketAddr },
    #[error("peer {peer} sent a bad handshake frame: {source}")]
    Frame {
        peer: SocketAddr,
        #[source]
        source: FrameError,
    },
}

impl HandshakeError {
    /// The reason to send the peer before closing, if any.
    pub fn disconnect_reason(&self) -> Option<DisconnectReason> {
        match self {
            HandshakeError::WrongChain { .. } => Some(DisconnectReason::WrongChain),
            HandshakeError::IncompatibleVersion { .. } => {
                Some(DisconnectReason::IncompatibleVersion)
            }
            HandshakeError::SelfConnection { .. } => Some(DisconnectReason::SelfConnection),
            HandshakeError::Duplicate { .. } => Some(DisconnectReason::DuplicateConnection),
            HandshakeError::NotAHandshake { .. } | HandshakeError::Frame { .. } => {
                Some(DisconnectReason::ProtocolViolation)
            }
            HandshakeError::Timeout { .. } => Some(DisconnectReason::Timeout),
            HandshakeError::RefusedByPeer { .. } | HandshakeError::Closed { .. } => None,
        }
    }

    /// The offence to score (all of these ban at once), if any.
    pub fn offence(&self) -> Option<Misbehaviour> {
        match self {
            HandshakeError::WrongChain { .. } => Some(Misbehaviour::WrongChain),
            HandshakeError::NotAHandshake { .. } => Some(Misbehaviour::HandshakeViolation),
            HandshakeError::Frame { source, .. } => match source {
                FrameError::Oversized { .. } | FrameError::Empty => {
                    Some(Misbehaviour::OversizedFrame)
                }
                FrameError::Undecodable { .. } => Some(Misbehaviour::MalformedFrame),
                FrameError::OutgoingTooLarge { .. } | FrameError::Io(_) => None,
            },
            _ => None,
        }
    }
}

/// Checks a received handshake against our chain, version and identity.
pub fn check_handshake(
    peer: SocketAddr,
    theirs: &Handshake,
    chain_id: ChainId,
    own_node_id: NodeId,
) -> Result<(), HandshakeError> {
    if theirs.chain_id != chain_id {
        return Err(HandshakeError::WrongChain {
            peer,
            ours: chain_id,
            theirs: theirs.chain_id,
        });
    }
    if theirs.protocol_version < MIN_PROTOCOL_VERSION {
        return Err(HandshakeError::IncompatibleVersion {
            peer,
            theirs: theirs.protocol_version,
            min: MIN_PROTOCOL_VERSION,
        });
    }
    if theirs.node_id == own_node_id {
        return Err(HandshakeError::SelfConnection {
            peer,
            node_id: theirs.node_id,
        });
    }
    Ok(())
}

/// Sends `ours`, reads and checks the peer's handshake, all within `timeout`.
pub async fn exchange_handshakes<R, W>(
    peer: SocketAddr,
    reader: &mut FramedRead<R, FrameCodec>,
    writer: &mut FramedWrite<W, FrameCodec>,
    ours: &Handshake,
    timeout: Duration,
) -> Result<Handshake, HandshakeError>
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    let exchange = async {
        writer
            .send(Message::Handshake(ours.clone()))
            .await
            .map_err(|source| HandshakeError::Frame { peer, source })?;
        match reader.next().await {
            None => Err(HandshakeError::Closed { peer }),
            Some(Err(FrameError::Io(_))) => Err(HandshakeError::Closed { peer }),
            Some(Err(source)) => Err(HandshakeError::Frame { peer, source }),
            Some(Ok(Message::Handshake(theirs))) => {
                check_handshake(peer, &theirs, ours.chain_id, ours.node_id)?;
                Ok(theirs)
            }
            Some(Ok(Message::Disconnect { reason })) => {
                Err(HandshakeError::RefusedByPeer { peer, reason })
            }
            Some(Ok(other)) => Err(HandshakeError::NotAHandshake {
                peer,
                kind: other.kind(),
            }),
        }
    };
    tokio::time::timeout(timeout, exchange)
        .await
        .map_err(|_| HandshakeError::Timeout { peer, timeout })?
}

/// Our handshake for the current tip.
pub fn our_handshake(
    chain_id: ChainId,
    node_id: NodeId,
    listen_address: Option<SocketAddr>,
    tip: super::chain_view::ChainTip,
) -> Handshake {
    Handshake {
        protocol_version: PROTOCOL_VERSION,
        chain_id,
        node_id,
        listen_address: listen_address.map(Into::into),
        best_height: tip.height,
        tip: tip.id,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ledger::{BlockHeight, BlockId, Hash32};

    fn handshake(chain: &str, node: u8, version: u32) -> Handshake {
        Handshake {
            protocol_version: version,
            chain_id: ChainId::for_network(chain),
            node_id: NodeId([node; 32]),
            listen_address: None,
            best_height: BlockHeight(0),
            tip: BlockId(Hash32::ZERO),
        }
    }

    #[test]
    fn refuses_other_chain_old_version_and_self() {
        let peer: SocketAddr = "127.0.0.1:1".parse().unwrap();
        let chain = ChainId::for_network("devnet");
        let me = NodeId([1; 32]);
        check_handshake(peer, &handshake("devnet", 2, PROTOCOL_VERSION), chain, me).unwrap();
        let wrong = check_handshake(peer, &handshake("testnet", 2, 1), chain, me).unwrap_err();
        assert!(matches!(wrong, HandshakeError::WrongChain { .. }));
        assert_eq!(wrong.offence(), Some(Misbehaviour::WrongChain));
        assert!(wrong.to_string().contains("127.0.0.1:1"));
        assert!(matches!(
            check_handshake(peer, &handshake("devnet", 2, 0), chain, me),
            Err(HandshakeError::IncompatibleVersion { theirs: 0, .. })
        ));
        let myself = check_handshake(peer, &handshake("devnet", 1, 1), chain, me).unwrap_err();
        assert_eq!(
            myself.disconnect_reason(),
            Some(DisconnectReason::SelfConnection)
        );
        assert_eq!(myself.offence(), None);
    }
}
