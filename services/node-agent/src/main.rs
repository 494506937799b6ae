//! The node agent binary: reads its configuration and runs
//! [`node_agent::agent::run`] with the chosen driver until SIGINT/SIGTERM.
//!
//! ```text
//! node-agent run --node-key-file KEY [--driver process|qemu] [--work-dir DIR] [--listen ADDR]
//! node-agent show --node-key-file KEY      node ID and the address to fund for report fees
//! node-agent stop-workloads [--work-dir DIR] stop the workloads an agent left running
//! ```
//!
//! The agent records the workloads it runs in `<work dir>/state/`; when it
//! exits it leaves them running and the next `run` adopts them (unless
//! `--stop-on-exit`).
//!
//! The key file holds the node key's 32-byte seed in hex. Configuration:
//! flags, then environment variables; the NATS URL defaults to the local
//! services (`scripts/services up`).

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use chain::ChainConfig;
use chain::domains::compute::ComputeParams;
use clap::{Parser, Subcommand, ValueEnum};
use ledger::payload::compute::NodeId;
use ledger::{Condition, SecretKey};
use node_agent::agent::{self, AgentConfig, AgentStatus};
use node_agent::driver::Driver;
use node_agent::process::ProcessDriver;
use node_agent::qemu::{Accelerator, QemuDriver};
use node_agent::reconcile::{Reconciler, RestartPolicy};
use node_agent::state::StateStore;

#[derive(Debug, Parser)]
#[command(
    name = "node-agent",
    version,
    about = "Runs the workloads the chain places on this compute node"
)]
struct Cli {
    /// File with the node key's 32-byte seed in hex.
    #[arg(long, env = "NODE_AGENT_KEY_FILE", global = true)]
    node_key_file: Option<PathBuf>,
    /// Network name [default: devnet].
    #[arg(long, env = "BSC_NETWORK", global = true)]
    network: Option<String>,
    /// A network configuration file (TOML) for a network that is not shipped.
    #[arg(long, env = "BSC_NETWORK_CONFIG", global = true)]
    network_config: Option<PathBuf>,
    /// Log one JSON object per line.
    #[arg(long, env = "NODE_AGENT_LOG_JSON", global = true)]
    log_json: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum DriverKind {
    Process,
    Qemu,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Follow the chain and run this node's workloads until SIGINT/SIGTERM.
    Run {
        /// NATS URL (default: from `.state/env`, written by scripts/services).
        #[arg(long, env = "NATS_URL")]
        nats_url: Option<String>,
        /// How workloads run.
        #[arg(long, env = "NODE_AGENT_DRIVER", value_enum, default_value = "process")]
        driver: DriverKind,
        /// Where workloads keep their files, logs and consoles.
        #[arg(long, env = "NODE_AGENT_WORK_DIR", default_value = "node-agent-work")]
        work_dir: PathBuf,
        /// Health and metrics endpoint.
        #[arg(long, env = "NODE_AGENT_LISTEN", default_value = "127.0.0.1:9310")]
        listen: SocketAddr,
        /// Reconcile every this many milliseconds.
        #[arg(long, env = "NODE_AGENT_TICK_MS", default_value_t = 500)]
        tick_ms: u64,
        /// Report uptime at least every this many seconds.
        #[arg(long, env = "NODE_AGENT_REPORT_SECS", default_value_t = 10)]
        report_secs: u64,
        /// Heal other nodes silent for more than this many blocks
        /// [default: the chain's limit].
        #[arg(long, env = "NODE_AGENT_SILENT_AFTER_BLOCKS")]
        silent_after_blocks: Option<u64>,
        /// Stop every workload when the agent exits, instead of leaving
        /// them running for the next agent to adopt.
        #[arg(long, env = "NODE_AGENT_STOP_ON_EXIT")]
        stop_on_exit: bool,
    },
    /// Stop the workloads a (stopped) agent left running in WORK_DIR and
    /// forget them: the next `run` starts what the chain assigns afresh.
    StopWorkloads {
        /// The agent's work directory.
        #[arg(long, env = "NODE_AGENT_WORK_DIR", default_value = "node-agent-work")]
        work_dir: PathBuf,
    },
    /// Print the node ID and the address that pays report fees.
    Show,
}

fn read_key(path: Option<&PathBuf>) -> anyhow::Result<SecretKey> {
    let path = path.context("--node-key-file (or NODE_AGENT_KEY_FILE) is required")?;
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read node key file {}", path.display()))?;
    let bytes = hex::decode(text.trim())
        .with_context(|| format!("node key file {} is not hex", path.display()))?;
    let Ok(seed) = <[u8; 32]>::try_from(bytes.as_slice()) else {
        bail!(
            "node key file {} holds {} bytes; a seed is 32",
            path.display(),
            bytes.len()
        );
    };
    Ok(SecretKey::from_seed(seed))
}

fn chain_config(cli: &Cli) -> anyhow::Result<ChainConfig> {
    let network = cli.network.clone().unwrap_or_else(|| "devnet".to_owned());
    match &cli.network_config {
        Some(path) => ChainConfig::from_file(path)
            .map_err(|reason| anyhow::anyhow!("network file {}: {reason}", path.display())),
        None => ChainConfig::shipped(&network)
            .map_err(|reason| anyhow::anyhow!("network {network} is not shipped: {reason}")),
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    service::init_tracing(cli.log_json);
    if let Command::StopWorkloads { work_dir } = &cli.command {
        return stop_workloads(work_dir);
    }
    let key = read_key(cli.node_key_file.as_ref())?;
    let config = chain_config(&cli)?;
    let node = NodeId::for_key(&key.public_key());
    let address = Condition::for_public_key(&key.public_key()).address();
    match &cli.command {
        Command::Show => {
            println!("node id: {node}");
            println!("node key: {}", key.public_key());
            println!(
                "fee address: {}",
                address.display(&config.params.address_prefix)
            );
            Ok(())
        }
        Command::Run {
            nats_url,
            driver,
            work_dir,
            listen,
            tick_ms,
            report_secs,
            silent_after_blocks,
            stop_on_exit,
        } => {
            let nats_url = match nats_url {
                Some(url) => url.clone(),
                None => devenv::Settings::load()
                    .map(|local| local.nats_url)
                    .context(
                        "no NATS URL: pass --nats-url, set NATS_URL, or run scripts/services up",
                    )?,
            };
            std::fs::create_dir_all(work_dir)
                .with_context(|| format!("cannot create {}", work_dir.display()))?;
            let driver: Arc<dyn Driver> = match driver {
                DriverKind::Process => {
                    Arc::new(ProcessDriver::new(work_dir.clone(), BTreeMap::new()))
                }
                DriverKind::Qemu => {
                    let binary = QemuDriver::find_binary()
                        .context("the qemu driver needs qemu-system-x86_64 on PATH")?;
                    Arc::new(QemuDriver::new(
                        binary,
                        work_dir.clone(),
                        Accelerator::detect(),
                    ))
                }
            };
            let status = Arc::new(AgentStatus::default());
            let shutdown = service::shutdown_on_signals();
            let (bound, health) =
                service::serve_health(*listen, status.clone(), shutdown.clone()).await?;
            tracing::info!(%bound, "health and metrics");
            let agent_config = AgentConfig {
                network: cli.network.clone().unwrap_or_else(|| "devnet".to_owned()),
                params: config.params.clone(),
                nats_url,
                tick: Duration::from_millis((*tick_ms).max(50)),
                report_interval: Duration::from_secs((*report_secs).max(1)),
                compute: ComputeParams {
                    silent_after_blocks: silent_after_blocks
                        .unwrap_or(config.compute.silent_after_blocks),
                    ..config.compute
                },
            };
            let store = StateStore::open(work_dir.join(STATE_DIR))?;
            let mut reconciler =
                Reconciler::new(driver, RestartPolicy::default()).with_state(store);
            if *stop_on_exit {
                reconciler = reconciler.stop_on_exit();
            }
            let result = agent::run(agent_config, key, reconciler, status, shutdown.clone()).await;
            shutdown.cancel();
            let _ = health.await;
            result
        }
        Command::StopWorkloads { .. } => Ok(()),
    }
}

/// Where in the work directory the agent keeps its records.
const STATE_DIR: &str = "state";

fn stop_workloads(work_dir: &std::path::Path) -> anyhow::Result<()> {
    let store = StateStore::open(work_dir.join(STATE_DIR))?;
    let (records, errors) = store.load();
    for error in errors {
        tracing::warn!(%error, "agent state file ignored (deleted)");
    }
    let mut stopped = 0;
    for record in records {
        if record.process.is_alive() {
            record
                .process
                .kill_and_wait(Duration::from_secs(5))
                .with_context(|| format!("cannot stop workload {}", record.key))?;
            stopped += 1;
        }
        store.remove(&record.key)?;
    }
    println!("stopped {stopped} workload(s)");
    Ok(())
}
