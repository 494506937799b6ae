//! `simulations`: runs one simulation (or all) from a seed and writes its
//! CSV files, PNG charts and `report.md` into `--out`.

use std::path::PathBuf;

use anyhow::Context;
use clap::{Parser, Subcommand};
use simulations::output::Outputs;
use simulations::{compute, forks, grinding, stake, storage};

#[derive(Parser)]
#[command(
    about = "Deterministic simulations on the real consensus code",
    version
)]
struct Cli {
    #[command(subcommand)]
    simulation: Simulation,
    /// Seed of every random draw; the same seed gives the same CSV and report.
    #[arg(long, global = true, default_value_t = 7)]
    seed: u64,
    /// Output directory (created).
    #[arg(long, global = true, default_value = "simulations/output")]
    out: PathBuf,
    /// The short parameters the tests use instead of the full run.
    #[arg(long, global = true)]
    short: bool,
}

#[derive(Subcommand, Clone, Copy, PartialEq, Eq)]
enum Simulation {
    /// Share of blocks against share of stake; participation drops; retarget clamps.
    StakeFairness,
    /// Propagation delay against block frequency: forks, reorg depths, finality.
    Forks,
    /// Timestamp choice within the allowed window, split stake, aging off.
    Grinding,
    /// Reed–Solomon policies against 3× replication under node and datacenter failures.
    Storage,
    /// Utilisation and rejected deployments for the scheduler.
    Compute,
    /// Every simulation, each into its own subdirectory of --out.
    All,
}

fn run(simulation: Simulation, cli: &Cli, dir: PathBuf) -> anyhow::Result<()> {
    let seed = cli.seed;
    let short = cli.short;
    let (title, name) = match simulation {
        Simulation::StakeFairness => ("Stake fairness and difficulty", "stake-fairness"),
        Simulation::Forks => ("Forks under propagation delay", "forks"),
        Simulation::Grinding => ("Timestamp and grinding bounds", "grinding"),
        Simulation::Storage => ("Storage durability", "storage"),
        Simulation::Compute => ("Compute scheduling", "compute"),
        Simulation::All => {
            for each in [
                Simulation::StakeFairness,
                Simulation::Forks,
                Simulation::Grinding,
                Simulation::Storage,
                Simulation::Compute,
            ] {
                let sub = match each {
                    Simulation::StakeFairness => "stake-fairness",
                    Simulation::Forks => "forks",
                    Simulation::Grinding => "grinding",
                    Simulation::Storage => "storage",
                    Simulation::Compute => "compute",
                    Simulation::All => continue,
                };
                run(each, cli, dir.join(sub))?;
            }
            return Ok(());
        }
    };
    eprintln!("{name}: seed {seed}, writing {}", dir.display());
    let mut out = Outputs::create(&dir, title)?;
    match simulation {
        Simulation::StakeFairness => {
            let params = if short {
                stake::StakeParams::short(seed)
            } else {
                stake::StakeParams::full(seed)
            };
            stake::write(&stake::run(&params)?, &mut out)?;
        }
        Simulation::Forks => {
            let params = if short {
                forks::ForkParams::short(seed)
            } else {
                forks::ForkParams::full(seed)
            };
            forks::write(&forks::run(&params)?, &mut out)?;
        }
        Simulation::Grinding => {
            let params = if short {
                grinding::GrindingParams::short(seed)
            } else {
                grinding::GrindingParams::full(seed)
            };
            grinding::write(&grinding::run(&params)?, &mut out)?;
        }
        Simulation::Storage => {
            let params = if short {
                storage::StorageParams::short(seed)
            } else {
                storage::StorageParams::full(seed)
            };
            storage::write(&storage::run(&params)?, &mut out)?;
        }
        Simulation::Compute => {
            let params = if short {
                compute::ComputeParams::short(seed)
            } else {
                compute::ComputeParams::full(seed)
            };
            compute::write(&compute::run(&params)?, &mut out)?;
        }
        Simulation::All => {}
    }
    let report = out.finish()?;
    eprintln!("{name}: report {}", report.display());
    Ok(())
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    run(cli.simulation, &cli, cli.out.clone()).context("simulation failed")
}
