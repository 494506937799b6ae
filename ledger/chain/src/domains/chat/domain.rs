//! [`ChatState`] as a domain of the chain: transactions carrying
//! [`Payload::Chat`] are checked by [`super::rules::prepare`] against the
//! chat state and the identity domain's state.

use std::any::Any;

use ledger::payload::Payload;
use ledger::{Hash32, Transaction};

use super::{ChatState, DOMAIN};
use crate::domains::identity::IdentityState;
use crate::state::{DomainChange, DomainContext, DomainError, DomainState};

impl DomainState for ChatState {
    fn name(&self) -> &'static str {
        DOMAIN
    }

    fn prepare(
        &self,
        transaction: &Transaction,
        context: &DomainContext<'_>,
    ) -> Result<Option<DomainChange>, DomainError> {
        let Some(Payload::Chat(operation)) = &transaction.payload else {
            return Ok(None);
        };
        let identities = context
            .domain::<IdentityState>()
            .ok_or_else(|| DomainError {
                domain: DOMAIN,
                message: "the identity domain is not registered; chat needs it".into(),
            })?;
        super::rules::prepare(self, identities, operation, context)
            .map(Some)
            .map_err(|error| DomainError {
                domain: DOMAIN,
                message: error.to_string(),
            })
    }

    fn apply(&mut self, change: &[u8]) -> Result<(), DomainError> {
        self.apply_change(change)
    }

    fn revert(&mut self, change: &[u8]) -> Result<(), DomainError> {
        self.revert_change(change)
    }

    fn commitment(&self) -> Hash32 {
        self.state_commitment()
    }

    fn clone_box(&self) -> Box<dyn DomainState> {
        Box::new(self.clone())
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}
