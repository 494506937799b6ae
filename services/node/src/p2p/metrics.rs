//! Counters of the peer-to-peer layer. Atomics updated by the tasks; the
//! node reads a [`MetricsSnapshot`] and renders it (Prometheus text).

use std::sync::atomic::{AtomicU64, Ordering};

/// Live counters, shared by all tasks of one peer manager.
#[derive(Debug, Default)]
pub struct P2pMetrics {
    pub peers_inbound: AtomicU64,
    pub peers_outbound: AtomicU64,
    pub bytes_in: AtomicU64,
    pub bytes_out: AtomicU64,
    pub frames_in: AtomicU64,
    pub frames_out: AtomicU64,
    pub frames_rejected: AtomicU64,
    pub handshakes_refused: AtomicU64,
    pub connections_refused: AtomicU64,
    pub bans: AtomicU64,
    pub messages_dropped: AtomicU64,
}

/// A copy of the counters at one moment. `peers_*` are gauges; the rest
/// count up from the manager's start.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct MetricsSnapshot {
    pub peers_inbound: u64,
    pub peers_outbound: u64,
    pub bytes_in: u64,
    pub bytes_out: u64,
    pub frames_in: u64,
    pub frames_out: u64,
    /// Frames refused: oversized, malformed, non-canonical, over a list limit.
    pub frames_rejected: u64,
    /// Handshakes refused: wrong chain, version, self, duplicate, timeout.
    pub handshakes_refused: u64,
    /// Connections refused before the handshake: banned IP, inbound full.
    pub connections_refused: u64,
    pub bans: u64,
    /// Broadcast messages dropped because a peer's queue was full.
    pub messages_dropped: u64,
}

impl P2pMetrics {
    pub fn add(counter: &AtomicU64, amount: u64) {
        counter.fetch_add(amount, Ordering::Relaxed);
    }

    pub fn snapshot(&self) -> MetricsSnapshot {
        let read = |counter: &AtomicU64| counter.load(Ordering::Relaxed);
        MetricsSnapshot {
            peers_inbound: read(&self.peers_inbound),
            peers_outbound: read(&self.peers_outbound),
            bytes_in: read(&self.bytes_in),
            bytes_out: read(&self.bytes_out),
            frames_in: read(&self.frames_in),
            frames_out: read(&self.frames_out),
            frames_rejected: read(&self.frames_rejected),
            handshakes_refused: read(&self.handshakes_refused),
            connections_refused: read(&self.connections_refused),
            bans: read(&self.bans),
            messages_dropped: read(&self.messages_dropped),
        }
    }
}
