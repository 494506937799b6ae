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

impl Simulation {
    const EACH: [Simulation; 5] = [
        Simulation::StakeFairness,
        Simulation::Forks,
        Simulation::Grinding,
        Simulation::Storage,
        Simulation::Compute,
    ];

    /// Subcommand (and subdirectory) name and report title.
    fn name_and_title(self) -> (&'static str, &'static str) {
        match self {
            Simulation::StakeFairness => ("stake-fairness", "Stake fairness and difficulty"),
            Simulation::Forks => ("forks", "Forks under propagation delay"),
            Simulation::Grinding => ("grinding", "Timestamp and grinding bounds"),
            Simulation::Storage => ("storage", "Storage durability"),
            Simulation::Compute => ("compute", "Compute scheduling"),
            Simulation::All => ("all", "All simulations"),
        }
    }
}

/// Runs `$module::run` with its full or short parameters and writes the
/// result with `$module::write`.
macro_rules! simulate {
    ($module:ident, $params:ident, $cli:expr, $out:expr) => {{
        let params = if $cli.short {
            $module::$params::short($cli.seed)
        } else {
            $module::$params::full($cli.seed)
        };
        $module::write(&$module::run(&params)?, $out)?;
    }};
}

fn run(simulation: Simulation, cli: &Cli, dir: PathBuf) -> anyhow::Result<()> {
    if simulation == Simulation::All {
        for each in Simulation::EACH {
            run(each, cli, dir.join(each.name_and_title().0))?;
        }
        return Ok(());
    }
    let (name, title) = simulation.name_and_title();
    eprintln!("{name}: seed {}, writing {}", cli.seed, dir.display());
    let mut out = Outputs::create(&dir, title)?;
    match simulation {
        Simulation::StakeFairness => simulate!(stake, StakeParams, cli, &mut out),
        Simulation::Forks => simulate!(forks, ForkParams, cli, &mut out),
        Simulation::Grinding => simulate!(grinding, GrindingParams, cli, &mut out),
        Simulation::Storage => simulate!(storage, StorageParams, cli, &mut out),
        Simulation::Compute => simulate!(compute, ComputeParams, cli, &mut out),
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
