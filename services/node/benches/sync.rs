//! Late-joiner sync benchmark: a chain of 2,000 blocks × 200 signed
//! transfers (`SYNC_BLOCKS`, `SYNC_TRANSFERS` override) is built in
//! memory, then applied into a fresh redb store in this process (the
//! node's own validate-and-apply rate, the baseline), then a `node`
//! process serves that store and a second, empty `node` process syncs it
//! over loopback. Prints blocks/s and transactions/s of both, the ratio
//! sync / apply (the network and sync overhead), and the syncing node's
//! peak RSS (VmHWM).
//!
//! ```sh
//! CARGO_TARGET_DIR=/var/tmp/target-node cargo bench -p node --bench sync
//! ```

#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../tests/support/mod.rs"]
mod support;

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chain::{Chain, ManualClock, RedbStore};
use ledger::Timestamp;
use support::*;

fn env_number(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn peak_rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

fn main() {
    let blocks = env_number("SYNC_BLOCKS", 2_000);
    let transfers = env_number("SYNC_TRANSFERS", 200) as usize;
    let dir = tempfile::tempdir().unwrap();
    let network = TestNetwork::new(dir.path(), transfers.max(1), false);
    let config = network.config.clone();

    // 1. Build the blocks (signing) on an in-memory chain.
    let started = Instant::now();
    let clock = Arc::new(ManualClock::new(Timestamp(GENESIS_TIMESTAMP + blocks + 10)));
    let mut builder = Chain::in_memory(config.clone(), clock.clone()).unwrap();
    let mut spendable: VecDeque<_> = owner_outputs(&builder).into();
    let staker = key(STAKER);
    let mut next = Timestamp(GENESIS_TIMESTAMP + 1);
    let mut chain_blocks = Vec::with_capacity(blocks as usize);
    for height in 1..=blocks {
        let block = block_on_tip(&builder, &staker, next, &mut spendable, transfers);
        next = Timestamp(block.header.timestamp.0 + 1);
        builder.accept_block(block.clone()).unwrap();
        chain_blocks.push(block);
        if height % 250 == 0 {
            eprintln!("built {height}/{blocks} blocks ({:.0?})", started.elapsed());
        }
    }
    let transactions: u64 = chain_blocks
        .iter()
        .map(|b| b.transactions.len() as u64 - 1)
        .sum();
    drop(builder);

    // 2. Baseline: validate and apply into a fresh redb store, in process.
    let a_data = dir.path().join("a/data");
    std::fs::create_dir_all(&a_data).unwrap();
    let store = RedbStore::open(a_data.join("chain.redb"), &config).unwrap();
    let mut chain = Chain::new(
        config.clone(),
        clock,
        store,
        chain::domains::standard(&config),
    )
    .unwrap();
    let started = Instant::now();
    for block in chain_blocks {
        chain.accept_block(block).unwrap();
    }
    let apply = started.elapsed();
    drop(chain);
    eprintln!("applied {blocks} blocks in {apply:.2?}");

    // 3. A serves it; B syncs it over loopback.
    let a = NodeProcess::start("a", &dir.path().join("a"), &network, NodeOptions::default());
    a.wait_height(blocks, Duration::from_secs(600));
    let started = Instant::now();
    let b = NodeProcess::start(
        "b",
        &dir.path().join("b"),
        &network,
        NodeOptions::follower(vec![a.p2p]),
    );
    let mut peak = 0;
    let deadline = Instant::now() + Duration::from_secs(1_800);
    while b.height() < blocks {
        assert!(
            Instant::now() < deadline,
            "sync did not finish:\n{}",
            b.log_tail()
        );
        peak = peak.max(peak_rss_kib(b.pid()).unwrap_or(0));
        std::thread::sleep(Duration::from_millis(100));
    }
    let sync = started.elapsed();
    peak = peak.max(peak_rss_kib(b.pid()).unwrap_or(0));

    let rate = |d: Duration| blocks as f64 / d.as_secs_f64();
    let tx_rate = |d: Duration| transactions as f64 / d.as_secs_f64();
    println!("chain: {blocks} blocks, {transactions} transfers");
    println!(
        "validate-and-apply in process (redb, durable): {:.2?} = {:.1} blocks/s, {:.0} transactions/s",
        apply,
        rate(apply),
        tx_rate(apply)
    );
    println!(
        "late-joiner sync over loopback (node process, incl. start): {:.2?} = {:.1} blocks/s, {:.0} transactions/s",
        sync,
        rate(sync),
        tx_rate(sync)
    );
    println!(
        "ratio sync / apply: {:.2} (1.0 = no network or sync overhead)",
        rate(sync) / rate(apply)
    );
    println!("syncing node peak RSS: {:.1} MiB", peak as f64 / 1024.0);
}
