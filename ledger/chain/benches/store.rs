//! The block store under the workload: blocks of 1,000 signed
//! single-input, two-output transfers, validated and applied through
//! `Chain::accept_block` with the redb store, against the same blocks
//! applied with the in-memory store in the same run (the baseline).
//!
//! Reports blocks/s and transactions/s for each store, the ratio of redb
//! to memory, bytes written per block (growth of the file, and bytes the
//! process handed to `write` from `/proc/self/io`), the canonical sizes of
//! a block and its diff for scale, and the time to reopen the chain.
//!
//!     cargo bench -p chain --bench store
//!
//! `STORE_BENCH_BLOCKS` sets the number of blocks (default 40).

#[path = "../tests/support/mod.rs"]
mod support;

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chain::clock::ManualClock;
use chain::redb_store::{CommitDurability, RedbStoreOptions, Reopened};
use chain::{AcceptOutcome, Chain, ChainStore, Clock, RedbStore};
use ledger::{Block, codec};
use support::{Workload, workload_config};

const TRANSFERS: usize = 1_000;

fn accept<S: ChainStore>(chain: &mut Chain<S>, clock: &ManualClock, block: Block) {
    if clock.now() < block.header.timestamp {
        clock.set(block.header.timestamp);
    }
    match chain.accept_block(block) {
        Ok(AcceptOutcome::Connected { update, .. }) if !update.applied.is_empty() => {}
        other => panic!("workload block not applied: {other:?}"),
    }
}

/// Bytes this process has passed to write-like system calls so far.
fn written_bytes() -> Option<u64> {
    let io = std::fs::read_to_string("/proc/self/io").ok()?;
    io.lines()
        .find_map(|line| line.strip_prefix("wchar: "))
        .and_then(|value| value.trim().parse().ok())
}

struct Run {
    elapsed: Duration,
    file_growth: u64,
    written: Option<u64>,
}

fn apply_all<S: ChainStore>(
    chain: &mut Chain<S>,
    clock: &ManualClock,
    blocks: &[Block],
) -> Duration {
    let start = Instant::now();
    for block in blocks {
        accept(chain, clock, block.clone());
    }
    start.elapsed()
}

fn redb_run(path: &Path, blocks: &[Block], durability: CommitDurability) -> Run {
    let config = workload_config(TRANSFERS);
    let clock = ManualClock::new(config.genesis.header.timestamp);
    let store = RedbStore::open_with(
        path,
        &config,
        RedbStoreOptions {
            durability,
            ..Default::default()
        },
    )
    .expect("store opens");
    let domains = chain::domains::standard(&config);
    let Reopened { mut chain, .. } =
        Chain::open(config, Arc::new(clock.clone()), store, domains).expect("chain opens");
    let size_before = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
    let written_before = written_bytes();
    let elapsed = apply_all(&mut chain, &clock, blocks);
    let written = written_bytes()
        .zip(written_before)
        .map(|(after, before)| after - before);
    drop(chain);
    let size_after = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
    Run {
        elapsed,
        file_growth: size_after.saturating_sub(size_before),
        written,
    }
}

fn main() {
    let count: usize = std::env::var("STORE_BENCH_BLOCKS")
        .ok()
        .and_then(|text| text.parse().ok())
        .unwrap_or(40);
    let config = workload_config(TRANSFERS);

    // The blocks, built once on an in-memory chain.
    let started = Instant::now();
    let clock = ManualClock::new(config.genesis.header.timestamp);
    let mut generator = Chain::in_memory(config.clone(), Arc::new(clock.clone())).expect("genesis");
    let mut workload = Workload::resume(&generator);
    let mut blocks = Vec::with_capacity(count);
    let mut diff_bytes = 0usize;
    for _ in 0..count {
        let block = workload.next_block(&generator, TRANSFERS);
        assert_eq!(block.transactions.len(), TRANSFERS + 1, "a full block");
        accept(&mut generator, &clock, block.clone());
        let diff = generator
            .store()
            .diff(&block.id())
            .expect("memory store")
            .expect("diff of the tip");
        diff_bytes += codec::encoded_len(&diff);
        blocks.push(block);
    }
    let block_bytes: usize = blocks.iter().map(codec::encoded_len).sum();
    println!(
        "store bench: {count} blocks of {TRANSFERS} transfers built in {:.1} s; mean block {} bytes, \
         mean diff {} bytes",
        started.elapsed().as_secs_f64(),
        block_bytes / count,
        diff_bytes / count,
    );

    let memory_clock = ManualClock::new(config.genesis.header.timestamp);
    let mut memory =
        Chain::in_memory(config.clone(), Arc::new(memory_clock.clone())).expect("genesis");
    let memory_time = apply_all(&mut memory, &memory_clock, &blocks);
    let commitment = memory.state().commitment();

    let dir = tempfile::tempdir().expect("temp dir");
    let durable_path = dir.path().join("durable.redb");
    let durable = redb_run(&durable_path, &blocks, CommitDurability::Immediate);
    let deferred = redb_run(
        &dir.path().join("deferred.redb"),
        &blocks,
        CommitDurability::Deferred,
    );

    let reopen_start = Instant::now();
    let store = RedbStore::open(&durable_path, &config).expect("reopens");
    let domains = chain::domains::standard(&config);
    let Reopened { chain, .. } = Chain::open(
        config.clone(),
        Arc::new(ManualClock::default()),
        store,
        domains,
    )
    .expect("chain reopens");
    let reopen_time = reopen_start.elapsed();
    assert_eq!(chain.state().commitment(), commitment, "reopened state");

    let per_second = |elapsed: Duration| count as f64 / elapsed.as_secs_f64();
    let report = |name: &str, elapsed: Duration| {
        println!(
            "  {name:<34} {:>8.1} blocks/s {:>10.0} tx/s  {:>7.2} ms/block",
            per_second(elapsed),
            per_second(elapsed) * TRANSFERS as f64,
            elapsed.as_secs_f64() * 1e3 / count as f64,
        );
    };
    report("memory store (baseline)", memory_time);
    report("redb, durable commits", durable.elapsed);
    report("redb, deferred sync (bench only)", deferred.elapsed);
    println!(
        "  ratio redb durable / memory (throughput): {:.3}; deferred / memory: {:.3}",
        memory_time.as_secs_f64() / durable.elapsed.as_secs_f64(),
        memory_time.as_secs_f64() / deferred.elapsed.as_secs_f64(),
    );
    for (name, run) in [("durable", &durable), ("deferred", &deferred)] {
        println!(
            "  {name}: file growth {} bytes/block; written through write(2): {} bytes/block",
            run.file_growth / count as u64,
            run.written
                .map(|bytes| (bytes / count as u64).to_string())
                .unwrap_or_else(|| "n/a".into()),
        );
    }
    println!(
        "  reopen (replay of {count} diffs): {:.1} ms",
        reopen_time.as_secs_f64() * 1e3
    );
}
