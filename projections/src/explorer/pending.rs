//! Pending transactions: the explorer's `pending_transaction` table follows
//! the nodes' pool events (core NATS, not persisted). Accepted transactions
//! appear with their fee, size and first-seen time; dropped ones vanish;
//! applying a block removes the ones it mined (see `write.rs`). These rows
//! are not chain history: they are written outside the runtime's block
//! transactions, so they never enter the undo log, and a rebuild starts
//! with none (the pool refills them as events arrive).

use chain::stream::{self, PoolEvent};
use futures::StreamExt;
use ledger::codec;
use sqlx::PgPool;
use tokio_util::sync::CancellationToken;
use tracing::{debug, warn};

use crate::error::{ProjectionError, nats};

/// Writes one pool event into `explorer.pending_transaction`.
pub async fn record(pool: &PgPool, event: &PoolEvent) -> Result<(), ProjectionError> {
    match event {
        PoolEvent::Accepted { id, transaction } => {
            let encoded = codec::encode(transaction.as_ref());
            sqlx::query(
                "INSERT INTO explorer.pending_transaction (id, encoded, fee, size, first_seen_at)
                 VALUES ($1, $2, $3::numeric, $4, now())
                 ON CONFLICT (id) DO NOTHING",
            )
            .bind(id.0.0.as_slice())
            .bind(&encoded)
            .bind(transaction.fee.0.to_string())
            .bind(i32::try_from(encoded.len()).unwrap_or(i32::MAX))
            .execute(pool)
            .await?;
        }
        PoolEvent::Dropped { id, .. } => {
            sqlx::query("DELETE FROM explorer.pending_transaction WHERE id = $1")
                .bind(id.0.0.as_slice())
                .execute(pool)
                .await?;
        }
    }
    Ok(())
}

/// Follows the pool events of `network` until `shutdown`. Undecodable
/// events are logged and skipped (they are advisory, not history);
/// PostgreSQL failures are logged and the event is lost, which only delays
/// a pending row until the next event or the block that mines it.
pub async fn follow_pool(
    pool: PgPool,
    client: async_nats::Client,
    network: String,
    shutdown: CancellationToken,
) -> Result<(), ProjectionError> {
    let mut events = client
        .subscribe(stream::pool_subjects(&network))
        .await
        .map_err(nats)?;
    loop {
        let message = tokio::select! {
            _ = shutdown.cancelled() => return Ok(()),
            message = events.next() => match message {
                Some(message) => message,
                None => return Ok(()),
            },
        };
        match PoolEvent::decode(&message.payload) {
            Ok(event) => match record(&pool, &event).await {
                Ok(()) => debug!(subject = %message.subject, "pool event recorded"),
                Err(error) => warn!(%error, "pool event not recorded"),
            },
            Err(error) => {
                warn!(subject = %message.subject, %error, "undecodable pool event skipped")
            }
        }
    }
}
