//! What the node reports about itself: counters and gauges the runtime and
//! the publisher update, served as `/healthz` and Prometheus `/metrics`
//! through `service::serve_health`.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};

use service::{Health, Metrics, Observable};

use crate::p2p::P2pHandle;

/// Shared between the runtime, the publisher and the health endpoint.
#[derive(Default)]
pub struct NodeStatus {
    pub network: String,
    pub height: AtomicU64,
    pub tip_timestamp: AtomicU64,
    pub pool_transactions: AtomicU64,
    pub pool_bytes: AtomicU64,
    pub blocks_created: AtomicU64,
    pub blocks_applied: AtomicU64,
    pub blocks_reverted: AtomicU64,
    pub blocks_invalid: AtomicU64,
    pub last_block_interval: AtomicU64,
    pub transactions_accepted: AtomicU64,
    pub transactions_rejected: AtomicU64,
    pub outbox_last: AtomicU64,
    pub outbox_acked: AtomicU64,
    /// Block backfill requests answered (served or refused).
    pub block_requests: AtomicU64,
    /// Block backfill requests refused.
    pub block_requests_refused: AtomicU64,
    /// Blocks sent in backfill replies.
    pub blocks_served: AtomicU64,
    pub publishing: AtomicBool,
    pub syncing: AtomicBool,
    pub publish_error: Mutex<Option<String>>,
    /// The tip's block ID in hex.
    pub tip: Mutex<String>,
    pub p2p: OnceLock<P2pHandle>,
}

impl NodeStatus {
    pub fn new(network: &str, publishing: bool) -> NodeStatus {
        NodeStatus {
            network: network.to_owned(),
            publishing: AtomicBool::new(publishing),
            ..NodeStatus::default()
        }
    }

    /// Messages logged but not yet acknowledged by JetStream.
    pub fn publish_lag(&self) -> u64 {
        if !self.publishing.load(Ordering::Relaxed) {
            return 0;
        }
        self.outbox_last
            .load(Ordering::Relaxed)
            .saturating_sub(self.outbox_acked.load(Ordering::Relaxed))
    }

    pub fn set_publish_error(&self, error: Option<String>) {
        if let Ok(mut slot) = self.publish_error.lock() {
            *slot = error;
        }
    }
}

impl Observable for NodeStatus {
    fn health(&self) -> Health {
        let error = self.publish_error.lock().ok().and_then(|slot| slot.clone());
        match error {
            Some(error) => Health::Degraded(format!(
                "publishing to JetStream fails ({error}); {} messages waiting",
                self.publish_lag()
            )),
            None => Health::Ok,
        }
    }

    fn metrics(&self) -> String {
        let get = |value: &AtomicU64| value.load(Ordering::Relaxed) as f64;
        let network = [("network", self.network.as_str())];
        let mut m = Metrics::new();
        let gauges: [(&str, &str, f64); 10] = [
            (
                "node_height",
                "Height of the best chain's tip.",
                get(&self.height),
            ),
            (
                "node_tip_timestamp_seconds",
                "Timestamp of the tip block (unix seconds).",
                get(&self.tip_timestamp),
            ),
            (
                "node_pool_transactions",
                "Transactions in the pool.",
                get(&self.pool_transactions),
            ),
            (
                "node_pool_bytes",
                "Encoded bytes of the pooled transactions.",
                get(&self.pool_bytes),
            ),
            (
                "node_last_block_interval_seconds",
                "Seconds between the tip and its parent.",
                get(&self.last_block_interval),
            ),
            (
                "node_outbox_sequence",
                "Outbox sequence of the last logged message.",
                get(&self.outbox_last),
            ),
            (
                "node_outbox_acknowledged",
                "Outbox sequence acknowledged by JetStream.",
                get(&self.outbox_acked),
            ),
            (
                "node_publish_lag_messages",
                "Messages logged and not yet acknowledged by JetStream.",
                self.publish_lag() as f64,
            ),
            (
                "node_syncing",
                "1 while a batch sync with a peer runs.",
                f64::from(u8::from(self.syncing.load(Ordering::Relaxed))),
            ),
            (
                "node_peers",
                "Connected peers.",
                self.p2p
                    .get()
                    .map(|p| p.peers().len() as f64)
                    .unwrap_or(0.0),
            ),
        ];
        for (name, help, value) in gauges {
            m.family(name, "gauge", help).sample(name, &network, value);
        }
        let counters: [(&str, &str, f64); 9] = [
            (
                "node_blocks_created_total",
                "Blocks this node created.",
                get(&self.blocks_created),
            ),
            (
                "node_blocks_applied_total",
                "Blocks put on the best chain.",
                get(&self.blocks_applied),
            ),
            (
                "node_blocks_reverted_total",
                "Blocks taken off the best chain.",
                get(&self.blocks_reverted),
            ),
            (
                "node_blocks_invalid_total",
                "Blocks refused as invalid.",
                get(&self.blocks_invalid),
            ),
            (
                "node_transactions_accepted_total",
                "Transactions admitted to the pool.",
                get(&self.transactions_accepted),
            ),
            (
                "node_transactions_rejected_total",
                "Transactions refused by the pool.",
                get(&self.transactions_rejected),
            ),
            (
                "node_block_requests_total",
                "Block backfill requests answered (ledger.<network>.blocks).",
                get(&self.block_requests),
            ),
            (
                "node_block_requests_refused_total",
                "Block backfill requests refused (malformed, bad range, unavailable, too large).",
                get(&self.block_requests_refused),
            ),
            (
                "node_blocks_served_total",
                "Blocks sent in backfill replies.",
                get(&self.blocks_served),
            ),
        ];
        for (name, help, value) in counters {
            m.family(name, "counter", help)
                .sample(name, &network, value);
        }
        let tip = self.tip.lock().map(|tip| tip.clone()).unwrap_or_default();
        m.family(
            "node_tip_info",
            "gauge",
            "The tip's block ID (label); value: its height.",
        )
        .sample(
            "node_tip_info",
            &[("network", self.network.as_str()), ("block", tip.as_str())],
            get(&self.height),
        );
        if let Some(p2p) = self.p2p.get() {
            let s = p2p.metrics();
            let p2p_counters: [(&str, &str, u64); 6] = [
                (
                    "node_p2p_bytes_in_total",
                    "Bytes received from peers.",
                    s.bytes_in,
                ),
                (
                    "node_p2p_bytes_out_total",
                    "Bytes sent to peers.",
                    s.bytes_out,
                ),
                (
                    "node_p2p_frames_rejected_total",
                    "Frames refused (malformed, oversized).",
                    s.frames_rejected,
                ),
                ("node_p2p_bans_total", "Peers banned.", s.bans),
                (
                    "node_p2p_handshakes_refused_total",
                    "Handshakes refused.",
                    s.handshakes_refused,
                ),
                (
                    "node_p2p_messages_dropped_total",
                    "Broadcasts dropped on full peer queues.",
                    s.messages_dropped,
                ),
            ];
            for (name, help, value) in p2p_counters {
                m.family(name, "counter", help)
                    .sample(name, &network, value as f64);
            }
        }
        m.finish()
    }
}
