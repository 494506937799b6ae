//! The storage read model: the storage domain's events
//! (`chain::domains::storage::StorageEvent`) folded into the PostgreSQL
//! schema `storage`: nodes by failure domain with capacity and reported
//! state, objects with their policy, the actual node of every shard, and
//! the view `storage_object_health` (optimal, degraded, at risk, lost).
//!
//! Tables in `migrations/storage/`, documented in `docs/storage.md`. Like
//! every model it writes forward only; reverts are the runtime's generic
//! undo.

use chain::domains::storage::{DOMAIN, StorageEvent};
use chain::events::{Direction, EventBody};
use chain::stream::BlockMessage;
use futures::future::BoxFuture;
use ledger::BlockHeight;
use sqlx::PgConnection;
use sqlx::migrate::Migrator;

use crate::model::ReadModel;

/// The storage model's migrations.
pub static STORAGE_MIGRATOR: Migrator = sqlx::migrate!("../migrations/storage");

/// Why the storage model could not fold a block: bad data, which stops
/// the model (surfaced as `sqlx::Error::Decode`).
#[derive(Debug, thiserror::Error)]
pub enum StorageModelError {
    #[error("PostgreSQL: {0}")]
    Database(#[from] sqlx::Error),
    #[error("block at height {height}: storage event {index} does not decode: {reason}")]
    Undecodable {
        height: BlockHeight,
        index: u64,
        reason: String,
    },
    #[error("block at height {height}: event {index} is a revert event in an applied block")]
    RevertEventInApply { height: BlockHeight, index: u64 },
}

impl From<StorageModelError> for sqlx::Error {
    fn from(error: StorageModelError) -> sqlx::Error {
        match error {
            StorageModelError::Database(error) => error,
            other => sqlx::Error::Decode(Box::new(other)),
        }
    }
}

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
    ) -> Result<(), StorageModelError> {
        let height = message.height;
        for event in &message.events {
            let EventBody::Domain { domain, data, .. } = &event.body else {
                continue;
            };
            if domain != DOMAIN {
                continue;
            }
            let index = event.position.index;
            if event.direction != Direction::Apply {
                return Err(StorageModelError::RevertEventInApply { height, index });
            }
            let decoded =
                StorageEvent::decode(data).map_err(|error| StorageModelError::Undecodable {
                    height,
                    index,
                    reason: error.to_string(),
                })?;
            fold(connection, big(height.0), &decoded).await?;
        }
        Ok(())
    }
}

async fn fold(
    connection: &mut PgConnection,
    height: i64,
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
                "UPDATE storage_node SET state = $2, free_bytes = $3, updated_height = $4
                 WHERE id = $1",
            )
            .bind(node.0.0.to_vec())
            .bind(state.name())
            .bind(big(*free_bytes))
            .bind(height)
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
