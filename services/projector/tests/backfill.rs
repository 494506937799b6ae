//! Backfill from a node when the stream no longer holds old blocks, with a
//! real node (the `node` crate's runtime, in-process) publishing a
//! preloaded chain to a real JetStream stream and serving
//! `ledger.<network>.blocks`, and the explorer in real PostgreSQL:
//!
//! * the stream's limits drop the early blocks; a fresh model, a rebuild
//!   and a model whose checkpoint lies in the dropped part all backfill
//!   from the node and end equal to a projection of the full stream;
//! * with no node, the model reports which blocks it misses and retries;
//!   once a node is up it catches up;
//! * a node whose blocks do not continue the model's chain: the typed
//!   "does not follow" error, nothing written.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test harness: a failed setup step fails the test

#[path = "../../node/tests/support/mod.rs"]
mod node_support;
#[path = "../../../projections/tests/support/mod.rs"]
mod support;

use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use async_nats::jetstream::stream as js_stream;
use chain::stream::{self, BlockMessage, BlockMessageKind};
use chain::{AcceptOutcome, Chain, ManualClock};
use futures::StreamExt;
use ledger::{BlockHeight, Timestamp};
use node_support::{GENESIS_TIMESTAMP, STAKER, TestNetwork, block_on_tip, key, owner_outputs};
use projections::batch::{BatchSettings, Source, StreamMessage, apply_batch};
use projections::explorer::{EXPLORER_MIGRATOR, Explorer};
use projections::runner::{ModelMetrics, Runner, RunnerConfig, rebuild};
use projections::{ProjectionError, schema};
use sqlx::{Connection, PgConnection};
use support::TestServices;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// Blocks above genesis in the preloaded chain.
const BLOCKS: u64 = 40;
/// Messages the stream keeps once its limit is set.
const KEEP: i64 = 9;

struct Setup {
    services: TestServices,
    _dir: tempfile::TempDir,
    data_dir: PathBuf,
    network: TestNetwork,
    explorer: Arc<Explorer>,
    node: Option<(CancellationToken, JoinHandle<anyhow::Result<()>>)>,
    /// Every message of the stream before it was cut.
    full: Vec<BlockMessage>,
}

impl Setup {
    /// A preloaded chain, a stream without limits, a node that published
    /// the chain to it.
    async fn new() -> Setup {
        let services = TestServices::connect().await;
        let dir = tempfile::tempdir().unwrap();
        let network = TestNetwork::new(dir.path(), 4, false);
        create_stream(&services, &network.name).await;
        let data_dir = dir.path().join("node");
        node_support::preload(&data_dir, &network.config, BLOCKS, 2, 0);
        let explorer = Arc::new(Explorer::new(network.config.clone()));
        let mut setup = Setup {
            services,
            _dir: dir,
            data_dir,
            network,
            explorer,
            node: None,
            full: Vec::new(),
        };
        setup.start_node();
        setup.wait_stream_last(BLOCKS + 1).await;
        setup.full =
            node_support::read_stream(&setup.services.settings.nats_url, &setup.network.name).await;
        assert_eq!(setup.full.len() as u64, BLOCKS + 1);
        setup
    }

    fn start_node(&mut self) {
        let any = "127.0.0.1:0".parse().unwrap();
        let settings = node::settings::Settings {
            data_dir: self.data_dir.clone(),
            network: self.network.config.clone(),
            listen: any,
            advertise: None,
            seeds: Vec::new(),
            nats_url: Some(self.services.settings.nats_url.clone()),
            publish: true,
            stream_replicas: 1,
            duplicate_window: Duration::from_secs(120),
            health_listen: any,
            keys: Vec::new(),
            log_json: false,
            dial_interval: Duration::from_secs(1),
            request_timeout: Duration::from_secs(5),
            ban_duration: Duration::from_secs(60),
            store_cache_mib: node::settings::DEFAULT_STORE_CACHE_MIB,
        };
        let shutdown = CancellationToken::new();
        let task = tokio::spawn(node::runtime::run(settings, shutdown.clone()));
        self.node = Some((shutdown, task));
    }

    async fn stop_node(&mut self) {
        let (shutdown, task) = self.node.take().expect("a running node");
        shutdown.cancel();
        task.await.unwrap().unwrap();
    }

    async fn stream_state(&self) -> js_stream::State {
        support::stream_state(&self.services.js, &self.network.name).await
    }

    async fn wait_stream_last(&self, last: u64) {
        let deadline = Instant::now() + Duration::from_secs(30);
        while self.stream_state().await.last_sequence < last {
            assert!(
                Instant::now() < deadline,
                "the node did not publish {last} messages"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Sets the stream's limit to [`KEEP`] messages: the oldest go.
    async fn cut_stream(&self) {
        let name = stream::stream_name(&self.network.name);
        let mut config = self
            .services
            .js
            .get_stream(&name)
            .await
            .unwrap()
            .info()
            .await
            .unwrap()
            .config
            .clone();
        config.max_messages = KEEP;
        self.services.js.update_stream(config).await.unwrap();
        let state = self.stream_state().await;
        assert_eq!(state.messages, KEEP as u64);
        assert_eq!(state.first_sequence, BLOCKS + 2 - KEEP as u64);
    }

    fn runner(&self, schema_name: &str) -> Runner {
        let mut config = RunnerConfig::new(
            self.network.name.clone(),
            self.network.config.consensus.finality_depth,
        );
        // Several requests and batches for the backfill.
        config.batch_size = 8;
        config.fetch_wait = Duration::from_millis(200);
        config.retry_delay = Duration::from_millis(100);
        config.max_retry_delay = Duration::from_millis(800);
        config.backfill_timeout = Duration::from_secs(2);
        Runner {
            model: self.explorer.clone(),
            schema_name: schema_name.to_owned(),
            database: self.services.options.clone(),
            nats: self.services.client.clone(),
            config,
            metrics: Arc::new(ModelMetrics::default()),
        }
    }

    /// Folds `messages` (stream positions from 1) into `schema_name`
    /// directly, as the runner's batch path does.
    async fn fold(&self, schema_name: &str, messages: &[BlockMessage]) {
        schema::install(
            &self.services.options,
            schema_name,
            "explorer",
            &EXPLORER_MIGRATOR,
        )
        .await
        .unwrap();
        let mut connection = self.connection(schema_name).await;
        let batch: Vec<StreamMessage> = messages
            .iter()
            .enumerate()
            .map(|(i, m)| StreamMessage::from_stream(i as u64 + 1, m.encode().into()))
            .collect();
        apply_batch(
            &mut connection,
            self.explorer.as_ref(),
            schema_name,
            &batch,
            None,
            BatchSettings {
                finality_depth: self.network.config.consensus.finality_depth,
            },
        )
        .await
        .unwrap();
        connection.close().await.unwrap();
    }

    async fn connection(&self, schema_name: &str) -> PgConnection {
        PgConnection::connect_with(&schema::options_for_schema(
            &self.services.options,
            schema_name,
        ))
        .await
        .unwrap()
    }

    async fn checkpoint(&self, schema_name: &str) -> Option<projections::checkpoint::Checkpoint> {
        let mut connection = self.connection(schema_name).await;
        let at = schema::read_checkpoint(&mut connection, "explorer")
            .await
            .unwrap();
        connection.close().await.unwrap();
        at
    }

    async fn finish(mut self) {
        if self.node.is_some() {
            self.stop_node().await;
        }
        let _ = self
            .services
            .js
            .delete_stream(stream::stream_name(&self.network.name))
            .await;
        self.services.db.drop_database().await.unwrap();
    }
}

/// Creates the network's ledger stream, without limits.
async fn create_stream(services: &TestServices, network: &str) {
    services
        .js
        .create_stream(js_stream::Config {
            name: stream::stream_name(network),
            subjects: vec![stream::block_subjects(network)],
            storage: js_stream::StorageType::File,
            duplicate_window: Duration::from_secs(120),
            ..Default::default()
        })
        .await
        .unwrap();
}

/// Starts `runner` live.
fn spawn(runner: Runner) -> (CancellationToken, JoinHandle<Result<(), ProjectionError>>) {
    let shutdown = CancellationToken::new();
    let task = {
        let shutdown = shutdown.clone();
        tokio::spawn(async move { runner.run(shutdown).await })
    };
    (shutdown, task)
}

/// Waits until the model's checkpoint reaches height [`BLOCKS`] and stream
/// position `last_seq`, then stops the runner.
async fn stop_when_caught_up(
    (shutdown, task): (CancellationToken, JoinHandle<Result<(), ProjectionError>>),
    metrics: &ModelMetrics,
    last_seq: u64,
) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while metrics.height.load(Ordering::Relaxed) < BLOCKS
        || metrics.stream_seq.load(Ordering::Relaxed) < last_seq
    {
        if task.is_finished() {
            panic!("the runner stopped: {:?}", task.await.unwrap());
        }
        assert!(
            Instant::now() < deadline,
            "not caught up: height {}, last error {:?}",
            metrics.height.load(Ordering::Relaxed),
            metrics.last_error()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    shutdown.cancel();
    task.await.unwrap().unwrap();
}

/// Runs `runner` live until its checkpoint reaches the stream's last
/// message at height [`BLOCKS`]; returns its metrics.
async fn run_to_the_end(runner: Runner, last_seq: u64) -> Arc<ModelMetrics> {
    let metrics = runner.metrics.clone();
    stop_when_caught_up(spawn(runner), &metrics, last_seq).await;
    metrics
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn models_backfill_what_the_stream_dropped_and_equal_the_full_stream() {
    let setup = Setup::new().await;
    setup.fold("explorer_full", &setup.full).await;
    let reference = support::dump(&setup.services.options, "explorer_full").await;
    // A model that stopped at height 5, before the stream lost messages.
    setup.fold("explorer_behind", &setup.full[..6]).await;

    setup.cut_stream().await;
    let first_height = BLOCKS + 1 - KEEP as u64;
    assert_ne!(first_height, 0, "the stream must not start at genesis");

    // A fresh model: genesis and everything up to the stream's first
    // message come from the node.
    let metrics = run_to_the_end(setup.runner("explorer"), BLOCKS + 1).await;
    assert_eq!(
        metrics.blocks_backfilled.load(Ordering::Relaxed),
        first_height
    );
    assert_eq!(metrics.blocks_applied.load(Ordering::Relaxed), BLOCKS + 1);
    assert_eq!(
        support::dump(&setup.services.options, "explorer").await,
        reference
    );
    let at = setup.checkpoint("explorer").await.unwrap();
    assert_eq!(at.height, BlockHeight(BLOCKS));
    assert_eq!(at.block_id, setup.full.last().unwrap().block_id());

    // A rebuild from the cut stream backfills too, and swaps in the same
    // rows.
    let rebuild_metrics = Arc::new(ModelMetrics::default());
    let rebuilt = rebuild(
        setup.explorer.clone(),
        setup.services.options.clone(),
        setup.services.client.clone(),
        setup.runner("explorer").config,
        CancellationToken::new(),
        rebuild_metrics.clone(),
    )
    .await
    .unwrap()
    .unwrap();
    assert_eq!(rebuilt.height, BlockHeight(BLOCKS));
    assert_eq!(
        rebuild_metrics.blocks_backfilled.load(Ordering::Relaxed),
        first_height
    );
    assert_eq!(
        support::dump(&setup.services.options, "explorer").await,
        reference
    );

    // The model at height 5 (stream position 6, no longer in the stream).
    let metrics = run_to_the_end(setup.runner("explorer_behind"), BLOCKS + 1).await;
    assert_eq!(
        metrics.blocks_backfilled.load(Ordering::Relaxed),
        first_height - 6
    );
    assert_eq!(
        support::dump(&setup.services.options, "explorer_behind").await,
        reference
    );
    setup.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_node_the_model_names_the_missing_blocks_and_catches_up_once_one_serves() {
    let mut setup = Setup::new().await;
    setup.fold("explorer_full", &setup.full).await;
    let reference = support::dump(&setup.services.options, "explorer_full").await;
    setup.stop_node().await;
    setup.cut_stream().await;

    let runner = setup.runner("explorer");
    let metrics = runner.metrics.clone();
    let shutdown = CancellationToken::new();
    let task = {
        let shutdown = shutdown.clone();
        tokio::spawn(async move { runner.run(shutdown).await })
    };
    let deadline = Instant::now() + Duration::from_secs(20);
    let error = loop {
        if let Some(error) = metrics.last_error() {
            break error;
        }
        assert!(!task.is_finished(), "the runner stopped");
        assert!(Instant::now() < deadline, "no error reported");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let first = BLOCKS + 2 - KEEP as u64;
    let needed = format!(
        "needs blocks 0..={} (the stream starts at message {first}, at height {})",
        first - 2,
        first - 1
    );
    assert!(error.contains(&needed), "{error}");
    assert!(error.contains("no node answered on ledger."), "{error}");
    assert_eq!(metrics.height.load(Ordering::Relaxed), 0);
    assert_eq!(setup.checkpoint("explorer").await, None);
    // Retried (with backoff), not given up.
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert!(metrics.retries.load(Ordering::Relaxed) >= 2);
    assert!(!task.is_finished());

    setup.start_node();
    let deadline = Instant::now() + Duration::from_secs(30);
    while metrics.stream_seq.load(Ordering::Relaxed) < BLOCKS + 1 {
        assert!(!task.is_finished(), "the runner stopped");
        assert!(
            Instant::now() < deadline,
            "did not catch up: {:?}",
            metrics.last_error()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(metrics.last_error(), None);
    shutdown.cancel();
    task.await.unwrap().unwrap();
    assert_eq!(
        support::dump(&setup.services.options, "explorer").await,
        reference
    );
    setup.finish().await;
}

/// The preloaded chain's messages up to `fork`, then blocks of another
/// branch (later timestamps) up to height `tip`, as a node would have
/// published them.
fn other_branch(setup: &Setup, fork: u64, tip: u64) -> Vec<BlockMessage> {
    let config = setup.network.config.clone();
    let clock = Arc::new(ManualClock::new(Timestamp(GENESIS_TIMESTAMP + 20_000)));
    let mut chain = Chain::in_memory(config.clone(), clock).unwrap();
    let mut messages = setup.full[..=fork as usize].to_vec();
    for message in &messages[1..] {
        let outcome = chain.accept_block(message.block.clone()).unwrap();
        assert!(matches!(outcome, AcceptOutcome::Connected { .. }));
    }
    let mut spendable: VecDeque<_> = owner_outputs(&chain).into();
    let mut next = Timestamp(GENESIS_TIMESTAMP + 5_000);
    for height in fork + 1..=tip {
        let block = block_on_tip(&chain, &key(STAKER), next, &mut spendable, 1);
        next = Timestamp(block.header.timestamp.0 + 1);
        let AcceptOutcome::Connected { update, .. } = chain.accept_block(block.clone()).unwrap()
        else {
            panic!("block {height} did not connect");
        };
        messages.push(BlockMessage {
            kind: BlockMessageKind::Applied,
            height: BlockHeight(height),
            outbox_sequence: height + 1,
            block,
            events: update.events,
        });
    }
    messages
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_model_on_a_branch_the_node_left_reverts_to_the_common_ancestor_and_equals_the_full_stream()
 {
    let setup = Setup::new().await;
    setup.fold("explorer_full", &setup.full).await;
    let reference = support::dump(&setup.services.options, "explorer_full").await;
    // The model followed a branch that forks after height 10 up to height
    // 15; the node's chain went elsewhere and the stream no longer holds
    // how (its reverts and the other branch's first blocks are gone).
    let branch = other_branch(&setup, 10, 15);
    assert_eq!(branch[10].block_id(), setup.full[10].block_id());
    assert_ne!(branch[11].block_id(), setup.full[11].block_id());
    setup.fold("explorer", &branch).await;
    let before = support::dump(&setup.services.options, "explorer").await;
    let checkpoint = setup.checkpoint("explorer").await;
    assert_ne!(before, reference);
    setup.cut_stream().await;
    let first_height = BLOCKS + 1 - KEEP as u64;

    // A reorganisation deeper than the bound (here a finality depth of 3):
    // the typed error, nothing written.
    let mut shallow = setup.runner("explorer");
    shallow.config.finality_depth = 3;
    let error = tokio::time::timeout(
        Duration::from_secs(30),
        shallow.run(CancellationToken::new()),
    )
    .await
    .expect("the runner stops")
    .expect_err("no common ancestor within 3 blocks");
    match &error {
        ProjectionError::NoCommonAncestor {
            height,
            block,
            depth,
            ..
        } => {
            assert_eq!(*height, BlockHeight(15));
            assert_eq!(*block, branch[15].block_id());
            assert_eq!(*depth, 3);
        }
        other => panic!("expected NoCommonAncestor, got {other}"),
    }
    assert!(error.to_string().contains("down to height 12"), "{error}");
    assert_eq!(setup.checkpoint("explorer").await, checkpoint);
    assert_eq!(
        support::dump(&setup.services.options, "explorer").await,
        before
    );

    // Within the finality depth: blocks 15..=11 reverted through the undo
    // log, 11..=31 from the node, the rest from the stream.
    let metrics = run_to_the_end(setup.runner("explorer"), BLOCKS + 1).await;
    assert_eq!(metrics.blocks_reverted.load(Ordering::Relaxed), 5);
    assert_eq!(
        metrics.blocks_backfilled.load(Ordering::Relaxed),
        first_height - 11
    );
    assert_eq!(
        support::dump(&setup.services.options, "explorer").await,
        reference
    );
    let at = setup.checkpoint("explorer").await.unwrap();
    assert_eq!(at.block_id, setup.full.last().unwrap().block_id());

    // And equal after a rebuild from the cut stream.
    rebuild(
        setup.explorer.clone(),
        setup.services.options.clone(),
        setup.services.client.clone(),
        setup.runner("explorer").config,
        CancellationToken::new(),
        Arc::new(ModelMetrics::default()),
    )
    .await
    .unwrap()
    .unwrap();
    assert_eq!(
        support::dump(&setup.services.options, "explorer").await,
        reference
    );
    setup.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_block_that_follows_nothing_is_refused_and_nothing_is_written() {
    let mut setup = Setup::new().await;
    setup.fold("explorer", &setup.full[..6]).await;
    let before = support::dump(&setup.services.options, "explorer").await;
    let checkpoint = setup.checkpoint("explorer").await;
    setup.stop_node().await;
    setup.cut_stream().await;

    // A lying node (no real node does this): at the model's tip it serves
    // the model's own block, above it blocks of another branch.
    let branch = other_branch(&setup, 0, 12);
    let served: Vec<BlockMessage> = setup.full[..6]
        .iter()
        .chain(&branch[6..])
        .cloned()
        .collect();
    let mut requests = setup
        .services
        .client
        .subscribe(stream::blocks_subject(&setup.network.name))
        .await
        .unwrap();
    let client = setup.services.client.clone();
    let liar = tokio::spawn(async move {
        while let Some(request) = requests.next().await {
            let asked = stream::BlocksRequest::decode(&request.payload).unwrap();
            let messages = (asked.from.0..=asked.to.0.min(12))
                .map(|height| served[height as usize].encode())
                .collect();
            let reply = stream::BlocksReply::Blocks {
                tip: BlockHeight(12),
                messages,
            };
            client
                .publish(request.reply.unwrap(), reply.encode().into())
                .await
                .unwrap();
        }
    });

    let runner = setup.runner("explorer");
    let metrics = runner.metrics.clone();
    let error = tokio::time::timeout(
        Duration::from_secs(30),
        runner.run(CancellationToken::new()),
    )
    .await
    .expect("the runner stops")
    .expect_err("the node's block does not follow");
    liar.abort();
    match &error {
        ProjectionError::DoesNotFollow {
            origin: Source::Node,
            height,
            block,
            ..
        } => {
            assert_eq!(*height, BlockHeight(6));
            assert_eq!(*block, branch[6].block_id());
        }
        other => panic!("expected DoesNotFollow from a node, got {other}"),
    }
    let text = error.to_string();
    assert!(
        text.contains("block from a node") && text.contains("does not follow"),
        "{text}"
    );
    assert_eq!(metrics.blocks_backfilled.load(Ordering::Relaxed), 0);
    assert_eq!(metrics.blocks_reverted.load(Ordering::Relaxed), 0);
    assert_eq!(setup.checkpoint("explorer").await, checkpoint);
    assert_eq!(
        support::dump(&setup.services.options, "explorer").await,
        before
    );
    setup.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fresh_model_on_an_empty_stream_backfills_when_the_first_message_is_not_genesis() {
    let mut setup = Setup::new().await;
    setup.fold("explorer_full", &setup.full).await;
    let reference = support::dump(&setup.services.options, "explorer_full").await;
    setup.stop_node().await;
    // A new, empty stream: the model starts on it with nothing to read.
    setup
        .services
        .js
        .delete_stream(stream::stream_name(&setup.network.name))
        .await
        .unwrap();
    create_stream(&setup.services, &setup.network.name).await;
    let runner = setup.runner("explorer");
    let metrics = runner.metrics.clone();
    let running = spawn(runner);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(
        !running.1.is_finished(),
        "the runner stopped on an empty stream"
    );
    assert_eq!(setup.checkpoint("explorer").await, None);

    // The stream's first message is block 30, published as the node
    // publishes; the node then serves what comes before it.
    let from = 30;
    for message in &setup.full[from..] {
        support::publish(
            &setup.services.js,
            &setup.network.name,
            message,
            message.encode(),
        )
        .await;
    }
    setup.start_node();
    let last_seq = (setup.full.len() - from) as u64;
    stop_when_caught_up(running, &metrics, last_seq).await;
    assert_eq!(
        metrics.blocks_backfilled.load(Ordering::Relaxed),
        from as u64
    );
    assert_eq!(
        support::dump(&setup.services.options, "explorer").await,
        reference
    );
    setup.finish().await;
}
