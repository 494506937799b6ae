//! HTTP load benchmark of the API (issue 7), against the same SQL run by
//! pgbench in the same run.
//!
//! 1. Builds a chain with known content in memory (the projector ingest
//!    benchmark's builder, `services/projector/benches/support`):
//!    `API_BENCH_BLOCKS` blocks (default 2,000) of `API_BENCH_BLOCK_TRANSFERS`
//!    signed transfers each (default 10) between 200 lane addresses.
//! 2. Publishes it to a JetStream stream of its own as a node does and
//!    folds it with the projections runtime (explorer model) into a fresh
//!    database, then `VACUUM ANALYZE`s it.
//! 3. Runs the real `api` binary (release build) on that database and
//!    loads it from a second process, `wrk` (`services/api/bench/graphql.lua`
//!    POSTs GraphQL bodies picked at random from a file), for two queries:
//!    * block by height: `block(height: $h)` for a random height;
//!    * address history: `address(address: $a) { history(first: 20) }`
//!      for a random lane address.
//!
//!    Each is warmed up for 2 s, then measured for `API_BENCH_SECONDS`
//!    (default 10) with `API_BENCH_CONNECTIONS` connections (default 8) on
//!    `API_BENCH_THREADS` threads (default 2). A non-200 answer or a body
//!    with `errors` fails the run.
//! 4. Baseline in the same run: pgbench (`-M prepared`, same connections,
//!    threads and duration) runs script files holding the statements the
//!    resolvers send (built from the same column lists, `BLOCK_COLUMNS`,
//!    `ADDRESS_FIELDS`, `TRANSACTION_FIELDS`); p50/p99 from its
//!    per-transaction log (`-l`).
//!
//! Reported: requests/s, p50 and p99 latency of both, the ratio API/pgbench
//! of requests per second, and the API's peak RSS (`VmHWM`).
//!
//! ```text
//! services/api/bench/run                                   # short (about 2 min after the build)
//! API_BENCH_BLOCKS=10000 API_BENCH_BLOCK_TRANSFERS=50 API_BENCH_SECONDS=30 services/api/bench/run
//! ```
//!
//! Needs the local services (`scripts/services up`), `wrk` and `pgbench`
//! (`PGBENCH`, default from PATH or `/usr/lib/postgresql/*/bin`).

#[path = "../../../ledger/chain/tests/common/mod.rs"]
mod common;
#[path = "../../projector/benches/support/mod.rs"]
mod support;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail, ensure};
use api::explorer::addresses::ADDRESS_FIELDS;
use api::explorer::blocks::BLOCK_COLUMNS;
use api::explorer::transactions::TRANSACTION_FIELDS;

use chain::stream;
use common::test_config;
use devenv::Settings;
use ledger::Address;
use projections::explorer::Explorer;
use projections::runner::{ModelMetrics, Runner, RunnerConfig};
use projections::schema;
use serde_json::{Value, json};
use sqlx::postgres::PgConnectOptions;
use sqlx::{Connection, PgConnection};
use support::{
    BenchDatabase, build_chain, create_stream, env_usize, lane_key, peak_rss, publish, terminate,
    write_network_config,
};
use tokio_util::sync::CancellationToken;

/// Lane addresses whose history is queried (pgbench takes at most 128
/// scripts, one per address).
const QUERIED_ADDRESSES: usize = 100;

/// The page size of the history query (the explorer's default page).
const HISTORY_PAGE: usize = 20;

const BLOCK_QUERY: &str = "query($h: Int!) { block(height: $h) { height id parentId timestamp staker transactionCount fees payoutsTotal blockTime size difficulty } }";
const HISTORY_QUERY: &str = "query($a: String!) { address(address: $a) { address transactionCount history(first: 20) { edges { node { id blockHeight index kind fee size coinInputTotal coinOutputTotal } } } } }";

/// One load run's numbers.
#[derive(Debug, Clone, Copy)]
struct Load {
    requests: u64,
    per_second: f64,
    p50_ms: f64,
    p99_ms: f64,
}

struct Bench {
    threads: usize,
    connections: usize,
    seconds: usize,
    pgbench: PathBuf,
    database_url: String,
    dir: PathBuf,
}

impl Bench {
    /// `wrk` against the API with request bodies from `bodies`.
    fn wrk(&self, url: &str, bodies: &Path, seconds: usize) -> anyhow::Result<Load> {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("bench/graphql.lua");
        let output = Command::new("wrk")
            .args(["-t", &self.threads.to_string()])
            .args(["-c", &self.connections.to_string()])
            .args(["-d", &format!("{seconds}s"), "--timeout", "10s", "-s"])
            .arg(&script)
            .arg(url)
            .arg("--")
            .arg(bodies)
            .output()
            .context("running wrk (apt-get install -y wrk)")?;
        let text = String::from_utf8_lossy(&output.stdout);
        ensure!(
            output.status.success(),
            "wrk failed ({}): {text}{}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        );
        let line = text
            .lines()
            .find(|line| line.starts_with("RESULT "))
            .with_context(|| format!("no RESULT line from wrk: {text}"))?;
        let field = |name: &str| -> anyhow::Result<f64> {
            line.split_whitespace()
                .find_map(|pair| pair.strip_prefix(&format!("{name}=")))
                .with_context(|| format!("{name} missing in {line}"))?
                .parse::<f64>()
                .with_context(|| format!("{name} in {line}"))
        };
        ensure!(
            field("failed")? == 0.0 && field("socket_errors")? == 0.0,
            "the API answered with errors: {line}"
        );
        let requests = field("requests")?;
        ensure!(requests > 0.0, "wrk completed no request: {line}");
        Ok(Load {
            requests: requests as u64,
            per_second: requests / (field("duration_us")? / 1e6),
            p50_ms: field("p50_us")? / 1e3,
            p99_ms: field("p99_us")? / 1e3,
        })
    }

    /// pgbench with `scripts` (equal weights) against the bench database.
    fn pgbench(&self, name: &str, scripts: &[PathBuf]) -> anyhow::Result<Load> {
        let logs = self.dir.join(format!("pgbench-{name}"));
        std::fs::create_dir_all(&logs)?;
        let mut command = Command::new(&self.pgbench);
        command
            .args(["-n", "-M", "prepared", "-l"])
            .arg(format!("--log-prefix={}", logs.join("log").display()))
            .args(["-c", &self.connections.to_string()])
            .args(["-j", &self.threads.to_string()])
            .args(["-T", &self.seconds.to_string()]);
        for script in scripts {
            command.arg("-f").arg(script);
        }
        let output = command
            .arg(&self.database_url)
            .output()
            .with_context(|| format!("running {}", self.pgbench.display()))?;
        let text = String::from_utf8_lossy(&output.stdout);
        ensure!(
            output.status.success(),
            "pgbench failed ({}): {text}{}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        );
        ensure!(
            text.contains("number of failed transactions: 0") || !text.contains("failed"),
            "pgbench reported failures: {text}"
        );
        let per_second = text
            .lines()
            .find(|line| line.starts_with("tps = "))
            .and_then(|line| line.split_whitespace().nth(2))
            .and_then(|value| value.parse::<f64>().ok())
            .with_context(|| format!("no tps in pgbench's output: {text}"))?;
        // Per-transaction log: client, transaction, latency (µs), script, …
        let mut latencies = Vec::new();
        for entry in std::fs::read_dir(&logs)? {
            let file = std::fs::read_to_string(entry?.path())?;
            for line in file.lines() {
                let micros = line
                    .split_whitespace()
                    .nth(2)
                    .and_then(|value| value.parse::<u64>().ok())
                    .with_context(|| format!("unexpected pgbench log line {line:?}"))?;
                latencies.push(micros);
            }
        }
        ensure!(!latencies.is_empty(), "pgbench logged no transaction");
        latencies.sort_unstable();
        let at = |quantile: f64| {
            let index = ((latencies.len() as f64 * quantile).ceil() as usize).max(1) - 1;
            latencies[index.min(latencies.len() - 1)] as f64 / 1e3
        };
        Ok(Load {
            requests: latencies.len() as u64,
            per_second,
            p50_ms: at(0.50),
            p99_ms: at(0.99),
        })
    }
}

fn pgbench_binary() -> anyhow::Result<PathBuf> {
    if let Ok(path) = std::env::var("PGBENCH") {
        return Ok(PathBuf::from(path));
    }
    if Command::new("pgbench")
        .arg("--version")
        .output()
        .is_ok_and(|output| output.status.success())
    {
        return Ok(PathBuf::from("pgbench"));
    }
    let mut found: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .context("no pgbench on PATH and no /usr/lib/postgresql; set PGBENCH")?
        .filter_map(|entry| entry.ok().map(|entry| entry.path().join("bin/pgbench")))
        .filter(|path| path.exists())
        .collect();
    found.sort();
    found.pop().context("no pgbench found; set PGBENCH")
}

/// Folds the stream into `database` with the explorer model until its
/// checkpoint reaches `tip`.
async fn fold(
    settings: &Settings,
    network: &str,
    database: &PgConnectOptions,
    tip: u64,
) -> anyhow::Result<f64> {
    let config = test_config();
    let runner = Runner {
        model: Arc::new(Explorer::new(config.clone())),
        schema_name: "explorer".to_owned(),
        database: database.clone(),
        nats: async_nats::connect(&settings.nats_url).await?,
        config: RunnerConfig::new(network, config.consensus.finality_depth),
        metrics: Arc::new(ModelMetrics::default()),
    };
    let shutdown = CancellationToken::new();
    let started = Instant::now();
    let task = {
        let shutdown = shutdown.clone();
        tokio::spawn(async move { runner.run(shutdown).await })
    };
    let mut connection =
        PgConnection::connect_with(&schema::options_for_schema(database, "explorer")).await?;
    let mut last_report = Instant::now();
    loop {
        let at = schema::read_checkpoint(&mut connection, "explorer")
            .await
            .ok()
            .flatten()
            .map(|checkpoint| checkpoint.height.0);
        if at.is_some_and(|height| height >= tip) {
            break;
        }
        if task.is_finished() {
            bail!("the projections runner stopped: {:?}", task.await);
        }
        if last_report.elapsed() >= Duration::from_secs(5) {
            last_report = Instant::now();
            println!(
                "  explorer at height {} of {tip}",
                at.map_or("-".to_owned(), |height| height.to_string())
            );
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let seconds = started.elapsed().as_secs_f64();
    shutdown.cancel();
    task.await??;
    // Fresh statistics for both the API and pgbench (simple protocol:
    // VACUUM cannot run in the extended protocol's implicit transaction).
    sqlx::raw_sql("VACUUM ANALYZE")
        .execute(&mut connection)
        .await?;
    connection.close().await?;
    Ok(seconds)
}

/// The API's process, killed when the benchmark stops early.
struct ApiProcess(std::process::Child);

impl Drop for ApiProcess {
    fn drop(&mut self) {
        if let Ok(None) = self.0.try_wait() {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

/// Starts the API binary on 127.0.0.1:0; returns it and its GraphQL URL.
fn start_api(
    database_url: &str,
    network: &str,
    network_config: &Path,
) -> anyhow::Result<(ApiProcess, String)> {
    let child = Command::new(env!("CARGO_BIN_EXE_api"))
        .args(["--network", network, "--nats-url", "none"])
        .arg("--network-config")
        .arg(network_config)
        .args(["serve", "--listen", "127.0.0.1:0"])
        .env("DATABASE_URL", database_url)
        .env_remove("API_CONFIG")
        .env(
            "RUST_LOG",
            std::env::var("API_BENCH_RUST_LOG").unwrap_or_else(|_| "warn".to_owned()),
        )
        .stdout(Stdio::piped())
        .spawn()
        .context("starting the api binary")?;
    let mut child = ApiProcess(child);
    let stdout = child.0.stdout.take().context("the api's stdout")?;
    let mut line = String::new();
    BufReader::new(stdout).read_line(&mut line)?;
    let url = line
        .split_whitespace()
        .find(|word| word.ends_with("/graphql"))
        .with_context(|| format!("the api printed no GraphQL URL: {line:?}"))?
        .to_owned();
    Ok((child, url))
}

/// Writes one JSON request body per line.
fn write_bodies(path: &Path, bodies: impl Iterator<Item = Value>) -> anyhow::Result<()> {
    let text: String = bodies.map(|body| format!("{body}\n")).collect();
    std::fs::write(path, text)?;
    Ok(())
}

fn show(name: &str, api: Load, sql: Load) {
    println!(
        "{name:<16} API {:>8.0} req/s  p50 {:>6.2} ms  p99 {:>6.2} ms  ({} requests)",
        api.per_second, api.p50_ms, api.p99_ms, api.requests
    );
    println!(
        "{:<16} SQL {:>8.0} tx/s   p50 {:>6.2} ms  p99 {:>6.2} ms  ({} transactions, pgbench)",
        "", sql.per_second, sql.p50_ms, sql.p99_ms, sql.requests
    );
    println!(
        "{:<16} ratio API/pgbench {:.2}",
        "",
        api.per_second / sql.per_second
    );
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    // `cargo bench` passes `--bench`; nothing here takes arguments.
    let blocks = env_usize("API_BENCH_BLOCKS", 2_000)?;
    let per_block = env_usize("API_BENCH_BLOCK_TRANSFERS", 10)?;
    let seconds = env_usize("API_BENCH_SECONDS", 10)?;
    let connections = env_usize("API_BENCH_CONNECTIONS", 8)?;
    let threads = env_usize("API_BENCH_THREADS", 2)?;
    if blocks == 0 || per_block == 0 || seconds == 0 || connections == 0 || threads == 0 {
        bail!("the API_BENCH_* sizes must be positive");
    }
    let settings = Settings::load().context("local services settings (scripts/services up)")?;
    let pgbench = pgbench_binary()?;
    Command::new("wrk")
        .arg("--version")
        .output()
        .context("wrk is not installed (apt-get install -y wrk)")?;

    println!("building a chain of {blocks} blocks of {per_block} transfers");
    let mut chain = build_chain(blocks * per_block, per_block)?;
    let tip = chain.messages.last().map_or(0, |message| message.height.0);
    let (js, network) = create_stream(&settings, "apibench").await?;
    publish(&js, &network, &mut chain.messages).await?;
    drop(chain.messages);

    let database = BenchDatabase::create(&settings).await?;
    println!("folding {} blocks into {}", tip + 1, database.db.name());
    let fold_seconds = fold(&settings, &network, &database.options, tip).await?;
    let _ = js.delete_stream(stream::stream_name(&network)).await;

    let dir = tempfile::tempdir()?;
    let network_config = write_network_config(dir.path())?;
    let prefix = test_config().params.address_prefix.clone();
    let addresses: Vec<Address> = (0..QUERIED_ADDRESSES)
        .map(|index| Address::for_public_key(&lane_key(index).public_key()))
        .collect();

    // Request bodies for wrk and the same statements for pgbench.
    let block_bodies = dir.path().join("block.jsonl");
    write_bodies(
        &block_bodies,
        (0..=tip).map(|height| json!({ "query": BLOCK_QUERY, "variables": { "h": height } })),
    )?;
    let history_bodies = dir.path().join("history.jsonl");
    let texts = addresses
        .iter()
        .map(|address| address.to_text(&prefix))
        .collect::<Result<Vec<_>, _>>()?;
    write_bodies(
        &history_bodies,
        texts
            .iter()
            .map(|text| json!({ "query": HISTORY_QUERY, "variables": { "a": text } })),
    )?;
    let block_script = dir.path().join("block.sql");
    std::fs::write(
        &block_script,
        format!("\\set h random(0, {tip})\n{BLOCK_COLUMNS} WHERE b.height = :h;\n"),
    )?;
    // pgbench variables are numbers, so each address gets a script of its
    // own (picked at random, like wrk's bodies) with the address literal.
    let mut history_scripts = Vec::new();
    for (index, address) in addresses.iter().enumerate() {
        let literal = format!(
            "'\\x{}'::bytea",
            hex::encode(api::context::stored_form(address))
        );
        let script = dir.path().join(format!("history-{index}.sql"));
        std::fs::write(
            &script,
            format!(
                "SELECT {ADDRESS_FIELDS} FROM explorer.address WHERE address = {literal};\n\
                 SELECT {TRANSACTION_FIELDS} FROM explorer.address_transaction a\n           \
                 JOIN explorer.transaction t ON t.id = a.transaction_id WHERE TRUE AND a.address = {literal} \
                 ORDER BY a.block_height DESC, a.transaction_index DESC LIMIT {};\n",
                HISTORY_PAGE + 1
            ),
        )?;
        history_scripts.push(script);
    }

    let (mut api, url) = start_api(&database.url, &network, &network_config)?;
    let pid = api.0.id();
    println!("api (pid {pid}) serving {url}");
    // The content is what was built: the tip block and a full history page.
    let http = reqwest::Client::new();
    let answer: Value = http
        .post(&url)
        .json(&json!({ "query": BLOCK_QUERY, "variables": { "h": tip } }))
        .send()
        .await?
        .json()
        .await?;
    ensure!(
        answer["data"]["block"]["height"] == json!(tip),
        "block {tip}: {answer}"
    );
    let answer: Value = http
        .post(&url)
        .json(&json!({ "query": HISTORY_QUERY, "variables": { "a": texts[0] } }))
        .send()
        .await?
        .json()
        .await?;
    let edges = answer["data"]["address"]["history"]["edges"]
        .as_array()
        .map_or(0, Vec::len);
    ensure!(edges == HISTORY_PAGE, "history of {}: {answer}", texts[0]);

    let bench = Bench {
        threads,
        connections,
        seconds,
        pgbench,
        database_url: database.url.clone(),
        dir: dir.path().to_path_buf(),
    };
    println!("load: {connections} connections, {threads} threads, {seconds} s each (2 s warm-up)");
    bench.wrk(&url, &block_bodies, 2)?;
    let block_api = bench.wrk(&url, &block_bodies, seconds)?;
    let block_sql = bench.pgbench("block", std::slice::from_ref(&block_script))?;
    bench.wrk(&url, &history_bodies, 2)?;
    let history_api = bench.wrk(&url, &history_bodies, seconds)?;
    let history_sql = bench.pgbench("history", &history_scripts)?;
    let peak = peak_rss(pid).context("reading the api's VmHWM")?;
    terminate(&mut api.0, "api")?;

    let mut rows = PgConnection::connect_with(&database.options).await?;
    let transactions: i64 = sqlx::query_scalar("SELECT count(*) FROM explorer.transaction")
        .fetch_one(&mut rows)
        .await?;
    let history_rows: i64 = sqlx::query_scalar("SELECT count(*) FROM explorer.address_transaction")
        .fetch_one(&mut rows)
        .await?;
    rows.close().await?;
    database.db.drop_database().await?;

    println!();
    println!("== API HTTP load (wrk) vs the same SQL (pgbench), same run ==");
    println!(
        "content          {} blocks, {transactions} transactions, {history_rows} address-history rows, {} addresses queried",
        tip + 1,
        addresses.len()
    );
    println!("fold             {fold_seconds:.1} s (projections runtime, explorer)");
    println!("load             {connections} connections, {threads} threads, {seconds} s per run");
    show("block by height", block_api, block_sql);
    show("address history", history_api, history_sql);
    println!(
        "api peak RSS     {:.1} MiB (VmHWM)",
        peak as f64 / (1024.0 * 1024.0)
    );
    Ok(())
}
