//! The one error type of the simulations.

use thiserror::Error;

/// Why a simulation could not run or write its outputs.
#[derive(Debug, Error)]
pub enum SimulationError {
    #[error("parameter `{name}`: {problem}")]
    Parameter { name: &'static str, problem: String },
    #[error("cannot write {path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("chart {path}: {problem}")]
    Chart { path: String, problem: String },
    #[error("network configuration: {0}")]
    Config(#[from] chain::ConfigError),
    #[error("chain refused a simulated block: {0}")]
    Chain(#[from] chain::ChainError),
    #[error("block creation failed: {0}")]
    Creator(#[from] chain::creator::CreatorError),
    /// Something the simulation relies on did not hold (the code under
    /// test misbehaved): a block that should be the tip is not, a
    /// scheduler overcommitted a node, …
    #[error("simulation invariant broken: {0}")]
    Invariant(String),
    #[error("no stake output won within {seconds} s at height {height}")]
    NoWinner { height: u64, seconds: u64 },
}

/// Checks a parameter, naming it in the error.
pub fn require(
    condition: bool,
    name: &'static str,
    problem: impl FnOnce() -> String,
) -> Result<(), SimulationError> {
    if condition {
        Ok(())
    } else {
        Err(SimulationError::Parameter {
            name,
            problem: problem(),
        })
    }
}
