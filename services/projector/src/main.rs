//! The projector: folds the ledger event stream into the read models in
//! PostgreSQL. This binary only reads its configuration and wires the
//! `projections` runtime to the models, PostgreSQL and NATS.
//!
//! ```text
//! projector run                 fold every model (or --models a,b) until SIGINT/SIGTERM
//! projector status              height, lag and rate per model
//! projector rebuild <model>     rebuild a model beside the live one, then swap it in
//! projector models              the read models' names (their schemas), one a line
//! ```
//!
//! Configuration: flags, then environment variables, then a TOML file
//! (`--config`), then defaults that work with `scripts/services up`.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use async_nats::jetstream;
use chain::stream;
use clap::{Parser, Subcommand};
use projections::runner::{ModelMetrics, Runner, RunnerConfig, notification_subject, rebuild};
use projections::{ReadModel, schema};
use service::{Health, Metrics, Observable};
use sqlx::postgres::PgConnectOptions;
use sqlx::{ConnectOptions, Connection, PgConnection};
use tokio_util::sync::CancellationToken;
use tracing::{error, info};

#[derive(Debug, Parser)]
#[command(
    name = "projector",
    version,
    about = "Folds the ledger event stream into the read models"
)]
struct Cli {
    /// TOML file with any of: database_url, nats_url, network, finality_depth,
    /// models, listen, batch_size, log_json.
    #[arg(long, env = "PROJECTOR_CONFIG", global = true)]
    config: Option<PathBuf>,
    #[command(flatten)]
    shared: service::SharedArgs,
    /// Finality depth of the network [default: the network's].
    #[arg(long, env = "PROJECTOR_FINALITY_DEPTH", global = true)]
    finality_depth: Option<u64>,
    /// Log one JSON object per line.
    #[arg(long, env = "PROJECTOR_LOG_JSON", global = true)]
    log_json: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Fold the stream into the models until SIGINT/SIGTERM.
    Run {
        /// Models to run, comma separated [default: all].
        #[arg(long, env = "PROJECTOR_MODELS", value_delimiter = ',')]
        models: Vec<String>,
        /// Address of /healthz and /metrics [default: 127.0.0.1:9102].
        #[arg(long, env = "PROJECTOR_LISTEN")]
        listen: Option<SocketAddr>,
        /// Stream messages per PostgreSQL transaction [default: 256].
        #[arg(long, env = "PROJECTOR_BATCH_SIZE")]
        batch_size: Option<usize>,
    },
    /// Show height, lag and rate of every model.
    Status {
        /// Seconds between the two samples the rate is computed from.
        #[arg(long, default_value_t = 1.0)]
        sample_seconds: f64,
        /// Address of the running projector's /healthz, whose verdict
        /// (a model retrying or stopped, and why) is shown
        /// [default: 127.0.0.1:9102].
        #[arg(long, env = "PROJECTOR_LISTEN")]
        listen: Option<SocketAddr>,
    },
    /// Print the name of every read model (each is a PostgreSQL schema of
    /// that name), one a line; needs no configuration or services.
    Models,
    /// Rebuild a model from the start of the stream into a second schema
    /// (the live one stays queryable), then swap it in.
    Rebuild {
        /// The model to rebuild.
        model: String,
    },
}

/// Where `run` serves /healthz and /metrics unless told otherwise.
const DEFAULT_LISTEN: SocketAddr =
    SocketAddr::new(std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST), 9102);

/// How long `status` waits for the running projector's /healthz.
const HEALTH_TIMEOUT: Duration = Duration::from_secs(2);

/// The configuration file: every key optional.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    database_url: Option<String>,
    nats_url: Option<String>,
    network: Option<String>,
    network_config: Option<PathBuf>,
    finality_depth: Option<u64>,
    models: Option<Vec<String>>,
    listen: Option<SocketAddr>,
    batch_size: Option<usize>,
    log_json: Option<bool>,
}

/// The configuration after layering flags, environment, file and defaults.
struct Settings {
    database: PgConnectOptions,
    nats_url: String,
    network: String,
    finality_depth: u64,
    chain_config: Arc<chain::ChainConfig>,
}

fn settings(cli: &Cli, file: &FileConfig) -> anyhow::Result<Settings> {
    let local = devenv::Settings::load().ok();
    let local = local.map(|local| (local.database_url, local.nats_url).into());
    let shared = cli.shared.layer().over(service::shared_layer!(file));
    let shared = shared.resolve(local)?;
    let nats_url = shared
        .nats_url
        .context("no NATS URL: pass --nats-url, set NATS_URL, or run scripts/services up")?;
    let finality_depth = cli
        .finality_depth
        .or(file.finality_depth)
        .unwrap_or(shared.chain_config.consensus.finality_depth);
    let database: PgConnectOptions = shared
        .database_url
        .parse()
        .context("DATABASE_URL is not a PostgreSQL URL")?;
    Ok(Settings {
        database: database.log_statements(tracing::log::LevelFilter::Debug),
        nats_url,
        network: shared.network,
        finality_depth,
        chain_config: Arc::new(shared.chain_config),
    })
}

fn select_models(settings: &Settings, names: &[String]) -> anyhow::Result<Vec<Arc<dyn ReadModel>>> {
    let all = projections::registry::all(settings.chain_config.clone());
    if names.is_empty() {
        return Ok(all);
    }
    names
        .iter()
        .map(|name| {
            all.iter()
                .find(|model| model.name() == name)
                .cloned()
                .with_context(|| {
                    let known: Vec<&str> = all.iter().map(|m| m.name()).collect();
                    format!("unknown model {name:?}; known: {}", known.join(", "))
                })
        })
        .collect()
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let file = match service::load_optional_config_file::<FileConfig>(cli.config.as_deref()) {
        Ok(file) => file,
        Err(error) => {
            eprintln!("projector: {error}");
            return std::process::ExitCode::from(2);
        }
    };
    service::init_tracing(cli.log_json || file.log_json.unwrap_or(false));
    match execute(cli, file).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            error!("{error:#}");
            eprintln!("projector: {error:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn execute(cli: Cli, file: FileConfig) -> anyhow::Result<()> {
    if let Command::Models = cli.command {
        for name in projections::registry::MODEL_NAMES {
            println!("{name}");
        }
        return Ok(());
    }
    let settings = settings(&cli, &file)?;
    match cli.command {
        Command::Run {
            models,
            listen,
            batch_size,
        } => {
            let names = if models.is_empty() {
                file.models.clone().unwrap_or_default()
            } else {
                models
            };
            let listen = listen.or(file.listen).unwrap_or(DEFAULT_LISTEN);
            let models = select_models(&settings, &names)?;
            run(settings, models, listen, batch_size.or(file.batch_size)).await
        }
        Command::Status {
            sample_seconds,
            listen,
        } => {
            let listen = listen.or(file.listen).unwrap_or(DEFAULT_LISTEN);
            status(settings, sample_seconds, listen).await
        }
        Command::Rebuild { model } => {
            let model = select_models(&settings, std::slice::from_ref(&model))?
                .into_iter()
                .next()
                .context("no model selected")?;
            rebuild_model(settings, model).await
        }
        // Printed above, before any configuration is read.
        Command::Models => Ok(()),
    }
}

fn runner_config(settings: &Settings, batch_size: Option<usize>) -> RunnerConfig {
    let mut config = RunnerConfig::new(settings.network.clone(), settings.finality_depth);
    config.genesis_id = Some(settings.chain_config.genesis_id);
    if let Some(batch_size) = batch_size {
        config.batch_size = batch_size.max(1);
    }
    config
}

/// A metric family: name, kind, help, and how to read it from a model.
type MetricFamily = (
    &'static str,
    &'static str,
    &'static str,
    fn(&ModelMetrics) -> u64,
);

/// Health and metrics of the running models.
struct Observed {
    network: String,
    models: BTreeMap<&'static str, Arc<ModelMetrics>>,
    stopped: std::sync::Mutex<BTreeMap<&'static str, String>>,
    nats: async_nats::Client,
}

impl Observable for Observed {
    /// Degraded while a model is stopped (bad data: the error that stopped
    /// it) or retrying (an outage, or no node serving blocks the stream no
    /// longer holds: the error it retries after), or NATS is not connected;
    /// every such problem is named, "; "-separated.
    fn health(&self) -> Health {
        let mut problems = Vec::new();
        let stopped = self
            .stopped
            .lock()
            .map(|stopped| stopped.clone())
            .unwrap_or_default();
        for (model, metrics) in &self.models {
            if let Some(reason) = stopped.get(model) {
                problems.push(format!("model {model} stopped: {reason}"));
            } else if let Some(reason) = metrics.last_error() {
                problems.push(format!("model {model} retrying: {reason}"));
            }
        }
        match self.nats.connection_state() {
            async_nats::connection::State::Connected => {}
            other => problems.push(format!("NATS {other}")),
        }
        if problems.is_empty() {
            Health::Ok
        } else {
            Health::Degraded(problems.join("; "))
        }
    }

    fn metrics(&self) -> String {
        let mut out = Metrics::new();
        let families: [MetricFamily; 10] = [
            (
                "projector_height",
                "gauge",
                "Height of the model's checkpoint.",
                |m| m.height.load(Ordering::Relaxed),
            ),
            (
                "projector_stream_sequence",
                "gauge",
                "Last stream message folded in.",
                |m| m.stream_seq.load(Ordering::Relaxed),
            ),
            (
                "projector_lag_messages",
                "gauge",
                "Stream messages not folded in yet.",
                |m| m.lag(),
            ),
            (
                "projector_blocks_applied_total",
                "counter",
                "Blocks applied.",
                |m| m.blocks_applied.load(Ordering::Relaxed),
            ),
            (
                "projector_blocks_reverted_total",
                "counter",
                "Blocks reverted.",
                |m| m.blocks_reverted.load(Ordering::Relaxed),
            ),
            (
                "projector_messages_skipped_total",
                "counter",
                "Redelivered or republished messages skipped.",
                |m| m.messages_skipped.load(Ordering::Relaxed),
            ),
            (
                "projector_events_total",
                "counter",
                "Ledger events folded in.",
                |m| m.events.load(Ordering::Relaxed),
            ),
            (
                "projector_transactions_total",
                "counter",
                "Transactions folded in.",
                |m| m.transactions.load(Ordering::Relaxed),
            ),
            (
                "projector_retries_total",
                "counter",
                "Restarts after PostgreSQL or NATS outages.",
                |m| m.retries.load(Ordering::Relaxed),
            ),
            (
                "projector_blocks_backfilled_total",
                "counter",
                "Blocks folded in from a node because the stream no longer held them.",
                |m| m.blocks_backfilled.load(Ordering::Relaxed),
            ),
        ];
        for (name, kind, help, read) in families {
            out.family(name, kind, help);
            for (model, metrics) in &self.models {
                out.sample(
                    name,
                    &[("network", &self.network), ("model", model)],
                    read(metrics) as f64,
                );
            }
        }
        out.finish()
    }
}

async fn run(
    settings: Settings,
    models: Vec<Arc<dyn ReadModel>>,
    listen: SocketAddr,
    batch_size: Option<usize>,
) -> anyhow::Result<()> {
    let shutdown = service::shutdown_on_signals();
    let nats = connect_nats(&settings.nats_url).await?;
    let config = runner_config(&settings, batch_size);
    let observed = Arc::new(Observed {
        network: settings.network.clone(),
        models: models
            .iter()
            .map(|model| (model.name(), Arc::new(ModelMetrics::default())))
            .collect(),
        stopped: std::sync::Mutex::new(BTreeMap::new()),
        nats: nats.clone(),
    });
    let (bound, health_task) = service::serve_health(listen, observed.clone(), shutdown.clone())
        .await
        .with_context(|| format!("cannot listen on {listen} for /healthz and /metrics"))?;
    info!(%bound, network = %settings.network, models = models.len(), "projector running; health and metrics served");

    let mut tasks = tokio::task::JoinSet::new();
    // Pending transactions follow the pool events beside the explorer.
    if models.iter().any(|model| model.name() == "explorer") {
        let pool = sqlx::postgres::PgPoolOptions::new()
            .max_connections(2)
            .connect_lazy_with(settings.database.clone());
        let (nats, network, shutdown) = (nats.clone(), settings.network.clone(), shutdown.clone());
        tokio::spawn(async move {
            if let Err(error) =
                projections::explorer::pending::follow_pool(pool, nats, network, shutdown).await
            {
                error!(%error, "pool events are not followed");
            }
        });
    }
    for model in models {
        let name = model.name();
        let runner = Runner {
            model,
            schema_name: name.to_owned(),
            database: settings.database.clone(),
            nats: nats.clone(),
            config: config.clone(),
            metrics: observed.models.get(name).cloned().unwrap_or_default(),
        };
        let shutdown = shutdown.clone();
        tasks.spawn(async move { (name, runner.run(shutdown).await) });
    }
    // A model stopped by bad data stays stopped (and /healthz says so);
    // the others go on.
    while let Some(joined) = tasks.join_next().await {
        match joined {
            Ok((name, Ok(()))) => info!(model = name, "stopped"),
            Ok((name, Err(error))) => {
                error!(model = name, %error, "model stopped");
                if let Ok(mut stopped) = observed.stopped.lock() {
                    stopped.insert(name, error.to_string());
                }
            }
            Err(join_error) => error!(%join_error, "a model task failed"),
        }
    }
    // Every model stopped by bad data: stay up so /healthz keeps saying
    // why (a restart would stop the same way) until told to go.
    if !shutdown.is_cancelled() {
        error!("no model is running; serving /healthz until SIGINT/SIGTERM");
        shutdown.cancelled().await;
    }
    shutdown.cancel();
    let _ = health_task.await;
    // Notifications still queued; NATS may be gone, so do not wait long.
    let _ = tokio::time::timeout(Duration::from_secs(2), nats.flush()).await;
    info!("projector stopped cleanly");
    Ok(())
}

async fn connect_nats(url: &str) -> anyhow::Result<async_nats::Client> {
    async_nats::ConnectOptions::new()
        .name("projector")
        .retry_on_initial_connect()
        .connect(url)
        .await
        .with_context(|| format!("cannot connect to NATS at {url}"))
}

/// The running projector's verdict from its /healthz, as one line.
async fn health_verdict(listen: SocketAddr) -> String {
    let url = format!("http://{listen}/healthz");
    let response = match reqwest::Client::builder()
        .timeout(HEALTH_TIMEOUT)
        .build()
        .map(|client| client.get(&url).send())
    {
        Ok(request) => request.await,
        Err(error) => return format!("not reachable ({error})"),
    };
    match response {
        Ok(response) => {
            // "ok", or "degraded: <reason>" (HTTP 503).
            let code = response.status();
            let text = response.text().await.unwrap_or_default();
            let text = text.trim();
            if code.is_success() || text.starts_with("degraded") {
                text.to_owned()
            } else {
                format!("HTTP {code}: {text}")
            }
        }
        Err(error) => format!("not reachable ({error}); is `projector run` serving {url}?"),
    }
}

async fn status(settings: Settings, sample_seconds: f64, listen: SocketAddr) -> anyhow::Result<()> {
    let mut connection = PgConnection::connect_with(&settings.database)
        .await
        .context("cannot connect to PostgreSQL")?;
    let nats = async_nats::connect(&settings.nats_url)
        .await
        .with_context(|| format!("cannot connect to NATS at {}", settings.nats_url))?;
    let js = jetstream::new(nats);
    let stream_last = match js.get_stream(stream::stream_name(&settings.network)).await {
        Ok(mut ledger_stream) => Some(ledger_stream.info().await?.state.last_sequence),
        Err(_) => None,
    };
    let first = read_positions(&mut connection).await?;
    let started = Instant::now();
    tokio::time::sleep(Duration::from_secs_f64(sample_seconds.clamp(0.0, 60.0))).await;
    let second = read_positions(&mut connection).await?;
    let elapsed = started.elapsed().as_secs_f64().max(1e-3);
    println!(
        "network {}  stream {}  last message {}",
        settings.network,
        stream::stream_name(&settings.network),
        stream_last.map_or("(no stream)".to_owned(), |s| s.to_string())
    );
    println!(
        "{:<12} {:>10} {:>12} {:>10} {:>14}",
        "model", "height", "stream seq", "lag", "blocks/s"
    );
    for name in projections::registry::MODEL_NAMES {
        match (first.get(name), second.get(name)) {
            (_, None) => println!("{name:<12} {:>10}", "not installed"),
            (_, Some(None)) => println!(
                "{name:<12} {:>10} {:>12} {:>10} {:>14}",
                "-",
                0,
                stream_last.unwrap_or(0),
                "0.0"
            ),
            (before, Some(Some(after))) => {
                let before_height = before
                    .and_then(|b| b.map(|c| c.height.0))
                    .unwrap_or(after.height.0);
                let rate = after.height.0.saturating_sub(before_height) as f64 / elapsed;
                let lag = stream_last.map_or(0, |last| last.saturating_sub(after.stream_seq));
                println!(
                    "{name:<12} {:>10} {:>12} {:>10} {:>14.1}",
                    after.height.0, after.stream_seq, lag, rate
                );
            }
        }
    }
    println!(
        "notifications: {}",
        notification_subject(&settings.network, "<model>")
    );
    println!("projector at {listen}: {}", health_verdict(listen).await);
    Ok(())
}

type Positions = BTreeMap<&'static str, Option<projections::checkpoint::Checkpoint>>;

async fn read_positions(connection: &mut PgConnection) -> anyhow::Result<Positions> {
    let mut positions = BTreeMap::new();
    for name in projections::registry::MODEL_NAMES {
        if !schema::schema_exists(connection, name).await? {
            continue;
        }
        let checkpoint: Option<(i64, Vec<u8>, i64)> = sqlx::query_as(&format!(
            "SELECT height, block_id, stream_seq FROM \"{name}\".checkpoint"
        ))
        .fetch_optional(&mut *connection)
        .await?;
        let checkpoint = match checkpoint {
            None => None,
            Some((height, block_id, stream_seq)) => {
                let Ok(block_id) = <[u8; 32]>::try_from(block_id.as_slice()) else {
                    bail!("model {name}: stored checkpoint block id is not 32 bytes");
                };
                Some(projections::checkpoint::Checkpoint {
                    height: ledger::BlockHeight(u64::try_from(height).unwrap_or(0)),
                    block_id: ledger::BlockId(ledger::Hash32(block_id)),
                    stream_seq: u64::try_from(stream_seq).unwrap_or(0),
                    genesis_id: None,
                    stream_block: None,
                })
            }
        };
        positions.insert(name, checkpoint);
    }
    Ok(positions)
}

async fn rebuild_model(settings: Settings, model: Arc<dyn ReadModel>) -> anyhow::Result<()> {
    let shutdown = service::shutdown_on_signals();
    let nats = connect_nats(&settings.nats_url).await?;
    let metrics = Arc::new(ModelMetrics::default());
    let name = model.name();
    // Progress, once a second, while the rebuild runs.
    let progress = {
        let metrics = metrics.clone();
        let done = CancellationToken::new();
        let stop = done.clone();
        let task = tokio::spawn(async move {
            let started = Instant::now();
            loop {
                tokio::select! {
                    _ = stop.cancelled() => break,
                    _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                }
                let seq = metrics.stream_seq.load(Ordering::Relaxed);
                let last = metrics
                    .stream_last_seq
                    .load(Ordering::Relaxed)
                    .max(seq)
                    .max(1);
                eprintln!(
                    "rebuild {name}: height {}  message {seq}/{last} ({:.0}%)  {:.0} blocks/s",
                    metrics.height.load(Ordering::Relaxed),
                    seq as f64 * 100.0 / last as f64,
                    metrics.blocks_applied.load(Ordering::Relaxed) as f64
                        / started.elapsed().as_secs_f64().max(1e-3)
                );
            }
        });
        (done, task)
    };
    let result = rebuild(
        model,
        settings.database.clone(),
        nats,
        runner_config(&settings, None),
        shutdown,
        metrics,
    )
    .await;
    progress.0.cancel();
    let _ = progress.1.await;
    match result? {
        Some(at) => {
            println!(
                "rebuilt {name} to height {} (stream message {}); swapped in",
                at.height.0, at.stream_seq
            );
            Ok(())
        }
        None => bail!("rebuild of {name} interrupted; the live model is unchanged"),
    }
}
