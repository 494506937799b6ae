//! The peer-to-peer protocol layer (specified in `docs/p2p.md`).
//!
//! * [`frame`], [`message`]: length-prefixed canonical frames carrying one
//!   [`Message`] each, with byte and list limits.
//! * [`handshake`]: the first frame each way; other chains, old versions,
//!   self-connections and duplicates are refused.
//! * [`manager`]: listener, dialer, peer table, events to and commands
//!   from the node; [`peer`] runs one connection.
//! * [`score`], [`ban_list`], [`address_book`]: misbehaviour points,
//!   temporary IP bans, known addresses.
//! * [`chain_view`], [`sync`]: what the layer reads from the chain, block
//!   locators and fork points.
//! * [`config`], [`metrics`].

pub mod address_book;
pub mod ban_list;
pub mod chain_view;
pub mod config;
pub mod frame;
pub mod handshake;
pub mod manager;
pub mod message;
pub mod metrics;
mod peer;
pub mod score;
pub mod sync;

pub use chain_view::{ChainTip, ChainView, VecChain};
pub use config::{ConfigError, P2pConfig};
pub use frame::{FrameCodec, FrameError};
pub use handshake::HandshakeError;
pub use manager::{
    CommandError, Direction, P2pCommand, P2pEvent, P2pHandle, PeerInfo, PeerManager, RequestKind,
    StartError,
};
pub use message::{DisconnectReason, Handshake, Message, MessageLimits, NodeId, PeerAddress};
pub use metrics::{MetricsSnapshot, P2pMetrics};
pub use score::Misbehaviour;
