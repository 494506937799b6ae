//! Compute (Zero-OS / cockpit): nodes with capacity, deployments of VMs,
//! node-reported state. This folder holds the pure algorithms that the
//! consensus module, the wallet, the node agent and the simulations share:
//!
//! * [`scheduler`]: which node runs which workload (deterministic, never
//!   overcommits, typed refusals).
//! * [`blueprint`]: YAML blueprints into validated deployment specs, and
//!   the idempotent plan (create / update / delete per workload).

pub mod blueprint;
pub mod scheduler;
