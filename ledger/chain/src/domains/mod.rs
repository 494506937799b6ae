//! Domain modules: consensus state, stateful rules and pure algorithms of
//! the platform's domains (identity, storage, compute, chat), one folder
//! each. Consensus state sits behind [`crate::state::DomainState`].
//!
//! * [`identity`]: identities, keys, attributes, organizations, vouches
//!   and authorizations (`docs/identity.md`).
//! * [`storage`]: storage nodes and erasure-coded objects
//!   (`docs/storage.md`), and the placement algorithm.
//! * [`compute`]: nodes, deployments, reports, billing and healing
//!   (`docs/compute.md`), and the scheduler.
//! * [`chat`]: channels, members and roles, messages, receipts and news
//!   (`docs/chat.md`).
//!
//! [`standard`] is the fixed list every real chain runs with. The order
//! is consensus: a diff names a domain by its index in this list, so new
//! domains are appended (identity, storage, compute, chat) and never
//! reordered.

pub mod chat;
pub mod compute;
pub mod identity;
pub mod kv;
pub mod storage;

use crate::state::DomainState;

/// The domain modules of every network, in their fixed order.
pub fn standard(config: &crate::ChainConfig) -> Vec<Box<dyn DomainState>> {
    vec![
        Box::new(identity::IdentityState::default()),
        Box::new(storage::StorageState::default()),
        Box::new(compute::ComputeState::new(config.compute)),
        Box::new(chat::ChatState::default()),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn standard_order_is_fixed() {
        let config = crate::ChainConfig::devnet().expect("devnet config");
        let names: Vec<&str> = standard(&config)
            .iter()
            .map(|domain| domain.name())
            .collect();
        assert_eq!(names, ["identity", "storage", "compute", "chat"]);
    }
}
