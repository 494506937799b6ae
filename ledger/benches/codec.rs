//! Encode and decode of a 1,000-transaction block (signed single-input
//! transfers). Baseline in the same run: copying the same bytes, so the
//! printed ratios say how many memcpys one encode/decode costs.
//!
//!     cargo bench -p ledger --bench codec

#[path = "../tests/common/mod.rs"]
mod common;

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput};
use ledger::{Block, codec};

fn benchmarks(criterion: &mut Criterion, block: &Block, bytes: &[u8]) {
    let mut group = criterion.benchmark_group("codec/block-1000-transactions");
    group.throughput(Throughput::Bytes(bytes.len() as u64));
    group.sample_size(20);
    group.bench_function("copy (baseline)", |b| b.iter(|| black_box(bytes.to_vec())));
    group.bench_function("encode", |b| b.iter(|| codec::encode(black_box(block))));
    group.bench_function("decode", |b| {
        b.iter(|| codec::decode::<Block>(black_box(bytes)).expect("valid block"))
    });
    group.finish();
}

/// Best-of-N wall time of `work`.
fn best_of(runs: usize, mut work: impl FnMut()) -> Duration {
    (0..runs)
        .map(|_| {
            let start = Instant::now();
            work();
            start.elapsed()
        })
        .min()
        .unwrap_or_default()
}

fn main() {
    let (block, _) = common::transfer_block(1000);
    let bytes = codec::encode(&block);
    let mut criterion = Criterion::default().configure_from_args();
    benchmarks(&mut criterion, &block, &bytes);
    criterion.final_summary();

    let copy = best_of(50, || drop(black_box(bytes.to_vec())));
    let encode = best_of(20, || drop(black_box(codec::encode(&block))));
    let decode = best_of(20, || {
        drop(black_box(
            codec::decode::<Block>(&bytes).expect("valid block"),
        ))
    });
    println!(
        "\n== codec summary (1,000-transaction block, {} bytes)",
        bytes.len()
    );
    for (name, time) in [("encode", encode), ("decode", decode)] {
        println!(
            "{name}: {:.3} ms, {:.0} MB/s, ratio to memcpy = {:.1}",
            time.as_secs_f64() * 1e3,
            bytes.len() as f64 / time.as_secs_f64() / 1e6,
            time.as_secs_f64() / copy.as_secs_f64().max(1e-9)
        );
    }
}
