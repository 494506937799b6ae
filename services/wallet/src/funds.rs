//! What the wallet owns, from the API: the unspent outputs of its
//! addresses, classified by what the next block could spend, and the
//! pool's pending transactions that spend from or pay to them (decoded
//! here, so outputs a pending transaction already spends are never picked
//! twice).

use std::collections::{BTreeMap, BTreeSet};

use ledger::condition::LOCKTIME_THRESHOLD;
use ledger::{Address, Hash32, Transaction, codec};
use serde_json::{Value, json};

use crate::client::{Client, NetworkInfo, bad_answer, number, text};
use crate::error::WalletError;
use crate::keystore::Keystore;

/// Coins or blockstakes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Asset {
    Coin,
    BlockStake,
}

/// Why an output cannot be spent by the next block, if it cannot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    Spendable,
    /// A payout maturing at this height.
    Maturing(u64),
    /// Time-locked until this raw lock value (height or unix time).
    TimeLocked(u64),
    /// Spent by a transaction waiting in the pool.
    PendingSpent,
}

/// One unspent output of the wallet.
#[derive(Debug, Clone)]
pub struct Owned {
    pub id: Hash32,
    pub asset: Asset,
    /// Base units of coins, or blockstakes.
    pub value: u128,
    pub address: Address,
    pub state: State,
}

/// Everything the wallet owns and has pending.
#[derive(Debug, Clone, Default)]
pub struct Funds {
    pub outputs: Vec<Owned>,
    /// Coins (base units) and blockstakes pending transactions pay to us.
    pub pending_in: (u128, u64),
    /// Coins and blockstakes of ours that pending transactions spend.
    pub pending_out: (u128, u64),
    /// Pending transactions touching the wallet.
    pub pending_transactions: BTreeSet<String>,
}

/// Totals by state.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct Totals {
    pub spendable: u128,
    pub maturing: u128,
    pub time_locked: u128,
    pub pending_spent: u128,
}

impl Funds {
    pub fn totals(&self, asset: Asset) -> Totals {
        let mut totals = Totals::default();
        for output in self.outputs.iter().filter(|o| o.asset == asset) {
            let slot = match output.state {
                State::Spendable => &mut totals.spendable,
                State::Maturing(_) => &mut totals.maturing,
                State::TimeLocked(_) => &mut totals.time_locked,
                State::PendingSpent => &mut totals.pending_spent,
            };
            *slot += output.value;
        }
        totals
    }

    /// Spendable outputs of `asset`, largest first.
    pub fn spendable(&self, asset: Asset) -> Vec<&Owned> {
        let mut list: Vec<&Owned> = self
            .outputs
            .iter()
            .filter(|o| o.asset == asset && o.state == State::Spendable)
            .collect();
        list.sort_by(|a, b| b.value.cmp(&a.value).then(a.id.0.cmp(&b.id.0)));
        list
    }
}

const OUTPUTS_QUERY: &str = "query($a: String!, $after: String) { address(address: $a) {
    unspentOutputs(first: 100, after: $after) { pageInfo { hasNextPage endCursor }
      nodes { id currency value maturesAt condition { type timelock } } } } }";

const PENDING_QUERY: &str =
    "query($after: String) { pendingTransactions(first: 100, after: $after) {
    pageInfo { hasNextPage endCursor } nodes { id encoded } } }";

/// Reads the wallet's outputs and pending transactions.
pub async fn load(
    client: &Client,
    network: &NetworkInfo,
    keystore: &Keystore,
) -> Result<Funds, WalletError> {
    load_addresses(client, network, &keystore.addresses()).await
}

/// Reads the outputs of `addresses` and the pending transactions.
pub async fn load_addresses(
    client: &Client,
    network: &NetworkInfo,
    addresses: &[Address],
) -> Result<Funds, WalletError> {
    let ours: BTreeMap<Address, usize> = addresses
        .iter()
        .enumerate()
        .map(|(index, address)| (*address, index))
        .collect();
    let next_height = network.height + 1;
    let mut funds = Funds::default();
    for address in ours.keys() {
        let text_address = address
            .to_text(&network.prefix)
            .map_err(|error| WalletError::Address(error.to_string()))?;
        let mut after: Option<String> = None;
        loop {
            let data = client
                .query(OUTPUTS_QUERY, json!({ "a": text_address, "after": after }))
                .await?;
            let connection = &data["address"]["unspentOutputs"];
            if connection.is_null() {
                break;
            }
            for node in connection["nodes"].as_array().into_iter().flatten() {
                funds
                    .outputs
                    .push(owned(node, *address, network, next_height)?);
            }
            if connection["pageInfo"]["hasNextPage"].as_bool() != Some(true) {
                break;
            }
            after = Some(text(&connection["pageInfo"]["endCursor"])?);
        }
    }
    // Pending transactions: mark what they spend, count what they pay us.
    let mut after: Option<String> = None;
    let mut spent: BTreeSet<Hash32> = BTreeSet::new();
    loop {
        let data = client
            .query(PENDING_QUERY, json!({ "after": after }))
            .await?;
        let connection = &data["pendingTransactions"];
        for node in connection["nodes"].as_array().into_iter().flatten() {
            let bytes = hex::decode(text(&node["encoded"])?)
                .map_err(|_| bad_answer("a pending transaction is not hex"))?;
            let Ok(transaction) = codec::decode::<Transaction>(&bytes) else {
                continue;
            };
            let mut touches = false;
            for input in &transaction.coin_inputs {
                spent.insert(input.parent_id.0);
            }
            for input in &transaction.blockstake_inputs {
                spent.insert(input.parent_id.0);
            }
            for output in transaction.created_coin_outputs() {
                if ours.contains_key(&output.condition.address()) {
                    funds.pending_in.0 += output.value.0;
                    touches = true;
                }
            }
            for output in &transaction.blockstake_outputs {
                if ours.contains_key(&output.condition.address()) {
                    funds.pending_in.1 += output.value.0;
                    touches = true;
                }
            }
            let spends_ours = funds.outputs.iter().any(|o| {
                transaction
                    .coin_inputs
                    .iter()
                    .any(|i| i.parent_id.0 == o.id)
                    || transaction
                        .blockstake_inputs
                        .iter()
                        .any(|i| i.parent_id.0 == o.id)
            });
            if touches || spends_ours {
                funds
                    .pending_transactions
                    .insert(transaction.id().to_string());
            }
        }
        if connection["pageInfo"]["hasNextPage"].as_bool() != Some(true) {
            break;
        }
        after = Some(text(&connection["pageInfo"]["endCursor"])?);
    }
    for output in &mut funds.outputs {
        if spent.contains(&output.id) {
            match output.asset {
                Asset::Coin => funds.pending_out.0 += output.value,
                Asset::BlockStake => funds.pending_out.1 += output.value as u64,
            }
            output.state = State::PendingSpent;
        }
    }
    Ok(funds)
}

fn owned(
    node: &Value,
    address: Address,
    network: &NetworkInfo,
    next_height: u64,
) -> Result<Owned, WalletError> {
    let id: Hash32 = text(&node["id"])?
        .parse()
        .map_err(|_| bad_answer("output ID is not hex"))?;
    let (asset, value) = match node["currency"].as_str() {
        Some("COIN") => (Asset::Coin, network.parse_coins(&text(&node["value"])?)?.0),
        Some("BLOCKSTAKE") => (
            Asset::BlockStake,
            text(&node["value"])?
                .parse::<u128>()
                .map_err(|_| bad_answer("blockstake value is not a whole number"))?,
        ),
        other => return Err(bad_answer(format!("unknown currency {other:?}"))),
    };
    let mut state = State::Spendable;
    if let Some(matures) = node["maturesAt"].as_u64()
        && matures > next_height
    {
        state = State::Maturing(matures);
    }
    if node["condition"]["type"].as_str() == Some("timelock") {
        let lock = number(&node["condition"]["timelock"])?;
        let open = if lock < LOCKTIME_THRESHOLD {
            lock <= next_height
        } else {
            lock <= network.tip_time
        };
        if !open {
            state = State::TimeLocked(lock);
        }
    }
    Ok(Owned {
        id,
        asset,
        value,
        address,
        state,
    })
}
