//! The compute node agent: the process on a compute node that makes the
//! workloads the chain assigns to the node actually run.
//!
//! * [`driver`]: the [`driver::Driver`] trait a hypervisor or process
//!   supervisor implements, and the workload key and errors.
//! * [`process`]: [`process::ProcessDriver`], a supervised process per
//!   workload with resource limits (`prlimit`); used where QEMU is absent
//!   and in fast tests.
//! * [`qemu`]: [`qemu::QemuDriver`], a `qemu-system-x86_64` VM per workload
//!   (KVM when `/dev/kvm` is usable, software emulation otherwise) booting
//!   the project's own boot image ([`qemu::BOOT_IMAGE`]).
//! * [`host`]: process identities (PID and start time) and CPU affinity.
//! * [`state`]: [`state::StateStore`], the agent's records of the
//!   instances it runs, so a restarted agent adopts them.
//! * [`reconcile`]: [`reconcile::Reconciler`], which compares the desired
//!   workloads with what runs, starts, stops, replaces and restarts
//!   (with back-off) through a driver, and yields the state changes to
//!   report on chain.
//!
//! * [`view`]: [`view::NodeView`], the chain folded from the ledger stream
//!   (this node's desired workloads, its fee coins, other nodes' last
//!   reports), reorg-safe.
//! * [`report`]: the report and heal transactions, paid and signed by the
//!   node key.
//! * [`agent`]: the run loop tying them together, with health and metrics.
//!
//! How the agent follows the chain and reports is in `docs/compute.md`.

pub mod agent;
pub mod driver;
pub mod host;
pub mod process;
pub mod qemu;
pub mod reconcile;
pub mod report;
pub mod state;
pub mod view;
