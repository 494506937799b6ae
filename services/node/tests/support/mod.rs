//! Test support for multi-process node tests: a fast test network with a
//! unique name, real `node` processes on loopback (killed on drop),
//! metrics read over plain HTTP, chains preloaded into a data dir through
//! the real store, signed transfers, a private nats-server, and reading a
//! JetStream stream back. Also included by the projector's backfill test
//! (which runs nodes in-process).

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::collections::VecDeque;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chain::creator::{build_block, find_winning_timestamp};
use chain::stream::{BlockMessage, stream_name};
use chain::{Chain, ChainConfig, ChainStore, ManualClock, RedbStore};
use futures::StreamExt;
use ledger::fulfillment::{InputKind, SingleSignatureFulfillment, signing_message};
use ledger::{
    Address, Block, BlockHeight, BlockStakePosition, CoinInput, CoinOutput, CoinOutputId,
    Condition, Currency, Fulfillment, SecretKey, Timestamp, Transaction,
};

/// Seeds: the main staker, a second staker, the coin owner.
pub const STAKER: u8 = 11;
pub const STAKER_TWO: u8 = 13;
pub const OWNER: u8 = 12;
pub const GENESIS_TIMESTAMP: u64 = 1_700_000_000;

pub fn key(seed: u8) -> SecretKey {
    SecretKey::from_seed([seed; 32])
}

pub fn key_hex(seed: u8) -> String {
    hex::encode([seed; 32])
}

/// A test network: 1 s blocks, every try wins (initial target 2^256-1),
/// staker [`STAKER`] (and optionally [`STAKER_TWO`]), `coins` genesis
/// outputs of 1,000,000 coins owned by [`OWNER`].
pub fn network_text(name: &str, coins: usize, two_stakers: bool) -> String {
    let staker = hex::encode(key(STAKER).public_key().0);
    let owner = hex::encode(key(OWNER).public_key().0);
    let coins: String = (0..coins)
        .map(|_| format!("[[genesis.coins]]\nvalue = \"1000000\"\npublic_key = \"{owner}\"\n\n"))
        .collect();
    let second = if two_stakers {
        format!(
            "[[genesis.blockstakes]]\nvalue = 1000\npublic_key = \"{}\"\n",
            hex::encode(key(STAKER_TWO).public_key().0)
        )
    } else {
        String::new()
    };
    format!(
        r#"
[network]
name = "{name}"
address_prefix = "bstest"
coin_precision = 9

[consensus]
block_frequency = 1
target_window = 20
stake_modifier_delay = 5
blockstake_aging = 60
maturity_delay = 3
finality_depth = 50
block_size_limit = 2000000
transaction_size_limit = 1995000
arbitrary_data_limit = 1024
future_threshold = 30
extreme_future_threshold = 120
surpass_threshold = "1/5"
max_adjustment_up = "5/2"
max_adjustment_down = "2/5"
initial_target = "{target}"

[fees]
block_creator_fee = "1"
minimum_fee_base = "0.01"
minimum_fee_per_byte = "0.000001"

[minting]
condition = {{ public_key = "{staker}" }}

[authorized_addresses]
enabled = false
authority = {{ public_key = "{staker}" }}
authorized = []

[genesis]
timestamp = {GENESIS_TIMESTAMP}

{coins}
[[genesis.blockstakes]]
value = 1000
public_key = "{staker}"

{second}
"#,
        target = "f".repeat(64),
    )
}

/// A test network in `dir`, with a unique name.
pub struct TestNetwork {
    pub name: String,
    pub file: PathBuf,
    pub config: Arc<ChainConfig>,
}

impl TestNetwork {
    pub fn new(dir: &Path, coins: usize, two_stakers: bool) -> TestNetwork {
        let name = devenv::unique_name("nodetest").replace('-', "_");
        let text = network_text(&name, coins, two_stakers);
        TestNetwork::from_text(dir, name, text)
    }

    /// Two stakers: [`STAKER`] with 1,000 and [`STAKER_TWO`] with 3,000
    /// blockstakes, and a target at which 4,000 blockstakes win about
    /// once a second: the second staker's chain grows about three times
    /// as fast.
    pub fn contested(dir: &Path) -> TestNetwork {
        let name = devenv::unique_name("nodetest").replace('-', "_");
        let two = hex::encode(key(STAKER_TWO).public_key().0);
        let text = network_text(&name, 1, true)
            .replace(
                &format!("value = 1000\npublic_key = \"{two}\""),
                &format!("value = 3000\npublic_key = \"{two}\""),
            )
            .replace(
                &"f".repeat(64),
                "0010624dd2f1a9fbe76c8b4395810624dd2f1a9fbe76c8b4395810624dd2f1a9",
            );
        TestNetwork::from_text(dir, name, text)
    }

    fn from_text(dir: &Path, name: String, text: String) -> TestNetwork {
        let file = dir.join("network.toml");
        std::fs::write(&file, &text).unwrap();
        let config = Arc::new(ChainConfig::from_toml(&text).unwrap());
        TestNetwork { name, file, config }
    }
}

/// A free loopback port for a server process a test starts, below the
/// ephemeral range (`devenv::free_test_port`): a node restarted on it, or a
/// nats-server, never finds it taken by an outgoing connection.
pub fn free_port() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], devenv::free_test_port().unwrap()))
}

pub fn nats_url() -> String {
    devenv::Settings::load().expect("local services").nats_url
}

/// How to start a node.
#[derive(Clone, Default)]
pub struct NodeOptions {
    pub key_seed: Option<u8>,
    pub seeds: Vec<SocketAddr>,
    pub nats_url: Option<String>,
    pub publish: bool,
    pub p2p: Option<SocketAddr>,
    pub stream_replicas: Option<usize>,
}

impl NodeOptions {
    /// A node that creates blocks with the stake of `seed`.
    pub fn staker(seed: u8) -> NodeOptions {
        NodeOptions {
            key_seed: Some(seed),
            ..NodeOptions::default()
        }
    }

    /// A staker that publishes its blocks to the NATS at `url`.
    pub fn publishing_staker(seed: u8, url: &str) -> NodeOptions {
        NodeOptions {
            nats_url: Some(url.to_owned()),
            publish: true,
            ..NodeOptions::staker(seed)
        }
    }

    /// A node that only follows `seeds`.
    pub fn follower(seeds: Vec<SocketAddr>) -> NodeOptions {
        NodeOptions {
            seeds,
            ..NodeOptions::default()
        }
    }
}

/// A `node` process; killed (SIGKILL) on drop if still running.
pub struct NodeProcess {
    pub name: String,
    pub dir: PathBuf,
    pub p2p: SocketAddr,
    pub health: SocketAddr,
    pub log: PathBuf,
    network: PathBuf,
    options: NodeOptions,
    child: Option<Child>,
}

impl NodeProcess {
    pub fn start(
        name: &str,
        dir: &Path,
        network: &TestNetwork,
        options: NodeOptions,
    ) -> NodeProcess {
        std::fs::create_dir_all(dir).unwrap();
        let mut node = NodeProcess {
            name: name.to_owned(),
            dir: dir.to_owned(),
            p2p: options.p2p.unwrap_or_else(free_port),
            health: free_port(),
            log: dir.join("node.log"),
            network: network.file.clone(),
            options,
            child: None,
        };
        node.spawn();
        node
    }

    fn spawn(&mut self) {
        // Known only to the node package's own tests; other packages that
        // include this module run nodes in-process instead.
        let Some(binary) = option_env!("CARGO_BIN_EXE_node") else {
            panic!("the node binary is known only to the node package's tests");
        };
        let mut command = Command::new(binary);
        command
            .arg("--data-dir")
            .arg(self.dir.join("data"))
            .arg("--network")
            .arg(&self.network)
            .arg("--listen")
            .arg(self.p2p.to_string())
            .arg("--health-listen")
            .arg(self.health.to_string())
            .arg("--dial-interval")
            .arg("0.5")
            .arg("--request-timeout")
            .arg("5")
            .arg("--publish")
            .arg(self.options.publish.to_string())
            .env_remove("NATS_URL")
            .env("RUST_LOG", "info")
            .stdin(Stdio::null());
        if let Some(seed) = self.options.key_seed {
            let file = self.dir.join("keys");
            std::fs::write(&file, format!("# test key\n{}\n", key_hex(seed))).unwrap();
            command.arg("--key-file").arg(file);
        }
        if !self.options.seeds.is_empty() {
            let seeds: Vec<String> = self.options.seeds.iter().map(|s| s.to_string()).collect();
            command.arg("--seeds").arg(seeds.join(","));
        }
        if let Some(replicas) = self.options.stream_replicas {
            command.arg("--stream-replicas").arg(replicas.to_string());
        }
        if let Some(url) = &self.options.nats_url {
            command.arg("--nats-url").arg(url);
        }
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .unwrap();
        command.stdout(log.try_clone().unwrap()).stderr(log);
        self.child = Some(command.spawn().unwrap());
    }

    /// Starts the process again on the same data dir and ports.
    pub fn restart(&mut self) {
        assert!(self.child.is_none(), "{} still runs", self.name);
        self.spawn();
    }

    pub fn set_seeds(&mut self, seeds: Vec<SocketAddr>) {
        self.options.seeds = seeds;
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().unwrap().id()
    }

    /// SIGTERM and wait (at most 20 s).
    pub fn terminate(&mut self) -> ExitStatus {
        let mut child = self.child.take().expect("running");
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(child.id().to_string())
            .status();
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(status) = child.try_wait().unwrap() {
                return status;
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                panic!(
                    "{} did not stop within 20 s after SIGTERM; log:\n{}",
                    self.name,
                    self.log_tail()
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// SIGKILL.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    pub fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(40)..].join("\n")
    }

    /// The `/metrics` text, if the endpoint answers.
    pub fn metrics(&self) -> Option<String> {
        let mut stream = TcpStream::connect_timeout(&self.health, Duration::from_secs(1)).ok()?;
        stream.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
        stream
            .write_all(b"GET /metrics HTTP/1.0\r\nHost: localhost\r\n\r\n")
            .ok()?;
        let mut text = String::new();
        stream.read_to_string(&mut text).ok()?;
        Some(text)
    }

    /// A metric's value (first sample).
    pub fn metric(&self, name: &str) -> Option<f64> {
        let text = self.metrics()?;
        text.lines()
            .filter(|line| !line.starts_with('#'))
            .find(|line| {
                line.starts_with(name)
                    && matches!(line.as_bytes().get(name.len()), Some(b'{') | Some(b' '))
            })
            .and_then(|line| line.rsplit(' ').next())
            .and_then(|value| value.parse().ok())
    }

    pub fn height(&self) -> u64 {
        self.metric("node_height").unwrap_or(0.0) as u64
    }

    /// (tip ID hex, height).
    pub fn tip(&self) -> Option<(String, u64)> {
        let text = self.metrics()?;
        let line = text.lines().find(|l| l.starts_with("node_tip_info{"))?;
        let start = line.find("block=\"")? + 7;
        let end = start + line[start..].find('"')?;
        let height = line.rsplit(' ').next()?.parse::<f64>().ok()? as u64;
        Some((line[start..end].to_owned(), height))
    }

    pub fn wait_until(
        &self,
        what: &str,
        timeout: Duration,
        mut done: impl FnMut(&NodeProcess) -> bool,
    ) {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if done(self) {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!(
            "{}: not {what} within {timeout:?}; log:\n{}",
            self.name,
            self.log_tail()
        );
    }

    pub fn wait_height(&self, height: u64, timeout: Duration) {
        self.wait_until(&format!("at height {height}"), timeout, |n| {
            n.height() >= height
        });
    }
}

impl Drop for NodeProcess {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Opens the store of a stopped node and returns (tip, height).
pub fn stored_tip(data_dir: &Path, config: &Arc<ChainConfig>) -> (String, u64) {
    let store = RedbStore::open(data_dir.join("chain.redb"), config).unwrap();
    let tip = store.tip().unwrap();
    (tip.id.to_string(), tip.height.0)
}

/// Writes a chain of `blocks` blocks (each with up to `transfers`
/// transfers of the owner's outputs) into `data_dir` through the real
/// store, timestamps one second apart from genesis + `offset` + 1.
pub fn preload(
    data_dir: &Path,
    config: &Arc<ChainConfig>,
    blocks: u64,
    transfers: usize,
    offset: u64,
) -> (String, u64) {
    std::fs::create_dir_all(data_dir).unwrap();
    let store = RedbStore::open(data_dir.join("chain.redb"), config).unwrap();
    let clock = Arc::new(ManualClock::new(Timestamp(
        GENESIS_TIMESTAMP + offset + blocks + 10,
    )));
    let mut chain = Chain::new(
        config.clone(),
        clock,
        store,
        chain::domains::standard(config),
    )
    .unwrap();
    let mut spendable: VecDeque<_> = owner_outputs(&chain).into();
    let staker = key(STAKER);
    let mut next = Timestamp(GENESIS_TIMESTAMP + offset + 1);
    for _ in 0..blocks {
        let block = block_on_tip(&chain, &staker, next, &mut spendable, transfers);
        next = Timestamp(block.header.timestamp.0 + 1);
        chain.accept_block(block).unwrap();
    }
    (chain.tip().id.to_string(), chain.height().0)
}

/// The owner's unspent outputs in the tip state.
pub fn owner_outputs<S: ChainStore>(chain: &Chain<S>) -> Vec<(CoinOutputId, CoinOutput)> {
    let condition = Condition::for_public_key(&key(OWNER).public_key());
    let mut outputs: Vec<_> = chain
        .state()
        .coin_outputs()
        .filter(|(_, output)| output.condition == condition)
        .map(|(id, output)| (*id, output.clone()))
        .collect();
    outputs.sort_by_key(|(id, _)| *id);
    outputs
}

/// The staker's block on the tip at the first winning second from `from`.
pub fn block_on_tip<S: ChainStore>(
    chain: &Chain<S>,
    staker: &SecretKey,
    from: Timestamp,
    spendable: &mut VecDeque<(CoinOutputId, CoinOutput)>,
    transfers: usize,
) -> Block {
    let address = Address::for_public_key(&staker.public_key());
    let positions: Vec<BlockStakePosition> = chain
        .state()
        .blockstake_outputs()
        .filter(|(_, entry)| entry.output.condition.address() == address)
        .map(|(_, entry)| entry.position)
        .collect();
    let (timestamp, position) =
        find_winning_timestamp(chain, &positions, from, Timestamp(from.0 + 100_000)).unwrap();
    let mut transactions = Vec::new();
    let mut created = Vec::new();
    while transactions.len() < transfers {
        let Some((id, output)) = spendable.pop_front() else {
            break;
        };
        let transaction = transfer(&chain.config().params, id, &output, 2);
        let txid = transaction.id();
        created.extend(
            transaction
                .coin_output_ids(&txid)
                .into_iter()
                .zip(transaction.coin_outputs.iter().cloned()),
        );
        transactions.push(transaction);
    }
    spendable.extend(created);
    build_block(chain, staker, position, timestamp, transactions).unwrap()
}

/// The fee of a test transfer (well above the minimum).
pub const FEE: Currency = Currency(100_000_000);

/// A signed transfer of the owner's output `id` into `parts` outputs of
/// the owner.
pub fn transfer(
    params: &ledger::NetworkParams,
    id: CoinOutputId,
    output: &CoinOutput,
    parts: u128,
) -> Transaction {
    let owner = key(OWNER);
    let condition = Condition::for_public_key(&owner.public_key());
    let rest = output.value.0 - FEE.0;
    let share = rest / parts;
    let mut coin_outputs: Vec<CoinOutput> = (0..parts - 1)
        .map(|_| CoinOutput {
            value: Currency(share),
            condition: condition.clone(),
        })
        .collect();
    coin_outputs.push(CoinOutput {
        value: Currency(rest - share * (parts - 1)),
        condition,
    });
    let mut transaction = Transaction {
        coin_inputs: vec![CoinInput {
            parent_id: id,
            fulfillment: Fulfillment::Nil,
        }],
        coin_outputs,
        fee: FEE,
        ..Transaction::new()
    };
    let txid = transaction.id();
    let context = Transaction::input_context(
        &txid,
        params,
        InputKind::Coin,
        0,
        BlockHeight(0),
        Timestamp(0),
    );
    let public_key = owner.public_key();
    let signature = owner.sign(&signing_message(&context, &public_key, None));
    transaction.coin_inputs[0].fulfillment =
        Fulfillment::SingleSignature(SingleSignatureFulfillment {
            public_key,
            signature,
        });
    transaction
}

/// A private nats-server with JetStream on its own port and folder.
pub struct PrivateNats {
    pub port: u16,
    dir: PathBuf,
    child: Option<Child>,
}

pub fn nats_server_binary() -> PathBuf {
    let state = std::env::var_os("BSC_STATE_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../.state"));
    state.join("tools/nats/bin/nats-server")
}

impl PrivateNats {
    pub fn start(dir: &Path) -> PrivateNats {
        let port = free_port().port();
        let mut nats = PrivateNats {
            port,
            dir: dir.to_owned(),
            child: None,
        };
        nats.restart();
        nats
    }

    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    pub fn restart(&mut self) {
        std::fs::create_dir_all(&self.dir).unwrap();
        let config = self.dir.join("nats.conf");
        std::fs::write(&config, "max_payload: 8MB\n").unwrap();
        let log_path = self.dir.join("nats.log");
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log_path)
            .unwrap();
        let child = Command::new(nats_server_binary())
            .args([
                "-a",
                "127.0.0.1",
                "-p",
                &self.port.to_string(),
                "-js",
                "-sd",
            ])
            .arg(self.dir.join("js"))
            .arg("-c")
            .arg(&config)
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("nats-server from scripts/services (.state/tools/nats/bin)");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "private nats-server did not start: {}",
                std::fs::read_to_string(&log_path).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for PrivateNats {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Waits until `a` and `b` report the same tip and `accept` likes it.
pub fn wait_same_tip(
    a: &NodeProcess,
    b: &NodeProcess,
    timeout: Duration,
    accept: impl Fn(&(String, u64)) -> bool,
) {
    let deadline = Instant::now() + timeout;
    loop {
        let (ta, tb) = (a.tip(), b.tip());
        if ta == tb && ta.as_ref().is_some_and(&accept) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{} {ta:?} and {} {tb:?} do not converge",
            a.name,
            b.name
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Waits until `node` published everything, stops it (exit status 0) and
/// reads its stream from the NATS at `url`: checked with [`check_stream`]
/// and ending at the node's stored tip. Returns the messages and the
/// stored height.
pub fn stop_and_read_stream(
    node: &mut NodeProcess,
    network: &TestNetwork,
    url: &str,
) -> (Vec<BlockMessage>, u64) {
    node.wait_until("published", Duration::from_secs(30), |n| {
        n.metric("node_publish_lag_messages") == Some(0.0)
    });
    let status = node.terminate();
    assert!(
        status.success(),
        "exit status {status:?}:\n{}",
        node.log_tail()
    );
    let (tip, height) = stored_tip(&node.dir.join("data"), &network.config);
    let messages = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(read_stream(url, &network.name));
    assert_eq!(check_stream(&messages).last(), Some(&tip));
    (messages, height)
}

/// Every message of the network's stream, in stream order, decoded.
/// Retries for a while: right after a cluster lost a server, stream and
/// consumer requests may time out until leaders are elected again.
pub async fn read_stream(url: &str, network: &str) -> Vec<BlockMessage> {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        match try_read_stream(url, network).await {
            Ok(messages) => return messages,
            Err(error) => {
                assert!(Instant::now() < deadline, "reading the stream: {error}");
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
        }
    }
}

async fn try_read_stream(url: &str, network: &str) -> Result<Vec<BlockMessage>, String> {
    let client = async_nats::connect(url).await.map_err(|e| e.to_string())?;
    let jetstream = async_nats::jetstream::new(client);
    let mut stream = jetstream
        .get_stream(stream_name(network))
        .await
        .map_err(|e| e.to_string())?;
    let total = stream
        .info()
        .await
        .map_err(|e| e.to_string())?
        .state
        .messages;
    let consumer = stream
        .create_consumer(async_nats::jetstream::consumer::pull::OrderedConfig::default())
        .await
        .map_err(|e| e.to_string())?;
    let mut messages = Vec::new();
    let mut batch = consumer.messages().await.map_err(|e| e.to_string())?;
    while (messages.len() as u64) < total {
        let message = tokio::time::timeout(Duration::from_secs(10), batch.next())
            .await
            .map_err(|_| "no stream message within 10 s".to_owned())?
            .ok_or("the consumer ended")?
            .map_err(|e| e.to_string())?;
        messages.push(BlockMessage::decode(&message.payload).map_err(|e| e.to_string())?);
    }
    Ok(messages)
}

/// Checks the stream is the node's outbox exactly once, in order: outbox
/// sequences 1, 2, 3, …, applies extend and reverts pop a consistent view.
/// Returns the view (block IDs by height).
pub fn check_stream(messages: &[BlockMessage]) -> Vec<String> {
    let mut view: Vec<String> = Vec::new();
    for (index, message) in messages.iter().enumerate() {
        assert_eq!(
            message.outbox_sequence,
            index as u64 + 1,
            "message {index} out of sequence"
        );
        let id = message.block_id().to_string();
        match message.kind {
            chain::stream::BlockMessageKind::Applied => {
                assert_eq!(message.height.0, view.len() as u64, "applied at a gap");
                if let Some(parent) = view.last() {
                    assert_eq!(&message.block.header.parent.to_string(), parent);
                }
                view.push(id);
            }
            chain::stream::BlockMessageKind::Reverted => {
                assert_eq!(
                    view.pop().as_ref(),
                    Some(&id),
                    "reverted block is not the view's tip"
                );
            }
        }
    }
    view
}
