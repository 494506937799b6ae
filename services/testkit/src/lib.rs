//! A real devnet inside a test process.
//!
//! [`Devnet::start`] runs, against the PostgreSQL and NATS that
//! `devenv::Settings` names (`scripts/services up`):
//!
//! * a node (`node::runtime::run`) with a temporary data dir that creates
//!   blocks with the devnet genesis key and publishes them to a JetStream
//!   stream of its own (a unique network name, so tests never share
//!   streams or subjects);
//! * the projector runner with every read model of `projections::registry`
//!   (and the pending-transaction follower) into a fresh database;
//! * the GraphQL API (`api::spawn`) on `127.0.0.1:0`, submitting to the node
//!   over NATS.
//!
//! The network is the shipped devnet with faster settings (one-second
//! blocks, two-second blockstake aging, see [`DevnetOptions`]); it keeps
//! the devnet's address prefix (`bsdev`) and genesis allocation, so the
//! genesis wallet ([`genesis_wallet_file`]) holds all coins and stake.
//! [`Devnet::shutdown`] stops everything, deletes the stream and drops the
//! database.
//!
//! Synchronous tests (for example ones running a binary with
//! `std::process::Command`) use [`BackgroundDevnet`], which owns a runtime
//! on its own threads.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context as _, anyhow, bail};
use api::submit::NatsSubmitter;
use api::{ApiState, Limits, Network, ServerOptions};
use chain::ChainConfig;
use chain::stream::{self, submit_subject};
use devenv::{Settings, TestDatabase, unique_name};
use projections::runner::{ModelMetrics, Runner, RunnerConfig};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// The text of the devnet genesis wallet as `scripts/devnet` writes it
/// (`.state/devnet/genesis-wallet.txt`): the public seed `[1; 32]` as a
/// mnemonic with the `raw` derivation marker.
pub fn genesis_wallet_file() -> String {
    node::keys::devnet_wallet_file()
}

/// The devnet genesis wallet's 24 words.
pub fn genesis_mnemonic() -> String {
    ledger::derivation::mnemonic_for(&GENESIS_SEED)
}

/// The seed of the devnet genesis key (public, local testing only).
pub const GENESIS_SEED: [u8; 32] = node::keys::DEVNET_GENESIS_SEED;

/// The file name `scripts/devnet` gives the genesis wallet.
pub const GENESIS_WALLET_FILE: &str = "genesis-wallet.txt";

/// How the test network differs from the shipped devnet.
#[derive(Debug, Clone)]
pub struct DevnetOptions {
    /// Target seconds between blocks (the node tries once a second).
    pub block_frequency: u64,
    /// Seconds a transferred blockstake output waits before it may stake.
    pub blockstake_aging: u64,
    /// Blocks before payouts may be spent.
    pub maturity_delay: u64,
    /// Equal outputs each of the devnet's genesis blockstake outputs (two
    /// of 500) is split into (a divisor of 500; 1 keeps them as shipped).
    /// The genesis wallet can send blockstakes while it stakes because it
    /// holds more than one output: the block creator stakes with an output
    /// the pooled transaction does not spend.
    pub genesis_stake_outputs: u64,
    /// A `[compute]` section (prices, grace, billing interval, silence
    /// limit); `None` keeps the shipped devnet's (the defaults).
    pub compute: Option<chain::domains::compute::ComputeParams>,
}

impl Default for DevnetOptions {
    fn default() -> DevnetOptions {
        DevnetOptions {
            block_frequency: 1,
            blockstake_aging: 2,
            maturity_delay: 10,
            genesis_stake_outputs: 1,
            compute: None,
        }
    }
}

/// The shipped devnet configuration with `options` applied and the network
/// renamed to `name` (the name selects the stream and NATS subjects).
pub fn devnet_config(name: &str, options: &DevnetOptions) -> anyhow::Result<ChainConfig> {
    ChainConfig::from_toml(&devnet_config_text(name, options)?)
        .context("the modified devnet configuration")
}

/// [`devnet_config`] as TOML text (for processes started with
/// `--network NAME --network-config FILE`).
pub fn devnet_config_text(name: &str, options: &DevnetOptions) -> anyhow::Result<String> {
    let mut text = String::new();
    let mut in_blockstakes = false;
    let mut stake = 0u64;
    for line in chain::config::DEVNET_TOML.lines() {
        let trimmed = line.trim();
        if trimmed.starts_with('[') {
            in_blockstakes = trimmed == "[[genesis.blockstakes]]";
            if in_blockstakes {
                continue;
            }
        }
        let key = line.split('=').next().unwrap_or("").trim();
        let replaced = match key {
            "name" => format!("name = \"{name}\""),
            "block_frequency" => format!("block_frequency = {}", options.block_frequency),
            "blockstake_aging" => format!("blockstake_aging = {}", options.blockstake_aging),
            "maturity_delay" => format!("maturity_delay = {}", options.maturity_delay),
            "value" if in_blockstakes => {
                stake = line.split('=').nth(1).unwrap_or("").trim().parse()?;
                continue;
            }
            "public_key" if in_blockstakes => {
                let outputs = options.genesis_stake_outputs;
                anyhow::ensure!(
                    outputs > 0 && stake.is_multiple_of(outputs),
                    "genesis_stake_outputs must divide {stake}, not {outputs}"
                );
                (0..outputs)
                    .map(|_| {
                        format!(
                            "[[genesis.blockstakes]]\nvalue = {}\n{line}",
                            stake / outputs
                        )
                    })
                    .collect::<Vec<_>>()
                    .join("\n")
            }
            _ => line.to_owned(),
        };
        text.push_str(&replaced);
        text.push('\n');
    }
    if let Some(compute) = &options.compute {
        text.push_str(&format!(
            "\n[compute]\nsilent_after_blocks = {}\ngrace_blocks = {}\nbill_interval_blocks = {}\n\
             price_per_core = {}\nprice_per_memory_gib = {}\nprice_per_disk_gib = {}\n",
            compute.silent_after_blocks,
            compute.grace_blocks,
            compute.bill_interval_blocks,
            compute.price_per_core,
            compute.price_per_memory_gib,
            compute.price_per_disk_gib,
        ));
    }
    Ok(text)
}

/// Pays transactions from the devnet genesis wallet's coins, each
/// spending the previous one's change (the pool takes chains of
/// unconfirmed transactions), with a fixed fee.
pub struct GenesisPayer {
    key: ledger::SecretKey,
    coin: (ledger::CoinOutputId, ledger::Currency),
    params: ledger::NetworkParams,
}

impl GenesisPayer {
    /// The fee of every transaction.
    pub const FEE: ledger::Currency = ledger::Currency(100_000_000);

    /// Starts from the genesis wallet's coin output of `devnet`.
    pub fn new(devnet: &Devnet) -> anyhow::Result<GenesisPayer> {
        use ledger::Condition;
        let key = ledger::SecretKey::from_seed(GENESIS_SEED);
        let own = Condition::for_public_key(&key.public_key());
        let coin = devnet
            .config
            .genesis
            .transactions
            .iter()
            .find_map(|transaction| {
                let ids = transaction.coin_output_ids(&transaction.id());
                transaction
                    .created_coin_outputs()
                    .zip(ids)
                    .find(|(output, _)| output.condition == own)
                    .map(|(output, id)| (id, output.value))
            })
            .context("the genesis wallet holds coins")?;
        Ok(GenesisPayer {
            key,
            coin,
            params: devnet.config.params.clone(),
        })
    }

    pub fn chain_id(&self) -> ledger::ChainId {
        self.params.chain_id
    }

    /// A transaction spending the current coin and paying [`Self::FEE`];
    /// `fill` puts the payload in (and signs it) and returns the
    /// transaction ID; the coin input is signed afterwards.
    pub fn pay(
        &mut self,
        fill: impl FnOnce(&mut ledger::Transaction) -> ledger::TransactionId,
    ) -> anyhow::Result<ledger::Transaction> {
        use ledger::fulfillment::{InputKind, SingleSignatureFulfillment, signing_message};
        use ledger::{BlockHeight, CoinInput, CoinOutput, Condition, Fulfillment, Timestamp};
        let (parent, value) = self.coin;
        let change = value
            .checked_sub(Self::FEE)
            .context("the genesis coin cannot pay another fee")?;
        let mut transaction = ledger::Transaction {
            coin_inputs: vec![CoinInput {
                parent_id: parent,
                fulfillment: Fulfillment::Nil,
            }],
            coin_outputs: vec![CoinOutput {
                value: change,
                condition: Condition::for_public_key(&self.key.public_key()),
            }],
            fee: Self::FEE,
            ..ledger::Transaction::new()
        };
        let id = fill(&mut transaction);
        let context = ledger::Transaction::input_context(
            &id,
            &self.params,
            InputKind::Coin,
            0,
            BlockHeight(0),
            Timestamp(0),
        );
        let public_key = self.key.public_key();
        transaction.coin_inputs[0].fulfillment =
            Fulfillment::SingleSignature(SingleSignatureFulfillment {
                public_key,
                signature: self.key.sign(&signing_message(&context, &public_key, None)),
            });
        self.coin = (ledger::CoinOutputId::for_transaction_output(&id, 0), change);
        Ok(transaction)
    }
}

/// A running devnet. Stop it with [`Devnet::shutdown`].
pub struct Devnet {
    /// The network name (unique per devnet): stream and subjects.
    pub network: String,
    /// The chain configuration every component runs with.
    pub config: Arc<ChainConfig>,
    /// Where the API listens.
    pub api_address: SocketAddr,
    /// The read models' database (every model in its own schema).
    pub database_options: PgConnectOptions,
    database: TestDatabase,
    nats: async_nats::Client,
    shutdown: CancellationToken,
    node: JoinHandle<anyhow::Result<()>>,
    projector: JoinHandle<Result<(), projections::ProjectionError>>,
    api: JoinHandle<std::io::Result<()>>,
    http: reqwest::Client,
    _data_dir: tempfile::TempDir,
}

impl Devnet {
    /// Starts a devnet with the default (fast) options.
    pub async fn start() -> anyhow::Result<Devnet> {
        Devnet::start_with(DevnetOptions::default()).await
    }

    /// Starts a devnet and waits until the API serves its genesis block.
    pub async fn start_with(options: DevnetOptions) -> anyhow::Result<Devnet> {
        let settings = Settings::load()?;
        let network = unique_name("devnet");
        let config = Arc::new(devnet_config(&network, &options)?);
        let data_dir = tempfile::tempdir()?;
        let shutdown = CancellationToken::new();
        let nats = async_nats::connect(&settings.nats_url)
            .await
            .with_context(|| format!("connecting to NATS at {}", settings.nats_url))?;

        let node_settings = node::settings::Settings {
            data_dir: data_dir.path().join("node"),
            network: config.clone(),
            listen: loopback(),
            advertise: None,
            seeds: Vec::new(),
            nats_url: Some(settings.nats_url.clone()),
            publish: true,
            stream_replicas: 1,
            duplicate_window: Duration::from_secs(120),
            health_listen: loopback(),
            keys: vec![ledger::SecretKey::from_seed(GENESIS_SEED)],
            log_json: false,
            dial_interval: Duration::from_secs(5),
            request_timeout: Duration::from_secs(10),
            ban_duration: Duration::from_secs(60),
            store_cache_mib: node::settings::DEFAULT_STORE_CACHE_MIB,
        };
        let node = tokio::spawn(node::runtime::run(node_settings, shutdown.child_token()));

        // The node creates the stream when it starts publishing.
        let js = async_nats::jetstream::new(nats.clone());
        let stream_name = stream::stream_name(&network);
        let started = Instant::now();
        while js.get_stream(&stream_name).await.is_err() {
            if node.is_finished() {
                bail!("the node stopped before creating its stream");
            }
            if started.elapsed() > Duration::from_secs(30) {
                bail!("the node did not create stream {stream_name} within 30 s");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }

        let database = TestDatabase::create(&settings).await?;
        let options: PgConnectOptions = settings
            .database_url
            .parse::<PgConnectOptions>()?
            .database(database.name());
        let mut runner_config = RunnerConfig::new(network.clone(), config.consensus.finality_depth);
        runner_config.fetch_wait = Duration::from_millis(50);
        runner_config.retry_delay = Duration::from_millis(200);
        let mut models = tokio::task::JoinSet::new();
        for model in projections::registry::all(config.clone()) {
            let runner = Runner {
                schema_name: model.name().to_owned(),
                model,
                database: options.clone(),
                nats: nats.clone(),
                config: runner_config.clone(),
                metrics: Arc::new(ModelMetrics::default()),
            };
            let shutdown = shutdown.child_token();
            models.spawn(async move { runner.run(shutdown).await });
        }
        {
            let pool = PgPoolOptions::new()
                .max_connections(2)
                .connect_lazy_with(options.clone());
            let (nats, network, shutdown) = (nats.clone(), network.clone(), shutdown.child_token());
            tokio::spawn(async move {
                if let Err(error) =
                    projections::explorer::pending::follow_pool(pool, nats, network, shutdown).await
                {
                    tracing::error!(%error, "pool events are not followed");
                }
            });
        }
        let projector = tokio::spawn(async move {
            while let Some(joined) = models.join_next().await {
                if let Ok(Err(error)) = joined {
                    return Err(error);
                }
            }
            Ok(())
        });

        let pool = PgPoolOptions::new()
            .max_connections(8)
            .connect_with(options.clone())
            .await?;
        let state = ApiState {
            pool,
            network: Network::new(network.clone(), config.clone()),
            limits: Limits::default(),
            nats: Some(nats.clone()),
            submitter: Arc::new(NatsSubmitter {
                client: nats.clone(),
                subject: submit_subject(&network),
                timeout: Duration::from_secs(5),
            }),
            login: Arc::new(api::login::LoginConfig::ephemeral()),
        };
        let (api_address, api) = api::spawn(
            loopback(),
            state,
            ServerOptions {
                shutdown_grace: Duration::from_millis(200),
                ..ServerOptions::default()
            },
            shutdown.child_token(),
        )
        .await?;
        let devnet = Devnet {
            network,
            config,
            api_address,
            database_options: options,
            database,
            nats,
            shutdown,
            node,
            projector,
            api,
            http: reqwest::Client::new(),
            _data_dir: data_dir,
        };
        devnet.wait_height(0, Duration::from_secs(30)).await?;
        Ok(devnet)
    }

    /// The GraphQL endpoint, `http://127.0.0.1:PORT/graphql`.
    pub fn api_url(&self) -> String {
        format!("http://{}/graphql", self.api_address)
    }

    /// Runs a GraphQL query against the API; returns `data`, or the errors
    /// as an error.
    pub async fn query(
        &self,
        query: &str,
        variables: serde_json::Value,
    ) -> anyhow::Result<serde_json::Value> {
        let body: serde_json::Value = self
            .http
            .post(self.api_url())
            .json(&serde_json::json!({ "query": query, "variables": variables }))
            .send()
            .await?
            .json()
            .await?;
        if let Some(errors) = body.get("errors") {
            bail!("GraphQL errors: {errors}");
        }
        Ok(body["data"].clone())
    }

    /// Submits `transaction` through the API's `submitTransaction`.
    pub async fn submit(
        &self,
        transaction: &ledger::Transaction,
    ) -> anyhow::Result<ledger::TransactionId> {
        let data = self
            .query(
                "mutation($e: String!) { submitTransaction(encoded: $e) { id } }",
                serde_json::json!({ "e": hex::encode(ledger::codec::encode(transaction)) }),
            )
            .await?;
        let id = transaction.id();
        anyhow::ensure!(
            data["submitTransaction"]["id"] == id.to_string(),
            "the API answered {data} for transaction {id}"
        );
        Ok(id)
    }

    /// The height the API (the explorer read model) has folded up to.
    pub async fn height(&self) -> anyhow::Result<Option<u64>> {
        let data = self
            .query("{ chain { height } }", serde_json::Value::Null)
            .await?;
        Ok(data["chain"]["height"].as_u64())
    }

    /// Waits until the API serves `height`; fails after `timeout` or when a
    /// component stopped.
    pub async fn wait_height(&self, height: u64, timeout: Duration) -> anyhow::Result<u64> {
        let started = Instant::now();
        loop {
            if let Ok(Some(at)) = self.height().await
                && at >= height
            {
                return Ok(at);
            }
            self.check_running()?;
            if started.elapsed() > timeout {
                bail!(
                    "the devnet did not reach height {height} within {timeout:?} (at {:?})",
                    self.height().await.ok().flatten()
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// An error if the node, the projector or the API stopped.
    pub fn check_running(&self) -> anyhow::Result<()> {
        for (name, finished) in [
            ("node", self.node.is_finished()),
            ("projector", self.projector.is_finished()),
            ("api", self.api.is_finished()),
        ] {
            if finished {
                return Err(anyhow!("the devnet's {name} stopped"));
            }
        }
        Ok(())
    }

    /// Stops the API, the projector and the node, deletes the stream and
    /// drops the database.
    pub async fn shutdown(self) -> anyhow::Result<()> {
        self.shutdown.cancel();
        let node = self
            .node
            .await
            .map_err(|error| anyhow!("node task: {error}"))?;
        let projector = self.projector.await;
        let api = self.api.await;
        let js = async_nats::jetstream::new(self.nats.clone());
        let _ = js.delete_stream(stream::stream_name(&self.network)).await;
        self.database.drop_database().await?;
        node.context("the node")?;
        projector
            .map_err(|error| anyhow!("projector task: {error}"))?
            .context("the projector")?;
        api.map_err(|error| anyhow!("api task: {error}"))?
            .context("the api")?;
        Ok(())
    }
}

fn loopback() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 0))
}

/// A [`Devnet`] on a runtime of its own, for synchronous tests. Dropping it
/// shuts the devnet down.
pub struct BackgroundDevnet {
    runtime: Option<tokio::runtime::Runtime>,
    devnet: Option<Devnet>,
}

impl BackgroundDevnet {
    /// Starts a devnet with the default options on a new runtime.
    pub fn start() -> anyhow::Result<BackgroundDevnet> {
        BackgroundDevnet::start_with(DevnetOptions::default())
    }

    pub fn start_with(options: DevnetOptions) -> anyhow::Result<BackgroundDevnet> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()?;
        let devnet = runtime.block_on(Devnet::start_with(options))?;
        Ok(BackgroundDevnet {
            runtime: Some(runtime),
            devnet: Some(devnet),
        })
    }

    /// The devnet (its fields and `api_url`).
    pub fn devnet(&self) -> &Devnet {
        // Both are `Some` until `shutdown` or `drop` takes them.
        self.devnet.as_ref().unwrap_or_else(|| unreachable!())
    }

    fn runtime(&self) -> &tokio::runtime::Runtime {
        self.runtime.as_ref().unwrap_or_else(|| unreachable!())
    }

    pub fn api_url(&self) -> String {
        self.devnet().api_url()
    }

    /// Runs a future on the devnet's runtime.
    pub fn block_on<F: std::future::Future>(&self, future: F) -> F::Output {
        self.runtime().block_on(future)
    }

    pub fn query(
        &self,
        query: &str,
        variables: serde_json::Value,
    ) -> anyhow::Result<serde_json::Value> {
        self.block_on(self.devnet().query(query, variables))
    }

    pub fn height(&self) -> anyhow::Result<Option<u64>> {
        self.block_on(self.devnet().height())
    }

    pub fn wait_height(&self, height: u64, timeout: Duration) -> anyhow::Result<u64> {
        self.block_on(self.devnet().wait_height(height, timeout))
    }

    /// Writes the genesis wallet file into `dir` and returns its path.
    pub fn write_genesis_wallet(&self, dir: &std::path::Path) -> anyhow::Result<PathBuf> {
        let path = dir.join(GENESIS_WALLET_FILE);
        std::fs::write(&path, genesis_wallet_file())?;
        Ok(path)
    }

    /// Shuts the devnet down and reports what failed.
    pub fn shutdown(mut self) -> anyhow::Result<()> {
        self.stop()
    }

    fn stop(&mut self) -> anyhow::Result<()> {
        match (self.runtime.take(), self.devnet.take()) {
            (Some(runtime), Some(devnet)) => {
                let result = runtime.block_on(devnet.shutdown());
                runtime.shutdown_timeout(Duration::from_secs(5));
                result
            }
            _ => Ok(()),
        }
    }
}

impl Drop for BackgroundDevnet {
    fn drop(&mut self) {
        if let Err(error) = self.stop() {
            tracing::warn!(%error, "devnet shutdown");
        }
    }
}
