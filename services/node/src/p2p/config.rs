//! Configuration of the peer-to-peer layer: addresses, limits, timeouts,
//! scoring and rate limits. Defaults suit a local devnet; tests shorten the
//! timeouts. The node binary fills it from flags, environment and file.

use std::net::SocketAddr;
use std::time::Duration;

use ledger::{ChainId, NetworkParams};
use thiserror::Error;

use super::message::{MessageLimits, NodeId};

/// Bytes a frame may carry beyond the block size limit (the enum tag and
/// vector lengths around one maximum-size block, with room to spare).
pub const FRAME_MARGIN_BYTES: usize = 64 * 1024;

/// The maximum frame size during the handshake (a handshake is ~140 bytes).
pub const HANDSHAKE_MAX_FRAME_BYTES: usize = 512;

/// Everything the peer manager needs to know.
#[derive(Debug, Clone)]
pub struct P2pConfig {
    /// Peers of other chains are refused.
    pub chain_id: ChainId,
    /// This node's identity; random per start unless the node keeps one.
    pub node_id: NodeId,
    /// Where to accept connections (port 0 picks a free port).
    pub listen_address: SocketAddr,
    /// The address announced in the handshake. `None`: the bound address
    /// when its IP is specific (not 0.0.0.0 / ::), otherwise nothing.
    pub advertised_address: Option<SocketAddr>,
    /// Addresses to dial first; never dropped from the address book.
    pub seeds: Vec<SocketAddr>,
    pub max_inbound: usize,
    pub max_outbound: usize,
    /// Outbound connections the dialer keeps open when it can.
    pub target_outbound: usize,
    /// Largest frame accepted or sent: block size limit + margin.
    pub max_frame_bytes: usize,
    /// Connect plus both handshake frames.
    pub handshake_timeout: Duration,
    /// A Ping is sent after this long without sending one.
    pub ping_interval: Duration,
    /// A peer that sends nothing (not even a Pong) this long is dropped.
    pub idle_timeout: Duration,
    /// A GetBlocks / GetBlock / GetPeers unanswered this long scores
    /// `SlowResponse` and is reported to the node.
    pub request_timeout: Duration,
    /// One frame write; a peer that does not read is dropped.
    pub write_timeout: Duration,
    /// How often the dialer tops up outbound connections; also the base
    /// of the per-address retry backoff.
    pub dial_interval: Duration,
    /// How often to ask peers for addresses while below the target.
    pub peer_exchange_interval: Duration,
    /// Misbehaviour points at which a peer is disconnected and banned.
    pub ban_threshold: u32,
    pub ban_duration: Duration,
    /// Sustained transaction relay rate accepted from one peer…
    pub transactions_per_second: u32,
    /// …and the burst above it (token bucket capacity).
    pub transaction_burst: u32,
    /// Bound of the address book.
    pub max_addresses: usize,
    /// Addresses returned for one GetPeers (at most `limits.max_peer_addresses`).
    pub peers_per_answer: usize,
    /// Messages queued for one peer before broadcasts to it are dropped.
    pub peer_queue_length: usize,
    /// Events queued for the node before peers are back-pressured.
    pub event_queue_length: usize,
    pub limits: MessageLimits,
}

impl P2pConfig {
    /// Defaults for `params`' network, listening on `listen_address`.
    pub fn new(params: &NetworkParams, listen_address: SocketAddr) -> P2pConfig {
        let block_limit = usize::try_from(params.block_size_limit).unwrap_or(usize::MAX);
        P2pConfig {
            chain_id: params.chain_id,
            node_id: NodeId::random(),
            listen_address,
            advertised_address: None,
            seeds: Vec::new(),
            max_inbound: 64,
            max_outbound: 16,
            target_outbound: 8,
            max_frame_bytes: block_limit.saturating_add(FRAME_MARGIN_BYTES),
            handshake_timeout: Duration::from_secs(10),
            ping_interval: Duration::from_secs(30),
            idle_timeout: Duration::from_secs(90),
            request_timeout: Duration::from_secs(60),
            write_timeout: Duration::from_secs(30),
            dial_interval: Duration::from_secs(5),
            peer_exchange_interval: Duration::from_secs(60),
            ban_threshold: 100,
            ban_duration: Duration::from_secs(3600),
            transactions_per_second: 200,
            transaction_burst: 2_000,
            max_addresses: 1_024,
            peers_per_answer: 32,
            peer_queue_length: 256,
            event_queue_length: 1_024,
            limits: MessageLimits::default(),
        }
    }

    /// Refuses settings that cannot work together.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let rule = |ok: bool, rule: &'static str| if ok { Ok(()) } else { Err(ConfigError(rule)) };
        rule(
            self.max_frame_bytes > HANDSHAKE_MAX_FRAME_BYTES
                && self.max_frame_bytes <= u32::MAX as usize,
            "max_frame_bytes must be above the handshake frame size and fit a u32",
        )?;
        rule(
            self.target_outbound <= self.max_outbound,
            "target_outbound must not exceed max_outbound",
        )?;
        rule(
            self.idle_timeout > self.ping_interval,
            "idle_timeout must exceed ping_interval, or idle but healthy peers are dropped",
        )?;
        rule(self.ban_threshold > 0, "ban_threshold must be positive")?;
        rule(
            self.peers_per_answer <= self.limits.max_peer_addresses,
            "peers_per_answer must not exceed limits.max_peer_addresses",
        )?;
        rule(
            self.peer_queue_length > 0 && self.event_queue_length > 0,
            "queue lengths must be positive",
        )?;
        rule(
            !self.dial_interval.is_zero() && !self.ping_interval.is_zero(),
            "dial_interval and ping_interval must be positive",
        )
    }
}

/// A configuration rule that does not hold.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("invalid p2p configuration: {0}")]
pub struct ConfigError(pub &'static str);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn devnet_defaults_are_valid_and_frames_fit_a_block() {
        let params = NetworkParams::devnet();
        let config = P2pConfig::new(&params, "127.0.0.1:0".parse().unwrap());
        config.validate().unwrap();
        assert!(config.max_frame_bytes > params.block_size_limit as usize);
        let broken = P2pConfig {
            target_outbound: 20,
            ..config
        };
        assert_eq!(
            broken.validate(),
            Err(ConfigError("target_outbound must not exceed max_outbound"))
        );
    }
}
