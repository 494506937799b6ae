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
use chain::stream::BlockMessage;
use futures::future::BoxFuture;
use sqlx::PgConnection;
use sqlx::migrate::Migrator;

use crate::domain::{ModelError, TransactionIds, domain_events};
use crate::model::ReadModel;

/// The identity model's migrations.
pub static IDENTITY_MIGRATOR: Migrator = sqlx::migrate!("../migrations/identity");

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
    ) -> Result<(), ModelError> {
        let height = message.height;
        let mut transaction_ids = TransactionIds::new(message, DOMAIN);
        for event in domain_events(message, DOMAIN, IdentityEvent::decode)? {
            let transaction_id = transaction_ids.of(&event)?;
            let at = fold::At {
                height: height.0 as i64,
                event_index: event.index as i64,
                transaction_index: event.transaction.unwrap_or_default() as i32,
                transaction_id: transaction_id.0.0.to_vec(),
            };
            fold::fold_event(connection, &at, &event.event).await?;
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
