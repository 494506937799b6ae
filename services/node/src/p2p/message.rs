//! Every message of the peer-to-peer protocol, as one enum encoded with the
//! canonical codec (`ledger::codec`): a `u32` variant index, then the
//! fields in declaration order. Variant order is part of the wire format
//! (append only). Decoding bounds bytes; [`Message::check_limits`] then
//! bounds list lengths, which the node must call before acting on a
//! message (the peer task does).

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use ledger::{Block, BlockHeader, BlockHeight, BlockId, ChainId, Transaction};
use rand_core::{OsRng, RngCore};
use thiserror::Error;

/// The protocol version this implementation speaks.
pub const PROTOCOL_VERSION: u32 = 1;
/// The oldest protocol version it still talks to.
pub const MIN_PROTOCOL_VERSION: u32 = 1;

/// A node's identity on the network: 32 random bytes chosen at start.
/// Used to refuse self-connections and duplicate connections; it is not a
/// key and proves nothing.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, bincode::Encode, bincode::Decode)]
pub struct NodeId(pub [u8; 32]);

impl NodeId {
    /// A fresh random node ID from the operating system's generator.
    pub fn random() -> NodeId {
        let mut bytes = [0u8; 32];
        OsRng.fill_bytes(&mut bytes);
        NodeId(bytes)
    }

    /// The first bytes in hex, for logs.
    pub fn short(&self) -> String {
        hex::encode(&self.0[..4])
    }
}

impl fmt::Display for NodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.short())
    }
}

impl fmt::Debug for NodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "NodeId({})", hex::encode(self.0))
    }
}

/// A TCP address on the wire. Own type rather than `SocketAddr` so the
/// encoding is fixed here: tag `0` = IPv4 (4 bytes + `u16` port), tag `1`
/// = IPv6 (16 bytes + `u16` port).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, bincode::Encode, bincode::Decode)]
pub enum PeerAddress {
    V4 { ip: [u8; 4], port: u16 },
    V6 { ip: [u8; 16], port: u16 },
}

impl PeerAddress {
    pub fn socket_addr(&self) -> SocketAddr {
        match *self {
            PeerAddress::V4 { ip, port } => SocketAddr::new(IpAddr::V4(Ipv4Addr::from(ip)), port),
            PeerAddress::V6 { ip, port } => SocketAddr::new(IpAddr::V6(Ipv6Addr::from(ip)), port),
        }
    }

    /// Whether a node could dial this address: a real IP and a non-zero port.
    pub fn is_dialable(&self) -> bool {
        let address = self.socket_addr();
        address.port() != 0 && !address.ip().is_unspecified() && !address.ip().is_multicast()
    }
}

impl From<SocketAddr> for PeerAddress {
    fn from(address: SocketAddr) -> PeerAddress {
        match address.ip() {
            IpAddr::V4(ip) => PeerAddress::V4 {
                ip: ip.octets(),
                port: address.port(),
            },
            IpAddr::V6(ip) => PeerAddress::V6 {
                ip: ip.octets(),
                port: address.port(),
            },
        }
    }
}

impl fmt::Display for PeerAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.socket_addr(), f)
    }
}

/// The first frame each side sends.
#[derive(Debug, Clone, PartialEq, Eq, bincode::Encode, bincode::Decode)]
pub struct Handshake {
    pub protocol_version: u32,
    pub chain_id: ChainId,
    pub node_id: NodeId,
    /// Where the sender accepts connections; only its port is trusted for
    /// dialing back (the IP is the one the connection came from).
    pub listen_address: Option<PeerAddress>,
    pub best_height: BlockHeight,
    pub tip: BlockId,
}

/// Why a side closes the connection; sent as the last frame when it can be.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, bincode::Encode, bincode::Decode)]
pub enum DisconnectReason {
    ShuttingDown,
    TooManyPeers,
    Banned,
    WrongChain,
    IncompatibleVersion,
    SelfConnection,
    DuplicateConnection,
    ProtocolViolation,
    Timeout,
    Requested,
}

impl fmt::Display for DisconnectReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = match self {
            DisconnectReason::ShuttingDown => "shutting down",
            DisconnectReason::TooManyPeers => "too many peers",
            DisconnectReason::Banned => "banned",
            DisconnectReason::WrongChain => "wrong chain",
            DisconnectReason::IncompatibleVersion => "incompatible protocol version",
            DisconnectReason::SelfConnection => "connection to self",
            DisconnectReason::DuplicateConnection => "duplicate connection",
            DisconnectReason::ProtocolViolation => "protocol violation",
            DisconnectReason::Timeout => "timeout",
            DisconnectReason::Requested => "requested by the node",
        };
        f.write_str(text)
    }
}

/// One protocol message. Variant indexes are wire tags: append only.
#[derive(Debug, Clone, PartialEq, Eq, bincode::Encode, bincode::Decode)]
pub enum Message {
    /// Tag 0. Only as the first frame.
    Handshake(Handshake),
    /// Tag 1. Keepalive; answered by `Pong` with the same nonce.
    Ping { nonce: u64 },
    /// Tag 2.
    Pong { nonce: u64 },
    /// Tag 3. Asks for addresses to dial.
    GetPeers,
    /// Tag 4. Answer to `GetPeers` only.
    Peers(Vec<PeerAddress>),
    /// Tag 5. A new block on the sender's best chain, by header and height.
    BlockAnnouncement {
        header: BlockHeader,
        height: BlockHeight,
    },
    /// Tag 6. Blocks after the first locator entry on the responder's best
    /// chain, at most `limit` of them.
    GetBlocks { locator: Vec<BlockId>, limit: u32 },
    /// Tag 7. Answer to `GetBlocks`, in chain order; empty when the
    /// responder has nothing after the fork point.
    Blocks(Vec<Block>),
    /// Tag 8.
    GetBlock(BlockId),
    /// Tag 9. Answer to `GetBlock`.
    Block(Block),
    /// Tag 10. Transactions for the pool (relay).
    Transactions(Vec<Transaction>),
    /// Tag 11. Answer to `GetBlock` for an unknown block.
    NotFound(BlockId),
    /// Tag 12. The last frame before the sender closes.
    Disconnect { reason: DisconnectReason },
}

impl Message {
    /// The variant name, for logs and errors.
    pub fn kind(&self) -> &'static str {
        match self {
            Message::Handshake(_) => "Handshake",
            Message::Ping { .. } => "Ping",
            Message::Pong { .. } => "Pong",
            Message::GetPeers => "GetPeers",
            Message::Peers(_) => "Peers",
            Message::BlockAnnouncement { .. } => "BlockAnnouncement",
            Message::GetBlocks { .. } => "GetBlocks",
            Message::Blocks(_) => "Blocks",
            Message::GetBlock(_) => "GetBlock",
            Message::Block(_) => "Block",
            Message::Transactions(_) => "Transactions",
            Message::NotFound(_) => "NotFound",
            Message::Disconnect { .. } => "Disconnect",
        }
    }

    /// Checks every list length against `limits` (bytes are already
    /// bounded by the frame size).
    pub fn check_limits(&self, limits: &MessageLimits) -> Result<(), MessageError> {
        let (list, length, max) = match self {
            Message::Peers(addresses) => ("Peers", addresses.len(), limits.max_peer_addresses),
            Message::GetBlocks { locator, limit } => {
                if *limit == 0 || *limit as usize > limits.max_blocks_per_batch {
                    return Err(MessageError::BatchLimit {
                        limit: *limit,
                        max: limits.max_blocks_per_batch,
                    });
                }
                if locator.is_empty() {
                    return Err(MessageError::EmptyLocator);
                }
                (
                    "GetBlocks.locator",
                    locator.len(),
                    limits.max_locator_length,
                )
            }
            Message::Blocks(blocks) => ("Blocks", blocks.len(), limits.max_blocks_per_batch),
            Message::Transactions(transactions) => (
                "Transactions",
                transactions.len(),
                limits.max_transactions_per_message,
            ),
            _ => return Ok(()),
        };
        if length > max {
            return Err(MessageError::TooLong { list, length, max });
        }
        Ok(())
    }
}

/// Bounds on list lengths inside messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageLimits {
    pub max_peer_addresses: usize,
    pub max_locator_length: usize,
    pub max_blocks_per_batch: usize,
    pub max_transactions_per_message: usize,
}

impl Default for MessageLimits {
    fn default() -> MessageLimits {
        MessageLimits {
            max_peer_addresses: 64,
            max_locator_length: 128,
            max_blocks_per_batch: 500,
            max_transactions_per_message: 1_000,
        }
    }
}

/// Why a decoded message breaks the protocol's list bounds.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum MessageError {
    #[error("{list} holds {length} entries, more than the limit of {max}")]
    TooLong {
        list: &'static str,
        length: usize,
        max: usize,
    },
    #[error("GetBlocks asks for {limit} blocks; it must be 1..={max}")]
    BatchLimit { limit: u32, max: usize },
    #[error("GetBlocks carries an empty locator; it must end at genesis")]
    EmptyLocator,
}

#[cfg(test)]
mod tests {
    use super::*;
    use ledger::{Hash32, codec};

    #[test]
    fn peer_address_round_trips_through_socket_addr() {
        for text in ["127.0.0.1:9000", "[::1]:1"] {
            let address: SocketAddr = text.parse().unwrap();
            assert_eq!(PeerAddress::from(address).socket_addr(), address);
        }
        assert!(!PeerAddress::from("0.0.0.0:1".parse::<SocketAddr>().unwrap()).is_dialable());
        assert!(!PeerAddress::from("127.0.0.1:0".parse::<SocketAddr>().unwrap()).is_dialable());
    }

    #[test]
    fn wire_tags_are_fixed() {
        // Tag 1 = Ping, then the u64 nonce.
        assert_eq!(
            codec::encode(&Message::Ping { nonce: 7 }),
            [1, 0, 0, 0, 7, 0, 0, 0, 0, 0, 0, 0]
        );
        assert_eq!(
            codec::encode(&Message::Disconnect {
                reason: DisconnectReason::Banned
            }),
            [12, 0, 0, 0, 2, 0, 0, 0]
        );
        assert_eq!(codec::encode(&Message::GetPeers), [3, 0, 0, 0]);
    }

    #[test]
    fn limits_are_checked() {
        let limits = MessageLimits {
            max_peer_addresses: 1,
            ..MessageLimits::default()
        };
        let address = PeerAddress::V4 {
            ip: [127, 0, 0, 1],
            port: 1,
        };
        assert!(Message::Peers(vec![address]).check_limits(&limits).is_ok());
        assert_eq!(
            Message::Peers(vec![address; 2]).check_limits(&limits),
            Err(MessageError::TooLong {
                list: "Peers",
                length: 2,
                max: 1
            })
        );
        let id = BlockId(Hash32::ZERO);
        assert!(matches!(
            Message::GetBlocks {
                locator: vec![id],
                limit: 0
            }
            .check_limits(&limits),
            Err(MessageError::BatchLimit { .. })
        ));
        assert_eq!(
            Message::GetBlocks {
                locator: vec![],
                limit: 1
            }
            .check_limits(&limits),
            Err(MessageError::EmptyLocator)
        );
    }
}
