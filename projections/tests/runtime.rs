//! The projector runtime against real PostgreSQL and NATS JetStream, with a
//! small read model ("tally"): incremental folding with reorgs and
//! redeliveries equals a rebuild; bad messages stop the model without
//! partial writes; a rebuild swaps in while the live writer runs.

#![allow(clippy::unwrap_used)] // test harness: a failed setup step should fail the test loudly

#[path = "support/mod.rs"]
mod support;

use std::sync::Arc;
use std::time::Duration;

use async_nats::jetstream;
use chain::stream::{self, BlockMessage, BlockMessageKind};
use chain::{Direction, EventBody, EventPosition, LedgerEvent};
use devenv::{Settings, TestDatabase};
use futures::future::BoxFuture;
use ledger::{
    Address, AddressKind, Block, BlockHeight, BlockId, BlockStakePosition, CoinOutputId, Currency,
    Hash32, Timestamp,
};
use projections::batch::{BatchOutcome, BatchSettings, StreamMessage, apply_batch};
use projections::runner::{ModelMetrics, Runner, RunnerConfig, rebuild};
use projections::{ProjectionError, ReadModel, schema};
use sqlx::migrate::Migrator;
use sqlx::postgres::PgConnectOptions;
use sqlx::{Connection, PgConnection};
use support::TestServices;
use tokio_util::sync::CancellationToken;

static TALLY_MIGRATOR: Migrator = sqlx::migrate!("tests/tally_migrations");

struct Tally;

impl ReadModel for Tally {
    fn name(&self) -> &'static str {
        "tally"
    }
    fn migrator(&self) -> &'static Migrator {
        &TALLY_MIGRATOR
    }
    fn apply<'a>(
        &'a self,
        connection: &'a mut PgConnection,
        message: &'a BlockMessage,
    ) -> BoxFuture<'a, Result<(), sqlx::Error>> {
        Box::pin(async move {
            sqlx::query("INSERT INTO block_seen (height, block_id, events) VALUES ($1, $2, $3)")
                .bind(message.height.0 as i64)
                .bind(message.block_id().0.0.to_vec())
                .bind(message.events.len() as i32)
                .execute(&mut *connection)
                .await?;
            for event in &message.events {
                match &event.body {
                    EventBody::CoinOutputCreated { value, address, .. } => {
                        sqlx::query(
                            "INSERT INTO address_total (address, coins, outputs) VALUES ($1, $2::numeric, 1)
                             ON CONFLICT (address) DO UPDATE
                               SET coins = address_total.coins + EXCLUDED.coins,
                                   outputs = address_total.outputs + 1",
                        )
                        .bind(address.hash.0.to_vec())
                        .bind(value.0.to_string())
                        .execute(&mut *connection)
                        .await?;
                    }
                    EventBody::CoinOutputSpent { value, address, .. } => {
                        sqlx::query(
                            "UPDATE address_total SET coins = coins - $2::numeric, outputs = outputs - 1
                              WHERE address = $1",
                        )
                        .bind(address.hash.0.to_vec())
                        .bind(value.0.to_string())
                        .execute(&mut *connection)
                        .await?;
                        sqlx::query("DELETE FROM address_total WHERE address = $1 AND outputs = 0")
                            .bind(address.hash.0.to_vec())
                            .execute(&mut *connection)
                            .await?;
                    }
                    _ => {}
                }
            }
            Ok(())
        })
    }
}

fn address(n: u8) -> Address {
    Address {
        kind: AddressKind::PubKey,
        hash: Hash32([n; 32]),
    }
}

/// A block at `height` on top of `parent`, creating one output for
/// `receiver` and (above genesis) spending one of `spender`.
fn block_message(
    parent: BlockId,
    height: u64,
    salt: u64,
    receiver: u8,
    spender: Option<u8>,
) -> BlockMessage {
    let block = Block::new(
        parent,
        Timestamp(1_700_000_000 + height * 2 + salt),
        BlockStakePosition {
            height: BlockHeight(0),
            transaction_index: 0,
            output_index: 0,
        },
        Vec::new(),
        Vec::new(),
    );
    let id = block.id();
    let mut bodies = vec![EventBody::CoinOutputCreated {
        id: CoinOutputId(Hash32([(height as u8).wrapping_add(salt as u8); 32])),
        value: Currency(1_000 + u128::from(height)),
        address: address(receiver),
        minted: false,
    }];
    if let Some(spender) = spender {
        bodies.push(EventBody::CoinOutputSpent {
            id: CoinOutputId(Hash32([7; 32])),
            value: Currency(10),
            address: address(spender),
        });
    }
    let events = bodies
        .into_iter()
        .enumerate()
        .map(|(index, body)| LedgerEvent {
            direction: Direction::Apply,
            block: id,
            position: EventPosition {
                height: BlockHeight(height),
                transaction: None,
                index: index as u64,
            },
            body,
        })
        .collect();
    BlockMessage {
        kind: BlockMessageKind::Applied,
        height: BlockHeight(height),
        outbox_sequence: 0,
        block,
        events,
    }
}

fn reverted(applied: &BlockMessage) -> BlockMessage {
    BlockMessage {
        kind: BlockMessageKind::Reverted,
        events: chain::events::invert(&applied.events),
        ..applied.clone()
    }
}

struct Harness {
    settings: Settings,
    db: TestDatabase,
    options: PgConnectOptions,
    client: async_nats::Client,
    js: jetstream::Context,
    network: String,
    outbox: u64,
}

impl Harness {
    async fn new() -> Harness {
        let TestServices {
            settings,
            db,
            options,
            client,
            js,
        } = TestServices::connect().await;
        let network = support::create_stream(&js, "t").await;
        Harness {
            settings,
            db,
            options,
            client,
            js,
            network,
            outbox: 0,
        }
    }

    async fn publish(&mut self, message: &BlockMessage) {
        let bytes = message.encode();
        self.publish_raw(message, bytes).await;
    }

    /// Publishes `payload` under the next outbox sequence, as if it were
    /// `message`.
    async fn publish_raw(&mut self, message: &BlockMessage, payload: Vec<u8>) {
        self.outbox += 1;
        let mut message = message.clone();
        message.outbox_sequence = self.outbox;
        support::publish(&self.js, &self.network, &message, payload).await;
    }

    fn runner(&self, schema_name: &str) -> Runner {
        let mut config = RunnerConfig::new(self.network.clone(), 3);
        config.batch_size = 4;
        config.fetch_wait = Duration::from_millis(200);
        config.retry_delay = Duration::from_millis(200);
        Runner {
            model: Arc::new(Tally),
            schema_name: schema_name.to_owned(),
            database: self.options.clone(),
            nats: self.client.clone(),
            config,
            metrics: Arc::new(ModelMetrics::default()),
        }
    }

    async fn connection(&self, schema_name: &str) -> PgConnection {
        PgConnection::connect_with(&schema::options_for_schema(&self.options, schema_name))
            .await
            .unwrap()
    }

    /// Every row of the model's tables, as text, in key order.
    async fn dump(&self, schema_name: &str) -> Vec<String> {
        let mut connection = self.connection(schema_name).await;
        let mut rows: Vec<String> =
            sqlx::query_scalar("SELECT b::text FROM block_seen b ORDER BY height")
                .fetch_all(&mut connection)
                .await
                .unwrap();
        rows.extend(
            sqlx::query_scalar::<_, String>("SELECT a::text FROM address_total a ORDER BY address")
                .fetch_all(&mut connection)
                .await
                .unwrap(),
        );
        rows
    }

    async fn height(&self, schema_name: &str) -> Option<u64> {
        let mut connection = self.connection(schema_name).await;
        schema::read_checkpoint(&mut connection, "tally")
            .await
            .unwrap()
            .map(|c| c.height.0)
    }

    async fn wait_for_seq(&self, runner: &Runner, seq: u64) {
        for _ in 0..200 {
            if runner
                .metrics
                .stream_seq
                .load(std::sync::atomic::Ordering::Relaxed)
                >= seq
            {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("runner did not reach stream sequence {seq}");
    }

    async fn checkpoint(&self, schema_name: &str) -> Option<projections::checkpoint::Checkpoint> {
        let mut connection = self.connection(schema_name).await;
        let at = schema::read_checkpoint(&mut connection, "tally")
            .await
            .unwrap();
        connection.close().await.unwrap();
        at
    }

    /// Folds `messages` (stream positions from 1) into a fresh schema
    /// `schema_name` in one batch, without the stream.
    async fn replay(&self, schema_name: &str, messages: &[BlockMessage]) -> BatchOutcome {
        schema::install(&self.options, schema_name, "tally", &TALLY_MIGRATOR)
            .await
            .unwrap();
        let mut connection = self.connection(schema_name).await;
        let batch: Vec<StreamMessage> = messages
            .iter()
            .enumerate()
            .map(|(i, m)| StreamMessage::from_stream(i as u64 + 1, m.encode().into()))
            .collect();
        let outcome = apply_batch(
            &mut connection,
            &Tally,
            schema_name,
            &batch,
            None,
            BatchSettings { finality_depth: 3 },
        )
        .await
        .unwrap();
        connection.close().await.unwrap();
        outcome
    }

    /// `projector rebuild tally`: folds the stream into a second schema
    /// and swaps it in.
    async fn rebuild(&self) -> Option<projections::checkpoint::Checkpoint> {
        rebuild(
            Arc::new(Tally),
            self.options.clone(),
            self.client.clone(),
            self.runner("tally").config.clone(),
            CancellationToken::new(),
            Arc::new(ModelMetrics::default()),
        )
        .await
        .unwrap()
    }

    /// Deletes the network's stream and creates it again, empty (as after
    /// a node's data was wiped and its stream removed): sequences restart
    /// at 1.
    async fn recreate_stream(&mut self) {
        let name = stream::stream_name(&self.network);
        let config = self
            .js
            .get_stream(&name)
            .await
            .unwrap()
            .info()
            .await
            .unwrap()
            .config
            .clone();
        self.js.delete_stream(&name).await.unwrap();
        self.js.create_stream(config).await.unwrap();
        self.outbox = 0;
    }

    async fn finish(self) {
        let _ = self
            .js
            .delete_stream(stream::stream_name(&self.network))
            .await;
        self.db.drop_database().await.unwrap();
        drop(self.settings);
    }
}

/// Publishes a chain with a reorg and duplicates; returns the stream's last
/// sequence and the final best chain.
async fn publish_history(h: &mut Harness) -> (u64, Vec<BlockMessage>) {
    let genesis = block_message(BlockId(Hash32::ZERO), 0, 0, 1, None);
    let mut main = vec![genesis.clone()];
    for height in 1..=8 {
        let parent = main.last().unwrap().block_id();
        main.push(block_message(
            parent,
            height,
            0,
            (height % 3) as u8 + 1,
            Some(1),
        ));
    }
    for message in &main {
        h.publish(message).await;
    }
    // The node republishes block 8 after a crash (new outbox sequence, so
    // JetStream keeps it): the model must skip it.
    h.publish(&main[8]).await;
    // Reorg: revert 8 and 7, apply a heavier branch 7', 8', 9'.
    h.publish(&reverted(&main[8])).await;
    h.publish(&reverted(&main[7])).await;
    let mut best: Vec<BlockMessage> = main[..7].to_vec();
    let mut parent = main[6].block_id();
    for height in 7..=9 {
        let message = block_message(parent, height, 100, 9, Some(2));
        parent = message.block_id();
        h.publish(&message).await;
        best.push(message);
    }
    // A redelivered revert of an already reverted block: skipped.
    h.publish(&reverted(&main[8])).await;
    // Blocks 10..=20 to push the early ones below the finality horizon.
    for height in 10..=20 {
        let message = block_message(parent, height, 100, (height % 4) as u8 + 1, Some(9));
        parent = message.block_id();
        h.publish(&message).await;
        best.push(message);
    }
    let last = support::last_sequence(&h.js, &h.network).await;
    (last, best)
}

#[tokio::test]
async fn incremental_with_reorgs_and_duplicates_equals_rebuild() {
    let mut h = Harness::new().await;
    let runner = h.runner("tally");
    let shutdown = CancellationToken::new();
    let live = {
        let shutdown = shutdown.clone();
        let runner = h.runner("tally");
        tokio::spawn(async move { runner.run(shutdown).await })
    };
    drop(runner);
    let (last, best) = publish_history(&mut h).await;
    // Wait for the live runner through a second runner's metrics is not
    // possible; poll the checkpoint instead.
    let mut connection = h.connection("tally").await;
    for _ in 0..200 {
        let at = schema::read_checkpoint(&mut connection, "tally")
            .await
            .ok()
            .flatten();
        if at.is_some_and(|c| c.stream_seq >= last) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(h.height("tally").await, Some(20));
    let incremental = h.dump("tally").await;

    // Equal to folding only the final best chain (no reorg, no duplicates)
    // into a fresh schema: the reverted blocks left nothing behind.
    let outcome = h.replay("tally_replay", &best).await;
    assert_eq!(outcome.applied, 21);
    assert_eq!(h.dump("tally_replay").await, incremental);
    assert_eq!(
        incremental.len(),
        21 + 4,
        "21 blocks and the 4 addresses still holding coins"
    );

    // Undo history is bounded by the finality horizon (depth 3).
    let undo_heights: Vec<i64> =
        sqlx::query_scalar("SELECT DISTINCT height FROM undo_log ORDER BY 1")
            .fetch_all(&mut connection)
            .await
            .unwrap();
    assert!(
        undo_heights.iter().all(|&h| h >= 17),
        "undo kept only near the head: {undo_heights:?}"
    );

    // Rebuild while the live writer runs: swapped in, same rows.
    let rebuilt = h.rebuild().await;
    assert_eq!(rebuilt.map(|c| c.height.0), Some(20));
    assert_eq!(h.dump("tally").await, incremental);

    // The live writer resumes on the rebuilt schema.
    let next = block_message(rebuilt.unwrap().block_id, 21, 100, 4, None);
    h.publish(&next).await;
    for _ in 0..200 {
        if h.height("tally").await == Some(21) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(h.height("tally").await, Some(21));

    shutdown.cancel();
    live.await.unwrap().unwrap();
    connection.close().await.unwrap();
    h.finish().await;
}

#[tokio::test]
async fn a_corrupt_message_stops_the_model_without_partial_writes() {
    let mut h = Harness::new().await;
    let genesis = block_message(BlockId(Hash32::ZERO), 0, 0, 1, None);
    let one = block_message(genesis.block_id(), 1, 0, 2, None);
    let two = block_message(one.block_id(), 2, 0, 3, None);
    h.publish(&genesis).await;
    h.publish(&one).await;
    // Message 3: garbage bytes under a valid header.
    h.publish_raw(&two, vec![0xde, 0xad, 0xbe, 0xef]).await;
    h.publish(&two).await;

    let runner = h.runner("tally");
    let error = runner.run(CancellationToken::new()).await.unwrap_err();
    match &error {
        ProjectionError::BadMessage {
            stream_seq, model, ..
        } => {
            assert_eq!(*stream_seq, 3);
            assert_eq!(model, "tally");
        }
        other => panic!("expected a bad-message error, got {other}"),
    }
    assert!(error.to_string().contains("stream message 3"));
    // Batch size 4: messages 1-2 share a batch with 3, so nothing of that
    // batch was written.
    assert_eq!(h.height("tally").await, None);
    assert!(h.dump("tally").await.is_empty());
    h.finish().await;
}

#[tokio::test]
async fn a_block_that_does_not_follow_is_refused_with_its_position() {
    let mut h = Harness::new().await;
    let genesis = block_message(BlockId(Hash32::ZERO), 0, 0, 1, None);
    let one = block_message(genesis.block_id(), 1, 0, 2, None);
    let stranger = block_message(BlockId(Hash32([5; 32])), 2, 0, 3, None);
    h.publish(&genesis).await;
    h.publish(&one).await;
    let mut runner = h.runner("tally");
    runner.config.batch_size = 1;
    let shutdown = CancellationToken::new();
    let task = {
        let shutdown = shutdown.clone();
        let runner = h.runner("tally");
        tokio::spawn(async move {
            let mut runner = runner;
            runner.config.batch_size = 1;
            runner.run(shutdown).await
        })
    };
    h.wait_for_seq(&runner, 0).await;
    h.publish(&stranger).await;
    let error = tokio::time::timeout(Duration::from_secs(20), task)
        .await
        .expect("model stops")
        .unwrap()
        .unwrap_err();
    assert!(
        matches!(error, ProjectionError::DoesNotFollow { stream_seq: 3, .. }),
        "{error}"
    );
    // What came before stays.
    assert_eq!(h.height("tally").await, Some(1));
    shutdown.cancel();
    h.finish().await;
}

/// A chain of `blocks` blocks above a genesis block: chains with the same
/// `genesis_salt` share their genesis (as devnets do), and differ above it
/// when their `salt` differs.
fn chain_of(genesis_salt: u64, salt: u64, blocks: u64) -> Vec<BlockMessage> {
    let mut chain = vec![block_message(
        BlockId(Hash32::ZERO),
        0,
        genesis_salt,
        1,
        None,
    )];
    for height in 1..=blocks {
        let parent = chain.last().unwrap().block_id();
        chain.push(block_message(
            parent,
            height,
            salt,
            (height % 3) as u8 + 1,
            None,
        ));
    }
    chain
}

/// A live tally runner: its metrics, its shutdown and its task.
type LiveTally = (
    Arc<ModelMetrics>,
    CancellationToken,
    tokio::task::JoinHandle<Result<(), ProjectionError>>,
);

/// A live runner of the tally model, with short retry delays.
fn spawn_tally(h: &Harness) -> LiveTally {
    let mut runner = h.runner("tally");
    runner.config.retry_delay = Duration::from_millis(100);
    runner.config.max_retry_delay = Duration::from_millis(400);
    let metrics = runner.metrics.clone();
    let shutdown = CancellationToken::new();
    let task = {
        let shutdown = shutdown.clone();
        tokio::spawn(async move { runner.run(shutdown).await })
    };
    (metrics, shutdown, task)
}

/// Recreates the stream holding only `messages` (fewer than the model
/// folded) and starts the runner: it reports the stream behind its
/// checkpoint and retries.
async fn restart_on_recreated_stream(h: &mut Harness, messages: &[BlockMessage]) -> LiveTally {
    h.recreate_stream().await;
    for message in messages {
        h.publish(message).await;
    }
    let (metrics, shutdown, task) = spawn_tally(h);
    let reported = format!("ends at message {}", messages.len());
    wait_until("the runner reports the recreated stream", || {
        metrics
            .last_error()
            .is_some_and(|error| error.contains(&reported))
    })
    .await;
    assert!(!task.is_finished());
    (metrics, shutdown, task)
}

async fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    for _ in 0..400 {
        if done() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("timed out waiting until {what}");
}

/// Publishes `chain` and folds it with a live runner that then stops.
async fn fold_chain(h: &mut Harness, chain: &[BlockMessage]) {
    for message in chain {
        h.publish(message).await;
    }
    let (metrics, shutdown, task) = spawn_tally(h);
    let last = chain.len() as u64;
    wait_until("the chain is folded", || {
        metrics
            .stream_seq
            .load(std::sync::atomic::Ordering::Relaxed)
            >= last
    })
    .await;
    shutdown.cancel();
    task.await.unwrap().unwrap();
}

#[tokio::test]
async fn a_checkpoint_from_another_chain_is_refused_and_rebuild_folds_the_new_one() {
    let mut h = Harness::new().await;
    // Chain A to height 8 (stream messages 1..=9).
    let a = chain_of(0, 0, 8);
    fold_chain(&mut h, &a).await;
    let rows_a = h.dump("tally").await;
    let at_a = h.checkpoint("tally").await.unwrap();
    assert_eq!(at_a.height, BlockHeight(8));
    assert_eq!(at_a.stream_seq, 9);
    assert_eq!(at_a.genesis_id, Some(a[0].block_id()));
    assert_eq!(at_a.stream_block, Some(a[8].block_id()));

    // The node's data is wiped and a new chain B starts (same genesis, as
    // on a devnet) on a recreated stream; PostgreSQL keeps the model.
    let b = chain_of(0, 1, 12);
    assert_eq!(b[0].block_id(), a[0].block_id());
    assert_ne!(b[8].block_id(), a[8].block_id());
    // The stream ends before the checkpoint's position: retried, visibly,
    // and nothing of B is skipped or folded meanwhile.
    let (metrics, _shutdown, task) = restart_on_recreated_stream(&mut h, &b[..5]).await;
    let retrying = metrics.last_error().unwrap();
    assert!(
        retrying.contains("checkpoint (height 8) is at message 9")
            && retrying.contains("projector rebuild tally"),
        "{retrying}"
    );
    assert!(!task.is_finished());
    assert_eq!(h.checkpoint("tally").await, Some(at_a));

    // B's stream passes the checkpoint's position: refused, naming the
    // model, the expected and the found block and what to do.
    for message in &b[5..] {
        h.publish(message).await;
    }
    let error = tokio::time::timeout(Duration::from_secs(20), task)
        .await
        .expect("the model stops")
        .unwrap()
        .unwrap_err();
    match &error {
        ProjectionError::OtherChain {
            model,
            checkpoint,
            expected,
            found,
            ..
        } => {
            assert_eq!(model, "tally");
            assert_eq!(*expected, a[8].block_id());
            assert_eq!(*found, b[8].block_id());
            assert_eq!(**checkpoint, at_a);
        }
        other => panic!("expected OtherChain, got {other}"),
    }
    assert!(!error.is_transient());
    let text = error.to_string();
    assert!(
        text.contains(&a[8].block_id().to_string())
            && text.contains(&b[8].block_id().to_string())
            && text.contains("projector rebuild tally")
            && text.contains("scripts/devnet reset"),
        "{text}"
    );
    // Nothing of B was written: A's rows and checkpoint, unchanged.
    assert_eq!(h.checkpoint("tally").await, Some(at_a));
    assert_eq!(h.dump("tally").await, rows_a);

    // A checkpoint written before the chain was recorded (both columns
    // NULL) is judged by what it implies: the applied message at its
    // position must be its own block.
    let mut connection = h.connection("tally").await;
    sqlx::query("UPDATE checkpoint SET genesis_id = NULL, stream_block = NULL")
        .execute(&mut connection)
        .await
        .unwrap();
    connection.close().await.unwrap();
    let error = h
        .runner("tally")
        .run(CancellationToken::new())
        .await
        .unwrap_err();
    assert!(
        matches!(error, ProjectionError::OtherChain { found, .. } if found == b[8].block_id()),
        "{error}"
    );
    assert_eq!(h.dump("tally").await, rows_a);

    // The documented way out: rebuild folds B from its start and swaps it
    // in; the rows equal B folded alone, and the model runs on.
    let rebuilt = h.rebuild().await.unwrap();
    assert_eq!(
        (rebuilt.height, rebuilt.block_id),
        (BlockHeight(12), b[12].block_id())
    );
    h.replay("tally_b", &b).await;
    assert_eq!(h.dump("tally").await, h.dump("tally_b").await);
    let (metrics, shutdown, task) = spawn_tally(&h);
    let next = block_message(b[12].block_id(), 13, 1, 2, None);
    h.publish(&next).await;
    wait_until("B's next block is folded", || {
        metrics.height.load(std::sync::atomic::Ordering::Relaxed) == 13
    })
    .await;
    shutdown.cancel();
    task.await.unwrap().unwrap();
    h.finish().await;
}

#[tokio::test]
async fn another_genesis_is_refused_at_once_and_the_same_chain_republished_goes_on() {
    let mut h = Harness::new().await;
    let a = chain_of(0, 0, 6);
    fold_chain(&mut h, &a).await;
    let rows_a = h.dump("tally").await;
    let at_a = h.checkpoint("tally").await.unwrap();

    // A recreated stream starting with another genesis: refused at once,
    // though the stream is still far behind the checkpoint.
    h.recreate_stream().await;
    let other = chain_of(7, 7, 2);
    assert_ne!(other[0].block_id(), a[0].block_id());
    for message in &other {
        h.publish(message).await;
    }
    let error = tokio::time::timeout(
        Duration::from_secs(20),
        h.runner("tally").run(CancellationToken::new()),
    )
    .await
    .expect("refused at once")
    .unwrap_err();
    assert!(
        matches!(&error, ProjectionError::OtherChain { expected, found, .. }
            if *expected == a[0].block_id() && *found == other[0].block_id()),
        "{error}"
    );
    assert!(error.to_string().contains("genesis block"), "{error}");
    assert_eq!(h.dump("tally").await, rows_a);

    // The model's own chain republished into a recreated stream (NATS lost
    // its data, the node republishes its outbox): no false alarm; the
    // model waits for the stream to reach its position and goes on.
    let (metrics, shutdown, task) = restart_on_recreated_stream(&mut h, &a[..3]).await;
    assert_eq!(h.checkpoint("tally").await, Some(at_a));
    for message in &a[3..] {
        h.publish(message).await;
    }
    let next = block_message(a[6].block_id(), 7, 0, 1, None);
    h.publish(&next).await;
    wait_until("the next block is folded", || {
        metrics.height.load(std::sync::atomic::Ordering::Relaxed) == 7
    })
    .await;
    assert!(metrics.last_error().is_none());
    shutdown.cancel();
    task.await.unwrap().unwrap();
    h.finish().await;
}
