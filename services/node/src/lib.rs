//! The chain node as a library. Today it holds the peer-to-peer protocol
//! layer ([`p2p`]): framing, handshake, messages, the peer manager with
//! limits, scores and bans, and the block-locator sync helpers. The node
//! binary (chain state, event publishing, submission) wires it to the
//! chain through the [`p2p::ChainView`] trait and the manager's event and
//! command interface. The wire protocol is specified in `docs/p2p.md`.

pub mod p2p;
