//! Signature checking of a block of 1,000 single-input transfers (200
//! distinct keys): the ledger's checks one transaction at a time and
//! batched per block, against raw ed25519-dalek verification
//! (`verify_strict`, cofactorless `verify_batch`) of the same (message,
//! key, signature) triples in the same run, and the consensus rule
//! (`ledger::crypto::verify`, cofactored) on those bare triples. Prints
//! transactions/s and the ratios.
//!
//!     cargo bench -p ledger --bench signatures

#[path = "../tests/common/mod.rs"]
mod common;

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput};
use ed25519_dalek::VerifyingKey;
use ledger::crypto::{PublicKey, Signature, SignatureBatch, SigningMessage, verify_signature};
use ledger::fulfillment::{Fulfillment, InputKind, signing_message};
use ledger::validation::{
    InMemoryConditions, StatelesslyValidBlock, check_block_signatures,
    queue_transaction_signatures, validate_block,
};
use ledger::{BlockHeight, Transaction};

const TRANSACTIONS: u64 = 1000;
const HEIGHT: BlockHeight = common::BLOCK_HEIGHT;

struct Triples {
    messages: Vec<[u8; 64]>,
    keys: Vec<VerifyingKey>,
    signatures: Vec<ed25519_dalek::Signature>,
    /// The same triples as ledger values, for the consensus rule.
    signing_messages: Vec<SigningMessage>,
    public_keys: Vec<PublicKey>,
    ledger_signatures: Vec<Signature>,
}

fn triples(block: &StatelesslyValidBlock) -> Triples {
    let mut triples = Triples {
        messages: Vec::new(),
        keys: Vec::new(),
        signatures: Vec::new(),
        signing_messages: Vec::new(),
        public_keys: Vec::new(),
        ledger_signatures: Vec::new(),
    };
    for (transaction, id) in block.transactions.iter().zip(block.transaction_ids()) {
        let Fulfillment::SingleSignature(single) = &transaction.coin_inputs[0].fulfillment else {
            panic!("fixture transfers are single-signature");
        };
        let context = Transaction::input_context(
            id,
            &common::params(),
            InputKind::Coin,
            0,
            HEIGHT,
            block.header.timestamp,
        );
        let message = signing_message(&context, &single.public_key, None);
        triples.messages.push(*message.as_bytes());
        triples
            .keys
            .push(single.public_key.to_verifying_key().expect("valid key"));
        triples.signatures.push(single.signature.to_dalek());
        triples.signing_messages.push(message);
        triples.public_keys.push(single.public_key);
        triples.ledger_signatures.push(single.signature);
    }
    triples
}

fn raw_one_by_one(triples: &Triples) {
    for ((message, key), signature) in triples
        .messages
        .iter()
        .zip(&triples.keys)
        .zip(&triples.signatures)
    {
        key.verify_strict(message, signature).expect("valid");
    }
}

fn raw_batch(triples: &Triples) {
    let messages: Vec<&[u8]> = triples.messages.iter().map(|m| &m[..]).collect();
    ed25519_dalek::verify_batch(&messages, &triples.signatures, &triples.keys).expect("valid");
}

fn rule_one_by_one(triples: &Triples) {
    for ((message, key), signature) in triples
        .signing_messages
        .iter()
        .zip(&triples.public_keys)
        .zip(&triples.ledger_signatures)
    {
        verify_signature(key, message.as_bytes(), signature).expect("valid");
    }
}

fn rule_batch(triples: &Triples) {
    let mut batch = SignatureBatch::new();
    for ((message, key), signature) in triples
        .signing_messages
        .iter()
        .zip(&triples.public_keys)
        .zip(&triples.ledger_signatures)
    {
        batch
            .push("input", *message, *key, *signature)
            .expect("usable key");
    }
    batch.verify().expect("valid");
}

fn ledger_one_by_one(block: &StatelesslyValidBlock, conditions: &InMemoryConditions) {
    let chain_id = common::params().chain_id;
    for (transaction, id) in block.transactions.iter().zip(block.transaction_ids()) {
        let mut batch = SignatureBatch::new();
        queue_transaction_signatures(
            transaction,
            id,
            &chain_id,
            HEIGHT,
            block.header.timestamp,
            conditions,
            &mut batch,
        )
        .expect("fulfilled");
        batch.verify_each().expect("valid");
    }
}

fn ledger_batched(block: &StatelesslyValidBlock, conditions: &InMemoryConditions) {
    check_block_signatures(block, &common::params().chain_id, HEIGHT, conditions).expect("valid");
}

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
    let (block, conditions) = common::transfer_block(TRANSACTIONS);
    let block = validate_block(block, &common::params()).expect("valid block");
    let triples = triples(&block);

    let mut criterion = Criterion::default().configure_from_args();
    {
        let mut group = criterion.benchmark_group("signatures/block-1000-transfers");
        group.throughput(Throughput::Elements(TRANSACTIONS));
        group.sample_size(10);
        group.bench_function("raw ed25519 one by one (baseline)", |b| {
            b.iter(|| raw_one_by_one(black_box(&triples)))
        });
        group.bench_function("raw ed25519 batch (baseline)", |b| {
            b.iter(|| raw_batch(black_box(&triples)))
        });
        group.bench_function("rule one by one (bare triples)", |b| {
            b.iter(|| rule_one_by_one(black_box(&triples)))
        });
        group.bench_function("rule batch (bare triples)", |b| {
            b.iter(|| rule_batch(black_box(&triples)))
        });
        group.bench_function("ledger one by one", |b| {
            b.iter(|| ledger_one_by_one(black_box(&block), &conditions))
        });
        group.bench_function("ledger batched", |b| {
            b.iter(|| ledger_batched(black_box(&block), &conditions))
        });
        group.finish();
    }
    criterion.final_summary();

    let runs = 7;
    let raw_single = best_of(runs, || raw_one_by_one(&triples));
    let raw_batched = best_of(runs, || raw_batch(&triples));
    let rule_single = best_of(runs, || rule_one_by_one(&triples));
    let rule_batched = best_of(runs, || rule_batch(&triples));
    let one_by_one = best_of(runs, || ledger_one_by_one(&block, &conditions));
    let batched = best_of(runs, || ledger_batched(&block, &conditions));
    let per_second = |time: Duration| TRANSACTIONS as f64 / time.as_secs_f64();
    println!("\n== signature summary ({TRANSACTIONS} single-input transfers, best of {runs})");
    for (name, time) in [
        ("raw ed25519 one by one", raw_single),
        ("raw ed25519 batch", raw_batched),
        ("rule one by one", rule_single),
        ("rule batch", rule_batched),
        ("ledger one by one", one_by_one),
        ("ledger batched", batched),
    ] {
        println!(
            "{name:<24} {:>8.2} ms  {:>9.0} tx/s",
            time.as_secs_f64() * 1e3,
            per_second(time)
        );
    }
    let ratio = |a: Duration, b: Duration| a.as_secs_f64() / b.as_secs_f64();
    println!(
        "ratio = {:.2}  (rule one by one / raw one by one: cofactored vs dalek verify_strict)",
        ratio(rule_single, raw_single)
    );
    println!(
        "ratio = {:.2}  (rule batch / raw batch: cofactored grouped batch vs dalek verify_batch)",
        ratio(rule_batched, raw_batched)
    );
    println!(
        "ratio = {:.2}  (ledger one by one / raw one by one: overhead of IDs, transcripts, lookups)",
        ratio(one_by_one, raw_single)
    );
    println!(
        "ratio = {:.2}  (ledger batched / raw one by one: <1 means batching pays)",
        ratio(batched, raw_single)
    );
    println!(
        "ratio = {:.2}  (ledger batched / raw batch: overhead over the bare batch)",
        ratio(batched, raw_batched)
    );
    println!(
        "ratio = {:.2}  (ledger one by one / ledger batched: batching speed-up)",
        ratio(one_by_one, batched)
    );
}
