//! The zero storage repair service.
//!
//! Every pass it reads the storage read model (nodes, the objects of
//! owners who authorized its key, their shard locations), probes every
//! node's `/healthz`, lists the shards each answering node holds (and now
//! and then asks it to re-verify them), and for every object decides per
//! shard:
//!
//! * **move**: the holder is retired, reports `leaving`, or has not
//!   answered `down_after` probes in a row → the shard is rebuilt from any
//!   `k` others onto the node `placement::repair_targets` chooses (the
//!   same function the chain checks a delegated repair against), then the
//!   move is recorded on chain (`RecordRepair`, signed by the repair key
//!   and paid from its coins);
//! * **rewrite**: the holder answers but lacks the shard or found it
//!   corrupt → the shard is rebuilt onto the same node (nothing changes on
//!   chain).
//!
//! The service never holds owners' keys: `stor::transfer::rebuild_shards_to`
//! recomputes shard files byte for byte from the others, and the nodes
//! accept its writes because its key is one of their repair keys. Health
//! (`/healthz`), Prometheus metrics (`/metrics`), tracing, clean shutdown
//! on SIGINT/SIGTERM. Documented in `docs/storage.md` ("Repair service").

pub mod chain_io;
pub mod settings;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::str::FromStr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chain::domains::storage::placement::{
    PlacementNode, PlacementRequest, nominal_shard_bytes, repair_targets,
};
use ledger::Hash32;
use ledger::payload::storage::{FailureDomain, NodeState, ObjectId, StorageAction, StorageNodeId};
use projections::storage::{OBJECT_COLUMNS, StoredObject, node_state};
use serde::Deserialize;
use service::{Health, Metrics, Observable};
use sqlx::PgPool;
use stor::transfer::{NodeClient, ObjectRecord, delete_shard, rebuild_shards_to};
use thiserror::Error;
use tokio_util::sync::CancellationToken;

pub use settings::Settings;

/// How often a long rebuild logs that it is still going.
const PROGRESS_EVERY: Duration = Duration::from_secs(5);

/// Why a pass or one object's repair failed.
#[derive(Debug, Error)]
pub enum RepairError {
    #[error("reading the storage read model: {0}")]
    Database(#[from] sqlx::Error),
    #[error("the read model holds a malformed {0}")]
    Corrupt(String),
    #[error(
        "object {object}: only {usable} usable shards of the {needed} needed; it cannot be rebuilt"
    )]
    TooFewShards {
        object: String,
        usable: usize,
        needed: usize,
    },
    #[error("object {object}: no placement for the repair: {reason}")]
    Placement { object: String, reason: String },
    #[error("object {object}: shard {shard} would go to node {node}, which does not answer")]
    TargetDown {
        object: String,
        shard: usize,
        node: String,
    },
    #[error("object {object}: reading a shard header from {endpoint}: {reason}")]
    Header {
        object: String,
        endpoint: String,
        reason: String,
    },
    #[error("object {object}: rebuilding: {reason}")]
    Rebuild { object: String, reason: String },
    #[error("object {object}: recording the repair: {source}")]
    Record {
        object: String,
        #[source]
        source: chain_io::SubmitError,
    },
}

/// Counters and gauges behind `/metrics` and `/healthz`.
#[derive(Debug, Default)]
pub struct Stats {
    pub passes: AtomicU64,
    pub failed_passes: AtomicU64,
    pub probe_failures: AtomicU64,
    pub nodes_down: AtomicU64,
    pub shards_rebuilt: AtomicU64,
    pub repairs_recorded: AtomicU64,
    pub repair_failures: AtomicU64,
    pub objects_watched: AtomicU64,
    pub objects_needing_repair: AtomicU64,
    /// The last pass could not read the model.
    pub unhealthy: AtomicBool,
    pub last_error: Mutex<String>,
}

impl Observable for Stats {
    fn health(&self) -> Health {
        if self.unhealthy.load(Ordering::Relaxed) {
            let reason = self
                .last_error
                .lock()
                .map(|text| text.clone())
                .unwrap_or_default();
            Health::Degraded(reason)
        } else {
            Health::Ok
        }
    }

    fn metrics(&self) -> String {
        let mut metrics = Metrics::new();
        let get = |counter: &AtomicU64| counter.load(Ordering::Relaxed) as f64;
        for (name, kind, help, value) in [
            (
                "stor_repair_passes_total",
                "counter",
                "Repair passes run.",
                get(&self.passes),
            ),
            (
                "stor_repair_failed_passes_total",
                "counter",
                "Passes that could not read the read model.",
                get(&self.failed_passes),
            ),
            (
                "stor_repair_probe_failures_total",
                "counter",
                "Node health probes that failed.",
                get(&self.probe_failures),
            ),
            (
                "stor_repair_nodes_down",
                "gauge",
                "Nodes treated as gone (no answer to the last probes).",
                get(&self.nodes_down),
            ),
            (
                "stor_repair_shards_rebuilt_total",
                "counter",
                "Shards rebuilt and written.",
                get(&self.shards_rebuilt),
            ),
            (
                "stor_repair_repairs_recorded_total",
                "counter",
                "Repairs submitted to the chain and accepted by a node.",
                get(&self.repairs_recorded),
            ),
            (
                "stor_repair_failures_total",
                "counter",
                "Object repairs that failed (retried next pass).",
                get(&self.repair_failures),
            ),
            (
                "stor_repair_objects_watched",
                "gauge",
                "Live objects whose owners authorized this repair key.",
                get(&self.objects_watched),
            ),
            (
                "stor_repair_objects_needing_repair",
                "gauge",
                "Objects the last pass found with shards to move or rewrite.",
                get(&self.objects_needing_repair),
            ),
        ] {
            metrics.family(name, kind, help).sample(name, &[], value);
        }
        metrics.finish()
    }
}

/// A node as the read model and the probes see it.
#[derive(Debug, Clone)]
struct Node {
    id: StorageNodeId,
    endpoint: String,
    placement: PlacementNode,
    up: bool,
}

/// One entry of a stor-node's `GET /v1/shards`.
#[derive(Debug, Clone, Deserialize)]
struct Listed {
    object: String,
    shard: u8,
    length: u64,
    salt: String,
    corrupt: bool,
}

#[derive(Debug, sqlx::FromRow)]
struct NodeRow {
    id: Vec<u8>,
    endpoint: String,
    region: String,
    datacenter: String,
    farm: String,
    free_bytes: i64,
    state: String,
}

/// A watched object: its stored row and its shards' holders and
/// checksums, in shard order.
#[derive(Debug, sqlx::FromRow)]
struct ObjectRow {
    #[sqlx(flatten)]
    object: StoredObject,
    nodes: Vec<Vec<u8>>,
    checksums: Vec<Vec<u8>>,
}

/// What one object needs.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Plan {
    /// Shards to rebuild elsewhere (their holder is gone).
    pub moves: BTreeSet<usize>,
    /// Shards to rebuild on their holder (missing there or corrupt).
    pub rewrites: BTreeSet<usize>,
}

fn id32(bytes: &[u8], what: &str) -> Result<Hash32, RepairError> {
    bytes
        .try_into()
        .map(Hash32)
        .map_err(|_| RepairError::Corrupt(format!("{what} {}", hex::encode(bytes))))
}

/// The repair service.
pub struct Repairer {
    settings: Settings,
    pool: PgPool,
    nats: async_nats::Client,
    client: NodeClient,
    http: reqwest::Client,
    stats: Arc<Stats>,
    /// Consecutive failed probes per node.
    failures: HashMap<StorageNodeId, u32>,
    /// Repairs submitted but not yet in the read model: object → (moves, when).
    pending: HashMap<ObjectId, (Vec<(u8, StorageNodeId)>, Instant)>,
    coins: chain_io::CoinPicker,
    pass: u64,
}

impl Repairer {
    pub fn new(
        settings: Settings,
        pool: PgPool,
        nats: async_nats::Client,
        stats: Arc<Stats>,
    ) -> Repairer {
        let http = reqwest::Client::builder()
            .timeout(settings.probe_timeout)
            .build()
            .unwrap_or_default();
        Repairer {
            coins: chain_io::CoinPicker::new(&settings.key),
            settings,
            pool,
            nats,
            client: NodeClient::new(),
            http,
            stats,
            failures: HashMap::new(),
            pending: HashMap::new(),
            pass: 0,
        }
    }

    /// Runs passes every `interval` until `shutdown`.
    pub async fn run(mut self, shutdown: CancellationToken) {
        tracing::info!(
            key = %hex::encode(self.settings.key.public_key().0),
            interval_ms = self.settings.interval.as_millis() as u64,
            "repair service started"
        );
        loop {
            match self.pass().await {
                Ok(()) => self.stats.unhealthy.store(false, Ordering::Relaxed),
                Err(error) => {
                    tracing::warn!(%error, "repair pass failed");
                    self.stats.failed_passes.fetch_add(1, Ordering::Relaxed);
                    self.stats.unhealthy.store(true, Ordering::Relaxed);
                    if let Ok(mut last) = self.stats.last_error.lock() {
                        *last = error.to_string();
                    }
                }
            }
            tokio::select! {
                () = shutdown.cancelled() => break,
                () = tokio::time::sleep(self.settings.interval) => {}
            }
        }
        tracing::info!("repair service stopped");
    }

    async fn nodes(&self) -> Result<Vec<Node>, RepairError> {
        let rows: Vec<NodeRow> = sqlx::query_as(
            "SELECT id, endpoint, region, datacenter, farm, free_bytes, state
               FROM storage.storage_node WHERE state <> 'retired' ORDER BY id",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter()
            .map(|row| {
                let id = StorageNodeId(id32(&row.id, "node ID")?);
                let state = node_state(&row.state)
                    .ok_or_else(|| RepairError::Corrupt(format!("node state {:?}", row.state)))?;
                Ok(Node {
                    id,
                    endpoint: row.endpoint,
                    placement: PlacementNode {
                        id,
                        domain: FailureDomain {
                            region: row.region,
                            datacenter: row.datacenter,
                            farm: row.farm,
                        },
                        free_bytes: u64::try_from(row.free_bytes).unwrap_or(0),
                        state,
                    },
                    up: false,
                })
            })
            .collect()
    }

    /// Probes every node; a node is up unless its last `down_after`
    /// probes all failed.
    async fn probe(&mut self, nodes: &mut [Node]) {
        let answers = futures::future::join_all(nodes.iter().map(|node| {
            let url = format!("{}/healthz", node.endpoint.trim_end_matches('/'));
            let http = self.http.clone();
            async move {
                match http.get(url).send().await {
                    // 503 is a full node: it still serves its shards.
                    Ok(response) => response.status().is_success() || response.status() == 503,
                    Err(_) => false,
                }
            }
        }))
        .await;
        let mut down = 0;
        for (node, answered) in nodes.iter_mut().zip(answers) {
            let failures = self.failures.entry(node.id).or_insert(0);
            if answered {
                *failures = 0;
            } else {
                *failures = failures.saturating_add(1);
                self.stats.probe_failures.fetch_add(1, Ordering::Relaxed);
            }
            node.up = *failures < self.settings.down_after;
            if !node.up {
                down += 1;
                if *failures == self.settings.down_after {
                    tracing::warn!(node = %node.id, endpoint = %node.endpoint, "node stopped answering");
                }
            }
        }
        self.stats.nodes_down.store(down, Ordering::Relaxed);
    }

    /// The shards an up node lists (after asking it to re-verify them on
    /// scrub passes): (object hex, shard) → entry.
    async fn listing(&self, node: &Node, scrub: bool) -> Option<HashMap<(String, u8), Listed>> {
        let url = format!("{}/v1/shards", node.endpoint.trim_end_matches('/'));
        let listed: Vec<Listed> = self.http.get(&url).send().await.ok()?.json().await.ok()?;
        if scrub {
            for entry in listed.iter().filter(|entry| !entry.corrupt) {
                let Ok(object) = Hash32::from_str(&entry.object) else {
                    continue;
                };
                // Marks the shard corrupt on the node when it is.
                let _ = self
                    .client
                    .verify_shard(&node.endpoint, &ObjectId(object), usize::from(entry.shard))
                    .await;
            }
            let listed: Vec<Listed> = self.http.get(&url).send().await.ok()?.json().await.ok()?;
            return Some(index_listing(listed));
        }
        Some(index_listing(listed))
    }

    async fn objects(&self) -> Result<Vec<ObjectRow>, RepairError> {
        Ok(sqlx::query_as(&format!(
            "SELECT {OBJECT_COLUMNS},
                    array_agg(s.node ORDER BY s.shard_index) AS nodes,
                    array_agg(s.checksum ORDER BY s.shard_index) AS checksums
               FROM storage.storage_object o JOIN storage.storage_shard s ON s.object = o.id
              WHERE o.deleted_height IS NULL
                AND EXISTS (SELECT 1 FROM storage.storage_repairer r
                             WHERE r.owner = o.owner AND r.repairer = $1)
              GROUP BY o.id ORDER BY o.id"
        ))
        .bind(self.settings.key.public_key().0.to_vec())
        .fetch_all(&self.pool)
        .await?)
    }

    /// One pass over every watched object.
    pub async fn pass(&mut self) -> Result<(), RepairError> {
        self.pass += 1;
        self.stats.passes.fetch_add(1, Ordering::Relaxed);
        let mut nodes = self.nodes().await?;
        self.probe(&mut nodes).await;
        let scrub =
            self.settings.scrub_every > 0 && self.pass.is_multiple_of(self.settings.scrub_every);
        let mut listings: HashMap<StorageNodeId, HashMap<(String, u8), Listed>> = HashMap::new();
        for node in nodes.iter().filter(|node| node.up) {
            if let Some(listing) = self.listing(node, scrub).await {
                listings.insert(node.id, listing);
            }
        }
        let objects = self.objects().await?;
        self.stats
            .objects_watched
            .store(objects.len() as u64, Ordering::Relaxed);
        let by_id: BTreeMap<StorageNodeId, &Node> =
            nodes.iter().map(|node| (node.id, node)).collect();
        let mut needing = 0;
        for row in &objects {
            let object = ObjectId(id32(&row.object.id, "object ID")?);
            let holders = row
                .nodes
                .iter()
                .map(|node| id32(node, "node ID").map(StorageNodeId))
                .collect::<Result<Vec<_>, _>>()?;
            if let Some((moves, since)) = self.pending.get(&object) {
                let landed = moves
                    .iter()
                    .all(|(shard, node)| holders.get(usize::from(*shard)) == Some(node));
                if landed || since.elapsed() > Duration::from_secs(120) {
                    self.pending.remove(&object);
                } else {
                    continue;
                }
            }
            let plan = plan(&object, &holders, &by_id, &listings);
            if plan.moves.is_empty() && plan.rewrites.is_empty() {
                continue;
            }
            needing += 1;
            tracing::info!(
                object = %object,
                moves = ?plan.moves,
                rewrites = ?plan.rewrites,
                "object needs repair"
            );
            match self
                .repair(row, object, &holders, &plan, &nodes, &listings)
                .await
            {
                Ok(()) => {}
                Err(error) => {
                    self.stats.repair_failures.fetch_add(1, Ordering::Relaxed);
                    tracing::warn!(%error, "repair failed; retrying next pass");
                }
            }
        }
        self.stats
            .objects_needing_repair
            .store(needing, Ordering::Relaxed);
        Ok(())
    }

    async fn repair(
        &mut self,
        row: &ObjectRow,
        object: ObjectId,
        holders: &[StorageNodeId],
        plan: &Plan,
        nodes: &[Node],
        listings: &HashMap<StorageNodeId, HashMap<(String, u8), Listed>>,
    ) -> Result<(), RepairError> {
        let name = object.to_string();
        let corrupt = |what: &str| RepairError::Corrupt(format!("{what} of object {name}"));
        let policy = row.object.policy().ok_or_else(|| corrupt("policy"))?;
        let by_id: BTreeMap<StorageNodeId, &Node> =
            nodes.iter().map(|node| (node.id, node)).collect();
        // Sources: shards on up nodes that list them intact.
        let mut sources: Vec<Option<String>> = vec![None; holders.len()];
        let mut sample: Option<&Listed> = None;
        for (index, holder) in holders.iter().enumerate() {
            if plan.moves.contains(&index) || plan.rewrites.contains(&index) {
                continue;
            }
            let (Some(node), Some(listing)) = (by_id.get(holder), listings.get(holder)) else {
                continue;
            };
            if let Some(entry) = listing.get(&(name.clone(), index as u8)) {
                sources[index] = Some(node.endpoint.clone());
                sample = sample.or(Some(entry));
            }
        }
        let usable = sources.iter().flatten().count();
        let needed = usize::from(policy.data_shards);
        let Some(sample) = sample.filter(|_| usable >= needed) else {
            return Err(RepairError::TooFewShards {
                object: name,
                usable,
                needed,
            });
        };
        // Where the moved shards go: the function the chain checks.
        let request = PlacementRequest {
            object,
            policy,
            shard_bytes: nominal_shard_bytes(
                u64::try_from(row.object.size).unwrap_or(0),
                policy.data_shards,
            ),
        };
        let placement_nodes: Vec<PlacementNode> =
            nodes.iter().map(|node| node.placement.clone()).collect();
        let targets = if plan.moves.is_empty() {
            holders.to_vec()
        } else {
            repair_targets(&request, &placement_nodes, holders, &plan.moves)
                .map_err(|error| RepairError::Placement {
                    object: name.clone(),
                    reason: error.to_string(),
                })?
                .shards
        };
        let mut uploads = Vec::new();
        let mut moves = Vec::new();
        for index in plan.moves.iter().chain(&plan.rewrites) {
            let target = targets[*index];
            let node = by_id.get(&target).filter(|node| node.up).ok_or_else(|| {
                RepairError::TargetDown {
                    object: name.clone(),
                    shard: *index,
                    node: target.to_string(),
                }
            })?;
            uploads.push((*index, node.endpoint.clone()));
            if plan.moves.contains(index) {
                moves.push((*index as u8, target));
            }
        }
        let source = sources.iter().flatten().next().cloned().unwrap_or_default();
        let compressed = self.compressed(&object, &sources, &source).await?;
        let record = ObjectRecord {
            object: name.clone(),
            owner: hex::encode(&row.object.owner_key),
            salt: sample.salt.clone(),
            data_shards: policy.data_shards,
            parity_shards: policy.parity_shards,
            chunk_bytes: u32::try_from(row.object.chunk_bytes)
                .map_err(|_| corrupt("chunk size"))?,
            compressed,
            size: u64::try_from(row.object.size).map_err(|_| corrupt("size"))?,
            content_hash: hex::encode(&row.object.content_hash),
            key_fingerprint: hex::encode(&row.object.key_fingerprint),
            shard_checksums: row.checksums.iter().map(hex::encode).collect(),
            // Every shard of an object has the same length (each chunk
            // gives every shard one piece of the same size).
            shard_bytes: vec![sample.length; holders.len()],
        };
        let started = Instant::now();
        let rebuild = rebuild_shards_to(
            &self.client,
            &record,
            &sources,
            &uploads,
            &self.settings.key,
            self.settings.chain_config.params.chain_id,
        );
        tokio::pin!(rebuild);
        // A long rebuild (a large object) logs that it is still going.
        let mut ticker =
            tokio::time::interval_at(tokio::time::Instant::now() + PROGRESS_EVERY, PROGRESS_EVERY);
        let result = loop {
            tokio::select! {
                result = &mut rebuild => break result,
                _ = ticker.tick() => tracing::info!(
                    object = %name,
                    size = row.object.size,
                    shards = uploads.len(),
                    elapsed_s = started.elapsed().as_secs(),
                    "still rebuilding"
                ),
            }
        };
        let faults = result.map_err(|error| RepairError::Rebuild {
            object: name.clone(),
            reason: error.to_string(),
        })?;
        self.stats
            .shards_rebuilt
            .fetch_add(uploads.len() as u64, Ordering::Relaxed);
        tracing::info!(
            object = %name,
            shards = ?uploads.iter().map(|(index, _)| *index).collect::<Vec<_>>(),
            faults = faults.len(),
            elapsed_ms = started.elapsed().as_millis() as u64,
            "shards rebuilt"
        );
        if !moves.is_empty() {
            let submitted = chain_io::submit(
                &self.nats,
                &self.pool,
                &self.settings,
                &mut self.coins,
                StorageAction::RecordRepair {
                    object,
                    moves: moves.clone(),
                },
            )
            .await;
            if let Err(source) = submitted {
                if !matches!(source, chain_io::SubmitError::NoAnswer) {
                    // Not on chain: the moved shards' new copies go again
                    // (the next pass decides afresh).
                    self.remove_unrecorded(&record, &uploads, &plan.moves).await;
                }
                return Err(RepairError::Record {
                    object: name,
                    source,
                });
            }
            self.stats.repairs_recorded.fetch_add(1, Ordering::Relaxed);
            tracing::info!(object = %name, ?moves, "repair recorded on chain");
            self.pending.insert(object, (moves, Instant::now()));
        }
        Ok(())
    }

    /// Deletes the shards written to new holders for a repair the chain
    /// did not take (signed by the repair key, which nodes accept).
    async fn remove_unrecorded(
        &self,
        record: &ObjectRecord,
        uploads: &[(usize, String)],
        moves: &BTreeSet<usize>,
    ) {
        for (shard, endpoint) in uploads.iter().filter(|(shard, _)| moves.contains(shard)) {
            if let Err(error) = delete_shard(
                &self.client,
                record,
                *shard,
                endpoint,
                &self.settings.key,
                self.settings.chain_config.params.chain_id,
            )
            .await
            {
                tracing::warn!(object = %record.object, shard, %endpoint, %error, "could not delete an unrecorded shard");
            }
        }
    }

    /// Whether the object's chunks are compressed: byte 43 of a shard
    /// header (`stor::codec`'s format).
    async fn compressed(
        &self,
        object: &ObjectId,
        sources: &[Option<String>],
        endpoint: &str,
    ) -> Result<bool, RepairError> {
        let header_error = |reason: String| RepairError::Header {
            object: object.to_string(),
            endpoint: endpoint.to_owned(),
            reason,
        };
        let index = sources
            .iter()
            .position(|source| source.as_deref() == Some(endpoint))
            .unwrap_or(0);
        let mut response = self
            .client
            .get_shard(endpoint, object, index)
            .await
            .map_err(|error| header_error(error.to_string()))?;
        let mut header = Vec::with_capacity(stor::codec::HEADER_BYTES);
        while header.len() < stor::codec::HEADER_BYTES {
            match response.chunk().await {
                Ok(Some(bytes)) => header.extend_from_slice(&bytes),
                Ok(None) => break,
                Err(error) => return Err(header_error(error.to_string())),
            }
        }
        match header.get(43) {
            Some(0) => Ok(false),
            Some(1) => Ok(true),
            Some(other) => Err(header_error(format!("compression code {other}"))),
            None => Err(header_error("the shard is shorter than its header".into())),
        }
    }
}

fn index_listing(listed: Vec<Listed>) -> HashMap<(String, u8), Listed> {
    listed
        .into_iter()
        .map(|entry| ((entry.object.clone(), entry.shard), entry))
        .collect()
}

/// What `object` needs given its holders, the nodes (with probe results)
/// and what the up nodes list.
fn plan(
    object: &ObjectId,
    holders: &[StorageNodeId],
    nodes: &BTreeMap<StorageNodeId, &Node>,
    listings: &HashMap<StorageNodeId, HashMap<(String, u8), Listed>>,
) -> Plan {
    let name = object.to_string();
    let mut plan = Plan::default();
    for (index, holder) in holders.iter().enumerate() {
        match nodes.get(holder) {
            None => {
                plan.moves.insert(index);
            }
            Some(node) if !node.up || node.placement.state == NodeState::Leaving => {
                plan.moves.insert(index);
            }
            Some(_) => match listings.get(holder) {
                // Up but its listing failed: wait for the next pass.
                None => {}
                Some(listing) => match listing.get(&(name.clone(), index as u8)) {
                    Some(entry) if !entry.corrupt => {}
                    _ => {
                        plan.rewrites.insert(index);
                    }
                },
            },
        }
    }
    plan
}

/// Starts the health/metrics server and runs the repairer until
/// `shutdown`; `on_listen` gets the bound health address.
pub async fn run(
    settings: Settings,
    shutdown: CancellationToken,
    on_listen: impl FnOnce(std::net::SocketAddr),
) -> anyhow::Result<()> {
    let pool = sqlx::postgres::PgPoolOptions::new()
        .max_connections(2)
        .connect(&settings.database_url)
        .await?;
    let nats = async_nats::connect(&settings.nats_url).await?;
    let stats = Arc::new(Stats::default());
    let (address, server) =
        service::serve_health(settings.listen, stats.clone(), shutdown.clone()).await?;
    tracing::info!(%address, "health and metrics");
    on_listen(address);
    Repairer::new(settings, pool, nats, stats)
        .run(shutdown)
        .await;
    server.await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(byte: u8, up: bool, state: NodeState) -> Node {
        let id = StorageNodeId(Hash32([byte; 32]));
        Node {
            id,
            endpoint: format!("http://127.0.0.1:{byte}"),
            placement: PlacementNode {
                id,
                domain: FailureDomain {
                    region: "eu".into(),
                    datacenter: format!("dc{byte}"),
                    farm: "f".into(),
                },
                free_bytes: 1 << 30,
                state,
            },
            up,
        }
    }

    #[test]
    fn gone_leaving_and_unknown_holders_move_missing_and_corrupt_shards_are_rewritten() {
        let object = ObjectId(Hash32([9; 32]));
        let nodes = [
            node(1, true, NodeState::Healthy),
            node(2, false, NodeState::Healthy),
            node(3, true, NodeState::Leaving),
            node(4, true, NodeState::Healthy),
            node(5, true, NodeState::Full),
        ];
        let by_id: BTreeMap<StorageNodeId, &Node> =
            nodes.iter().map(|node| (node.id, node)).collect();
        let listed = |shard: u8, corrupt: bool| Listed {
            object: object.to_string(),
            shard,
            length: 10,
            salt: String::new(),
            corrupt,
        };
        let mut listings = HashMap::new();
        listings.insert(nodes[0].id, index_listing(vec![listed(0, false)]));
        listings.insert(nodes[3].id, index_listing(vec![listed(3, true)]));
        listings.insert(nodes[4].id, index_listing(vec![]));
        let holders = vec![
            nodes[0].id,
            nodes[1].id,
            nodes[2].id,
            nodes[3].id,
            nodes[4].id,
            StorageNodeId(Hash32([0xee; 32])),
        ];
        let found = plan(&object, &holders, &by_id, &listings);
        assert_eq!(found.moves, BTreeSet::from([1, 2, 5]));
        assert_eq!(found.rewrites, BTreeSet::from([3, 4]));
    }
}
