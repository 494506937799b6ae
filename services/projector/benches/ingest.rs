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

mod support;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

use chain::stream;

use devenv::Settings;
use futures::StreamExt;
use projections::explorer::EXPLORER_MIGRATOR;
use projections::schema::{self, RUNTIME_TABLES};
use sqlx::postgres::PgConnectOptions;
use sqlx::{Connection, PgConnection};
use support::{
    BenchDatabase, build_chain, create_stream, env_usize, peak_rss, publish, terminate,
    write_network_config,
};

/// Rounds of COPY baseline; the median is reported.
const COPY_ROUNDS: usize = 3;

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
    terminate(&mut child, "projector")?;
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

    let (js, network) = create_stream(&settings, "bench").await?;
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

    let database = BenchDatabase::create(&settings).await?;
    let dir = tempfile::tempdir()?;
    let network_config = write_network_config(dir.path())?;

    println!("projector run --models explorer --batch-size {batch_size} (until height {tip})");
    let ingest = run_projector(
        &database.url,
        &settings.nats_url,
        &network,
        &network_config,
        batch_size,
        tip,
    )
    .await?;

    println!("COPY baseline: {COPY_ROUNDS} rounds of the same rows into explorer_copy");
    let copy = copy_baseline(&database.options).await?;

    let _ = js.delete_stream(stream::stream_name(&network)).await;
    database.db.drop_database().await?;

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
