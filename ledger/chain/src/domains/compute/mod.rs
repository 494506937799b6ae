//! Compute (Zero-OS / cockpit): nodes with capacity, deployments of VMs,
//! node-reported state, billing and self-healing.
//!
//! * [`scheduler`]: which node runs which workload (deterministic, never
//!   overcommits, typed refusals) — shared with the wallet and simulations.
//! * [`blueprint`]: YAML blueprints into validated deployment specs, and
//!   the idempotent plan (create / update / delete per workload).
//! * [`state`]: the consensus state ([`ComputeState`]) and its invertible
//!   changes; [`rules`]: the stateful rules of every
//!   [`ledger::payload::compute::ComputeAction`]; [`events`]: what the
//!   node agent and the read model fold.

pub mod blueprint;
pub mod events;
pub mod rules;
pub mod scheduler;
pub mod state;

#[cfg(test)]
mod tests;

pub use events::{CancelCause, ComputeEvent, PlacementReason};
pub use rules::{ComputeRuleError, IdentityKeys};
pub use state::{
    BillingState, ComputeChange, ComputeParams, ComputeState, DOMAIN, DeploymentRecord, NodeRecord,
};
