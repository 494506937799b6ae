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
use projections::batch::{BatchSettings, StreamMessage, apply_batch};
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
    schema::install(&h.options, "tally_replay", "tally", &TALLY_MIGRATOR)
        .await
        .unwrap();
    let mut replay = h.connection("tally_replay").await;
    let messages: Vec<StreamMessage> = best
        .iter()
        .enumerate()
        .map(|(i, m)| StreamMessage::from_stream(i as u64 + 1, m.encode().into()))
        .collect();
    let outcome = apply_batch(
        &mut replay,
        &Tally,
        "tally_replay",
        &messages,
        None,
        BatchSettings { finality_depth: 3 },
    )
    .await
    .unwrap();
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
    let rebuilt = rebuild(
        Arc::new(Tally),
        h.options.clone(),
        h.client.clone(),
        h.runner("tally").config.clone(),
        CancellationToken::new(),
        Arc::new(ModelMetrics::default()),
    )
    .await
    .unwrap();
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
