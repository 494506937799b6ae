//! The projector survives what operators do to it: SIGKILL at random
//! moments while it ingests (twenty times; the final state equals a
//! rebuild), and PostgreSQL or NATS going away and coming back (it waits,
//! reconnects and resumes). Uses a real chain built with the chain crate,
//! published to JetStream the way a node publishes it.

#![allow(clippy::unwrap_used)] // test harness: a failed setup step fails the test

#[path = "../../../ledger/chain/tests/common/mod.rs"]
mod common;
#[path = "../../../projections/tests/support/mod.rs"]
mod support;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use async_nats::jetstream;
use chain::stream::{self, BlockMessage, BlockMessageKind};
use chain::{ChainUpdate, Direction};
use common::{Net, coins, key, test_config, test_toml};
use devenv::Settings;
use ledger::{BlockHeight, Condition};
use sqlx::{Connection, PgConnection};
use support::TestServices;

/// A chain of `blocks` blocks, each with a signed transfer.
fn build_chain(blocks: u64) -> (Net, Vec<ChainUpdate>) {
    let mut net = Net::new(test_config());
    let mut updates = Vec::new();
    for i in 0..blocks {
        let (from, to) = if i % 2 == 0 { (1, 4) } else { (4, 1) };
        let transfer = net.transfer(
            &key(from),
            Condition::for_public_key(&key(to).public_key()),
            coins(1 + u128::from(i % 7)),
            coins(1),
        );
        let block = net.next_block(vec![transfer]);
        updates.push(net.accept(block).unwrap());
    }
    (net, updates)
}

/// Publishes genesis and every update as a node would.
async fn publish_chain(js: &jetstream::Context, network: &str, net: &Net, updates: &[ChainUpdate]) {
    let config = net.chain.config();
    let mut messages = vec![BlockMessage {
        kind: BlockMessageKind::Applied,
        height: BlockHeight(0),
        outbox_sequence: 0,
        block: config.genesis.clone(),
        events: Vec::new(),
    }];
    for update in updates {
        for id in &update.applied {
            let events: Vec<_> = update
                .events
                .iter()
                .filter(|event| event.block == *id && event.direction == Direction::Apply)
                .cloned()
                .collect();
            messages.push(BlockMessage {
                kind: BlockMessageKind::Applied,
                height: net.chain.node(id).unwrap().height,
                outbox_sequence: 0,
                block: net.chain.block(id).unwrap().unwrap(),
                events,
            });
        }
    }
    for (index, mut message) in messages.into_iter().enumerate() {
        message.outbox_sequence = index as u64 + 1;
        support::publish(js, network, &message, message.encode()).await;
    }
}

struct Projector {
    database_url: String,
    nats_url: String,
    network: String,
    config_file: PathBuf,
}

impl Projector {
    fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_projector"));
        command
            .args(args)
            .args(["--network", &self.network])
            .arg("--network-config")
            .arg(&self.config_file)
            .env("DATABASE_URL", &self.database_url)
            .env("NATS_URL", &self.nats_url)
            .env_remove("PROJECTOR_CONFIG")
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(match std::env::var_os("PROJECTOR_TEST_LOG") {
                Some(path) => Stdio::from(
                    std::fs::OpenOptions::new()
                        .create(true)
                        .append(true)
                        .open(path)
                        .unwrap(),
                ),
                None => Stdio::null(),
            });
        command
    }

    fn spawn_run(&self, batch_size: usize) -> Child {
        self.command(&[
            "run",
            "--listen",
            "127.0.0.1:0",
            "--batch-size",
            &batch_size.to_string(),
        ])
        .spawn()
        .unwrap()
    }
}

async fn explorer_height(connection: &mut PgConnection) -> Option<i64> {
    sqlx::query_scalar("SELECT height FROM explorer.checkpoint")
        .fetch_optional(connection)
        .await
        .ok()
        .flatten()
}

/// Every row of every explorer table, as text, sorted.
async fn dump(connection: &mut PgConnection) -> Vec<String> {
    let tables: Vec<String> = sqlx::query_scalar(
        "SELECT table_name::text FROM information_schema.tables
          WHERE table_schema = 'explorer' AND table_type = 'BASE TABLE'
            AND table_name NOT IN ('_sqlx_migrations', 'undo_log', 'applied_block', 'checkpoint')
          ORDER BY 1",
    )
    .fetch_all(&mut *connection)
    .await
    .unwrap();
    assert!(tables.len() > 5, "explorer tables: {tables:?}");
    let mut rows = Vec::new();
    for table in tables {
        let mut table_rows: Vec<String> = sqlx::query_scalar(&format!(
            "SELECT '{table}:' || t::text FROM explorer.\"{table}\" t"
        ))
        .fetch_all(&mut *connection)
        .await
        .unwrap();
        table_rows.sort();
        rows.extend(table_rows);
    }
    rows
}

async fn wait_for_height(database_url: &str, height: i64, limit: Duration) {
    let deadline = Instant::now() + limit;
    loop {
        if let Ok(mut connection) = PgConnection::connect(database_url).await
            && explorer_height(&mut connection).await == Some(height)
        {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "projector never reached height {height}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn write_config(dir: &Path) -> PathBuf {
    let path = dir.join("network.toml");
    std::fs::write(
        &path,
        test_toml(
            &[("initial_target", &format!("\"{}\"", "f".repeat(64)))],
            false,
        ),
    )
    .unwrap();
    path
}

#[tokio::test]
async fn twenty_sigkills_while_ingesting_end_equal_to_a_rebuild() {
    let TestServices {
        settings, db, js, ..
    } = TestServices::connect().await;
    let database_url = format!(
        "{}/{}",
        settings.database_url.rsplit_once('/').unwrap().0,
        db.name()
    );
    let network = support::create_stream(&js, "k").await;
    let (net, updates) = build_chain(240);
    publish_chain(&js, &network, &net, &updates).await;
    let dir = tempfile::tempdir().unwrap();
    let projector = Projector {
        database_url: database_url.clone(),
        nats_url: settings.nats_url.clone(),
        network: network.clone(),
        config_file: write_config(dir.path()),
    };

    // Batches of one block so that there are many moments to kill it in.
    let mut seed = 0x5eed_u64;
    let mut heights = Vec::new();
    for _ in 0..20 {
        let mut child = projector.spawn_run(1);
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        std::thread::sleep(Duration::from_millis(150 + (seed >> 33) % 250));
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        let mut connection = PgConnection::connect(&database_url).await.unwrap();
        heights.push(explorer_height(&mut connection).await.unwrap_or(-1));
    }
    // It made progress across the kills and never went backwards.
    assert!(
        heights.windows(2).all(|pair| pair[0] <= pair[1]),
        "{heights:?}"
    );
    let mut child = projector.spawn_run(64);
    wait_for_height(&database_url, 240, Duration::from_secs(120)).await;
    child.kill().unwrap();
    child.wait().unwrap();
    let mut connection = PgConnection::connect(&database_url).await.unwrap();
    let incremental = dump(&mut connection).await;

    let rebuild = projector
        .command(&["rebuild", "explorer"])
        .status()
        .unwrap();
    assert!(rebuild.success());
    let rebuilt = dump(&mut connection).await;
    assert_eq!(incremental.len(), rebuilt.len());
    assert!(
        incremental == rebuilt,
        "incremental state differs from a rebuild"
    );
    eprintln!("heights at the 20 kills: {heights:?}");

    connection.close().await.unwrap();
    let _ = js.delete_stream(stream::stream_name(&network)).await;
    db.drop_database().await.unwrap();
}

/// A private PostgreSQL and nats-server (scripts/services on its own state
/// folder and ports), so restarting them disturbs no other test.
struct PrivateServices {
    state: tempfile::TempDir,
    pg_port: u16,
}

impl PrivateServices {
    fn script() -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../scripts/services")
    }

    fn run(&self, command: &str) {
        let status = Command::new(Self::script())
            .arg(command)
            .env("BSC_STATE_DIR", self.state.path())
            .env("BSC_PG_PORT", self.pg_port.to_string())
            .env("BSC_NATS_PORT", (self.pg_port + 1).to_string())
            .env("BSC_NATS_HTTP_PORT", (self.pg_port + 2).to_string())
            .stdout(Stdio::null())
            .status()
            .unwrap();
        assert!(status.success(), "scripts/services {command} failed");
    }

    fn start() -> PrivateServices {
        let services = PrivateServices {
            state: tempfile::tempdir().unwrap(),
            // Below Linux's ephemeral range (32768–60999): a port there can
            // be taken by any outgoing connection between the restarts (CI
            // once failed with nats-server's port 56680 in use).
            pg_port: 29000 + (std::process::id() % 300) as u16 * 3,
        };
        services.run("up");
        services
    }

    fn settings(&self) -> Settings {
        let values = devenv::parse_settings_file(&self.state.path().join("env")).unwrap();
        Settings {
            database_url: values["DATABASE_URL"].clone(),
            nats_url: values["NATS_URL"].clone(),
        }
    }

    fn kill(&self, which: &str) {
        let pid = match which {
            "postgres" => {
                std::fs::read_to_string(self.state.path().join("postgres/data/postmaster.pid"))
                    .unwrap()
                    .lines()
                    .next()
                    .unwrap()
                    .to_owned()
            }
            _ => std::fs::read_to_string(self.state.path().join("nats/nats.pid"))
                .unwrap()
                .trim()
                .to_owned(),
        };
        assert!(
            Command::new("kill")
                .args(["-9", &pid])
                .status()
                .unwrap()
                .success()
        );
    }
}

impl Drop for PrivateServices {
    fn drop(&mut self) {
        let _ = Command::new(Self::script())
            .arg("reset")
            .env("BSC_STATE_DIR", self.state.path())
            .stdout(Stdio::null())
            .status();
    }
}

#[tokio::test]
async fn waits_for_postgres_and_nats_to_come_back_and_resumes() {
    let services = PrivateServices::start();
    let settings = services.settings();
    let js = jetstream::new(async_nats::connect(&settings.nats_url).await.unwrap());
    let network = support::create_stream(&js, "o").await;
    let (net, updates) = build_chain(160);
    publish_chain(&js, &network, &net, &updates[..80]).await;
    let dir = tempfile::tempdir().unwrap();
    let projector = Projector {
        database_url: settings.database_url.clone(),
        nats_url: settings.nats_url.clone(),
        network: network.clone(),
        config_file: write_config(dir.path()),
    };
    let mut child = projector.spawn_run(8);
    wait_for_height(&settings.database_url, 80, Duration::from_secs(60)).await;

    // PostgreSQL dies and comes back; meanwhile more blocks arrive.
    services.kill("postgres");
    publish_more(&js, &network, &net, &updates, 80..120).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    services.run("up");
    wait_for_height(&settings.database_url, 120, Duration::from_secs(60)).await;

    // NATS dies (JetStream keeps its file store) and comes back.
    services.kill("nats");
    tokio::time::sleep(Duration::from_millis(1500)).await;
    services.run("up");
    let js = jetstream::new(async_nats::connect(&settings.nats_url).await.unwrap());
    publish_more(&js, &network, &net, &updates, 120..160).await;
    wait_for_height(&settings.database_url, 160, Duration::from_secs(60)).await;
    assert!(
        child.try_wait().unwrap().is_none(),
        "the projector kept running"
    );

    child.kill().unwrap();
    child.wait().unwrap();
    let mut connection = PgConnection::connect(&settings.database_url).await.unwrap();
    let blocks: i64 = sqlx::query_scalar("SELECT count(*) FROM explorer.block")
        .fetch_one(&mut connection)
        .await
        .unwrap();
    assert_eq!(blocks, 161, "every block exactly once");
    connection.close().await.unwrap();
}

/// Publishes the updates in `range` continuing the outbox numbering of
/// [`publish_chain`] (genesis is 1, update i is i + 2).
async fn publish_more(
    js: &jetstream::Context,
    network: &str,
    net: &Net,
    updates: &[ChainUpdate],
    range: std::ops::Range<usize>,
) {
    for index in range {
        let update = &updates[index];
        for id in &update.applied {
            let message = BlockMessage {
                kind: BlockMessageKind::Applied,
                height: net.chain.node(id).unwrap().height,
                outbox_sequence: index as u64 + 2,
                block: net.chain.block(id).unwrap().unwrap(),
                events: update
                    .events
                    .iter()
                    .filter(|event| event.block == *id)
                    .cloned()
                    .collect(),
            };
            support::publish(js, network, &message, message.encode()).await;
        }
    }
}
