//! The identity read model: the identity domain's events
//! (`chain::domains::identity::IdentityEvent`) folded into the PostgreSQL
//! schema `identity`: identities, keys with their history, attributes
//! (label and commitment only), attestations, organizations (a tree by
//! path), direct roles, invitations with their outcome, vouches,
//! authorizations and a per-identity activity feed.
//!
//! The tables are in `migrations/identity/` and documented in
//! `docs/identity.md`. Like every model it writes forward only; reverts
//! are the runtime's generic undo. [`fold`] holds one statement per
//! event kind.

pub mod fold;

use chain::domains::identity::{DOMAIN, IdentityEvent};
use chain::events::{Direction, EventBody};
use chain::stream::BlockMessage;
use futures::future::BoxFuture;
use ledger::BlockHeight;
use sqlx::PgConnection;
use sqlx::migrate::Migrator;

use crate::model::ReadModel;

/// The identity model's migrations.
pub static IDENTITY_MIGRATOR: Migrator = sqlx::migrate!("../migrations/identity");

/// Why the identity model could not fold a block: bad data, which stops
/// the model (surfaced as `sqlx::Error::Decode`).
#[derive(Debug, thiserror::Error)]
pub enum IdentityModelError {
    #[error("PostgreSQL: {0}")]
    Database(#[from] sqlx::Error),
    #[error("block at height {height}: identity event {index} does not decode: {reason}")]
    Undecodable {
        height: BlockHeight,
        index: u64,
        reason: String,
    },
    #[error("block at height {height}: event {index} is a revert event in an applied block")]
    RevertEventInApply { height: BlockHeight, index: u64 },
    #[error(
        "block at height {height}: identity event {index} names transaction {transaction:?}, which the block does not hold"
    )]
    NoTransaction {
        height: BlockHeight,
        index: u64,
        transaction: Option<u64>,
    },
}

impl From<IdentityModelError> for sqlx::Error {
    fn from(error: IdentityModelError) -> sqlx::Error {
        match error {
            IdentityModelError::Database(error) => error,
            other => sqlx::Error::Decode(Box::new(other)),
        }
    }
}

/// The identity read model.
#[derive(Debug, Clone, Default)]
pub struct Identity;

impl Identity {
    pub fn new() -> Identity {
        Identity
    }

    /// Writes what the identity events of one applied block change.
    pub async fn apply_block(
        &self,
        connection: &mut PgConnection,
        message: &BlockMessage,
    ) -> Result<(), IdentityModelError> {
        let height = message.height;
        let mut transaction_ids = None;
        for event in &message.events {
            let EventBody::Domain { domain, data, .. } = &event.body else {
                continue;
            };
            if domain != DOMAIN {
                continue;
            }
            let index = event.position.index;
            if event.direction != Direction::Apply {
                return Err(IdentityModelError::RevertEventInApply { height, index });
            }
            let decoded =
                IdentityEvent::decode(data).map_err(|error| IdentityModelError::Undecodable {
                    height,
                    index,
                    reason: error.to_string(),
                })?;
            let ids: &mut Vec<ledger::TransactionId> = transaction_ids.get_or_insert_with(|| {
                message
                    .block
                    .transactions
                    .iter()
                    .map(ledger::Transaction::id)
                    .collect()
            });
            let transaction = event.position.transaction;
            let transaction_id = transaction
                .and_then(|tx| usize::try_from(tx).ok())
                .and_then(|tx| ids.get(tx))
                .copied()
                .ok_or(IdentityModelError::NoTransaction {
                    height,
                    index,
                    transaction,
                })?;
            let at = fold::At {
                height: height.0 as i64,
                event_index: index as i64,
                transaction_index: transaction.unwrap_or_default() as i32,
                transaction_id: transaction_id.0.0.to_vec(),
            };
            fold::fold_event(connection, &at, &decoded).await?;
        }
        Ok(())
    }
}

impl ReadModel for Identity {
    fn name(&self) -> &'static str {
        "identity"
    }

    fn migrator(&self) -> &'static Migrator {
        &IDENTITY_MIGRATOR
    }

    fn apply<'a>(
        &'a self,
        connection: &'a mut PgConnection,
        message: &'a BlockMessage,
    ) -> BoxFuture<'a, Result<(), sqlx::Error>> {
        Box::pin(async move { Ok(self.apply_block(connection, message).await?) })
    }
}
