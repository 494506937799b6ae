//! End-to-end ingest benchmark of the projector (issue 6).
//!
//! 1. Builds, in memory with the chain crate (ManualClock), a chain that
//!    carries `INGEST_TRANSFERS` (default 200,000) signed single-input,
//!    two-output transfers in blocks of 1,000.
//! 2. Publishes it to a JetStream stream of its own (a unique network name)
//!    on the local NATS exactly as a node does: `BlockMessage` bytes, the
//!    `Ledger-Height` header, `<kind>-<block>-<outbox seq>` message IDs.
//! 3. Runs the real binary, `projector run --models explorer --batch-size
//!    256`, as a child process against a fresh database and times it from
//!    spawn until the explorer's checkpoint reaches the tip; its peak RSS
//!    is `VmHWM` from `/proc/<pid>/status`, polled meanwhile.
//! 4. Baseline in the same run: every explorer table the projector filled
//!    is dumped with `COPY … TO STDOUT (FORMAT binary)` and written again
//!    with `COPY … FROM STDIN (FORMAT binary)` in one transaction into a
//!    fresh schema with the same tables and indexes (the explorer
//!    migrations, without the undo trigger: a raw COPY records no undo).
//!    Median of three rounds.
//!
//! The ratio is copy time / ingest time, i.e. ingest throughput over COPY
//! throughput for the same rows. Target ≥ 0.3.
//!
//! ```text
//! cargo bench -p projector --bench ingest
//! INGEST_TRANSFERS=5000 cargo bench -p projector --bench ingest   # quick
//! ```
//!
//! Also read: `INGEST_BLOCK_TRANSFERS` (default 1,000) and
//! `INGEST_BATCH_SIZE` (the projector's `--batch-size`, default 256);
//! `INGEST_RUST_LOG` is the projector's `RUST_LOG` (default `warn`).
//! Needs the local services (`scripts/services up`).

#[path = "../../../ledger/chain/tests/common/mod.rs"]
mod common;

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use async_nats::jetstream::{self, stream as js_stream};
use chain::stream::{self, BlockMessage, BlockMessageKind, HEIGHT_HEADER};
use chain::{ChainUpdate, Direction};
use common::{Net, coins, key, sign_coin_inputs, test_config, test_toml};
use devenv::{Settings, TestDatabase, unique_name};
use futures::StreamExt;
use ledger::crypto::SecretKey;
use ledger::{
    BlockHeight, CoinInput, CoinOutput, CoinOutputId, Condition, Currency, Fulfillment, Transaction,
};
use projections::explorer::EXPLORER_MIGRATOR;
use projections::schema::{self, RUNTIME_TABLES};
use sqlx::postgres::PgConnectOptions;
use sqlx::{Connection, PgConnection};

/// Distinct keys that own the transfer lanes (as in the chain's apply bench).
const KEYS: usize = 200;
/// What each transfer pays to another lane's key, and its fee.
const AMOUNT: Currency = Currency(100_000_000);
const TRANSFER_FEE: Currency = Currency(20_000_000);
/// Rounds of COPY baseline; the median is reported.
const COPY_ROUNDS: usize = 3;

fn env_usize(name: &str, default: usize) -> anyhow::Result<usize> {
    match std::env::var(name) {
        Ok(value) => value
            .replace(['_', ','], "")
            .parse()
            .with_context(|| format!("{name}={value} is not a whole number")),
        Err(_) => Ok(default),
    }
}

/// The chain, as the messages a node publishes, with what they carry.
struct BuiltChain {
    messages: Vec<BlockMessage>,
    transfers: usize,
    transactions: usize,
    events: usize,
}

fn applied_messages(net: &Net, update: &ChainUpdate) -> anyhow::Result<Vec<BlockMessage>> {
    update
        .applied
        .iter()
        .map(|id| {
            Ok(BlockMessage {
                kind: BlockMessageKind::Applied,
                height: net.chain.node(id).context("applied block is known")?.height,
                outbox_sequence: 0, // numbered when published
                block: net.chain.block(id)?.context("applied block is stored")?,
                events: update
                    .events
                    .iter()
                    .filter(|event| event.block == *id && event.direction == Direction::Apply)
                    .cloned()
                    .collect(),
            })
        })
        .collect()
}

/// Genesis, one block splitting a genesis coin into one output per lane,
/// then rounds of one transfer per lane: each spends its lane's change
/// output of the round before, pays `AMOUNT` to another lane's key and
/// returns the change.
fn build_chain(transfers: usize, per_block: usize) -> anyhow::Result<BuiltChain> {
    let started = Instant::now();
    let mut net = Net::new(test_config());
    let keys: Vec<SecretKey> = (0..KEYS).map(|index| key(11 + index as u8)).collect();
    let lanes = per_block.min(transfers).max(1);
    let rounds = transfers.div_ceil(lanes);
    let lane_value = Currency(
        (AMOUNT.0 + TRANSFER_FEE.0) * rounds as u128 + coins(1).0, // a coin to spare
    );

    let genesis = net.chain.config().genesis.clone();
    let mut messages = vec![BlockMessage {
        kind: BlockMessageKind::Applied,
        height: BlockHeight(0),
        outbox_sequence: 0,
        block: genesis,
        events: Vec::new(),
    }];

    let (parent, funding) = net
        .coins_of(&key(4))
        .into_iter()
        .max_by_key(|(_, output)| output.value)
        .context("key 4 holds genesis coins")?;
    let split_fee = coins(1);
    let mut split = Transaction {
        coin_inputs: vec![CoinInput {
            parent_id: parent,
            fulfillment: Fulfillment::Nil,
        }],
        fee: split_fee,
        ..Transaction::new()
    };
    for lane in 0..lanes {
        split.coin_outputs.push(CoinOutput {
            value: lane_value,
            condition: Condition::for_public_key(&keys[lane % KEYS].public_key()),
        });
    }
    let spent = Currency(lane_value.0 * lanes as u128 + split_fee.0);
    split.coin_outputs.push(CoinOutput {
        value: funding
            .value
            .checked_sub(spent)
            .context("key 4 holds enough coins for the lanes")?,
        condition: funding.condition.clone(),
    });
    sign_coin_inputs(&mut split, &net.params(), &key(4));
    let split_id = split.id();
    let block = net.next_block(vec![split]);
    let update = net.accept(block)?;
    messages.extend(applied_messages(&net, &update)?);

    let mut lane_outputs: Vec<(CoinOutputId, Currency)> = (0..lanes)
        .map(|lane| {
            (
                CoinOutputId::for_transaction_output(&split_id, lane as u64),
                lane_value,
            )
        })
        .collect();
    let params = net.params();
    let mut built = 0;
    for round in 0..rounds {
        let count = lanes.min(transfers - built);
        let mut block_transfers = Vec::with_capacity(count);
        for (lane, (parent_id, value)) in lane_outputs.iter_mut().enumerate().take(count) {
            let owner = &keys[lane % KEYS];
            let recipient = &keys[(lane + round + 1) % KEYS];
            let change = value
                .checked_sub(AMOUNT)
                .and_then(|rest| rest.checked_sub(TRANSFER_FEE))
                .context("a lane ran out of coins")?;
            let mut transfer = Transaction {
                coin_inputs: vec![CoinInput {
                    parent_id: *parent_id,
                    fulfillment: Fulfillment::Nil,
                }],
                coin_outputs: vec![
                    CoinOutput {
                        value: AMOUNT,
                        condition: Condition::for_public_key(&recipient.public_key()),
                    },
                    CoinOutput {
                        value: change,
                        condition: Condition::for_public_key(&owner.public_key()),
                    },
                ],
                fee: TRANSFER_FEE,
                ..Transaction::new()
            };
            sign_coin_inputs(&mut transfer, &params, owner);
            *parent_id = CoinOutputId::for_transaction_output(&transfer.id(), 1);
            *value = change;
            block_transfers.push(transfer);
        }
        built += count;
        let block = net.next_block(block_transfers);
        let update = net.accept(block)?;
        messages.extend(applied_messages(&net, &update)?);
        if (round + 1) % 20 == 0 || round + 1 == rounds {
            println!(
                "  built {built:>9} transfers in {:>4} blocks ({:.1}s)",
                round + 1,
                started.elapsed().as_secs_f64()
            );
        }
    }
    let transactions = messages
        .iter()
        .map(|message| message.block.transactions.len())
        .sum();
    let events = messages.iter().map(|message| message.events.len()).sum();
    Ok(BuiltChain {
        messages,
        transfers: built,
        transactions,
        events,
    })
}

/// Publishes the messages as a node does (outbox sequence from 1, message
/// ID for deduplication, height header); returns the bytes published.
async fn publish(
    js: &jetstream::Context,
    network: &str,
    messages: &mut [BlockMessage],
) -> anyhow::Result<usize> {
    let mut acks = Vec::with_capacity(messages.len());
    let mut bytes = 0;
    for (index, message) in messages.iter_mut().enumerate() {
        message.outbox_sequence = index as u64 + 1;
        let payload = message.encode();
        bytes += payload.len();
        let mut headers = async_nats::HeaderMap::new();
        headers.insert(HEIGHT_HEADER, message.height.0.to_string().as_str());
        acks.push(
            js.send_publish(
                stream::subject_for(network, message.kind),
                jetstream::message::PublishMessage::build()
                    .message_id(stream::message_id(
                        message.kind,
                        &message.block_id(),
                        message.outbox_sequence,
                    ))
                    .headers(headers)
                    .payload(payload.into()),
            )
            .await?,
        );
    }
    for ack in acks {
        ack.await?;
    }
    Ok(bytes)
}

/// Peak resident set of a process in bytes (`VmHWM`), if readable.
fn peak_rss(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|line| line.starts_with("VmHWM:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

fn terminate(child: &mut Child) -> anyhow::Result<()> {
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()?;
    if !status.success() {
        bail!(
            "could not send SIGTERM to the projector (pid {})",
            child.id()
        );
    }
    let exit = child.wait()?;
    if !exit.success() {
        bail!("the projector exited with {exit} after SIGTERM");
    }
    Ok(())
}

struct IngestRun {
    seconds: f64,
    peak_rss: u64,
}

/// Runs the projector binary until the explorer's checkpoint reaches `tip`.
async fn run_projector(
    database_url: &str,
    nats_url: &str,
    network: &str,
    network_config: &Path,
    batch_size: usize,
    tip: u64,
) -> anyhow::Result<IngestRun> {
    let mut watcher = PgConnection::connect(database_url).await?;
    let started = Instant::now();
    let mut child = Command::new(env!("CARGO_BIN_EXE_projector"))
        .args(["run", "--models", "explorer", "--listen", "127.0.0.1:0"])
        .args(["--batch-size", &batch_size.to_string()])
        .args(["--network", network])
        .arg("--network-config")
        .arg(network_config)
        .env("DATABASE_URL", database_url)
        .env("NATS_URL", nats_url)
        .env_remove("PROJECTOR_CONFIG")
        .env_remove("PROJECTOR_FINALITY_DEPTH")
        .env(
            "RUST_LOG",
            std::env::var("INGEST_RUST_LOG").unwrap_or_else(|_| "warn".to_owned()),
        )
        .stdout(Stdio::null())
        .spawn()
        .context("starting the projector binary")?;
    let pid = child.id();
    let mut peak = 0;
    let mut last_report = Instant::now();
    let seconds = loop {
        if let Some(exit) = child.try_wait()? {
            bail!("the projector exited early with {exit}");
        }
        peak = peak_rss(pid).unwrap_or(peak).max(peak);
        // Errors are expected until the schema is installed.
        let height: Option<i64> = sqlx::query_scalar("SELECT height FROM explorer.checkpoint")
            .fetch_optional(&mut watcher)
            .await
            .ok()
            .flatten();
        if height.is_some_and(|height| height >= 0 && height as u64 >= tip) {
            break started.elapsed().as_secs_f64();
        }
        if last_report.elapsed() >= Duration::from_secs(5) {
            last_report = Instant::now();
            println!(
                "  projector at height {} of {tip} after {:.0}s",
                height.map_or("-".to_owned(), |height| height.to_string()),
                started.elapsed().as_secs_f64()
            );
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    peak = peak_rss(pid).unwrap_or(peak).max(peak);
    terminate(&mut child)?;
    watcher.close().await?;
    Ok(IngestRun {
        seconds,
        peak_rss: peak,
    })
}

/// The explorer's own tables (not the runtime's), by name.
async fn model_tables(connection: &mut PgConnection, schema: &str) -> anyhow::Result<Vec<String>> {
    let tables: Vec<String> = sqlx::query_scalar(
        "SELECT c.relname::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
          WHERE n.nspname = $1 AND c.relkind IN ('r', 'p') ORDER BY c.relname",
    )
    .bind(schema)
    .fetch_all(connection)
    .await?;
    Ok(tables
        .into_iter()
        .filter(|table| !RUNTIME_TABLES.contains(&table.as_str()))
        .collect())
}

struct CopyBaseline {
    rows: u64,
    bytes: usize,
    seconds: f64,
}

/// Dumps the explorer's tables and times writing them again with COPY
/// into `explorer_copy` (median of `COPY_ROUNDS`).
async fn copy_baseline(database: &PgConnectOptions) -> anyhow::Result<CopyBaseline> {
    const TARGET: &str = "explorer_copy";
    schema::install(database, TARGET, "explorer", &EXPLORER_MIGRATOR).await?;
    let mut connection = PgConnection::connect_with(database).await?;
    let tables = model_tables(&mut connection, "explorer").await?;
    for table in &tables {
        sqlx::query(&format!(
            "DROP TRIGGER IF EXISTS record_undo ON \"{TARGET}\".\"{table}\""
        ))
        .execute(&mut connection)
        .await?;
    }

    let mut dumps = Vec::with_capacity(tables.len());
    let mut bytes = 0;
    for table in &tables {
        let mut chunks = Vec::new();
        let mut out = connection
            .copy_out_raw(&format!(
                "COPY explorer.\"{table}\" TO STDOUT (FORMAT binary)"
            ))
            .await?;
        while let Some(chunk) = out.next().await {
            let chunk = chunk?;
            bytes += chunk.len();
            chunks.push(chunk);
        }
        drop(out);
        dumps.push((table, chunks));
    }

    let mut times = Vec::with_capacity(COPY_ROUNDS);
    let mut rows = 0;
    for _ in 0..COPY_ROUNDS {
        let list: Vec<String> = tables
            .iter()
            .map(|table| format!("\"{TARGET}\".\"{table}\""))
            .collect();
        sqlx::query(&format!("TRUNCATE {}", list.join(", ")))
            .execute(&mut connection)
            .await?;
        let started = Instant::now();
        let mut transaction = connection.begin().await?;
        rows = 0;
        for (table, chunks) in &dumps {
            let mut copy = transaction
                .copy_in_raw(&format!(
                    "COPY \"{TARGET}\".\"{table}\" FROM STDIN (FORMAT binary)"
                ))
                .await?;
            for chunk in chunks {
                copy.send(chunk.as_ref()).await?;
            }
            rows += copy.finish().await?;
        }
        transaction.commit().await?;
        times.push(started.elapsed().as_secs_f64());
    }
    times.sort_by(f64::total_cmp);
    connection.close().await?;
    Ok(CopyBaseline {
        rows,
        bytes,
        seconds: times[times.len() / 2],
    })
}

fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    // `cargo bench` passes `--bench`; nothing here takes arguments.
    let transfers = env_usize("INGEST_TRANSFERS", 200_000)?;
    let per_block = env_usize("INGEST_BLOCK_TRANSFERS", 1_000)?;
    let batch_size = env_usize("INGEST_BATCH_SIZE", 256)?;
    if transfers == 0 || per_block == 0 || batch_size == 0 {
        bail!("INGEST_TRANSFERS, INGEST_BLOCK_TRANSFERS and INGEST_BATCH_SIZE must be positive");
    }
    let settings = Settings::load().context("local services settings (scripts/services up)")?;

    println!("building a chain of {transfers} transfers, {per_block} per block");
    let mut chain = build_chain(transfers, per_block)?;
    let tip = chain.messages.last().map_or(0, |message| message.height.0);

    let network = unique_name("bench");
    let js = jetstream::new(async_nats::connect(&settings.nats_url).await?);
    js.create_stream(js_stream::Config {
        name: stream::stream_name(&network),
        subjects: vec![stream::block_subjects(&network)],
        ..Default::default()
    })
    .await?;
    let started = Instant::now();
    let published = publish(&js, &network, &mut chain.messages).await?;
    println!(
        "published {} messages ({:.1} MiB) to {} in {:.1}s",
        chain.messages.len(),
        mib(published as u64),
        stream::stream_name(&network),
        started.elapsed().as_secs_f64()
    );
    drop(chain.messages);

    let db = TestDatabase::create(&settings).await?;
    let base: PgConnectOptions = settings.database_url.parse()?;
    let database = base.database(db.name());
    let database_url = format!(
        "{}/{}",
        settings
            .database_url
            .rsplit_once('/')
            .context("DATABASE_URL has a database name")?
            .0,
        db.name()
    );
    let dir = tempfile::tempdir()?;
    let network_config = dir.path().join("network.toml");
    std::fs::write(
        &network_config,
        test_toml(
            &[("initial_target", &format!("\"{}\"", "f".repeat(64)))],
            false,
        ),
    )?;

    println!("projector run --models explorer --batch-size {batch_size} (until height {tip})");
    let ingest = run_projector(
        &database_url,
        &settings.nats_url,
        &network,
        &network_config,
        batch_size,
        tip,
    )
    .await?;

    println!("COPY baseline: {COPY_ROUNDS} rounds of the same rows into explorer_copy");
    let copy = copy_baseline(&database).await?;

    let _ = js.delete_stream(stream::stream_name(&network)).await;
    db.drop_database().await?;

    let ratio = copy.seconds / ingest.seconds;
    println!();
    println!("== projector ingest (explorer), same-run COPY baseline ==");
    println!("transfers            {:>12}", chain.transfers);
    println!("blocks               {:>12}  (tip height {tip})", tip + 1);
    println!("transactions         {:>12}", chain.transactions);
    println!("events               {:>12}", chain.events);
    println!("rows written         {:>12}", copy.rows);
    println!("ingest seconds       {:>12.2}", ingest.seconds);
    println!(
        "ingest events/s      {:>12.0}",
        chain.events as f64 / ingest.seconds
    );
    println!(
        "ingest tx/s          {:>12.0}",
        chain.transactions as f64 / ingest.seconds
    );
    println!(
        "ingest rows/s        {:>12.0}",
        copy.rows as f64 / ingest.seconds
    );
    println!(
        "COPY seconds         {:>12.2}  ({:.1} MiB binary, median of {COPY_ROUNDS})",
        copy.seconds,
        mib(copy.bytes as u64)
    );
    println!(
        "COPY rows/s          {:>12.0}",
        copy.rows as f64 / copy.seconds
    );
    println!("ratio ingest/COPY    {ratio:>12.2}  (copy time / ingest time; target >= 0.3)");
    println!("projector peak RSS   {:>9.1} MiB", mib(ingest.peak_rss));
    Ok(())
}
