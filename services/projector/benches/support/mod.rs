//! Shared by the benchmarks that need a chain with known content (the
//! projector's ingest benchmark, the API's HTTP benchmark): a chain of
//! signed transfers between [`KEYS`] lane keys built in memory with the
//! chain crate, published to JetStream exactly as a node does, and the
//! process helpers both use. Included with `mod support;` (here) or
//! `#[path]` (elsewhere); the including crate root declares `mod common`
//! (`ledger/chain/tests/common`).

#![allow(dead_code)] // not every benchmark uses every helper

use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use async_nats::jetstream::{self, stream as js_stream};
use chain::stream::{self, BlockMessage, BlockMessageKind, HEIGHT_HEADER};
use chain::{ChainUpdate, Direction};
use ledger::crypto::SecretKey;
use ledger::{
    BlockHeight, CoinInput, CoinOutput, CoinOutputId, Condition, Currency, Fulfillment, Transaction,
};

use devenv::{Settings, TestDatabase, unique_name};
use sqlx::postgres::PgConnectOptions;

use crate::common::{Net, coins, key, sign_coin_inputs, test_config, test_toml};

/// Distinct keys that own the transfer lanes (as in the chain's apply bench).
pub const KEYS: usize = 200;
/// What each transfer pays to another lane's key, and its fee.
pub const AMOUNT: Currency = Currency(100_000_000);
pub const TRANSFER_FEE: Currency = Currency(20_000_000);
pub fn env_usize(name: &str, default: usize) -> anyhow::Result<usize> {
    match std::env::var(name) {
        Ok(value) => value
            .replace(['_', ','], "")
            .parse()
            .with_context(|| format!("{name}={value} is not a whole number")),
        Err(_) => Ok(default),
    }
}

/// The key of transfer lane `index` (seeds 11, 12, …).
pub fn lane_key(index: usize) -> SecretKey {
    key(11 + (index % KEYS) as u8)
}

/// The chain, as the messages a node publishes, with what they carry.
pub struct BuiltChain {
    pub messages: Vec<BlockMessage>,
    pub transfers: usize,
    pub transactions: usize,
    pub events: usize,
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
pub fn build_chain(transfers: usize, per_block: usize) -> anyhow::Result<BuiltChain> {
    let started = Instant::now();
    let mut last_report = Instant::now();
    let mut net = Net::new(test_config());
    let keys: Vec<SecretKey> = (0..KEYS).map(lane_key).collect();
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
        if last_report.elapsed() >= Duration::from_secs(2) || round + 1 == rounds {
            last_report = Instant::now();
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
pub async fn publish(
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
pub fn peak_rss(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|line| line.starts_with("VmHWM:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

/// Stops a child process with SIGTERM and checks it exits 0.
pub fn terminate(child: &mut Child, what: &str) -> anyhow::Result<()> {
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()?;
    if !status.success() {
        bail!("could not send SIGTERM to the {what} (pid {})", child.id());
    }
    let exit = child.wait()?;
    if !exit.success() {
        bail!("the {what} exited with {exit} after SIGTERM");
    }
    Ok(())
}

/// Creates the ledger stream of a new network named `<prefix>_<random>`
/// on the local NATS; returns the JetStream context and the name.
pub async fn create_stream(
    settings: &Settings,
    prefix: &str,
) -> anyhow::Result<(jetstream::Context, String)> {
    let network = unique_name(prefix);
    let js = jetstream::new(async_nats::connect(&settings.nats_url).await?);
    js.create_stream(js_stream::Config {
        name: stream::stream_name(&network),
        subjects: vec![stream::block_subjects(&network)],
        ..Default::default()
    })
    .await?;
    Ok((js, network))
}

/// A fresh database on the local PostgreSQL, as connect options and URL.
pub struct BenchDatabase {
    pub db: TestDatabase,
    pub options: PgConnectOptions,
    pub url: String,
}

impl BenchDatabase {
    pub async fn create(settings: &Settings) -> anyhow::Result<BenchDatabase> {
        let db = TestDatabase::create(settings).await?;
        let base: PgConnectOptions = settings.database_url.parse()?;
        let options = base.database(db.name());
        let url = format!(
            "{}/{}",
            settings
                .database_url
                .rsplit_once('/')
                .context("DATABASE_URL has a database name")?
                .0,
            db.name()
        );
        Ok(BenchDatabase { db, options, url })
    }
}

/// Writes the configuration of the network the chain is built on (the
/// chain tests' network, every stake wins) to `dir`, for the binaries.
pub fn write_network_config(dir: &Path) -> anyhow::Result<PathBuf> {
    let path = dir.join("network.toml");
    std::fs::write(
        &path,
        test_toml(
            &[("initial_target", &format!("\"{}\"", "f".repeat(64)))],
            false,
        ),
    )?;
    Ok(path)
}
