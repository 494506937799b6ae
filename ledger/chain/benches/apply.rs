//! Validate and apply a block of 1,000 single-input, two-output signed
//! transfers (200 distinct keys) to the chain state: stateless validation,
//! stateful validation with one signature batch, state changes, events.
//! Baseline in the same run: batched verification of the same 1,000
//! signatures alone (the ledger's consensus batch). Prints transactions/s
//! and the ratio baseline / full (target ≥ 0.5: everything that is not
//! signature checking costs at most as much as the signatures).
//!
//!     cargo bench -p chain --bench apply

#[path = "../tests/common/mod.rs"]
mod common;

use std::hint::black_box;
use std::time::{Duration, Instant};

use chain::validation::apply_block;
use common::{FEE, Net, coins, key, sign_coin_inputs, test_config};
use criterion::{BatchSize, Criterion, Throughput};
use ledger::crypto::SignatureBatch;
use ledger::validation::{queue_transaction_signatures, validate_block};
use ledger::{
    Block, CoinInput, CoinOutput, CoinOutputId, Condition, Currency, Fulfillment, Transaction,
};

const TRANSACTIONS: usize = 1000;
const KEYS: usize = 200;

fn owner(index: usize) -> ledger::crypto::SecretKey {
    key(11 + (index % KEYS) as u8)
}

/// A chain whose tip holds 1,000 one-coin outputs of 200 keys, and the
/// next block spending each of them in its own transfer.
fn fixture() -> (Net, Block) {
    let mut net = Net::new(test_config());
    let (parent, output) = net.coins_of(&key(4)).remove(0);
    let mut split = Transaction {
        coin_inputs: vec![CoinInput {
            parent_id: parent,
            fulfillment: Fulfillment::Nil,
        }],
        fee: FEE,
        ..Transaction::new()
    };
    for index in 0..TRANSACTIONS {
        split.coin_outputs.push(CoinOutput {
            value: coins(1),
            condition: Condition::for_public_key(&owner(index).public_key()),
        });
    }
    let spent = Currency(coins(1).0 * TRANSACTIONS as u128 + FEE.0);
    split.coin_outputs.push(CoinOutput {
        value: output.value.checked_sub(spent).expect("enough coins"),
        condition: output.condition.clone(),
    });
    sign_coin_inputs(&mut split, &net.params(), &key(4));
    let split_id = split.id();
    net.mine(vec![split]);

    let transfers = (0..TRANSACTIONS)
        .map(|index| {
            let mut transfer = Transaction {
                coin_inputs: vec![CoinInput {
                    parent_id: CoinOutputId::for_transaction_output(&split_id, index as u64),
                    fulfillment: Fulfillment::Nil,
                }],
                coin_outputs: vec![
                    CoinOutput {
                        value: Currency(500_000_000),
                        condition: Condition::for_public_key(&key(250).public_key()),
                    },
                    CoinOutput {
                        value: Currency(coins(1).0 - 500_000_000 - 20_000_000),
                        condition: Condition::for_public_key(&owner(index).public_key()),
                    },
                ],
                fee: Currency(20_000_000),
                ..Transaction::new()
            };
            sign_coin_inputs(&mut transfer, &net.params(), &owner(index));
            transfer
        })
        .collect();
    let block = net.next_block(transfers);
    (net, block)
}

/// Stateless validation, then stateful validation and application to
/// `state` (a copy of the tip state, made outside the measurement).
fn full(net: &Net, block: &Block, mut state: chain::ChainState) {
    let config = net.chain.config();
    let (context, _) = net
        .chain
        .child_context(&net.chain.tip().id)
        .expect("tip context");
    let validated = validate_block(block.clone(), &config.params).expect("stateless");
    let diff = apply_block(&mut state, &validated, &context, config).expect("valid block");
    black_box(diff);
}

fn signature_batch(net: &Net, block: &Block) -> SignatureBatch {
    let validated = validate_block(block.clone(), &net.chain.config().params).expect("stateless");
    let height = ledger::BlockHeight(net.chain.height().0 + 1);
    let mut batch = SignatureBatch::new();
    for (transaction, id) in validated
        .transactions
        .iter()
        .zip(validated.transaction_ids())
    {
        queue_transaction_signatures(
            transaction,
            id,
            &net.chain.config().params.chain_id,
            height,
            validated.header.timestamp,
            net.chain.state(),
            &mut batch,
        )
        .expect("fulfilled");
    }
    batch
}

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

fn main() {
    let (net, block) = fixture();
    let mut criterion = Criterion::default()
        .configure_from_args()
        .sample_size(10)
        .measurement_time(Duration::from_secs(10));
    let mut group = criterion.benchmark_group("apply_1000_transfers");
    group.throughput(Throughput::Elements(TRANSACTIONS as u64));
    group.bench_function("validate_and_apply", |b| {
        b.iter_batched(
            || net.chain.state().clone(),
            |state| full(&net, &block, state),
            BatchSize::LargeInput,
        )
    });
    group.bench_function("batch_verify_same_signatures", |b| {
        b.iter_batched(
            || signature_batch(&net, &block),
            |batch| batch.verify().expect("signatures verify"),
            BatchSize::LargeInput,
        )
    });
    group.finish();

    // The ratio, measured here in one run: medians of 15 rounds each,
    // alternating so both see the same machine state. Copying the state
    // and building the batch happen outside the measurements.
    let mut full_times = Vec::new();
    let mut batch_times = Vec::new();
    for _ in 0..15 {
        let state = net.chain.state().clone();
        let started = Instant::now();
        full(&net, &block, state);
        full_times.push(started.elapsed());
        let batch = signature_batch(&net, &block);
        let started = Instant::now();
        batch.verify().expect("signatures verify");
        batch_times.push(started.elapsed());
    }
    let full_time = median(full_times);
    let batch_time = median(batch_times);
    println!(
        "validate+apply: {:?} per block of {TRANSACTIONS} transfers = {:.0} transactions/s",
        full_time,
        TRANSACTIONS as f64 / full_time.as_secs_f64()
    );
    println!(
        "batched signature verification alone: {:?} = {:.0} signatures/s",
        batch_time,
        TRANSACTIONS as f64 / batch_time.as_secs_f64()
    );
    println!(
        "ratio (signatures alone / full validate+apply): {:.2} (target >= 0.5)",
        batch_time.as_secs_f64() / full_time.as_secs_f64()
    );
}
