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
//! * [`reconcile`]: [`reconcile::Reconciler`], which compares the desired
//!   workloads with what runs, starts, stops, replaces and restarts
//!   (with back-off) through a driver, and yields the state changes to
//!   report on chain.
//!
//! How the agent follows the chain and reports is in `docs/compute.md`.

pub mod driver;
pub mod process;
pub mod qemu;
pub mod reconcile;
