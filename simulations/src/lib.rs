//! Deterministic simulations that drive the project's real consensus code
//! (the `chain` crate's lottery, retarget, block creator, block tree and
//! fork choice) under a simulated clock and network, plus event
//! simulations of storage durability and compute scheduling.
//!
//! Every simulation takes a seed and its parameters, draws all randomness
//! from ChaCha streams derived from the seed ([`rng`]), never reads the
//! wall clock or opens a socket, and writes CSV files, PNG charts and a
//! markdown report into one directory ([`output`]). The same seed and
//! parameters give byte-identical CSV files and report.
//!
//! * [`stake`]: stake fairness, block time under participation drops, the
//!   retarget clamps.
//! * [`forks`]: propagation delay against block frequency: fork rate, reorg
//!   depths, reorgs deeper than the finality depth.
//! * [`grinding`]: what choosing timestamps within the allowed window, or
//!   splitting stake, gains a staker; the aging rule switched off.
//! * [`storage`]: erasure-coded and replicated objects under node and
//!   datacenter failures: data loss, overhead, repair traffic.
//! * [`compute`]: a stream of mixed-size deployments against a scheduler:
//!   utilisation and rejections.

pub mod chart;
pub mod compute;
pub mod error;
pub mod forks;
pub mod grinding;
pub mod network;
pub mod output;
pub mod rng;
pub mod stake;
pub mod storage;

pub use error::SimulationError;
