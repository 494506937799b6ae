//! The projector binary as an operator runs it, against the local
//! PostgreSQL and NATS: `run` folds the stream and serves /healthz and
//! /metrics, `status` reports each model's height and lag, `rebuild` swaps
//! a rebuilt model in, SIGTERM stops `run` cleanly (exit 0), and `models`
//! lists the read models (what `scripts/devnet reset` drops).

#![allow(clippy::unwrap_used)] // test harness: a failed setup step fails the test

#[path = "../../../projections/tests/support/mod.rs"]
mod support;

use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use async_nats::jetstream;
use chain::ChainConfig;
use chain::stream::{self, BlockMessage, BlockMessageKind, PoolEvent};
use devenv::TestDatabase;
use ledger::{BlockHeight, codec};
use support::TestServices;

fn devnet_config_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../ledger/chain/networks/devnet.toml")
}

/// A port for the projector process to serve on, below the ephemeral
/// range (`devenv::free_test_port`).
fn free_port() -> u16 {
    devenv::free_test_port().unwrap()
}

struct Setup {
    db: TestDatabase,
    database_url: String,
    nats_url: String,
    network: String,
    js: jetstream::Context,
}

impl Setup {
    fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_projector"));
        command
            .args(args)
            .arg("--network")
            .arg(&self.network)
            .arg("--network-config")
            .arg(devnet_config_path())
            .env("DATABASE_URL", &self.database_url)
            .env("NATS_URL", &self.nats_url)
            .env_remove("PROJECTOR_CONFIG")
            .env("RUST_LOG", "info");
        command
    }

    fn output(&self, args: &[&str]) -> Output {
        self.command(args).output().unwrap()
    }
}

/// A fresh database and an empty stream of a new network.
async fn empty_setup() -> Setup {
    let services = TestServices::connect().await;
    let database_url = services.database_url();
    let network = support::create_stream(&services.js, "p").await;
    Setup {
        db: services.db,
        database_url,
        nats_url: services.settings.nats_url,
        network,
        js: services.js,
    }
}

/// The devnet genesis block as a message at `height` (0: as a node
/// publishes it).
fn genesis_at(height: u64) -> BlockMessage {
    BlockMessage {
        kind: BlockMessageKind::Applied,
        height: BlockHeight(height),
        outbox_sequence: height + 1,
        block: ChainConfig::devnet().unwrap().genesis,
        events: Vec::new(),
    }
}

async fn setup() -> Setup {
    let setup = empty_setup().await;
    let genesis = genesis_at(0);
    support::publish(&setup.js, &setup.network, &genesis, genesis.encode()).await;
    setup
}

async fn get(url: &str) -> Option<(u16, String)> {
    let response = reqwest::get(url).await.ok()?;
    let status = response.status().as_u16();
    Some((status, response.text().await.ok()?))
}

/// A `projector run` that is killed if the test fails before stopping it.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        if matches!(self.0.try_wait(), Ok(None)) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

fn terminate(child: &mut Child) -> std::process::ExitStatus {
    let pid = child.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        assert!(
            Instant::now() < deadline,
            "projector did not stop after SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[tokio::test]
async fn run_status_rebuild_and_clean_shutdown() {
    let setup = setup().await;
    let port = free_port();
    let listen = format!("127.0.0.1:{port}");
    let mut run = setup
        .command(&["run", "--listen", &listen])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();

    // Folded: the explorer's height appears in /metrics, /healthz is ok.
    // (The explorer's own line: another model may fold the block first.)
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Some((200, metrics)) = get(&format!("http://{listen}/metrics")).await
            && metrics.lines().any(|line| {
                line.starts_with("projector_stream_sequence{")
                    && line.contains("model=\"explorer\"")
                    && line.ends_with(" 1")
            })
        {
            assert!(metrics.contains("# TYPE projector_lag_messages gauge"));
            break;
        }
        assert!(
            Instant::now() < deadline,
            "projector never folded the genesis block"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(
        get(&format!("http://{listen}/healthz")).await,
        Some((200, "ok\n".to_owned()))
    );
    let blocks: i64 = sqlx::query_scalar("SELECT count(*) FROM explorer.block")
        .fetch_one(setup.db.pool())
        .await
        .unwrap();
    assert_eq!(blocks, 1);

    // Pending transactions follow the pool events (core NATS).
    let client = async_nats::connect(&setup.nats_url).await.unwrap();
    let transaction = ledger::Transaction {
        fee: ledger::Currency(12_345),
        arbitrary_data: b"pending".to_vec(),
        ..ledger::Transaction::new()
    };
    let id = transaction.id();
    let accepted = PoolEvent::Accepted {
        id,
        transaction: Box::new(transaction),
    };
    let pending = |pool: sqlx::PgPool| async move {
        sqlx::query_scalar::<_, String>("SELECT fee::text FROM explorer.pending_transaction")
            .fetch_all(&pool)
            .await
            .unwrap()
    };
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        // Core NATS is fire-and-forget: publish until the follower has it.
        client
            .publish(
                stream::pool_accepted_subject(&setup.network),
                codec::encode(&accepted).into(),
            )
            .await
            .unwrap();
        if pending(setup.db.pool().clone()).await == vec!["12345".to_owned()] {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "pending transaction never appeared"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let dropped = PoolEvent::Dropped {
        id,
        reason: "expired".into(),
    };
    client
        .publish(
            stream::pool_dropped_subject(&setup.network),
            codec::encode(&dropped).into(),
        )
        .await
        .unwrap();
    client.flush().await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while !pending(setup.db.pool().clone()).await.is_empty() {
        assert!(
            Instant::now() < deadline,
            "dropped transaction stayed pending"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // status: the model at height 0, nothing left to fold.
    let status = setup.output(&["status", "--sample-seconds", "0.2"]);
    assert!(status.status.success(), "{status:?}");
    let text = String::from_utf8(status.stdout).unwrap();
    let explorer_line = text
        .lines()
        .find(|line| line.starts_with("explorer"))
        .unwrap_or_else(|| panic!("no explorer line in:\n{text}"));
    let columns: Vec<&str> = explorer_line.split_whitespace().collect();
    assert_eq!(&columns[1..4], &["0", "1", "0"], "{explorer_line}");

    // rebuild while `run` is live: swapped in, same content.
    let rebuild = setup.output(&["rebuild", "explorer"]);
    assert!(rebuild.status.success(), "{rebuild:?}");
    assert!(
        String::from_utf8_lossy(&rebuild.stdout).contains("rebuilt explorer to height 0"),
        "{rebuild:?}"
    );
    let blocks: i64 = sqlx::query_scalar("SELECT count(*) FROM explorer.block")
        .fetch_one(setup.db.pool())
        .await
        .unwrap();
    assert_eq!(blocks, 1);

    // SIGTERM: finishes and exits 0.
    let status = terminate(&mut run);
    assert!(status.success(), "projector exit status {status}");
    let mut log = String::new();
    std::io::Read::read_to_string(&mut run.stderr.take().unwrap(), &mut log).unwrap();
    assert!(log.contains("projector stopped cleanly"), "{log}");

    // An unknown model is a clear error, not a panic.
    let unknown = setup.output(&["rebuild", "nonsense"]);
    assert!(!unknown.status.success());
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("unknown model \"nonsense\""));

    let _ = setup
        .js
        .delete_stream(stream::stream_name(&setup.network))
        .await;
    setup.db.drop_database().await.unwrap();
}

/// Polls `/healthz` until it is degraded with a reason containing `needle`.
async fn degraded_with(listen: &str, needle: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some((503, reason)) = get(&format!("http://{listen}/healthz")).await
            && reason.contains(needle)
        {
            return reason;
        }
        assert!(
            Instant::now() < deadline,
            "/healthz never reported {needle:?}: {:?}",
            get(&format!("http://{listen}/healthz")).await
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn healthz_and_status_name_a_model_that_retries_or_stopped() {
    // A stream whose first message is a block at height 5 and no node to
    // backfill from: the explorer retries, and says why.
    let orphan = genesis_at(5);
    let retrying = empty_setup().await;
    let network = retrying.network.clone();
    support::publish(&retrying.js, &network, &orphan, orphan.encode()).await;
    let listen = format!("127.0.0.1:{}", free_port());
    let mut run = Running(
        retrying
            .command(&["run", "--models", "explorer", "--listen", &listen])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let reason = degraded_with(&listen, "model explorer retrying").await;
    assert!(
        reason.contains("needs blocks 0..=4")
            && reason.contains(&format!("no node answered on ledger.{network}.blocks")),
        "{reason}"
    );
    let status = retrying.output(&["status", "--sample-seconds", "0", "--listen", &listen]);
    assert!(status.status.success(), "{status:?}");
    let text = String::from_utf8(status.stdout).unwrap();
    let verdict = text
        .lines()
        .find(|line| line.starts_with(&format!("projector at {listen}: degraded: ")))
        .unwrap_or_else(|| panic!("no degraded verdict in:\n{text}"));
    assert!(
        verdict.contains("model explorer retrying") && verdict.contains("no node answered"),
        "{verdict}"
    );
    assert!(terminate(&mut run.0).success());
    // Nothing serves /healthz any more: status says so and still succeeds.
    let status = retrying.output(&["status", "--sample-seconds", "0", "--listen", &listen]);
    assert!(status.status.success(), "{status:?}");
    assert!(
        String::from_utf8_lossy(&status.stdout)
            .contains(&format!("projector at {listen}: not reachable")),
        "{status:?}"
    );

    // A message that does not decode: the explorer stops, and says why.
    let genesis = genesis_at(0);
    let stopping = empty_setup().await;
    support::publish(
        &stopping.js,
        &stopping.network,
        &genesis,
        b"not a block".to_vec(),
    )
    .await;
    let listen = format!("127.0.0.1:{}", free_port());
    let mut run = Running(
        stopping
            .command(&["run", "--models", "explorer", "--listen", &listen])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let reason = degraded_with(&listen, "model explorer stopped").await;
    assert!(reason.contains("is not a block message"), "{reason}");
    let status = stopping.output(&["status", "--sample-seconds", "0", "--listen", &listen]);
    let text = String::from_utf8(status.stdout).unwrap();
    assert!(
        text.contains(&format!(
            "projector at {listen}: degraded: model explorer stopped"
        )),
        "{text}"
    );
    assert!(terminate(&mut run.0).success());

    for setup in [retrying, stopping] {
        let _ = setup
            .js
            .delete_stream(stream::stream_name(&setup.network))
            .await;
        setup.db.drop_database().await.unwrap();
    }
}

#[test]
fn models_lists_every_read_model_without_configuration() {
    let output = Command::new(env!("CARGO_BIN_EXE_projector"))
        .arg("models")
        .env_remove("DATABASE_URL")
        .env_remove("NATS_URL")
        .env("BSC_STATE_DIR", "/nonexistent")
        .output()
        .unwrap();
    assert!(output.status.success(), "{output:?}");
    let stdout = String::from_utf8(output.stdout).unwrap();
    let names: Vec<&str> = stdout.lines().collect();
    assert_eq!(names, projections::registry::MODEL_NAMES);
}
