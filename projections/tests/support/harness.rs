//! A read model folding a real chain, live: a stream and database of the
//! test's own ([`super::support`]), the chain's updates published as a
//! node publishes them, a live runner for the model, and the checks every
//! model test makes (folding only the final chain and rebuilding give the
//! same rows as the live run). Included with `#[path]` next to `support`
//! by the model tests.

#![allow(dead_code, clippy::unwrap_used)] // test support: not every test uses every helper

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_nats::jetstream;
use chain::stream::{self, BlockMessage, BlockMessageKind};
use chain::{Chain, ChainConfig, ChainStore, ChainUpdate, Direction};
use devenv::{Settings, TestDatabase};
use ledger::BlockHeight;
use projections::ProjectionError;
use projections::ReadModel;
use projections::batch::{BatchSettings, StreamMessage, apply_batch};
use projections::runner::{ModelMetrics, Runner, RunnerConfig, rebuild};
use projections::schema;
use sqlx::migrate::Migrator;
use sqlx::postgres::PgConnectOptions;
use sqlx::{Connection, PgConnection};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::support::{self, TestServices};

pub struct Harness {
    pub settings: Settings,
    pub db: TestDatabase,
    pub options: PgConnectOptions,
    pub client: async_nats::Client,
    pub js: jetstream::Context,
    pub network: String,
    outbox: u64,
    /// Every message, in publishing order (for the replay check).
    pub published: Vec<BlockMessage>,
}

/// A model's live runner.
pub struct Live {
    pub handle: JoinHandle<Result<(), ProjectionError>>,
    pub shutdown: CancellationToken,
    pub config: RunnerConfig,
}

impl Harness {
    /// Local services, a fresh database and a stream of network
    /// `<prefix>-<random>`.
    pub async fn new(prefix: &str) -> Harness {
        let TestServices {
            settings,
            db,
            options,
            client,
            js,
        } = TestServices::connect().await;
        let network = support::create_stream(&js, prefix).await;
        Harness {
            settings,
            db,
            options,
            client,
            js,
            network,
            outbox: 0,
            published: Vec::new(),
        }
    }

    /// Starts `model`'s live runner in the schema of its name.
    pub fn start(&self, model: Arc<dyn ReadModel>, config: &ChainConfig) -> Live {
        let mut runner_config =
            RunnerConfig::new(self.network.clone(), config.consensus.finality_depth);
        runner_config.batch_size = 8;
        runner_config.fetch_wait = Duration::from_millis(200);
        runner_config.retry_delay = Duration::from_millis(200);
        let shutdown = CancellationToken::new();
        let runner = Runner {
            schema_name: model.name().to_owned(),
            model,
            database: self.options.clone(),
            nats: self.client.clone(),
            config: runner_config.clone(),
            metrics: Arc::new(ModelMetrics::default()),
        };
        let token = shutdown.clone();
        Live {
            handle: tokio::spawn(async move { runner.run(token).await }),
            shutdown,
            config: runner_config,
        }
    }

    pub async fn publish(&mut self, message: BlockMessage) {
        self.outbox += 1;
        let mut message = message;
        message.outbox_sequence = self.outbox;
        support::publish(&self.js, &self.network, &message, message.encode()).await;
        self.published.push(message);
    }

    /// Publishes the configured genesis block (it carries no events).
    pub async fn publish_genesis(&mut self, config: &ChainConfig) {
        self.publish(BlockMessage {
            kind: BlockMessageKind::Applied,
            height: BlockHeight(0),
            outbox_sequence: 0,
            block: config.genesis.clone(),
            events: Vec::new(),
        })
        .await;
    }

    /// Publishes a chain update as the node does: one message per
    /// reverted block (tip first, its inverted events), then one per
    /// applied block (its events).
    pub async fn publish_update<S: ChainStore>(&mut self, chain: &Chain<S>, update: &ChainUpdate) {
        for (ids, kind, direction) in [
            (
                &update.reverted,
                BlockMessageKind::Reverted,
                Direction::Revert,
            ),
            (&update.applied, BlockMessageKind::Applied, Direction::Apply),
        ] {
            for id in ids {
                let block = chain.block(id).unwrap().expect("stored block");
                let height = chain.node(id).expect("indexed block").height;
                let events = update
                    .events
                    .iter()
                    .filter(|event| event.block == *id && event.direction == direction)
                    .cloned()
                    .collect();
                self.publish(BlockMessage {
                    kind,
                    height,
                    outbox_sequence: 0,
                    block,
                    events,
                })
                .await;
            }
        }
    }

    pub async fn last_seq(&self) -> u64 {
        support::last_sequence(&self.js, &self.network).await
    }

    pub async fn connection(&self, schema_name: &str) -> PgConnection {
        PgConnection::connect_with(&schema::options_for_schema(&self.options, schema_name))
            .await
            .unwrap()
    }

    /// Every row of every table of a schema, as text, in a fixed order.
    pub async fn dump(&self, schema_name: &str) -> BTreeMap<String, Vec<String>> {
        support::dump(&self.options, schema_name).await
    }

    /// Waits until `model` (in its own schema) has applied stream
    /// sequence `seq`; fails if the runner stopped or after 60 s.
    pub async fn wait_for(&self, model: &str, seq: u64, live: &mut Live) {
        let mut connection = self.connection(model).await;
        let started = Instant::now();
        loop {
            let at = schema::read_checkpoint(&mut connection, model)
                .await
                .ok()
                .flatten();
            if at.is_some_and(|c| c.stream_seq >= seq) {
                return;
            }
            if live.handle.is_finished() {
                panic!("the projector stopped: {:?}", (&mut live.handle).await);
            }
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "{model} did not reach stream sequence {seq} (at {at:?})"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Folds only the applied messages of `chain`'s main chain (no
    /// reorg) into schema `<model>_replay` and returns its dump.
    pub async fn replay_main_chain<S: ChainStore>(
        &self,
        model: &dyn ReadModel,
        migrator: &Migrator,
        chain: &Chain<S>,
        finality_depth: u64,
    ) -> BTreeMap<String, Vec<String>> {
        let replay_schema = format!("{}_replay", model.name());
        schema::install(&self.options, &replay_schema, model.name(), migrator)
            .await
            .unwrap();
        let mut replay = self.connection(&replay_schema).await;
        let final_chain: Vec<StreamMessage> = self
            .published
            .iter()
            .filter(|m| {
                m.kind == BlockMessageKind::Applied
                    && chain.main_chain_id(m.height) == Some(m.block_id())
            })
            .enumerate()
            .map(|(i, m)| StreamMessage::from_stream(i as u64 + 1, m.encode().into()))
            .collect();
        assert_eq!(final_chain.len() as u64, chain.height().0 + 1);
        let outcome = apply_batch(
            &mut replay,
            model,
            &replay_schema,
            &final_chain,
            None,
            BatchSettings { finality_depth },
        )
        .await
        .unwrap();
        assert_eq!(outcome.applied, chain.height().0 + 1);
        replay.close().await.unwrap();
        self.dump(&replay_schema).await
    }

    /// Rebuilds `model` while `live` runs, checks that the swapped-in
    /// schema holds exactly `incremental`, and returns how long it took.
    pub async fn check_rebuild(
        &self,
        model: Arc<dyn ReadModel>,
        live: &Live,
        tip: u64,
        incremental: &BTreeMap<String, Vec<String>>,
    ) -> Duration {
        let name = model.name();
        let started = Instant::now();
        let rebuilt = rebuild(
            model,
            self.options.clone(),
            self.client.clone(),
            live.config.clone(),
            CancellationToken::new(),
            Arc::new(ModelMetrics::default()),
        )
        .await
        .unwrap();
        let took = started.elapsed();
        assert_eq!(rebuilt.map(|c| c.height.0), Some(tip));
        let rebuilt_dump = self.dump(name).await;
        for (table, rows) in incremental {
            assert_eq!(rebuilt_dump.get(table), Some(rows), "table {table}");
        }
        assert_eq!(&rebuilt_dump, incremental);
        took
    }

    /// Stops the live runner, deletes the stream and the database.
    pub async fn finish(self, live: Live) {
        live.shutdown.cancel();
        live.handle.await.unwrap().unwrap();
        let _ = self
            .js
            .delete_stream(stream::stream_name(&self.network))
            .await;
        self.db.drop_database().await.unwrap();
        drop(self.settings);
    }
}
