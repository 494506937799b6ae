//! The chain node as a library; the `node` binary (`src/main.rs`) only
//! parses its configuration and calls [`runtime::run`].
//!
//! * [`p2p`]: the peer-to-peer protocol layer (framing, handshake,
//!   messages, peer manager with limits, scores and bans, sync helpers),
//!   specified in `docs/p2p.md`.
//! * [`runtime`]: the running node — chain, pool, block creation, sync,
//!   outbox, publisher, submissions — driven by one loop.
//! * [`store`]: the block store (redb) and the chain shared with the p2p
//!   layer through [`p2p::ChainView`].
//! * [`outbox`], [`publisher`]: the durable log of block messages and its
//!   in-order, exactly-once publication to NATS JetStream.
//! * [`blocks`]: the block backfill endpoint (`ledger.<network>.blocks`),
//!   answered from the outbox for read models whose stream forgot old
//!   blocks.
//! * [`submission`]: the NATS submission endpoint's reply type and the
//!   pool events.
//! * [`creation`]: block creation on a timer.
//! * [`keys`]: block-creation keys from a key file or a BIP-39 mnemonic.
//! * [`settings`]: flags, environment and configuration file.
//! * [`status`]: `/healthz` and `/metrics`.
//!
//! How to run and operate it: `docs/node.md`.

pub mod blocks;
pub mod creation;
pub mod keys;
pub mod outbox;
pub mod p2p;
pub mod publisher;
pub mod runtime;
pub mod settings;
pub mod status;
pub mod store;
pub mod submission;
