//! The storage read model: the storage domain's events
//! (`chain::domains::storage::StorageEvent`) folded into the PostgreSQL
//! schema `storage`: nodes by failure domain with capacity and reported
//! state, objects with their policy, the actual node of every shard, and
//! the view `storage_object_health` (optimal, degraded, at risk, lost),
//! and the desired placement of every live object (where
//! `chain::domains::storage::placement::rebalance` puts each shard given
//! the nodes now), recomputed after every block with storage events.
//!
//! Tables in `migrations/storage/`, documented in `docs/storage.md`. Like
//! every model it writes forward only; reverts are the runtime's generic
//! undo.

use std::collections::BTreeSet;

use chain::domains::storage::placement::{
    PlacementNode, PlacementRequest, nominal_shard_bytes, rebalance,
};
use chain::domains::storage::{DOMAIN, StorageEvent};
use chain::stream::BlockMessage;
use futures::future::BoxFuture;
use ledger::Hash32;
use ledger::payload::storage::{
    DomainLevel, ErasurePolicy, FailureDomain, NodeState, ObjectId, StorageNodeId, Tolerance,
};
use sqlx::PgConnection;
use sqlx::migrate::Migrator;

use crate::domain::{ModelError, domain_events};
use crate::model::ReadModel;

/// The storage model's migrations.
pub static STORAGE_MIGRATOR: Migrator = sqlx::migrate!("../migrations/storage");

/// The storage read model.
#[derive(Debug, Clone, Default)]
pub struct Storage;

/// Bytes stored as BIGINT (PostgreSQL has no unsigned type; values above
/// `i64::MAX` are clamped, which no real capacity reaches).
fn big(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

impl Storage {
    /// Writes what the storage events of one applied block change.
    pub async fn apply_block(
        &self,
        connection: &mut PgConnection,
        message: &BlockMessage,
    ) -> Result<(), ModelError> {
        let height = message.height;
        let at = big(message.block.header.timestamp.0);
        let mut touched = Touched::default();
        for event in domain_events(message, DOMAIN, StorageEvent::decode)? {
            touched.note(&event.event);
            fold(connection, big(height.0), at, &event.event).await?;
        }
        if touched.nodes || !touched.objects.is_empty() {
            let only = (!touched.nodes).then_some(touched.objects);
            update_desired_placement(connection, only)
                .await
                .map_err(|reason| match reason {
                    DesiredError::Database(error) => ModelError::Database(error),
                    DesiredError::Corrupt(detail) => ModelError::Inconsistent {
                        domain: DOMAIN,
                        height,
                        detail,
                    },
                })?;
        }
        Ok(())
    }
}

/// What a block's storage events changed, for the desired placement.
#[derive(Default)]
struct Touched {
    /// A node was registered, reported or retired: every object may move.
    nodes: bool,
    objects: BTreeSet<Vec<u8>>,
}

impl Touched {
    fn note(&mut self, event: &StorageEvent) {
        match event {
            StorageEvent::NodeRegistered { .. }
            | StorageEvent::NodeReported { .. }
            | StorageEvent::NodeRetired { .. } => self.nodes = true,
            StorageEvent::ObjectRegistered { object, .. }
            | StorageEvent::ObjectRepaired { object, .. } => {
                self.objects.insert(object.0.0.to_vec());
            }
            StorageEvent::ObjectDeleted { .. }
            | StorageEvent::RepairerAuthorized { .. }
            | StorageEvent::RepairerRevoked { .. } => {}
        }
    }
}

enum DesiredError {
    Database(sqlx::Error),
    Corrupt(String),
}

impl From<sqlx::Error> for DesiredError {
    fn from(error: sqlx::Error) -> DesiredError {
        DesiredError::Database(error)
    }
}

/// A stored node state (`retired` nodes are not placement nodes).
pub fn node_state(name: &str) -> Option<NodeState> {
    Some(match name {
        "healthy" => NodeState::Healthy,
        "degraded" => NodeState::Degraded,
        "full" => NodeState::Full,
        "leaving" => NodeState::Leaving,
        _ => return None,
    })
}

/// A stored tolerance level.
pub fn domain_level(name: &str) -> Option<DomainLevel> {
    Some(match name {
        "region" => DomainLevel::Region,
        "datacenter" => DomainLevel::Datacenter,
        "farm" => DomainLevel::Farm,
        _ => return None,
    })
}

fn id32(bytes: &[u8]) -> Result<Hash32, DesiredError> {
    let array: [u8; 32] = bytes
        .try_into()
        .map_err(|_| DesiredError::Corrupt(format!("ID {} is not 32 bytes", hex::encode(bytes))))?;
    Ok(Hash32(array))
}

#[derive(sqlx::FromRow)]
struct NodeRow {
    id: Vec<u8>,
    region: String,
    datacenter: String,
    farm: String,
    free_bytes: i64,
    state: String,
}

/// The columns of `storage_object` (aliased `o`) that [`StoredObject`]
/// reads; a query selects them and adds its own.
pub const OBJECT_COLUMNS: &str = "o.id, o.owner, o.owner_key, o.size, o.data_shards,
        o.parity_shards, o.tolerance_level, o.tolerance_domains, o.tolerance_nodes, o.chunk_bytes,
        o.content_hash, o.key_fingerprint, o.registered_height, o.repairs, o.deleted_height,
        o.placement_error";

/// One stored object (a row of `storage_object`, [`OBJECT_COLUMNS`]) as
/// its readers see it: the desired placement here, the API and the repair
/// service each flatten it (`#[sqlx(flatten)]`) into a row of their own
/// with what their query adds.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct StoredObject {
    pub id: Vec<u8>,
    pub owner: Vec<u8>,
    pub owner_key: Vec<u8>,
    pub size: i64,
    pub data_shards: i32,
    pub parity_shards: i32,
    pub tolerance_level: String,
    pub tolerance_domains: i32,
    pub tolerance_nodes: i32,
    pub chunk_bytes: i32,
    pub content_hash: Vec<u8>,
    pub key_fingerprint: Vec<u8>,
    pub registered_height: i64,
    pub repairs: i32,
    pub deleted_height: Option<i64>,
    pub placement_error: Option<String>,
}

impl StoredObject {
    /// The object's erasure policy; `None` when a stored value is out of
    /// range (a corrupt row: the fold only stores valid policies).
    pub fn policy(&self) -> Option<ErasurePolicy> {
        let small = |value: i32| u8::try_from(value).ok();
        Some(ErasurePolicy {
            data_shards: small(self.data_shards)?,
            parity_shards: small(self.parity_shards)?,
            tolerance: Tolerance {
                level: domain_level(&self.tolerance_level)?,
                domains: small(self.tolerance_domains)?,
                nodes: small(self.tolerance_nodes)?,
            },
        })
    }
}

#[derive(sqlx::FromRow)]
struct ObjectRow {
    #[sqlx(flatten)]
    object: StoredObject,
    nodes: Vec<Vec<u8>>,
    desired: Vec<Option<Vec<u8>>>,
}

/// Recomputes the desired placement of `only` these objects (all live
/// ones when `None`), writing only what changed.
async fn update_desired_placement(
    connection: &mut PgConnection,
    only: Option<BTreeSet<Vec<u8>>>,
) -> Result<(), DesiredError> {
    let nodes: Vec<NodeRow> = sqlx::query_as(
        "SELECT id, region, datacenter, farm, free_bytes, state FROM storage_node
         WHERE state <> 'retired' ORDER BY id",
    )
    .fetch_all(&mut *connection)
    .await?;
    let mut placement_nodes = Vec::with_capacity(nodes.len());
    for row in nodes {
        let state = node_state(&row.state)
            .ok_or_else(|| DesiredError::Corrupt(format!("node state {:?}", row.state)))?;
        placement_nodes.push(PlacementNode {
            id: StorageNodeId(id32(&row.id)?),
            domain: FailureDomain {
                region: row.region,
                datacenter: row.datacenter,
                farm: row.farm,
            },
            free_bytes: u64::try_from(row.free_bytes).unwrap_or(0),
            state,
        });
    }
    let only: Option<Vec<Vec<u8>>> = only.map(|set| set.into_iter().collect());
    let objects: Vec<ObjectRow> = sqlx::query_as(&format!(
        "SELECT {OBJECT_COLUMNS},
                array_agg(s.node ORDER BY s.shard_index) AS nodes,
                array_agg(s.desired_node ORDER BY s.shard_index) AS desired
           FROM storage_object o JOIN storage_shard s ON s.object = o.id
          WHERE o.deleted_height IS NULL AND ($1::bytea[] IS NULL OR o.id = ANY($1))
          GROUP BY o.id ORDER BY o.id"
    ))
    .bind(only)
    .fetch_all(&mut *connection)
    .await?;
    for ObjectRow {
        object,
        nodes,
        desired: stored_desired,
    } in objects
    {
        let policy = object
            .policy()
            .ok_or_else(|| DesiredError::Corrupt(format!("object {}", hex::encode(&object.id))))?;
        let request = PlacementRequest {
            object: ObjectId(id32(&object.id)?),
            policy,
            shard_bytes: nominal_shard_bytes(
                u64::try_from(object.size).unwrap_or(0),
                policy.data_shards,
            ),
        };
        let current = nodes
            .iter()
            .map(|node| id32(node).map(|id| Some(StorageNodeId(id))))
            .collect::<Result<Vec<_>, _>>()?;
        let (desired, error): (Vec<Option<Vec<u8>>>, Option<String>) =
            match rebalance(&request, &placement_nodes, &current) {
                Ok(placement) => (
                    placement
                        .shards
                        .iter()
                        .map(|node| Some(node.0.0.to_vec()))
                        .collect(),
                    None,
                ),
                Err(error) => (vec![None; current.len()], Some(error.to_string())),
            };
        for (index, (new, old)) in desired.iter().zip(&stored_desired).enumerate() {
            if new != old {
                sqlx::query(
                    "UPDATE storage_shard SET desired_node = $3 WHERE object = $1 AND shard_index = $2",
                )
                .bind(&object.id)
                .bind(index as i32)
                .bind(new)
                .execute(&mut *connection)
                .await?;
            }
        }
        if error != object.placement_error {
            sqlx::query("UPDATE storage_object SET placement_error = $2 WHERE id = $1")
                .bind(&object.id)
                .bind(&error)
                .execute(&mut *connection)
                .await?;
        }
    }
    Ok(())
}

async fn fold(
    connection: &mut PgConnection,
    height: i64,
    at: i64,
    event: &StorageEvent,
) -> Result<(), sqlx::Error> {
    match event {
        StorageEvent::NodeRegistered { node, record } => {
            sqlx::query(
                "INSERT INTO storage_node (id, owner, node_key, endpoint, region, datacenter, farm,
                     capacity_bytes, free_bytes, state, registered_height, updated_height)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $11)",
            )
            .bind(node.0.0.to_vec())
            .bind(record.owner.0.0.to_vec())
            .bind(record.node_key.0.to_vec())
            .bind(&record.endpoint)
            .bind(&record.domain.region)
            .bind(&record.domain.datacenter)
            .bind(&record.domain.farm)
            .bind(big(record.capacity_bytes))
            .bind(big(record.free_bytes))
            .bind(record.state.name())
            .bind(height)
            .execute(&mut *connection)
            .await?;
        }
        StorageEvent::NodeReported {
            node,
            state,
            free_bytes,
        } => {
            sqlx::query(
                "UPDATE storage_node SET state = $2, free_bytes = $3, updated_height = $4,
                     reported_height = $4, reported_at = $5
                 WHERE id = $1",
            )
            .bind(node.0.0.to_vec())
            .bind(state.name())
            .bind(big(*free_bytes))
            .bind(height)
            .bind(at)
            .execute(&mut *connection)
            .await?;
        }
        StorageEvent::NodeRetired { node } => {
            sqlx::query(
                "UPDATE storage_node SET state = 'retired', updated_height = $2 WHERE id = $1",
            )
            .bind(node.0.0.to_vec())
            .bind(height)
            .execute(&mut *connection)
            .await?;
        }
        StorageEvent::ObjectRegistered { object, record } => {
            let tolerance = record.policy.tolerance;
            sqlx::query(
                "INSERT INTO storage_object (id, owner, owner_key, size, data_shards, parity_shards,
                     tolerance_level, tolerance_domains, tolerance_nodes, chunk_bytes, content_hash,
                     key_fingerprint, registered_height, repairs)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, 0)",
            )
            .bind(object.0.0.to_vec())
            .bind(record.owner.0.0.to_vec())
            .bind(record.owner_key.0.to_vec())
            .bind(big(record.size))
            .bind(i32::from(record.policy.data_shards))
            .bind(i32::from(record.policy.parity_shards))
            .bind(tolerance.level.name())
            .bind(i32::from(tolerance.domains))
            .bind(i32::from(tolerance.nodes))
            .bind(i32::try_from(record.chunk_bytes).unwrap_or(i32::MAX))
            .bind(record.content_hash.0.to_vec())
            .bind(record.key_fingerprint.0.to_vec())
            .bind(height)
            .execute(&mut *connection)
            .await?;
            for (shard, (node, checksum)) in record
                .shard_nodes
                .iter()
                .zip(&record.shard_checksums)
                .enumerate()
            {
                sqlx::query(
                    "INSERT INTO storage_shard (object, shard_index, node, checksum, placed_height)
                     VALUES ($1, $2, $3, $4, $5)",
                )
                .bind(object.0.0.to_vec())
                .bind(shard as i32)
                .bind(node.0.0.to_vec())
                .bind(checksum.0.to_vec())
                .bind(height)
                .execute(&mut *connection)
                .await?;
            }
        }
        StorageEvent::ObjectDeleted { object } => {
            sqlx::query("UPDATE storage_object SET deleted_height = $2 WHERE id = $1")
                .bind(object.0.0.to_vec())
                .bind(height)
                .execute(&mut *connection)
                .await?;
        }
        StorageEvent::ObjectRepaired { object, moves } => {
            for (shard, node) in moves {
                sqlx::query(
                    "UPDATE storage_shard SET node = $3, placed_height = $4
                     WHERE object = $1 AND shard_index = $2",
                )
                .bind(object.0.0.to_vec())
                .bind(i32::from(*shard))
                .bind(node.0.0.to_vec())
                .bind(height)
                .execute(&mut *connection)
                .await?;
            }
            sqlx::query("UPDATE storage_object SET repairs = repairs + 1 WHERE id = $1")
                .bind(object.0.0.to_vec())
                .execute(&mut *connection)
                .await?;
        }
        StorageEvent::RepairerAuthorized { owner, repairer } => {
            sqlx::query(
                "INSERT INTO storage_repairer (owner, repairer, authorized_height) VALUES ($1, $2, $3)",
            )
            .bind(owner.0.0.to_vec())
            .bind(repairer.0.to_vec())
            .bind(height)
            .execute(&mut *connection)
            .await?;
        }
        StorageEvent::RepairerRevoked { owner, repairer } => {
            sqlx::query("DELETE FROM storage_repairer WHERE owner = $1 AND repairer = $2")
                .bind(owner.0.0.to_vec())
                .bind(repairer.0.to_vec())
                .execute(&mut *connection)
                .await?;
        }
    }
    Ok(())
}

impl ReadModel for Storage {
    fn name(&self) -> &'static str {
        "storage"
    }

    fn migrator(&self) -> &'static Migrator {
        &STORAGE_MIGRATOR
    }

    fn apply<'a>(
        &'a self,
        connection: &'a mut PgConnection,
        message: &'a BlockMessage,
    ) -> BoxFuture<'a, Result<(), sqlx::Error>> {
        Box::pin(async move { Ok(self.apply_block(connection, message).await?) })
    }
}
