//! Shared fixtures: a small test network, keys from fixed seeds, and
//! helpers that stake, build and sign blocks and transactions for real.

#![allow(dead_code)]

pub mod identity;

use std::sync::Arc;

use chain::clock::ManualClock;
use chain::config::ChainConfig;
use chain::creator::{build_block, find_winning_timestamp};
use chain::{AcceptOutcome, Chain, ChainUpdate};
use ledger::crypto::SecretKey;
use ledger::fulfillment::{InputKind, SingleSignatureFulfillment, signing_message};
use ledger::{
    Address, Block, BlockStakePosition, CoinInput, CoinOutput, CoinOutputId, Condition, Currency,
    Fulfillment, NetworkParams, Timestamp, Transaction,
};

pub fn key(seed: u8) -> SecretKey {
    SecretKey::from_seed([seed; 32])
}

pub fn public_hex(seed: u8) -> String {
    hex::encode(key(seed).public_key().0)
}

/// Stakers: seeds 1, 2, 3 with 500, 300, 200 blockstakes. Coins: seed 1
/// and seed 4 hold 1,000,000 coins each. Mint authority: seed 5. Address
/// authority: seed 6 (rule enabled by `authorized`).
pub fn test_toml(consensus_overrides: &[(&str, &str)], authorized: bool) -> String {
    let mut consensus = vec![
        ("block_frequency", "10".to_owned()),
        ("target_window", "20".to_owned()),
        ("stake_modifier_delay", "5".to_owned()),
        ("blockstake_aging", "60".to_owned()),
        ("maturity_delay", "3".to_owned()),
        ("finality_depth", "20".to_owned()),
        ("block_size_limit", "2000000".to_owned()),
        ("transaction_size_limit", "1995000".to_owned()),
        ("arbitrary_data_limit", "1024".to_owned()),
        ("future_threshold", "30".to_owned()),
        ("extreme_future_threshold", "120".to_owned()),
        ("surpass_threshold", "\"1/5\"".to_owned()),
        ("max_adjustment_up", "\"5/2\"".to_owned()),
        ("max_adjustment_down", "\"2/5\"".to_owned()),
    ];
    for (name, value) in consensus_overrides {
        match consensus.iter_mut().find(|(key, _)| key == name) {
            Some(entry) => entry.1 = (*value).to_owned(),
            None => consensus.push((name, (*value).to_owned())),
        }
    }
    let consensus: String = consensus
        .iter()
        .map(|(name, value)| format!("{name} = {value}\n"))
        .collect();
    let authorized_list = if authorized {
        let prefix = "bstest";
        [1u8, 4]
            .iter()
            .map(|seed| {
                format!(
                    "\"{}\"",
                    Address::for_public_key(&key(*seed).public_key())
                        .to_text(prefix)
                        .expect("valid prefix")
                )
            })
            .collect::<Vec<_>>()
            .join(", ")
    } else {
        String::new()
    };
    format!(
        r#"
[network]
name = "chain-tests"
address_prefix = "bstest"
coin_precision = 9

[consensus]
{consensus}

[fees]
block_creator_fee = "1"
minimum_fee_base = "0.01"
minimum_fee_per_byte = "0.000001"

[minting]
condition = {{ public_key = "{mint}" }}

[authorized_addresses]
enabled = {authorized}
authority = {{ public_key = "{authority}" }}
authorized = [{authorized_list}]

[genesis]
timestamp = 1_700_000_000

[[genesis.coins]]
value = "1000000"
public_key = "{k1}"

[[genesis.coins]]
value = "1000000"
public_key = "{k4}"

[[genesis.blockstakes]]
value = 500
public_key = "{k1}"

[[genesis.blockstakes]]
value = 300
public_key = "{k2}"

[[genesis.blockstakes]]
value = 200
public_key = "{k3}"
"#,
        mint = public_hex(5),
        authority = public_hex(6),
        k1 = public_hex(1),
        k4 = public_hex(4),
        k2 = public_hex(2),
        k3 = public_hex(3),
    )
}

/// The test network with an easy initial target (every try wins at first).
pub fn test_config() -> Arc<ChainConfig> {
    config_with(
        &[("initial_target", &format!("\"{}\"", "f".repeat(64)))],
        false,
    )
}

pub fn config_with(overrides: &[(&str, &str)], authorized: bool) -> Arc<ChainConfig> {
    Arc::new(
        ChainConfig::from_toml(&test_toml(overrides, authorized)).expect("test config is valid"),
    )
}

pub struct Net {
    pub chain: Chain,
    pub clock: ManualClock,
    pub stakers: Vec<SecretKey>,
}

impl Net {
    pub fn new(config: Arc<ChainConfig>) -> Net {
        let clock = ManualClock::new(config.genesis.header.timestamp);
        let chain = Chain::in_memory(config, Arc::new(clock.clone())).expect("genesis");
        Net {
            chain,
            clock,
            stakers: vec![key(1), key(2), key(3)],
        }
    }

    pub fn params(&self) -> NetworkParams {
        self.chain.config().params.clone()
    }

    /// The unspent blockstake positions owned by the stakers, with the
    /// owning staker's index.
    pub fn stake_positions(&self) -> Vec<(BlockStakePosition, usize)> {
        let mut positions = Vec::new();
        for (_, entry) in self.chain.state().blockstake_outputs() {
            let address = entry.output.condition.address();
            if let Some(index) = self
                .stakers
                .iter()
                .position(|key| Address::for_public_key(&key.public_key()) == address)
            {
                positions.push((entry.position, index));
            }
        }
        positions.sort();
        positions
    }

    /// Builds (without accepting) the next block on the tip with the
    /// earliest winning stake of the stakers, carrying `transactions`.
    pub fn next_block(&self, transactions: Vec<Transaction>) -> Block {
        let positions = self.stake_positions();
        let only: Vec<BlockStakePosition> = positions.iter().map(|(p, _)| *p).collect();
        let from = Timestamp(self.chain.tip().timestamp.0 + 1);
        let (timestamp, position) =
            find_winning_timestamp(&self.chain, &only, from, Timestamp(from.0 + 1_000_000))
                .expect("some stake wins within a million seconds");
        let staker = positions
            .iter()
            .find(|(p, _)| *p == position)
            .map(|(_, index)| *index)
            .expect("winning position is ours");
        build_block(
            &self.chain,
            &self.stakers[staker],
            position,
            timestamp,
            transactions,
        )
        .expect("block builds")
    }

    /// Accepts a block with the clock at its timestamp; returns the update.
    pub fn accept(&mut self, block: Block) -> Result<ChainUpdate, chain::ChainError> {
        if self.clock.now_seconds() < block.header.timestamp.0 {
            self.clock.set(block.header.timestamp);
        }
        match self.chain.accept_block(block)? {
            AcceptOutcome::Connected { update, .. } => Ok(update),
            other => panic!("block not connected: {other:?}"),
        }
    }

    /// Builds and accepts the next block; panics if it is refused.
    pub fn mine(&mut self, transactions: Vec<Transaction>) -> Block {
        let block = self.next_block(transactions);
        let update = self.accept(block.clone()).expect("own block is valid");
        assert_eq!(update.applied.last(), Some(&block.id()));
        block
    }

    /// Coin outputs of `owner` (single-key) in the tip state.
    pub fn coins_of(&self, owner: &SecretKey) -> Vec<(CoinOutputId, CoinOutput)> {
        let address = Address::for_public_key(&owner.public_key());
        self.chain
            .state()
            .coin_outputs()
            .filter(|(_, output)| output.condition == Condition::PubKeyHash(address.hash))
            .map(|(id, output)| (*id, output.clone()))
            .collect()
    }

    /// A signed transfer of `amount` from `owner`'s largest coin output
    /// to `to`, change back, paying `fee`.
    pub fn transfer(
        &self,
        owner: &SecretKey,
        to: Condition,
        amount: Currency,
        fee: Currency,
    ) -> Transaction {
        let (id, output) = self
            .coins_of(owner)
            .into_iter()
            .max_by_key(|(_, output)| output.value)
            .expect("owner has coins");
        let change = output
            .value
            .checked_sub(amount)
            .and_then(|rest| rest.checked_sub(fee))
            .expect("enough coins");
        let mut transaction = Transaction {
            coin_inputs: vec![CoinInput {
                parent_id: id,
                fulfillment: Fulfillment::Nil,
            }],
            coin_outputs: vec![CoinOutput {
                value: amount,
                condition: to,
            }],
            fee,
            ..Transaction::new()
        };
        if !change.is_zero() {
            transaction.coin_outputs.push(CoinOutput {
                value: change,
                condition: Condition::for_public_key(&owner.public_key()),
            });
        }
        sign_coin_inputs(&mut transaction, &self.params(), owner);
        transaction
    }
}

pub trait ClockExt {
    fn now_seconds(&self) -> u64;
}

impl ClockExt for ManualClock {
    fn now_seconds(&self) -> u64 {
        use chain::Clock;
        self.now().0
    }
}

/// Signs every coin input with a single signature by `key`.
pub fn sign_coin_inputs(transaction: &mut Transaction, params: &NetworkParams, key: &SecretKey) {
    let id = transaction.id();
    for index in 0..transaction.coin_inputs.len() {
        let context = Transaction::input_context(
            &id,
            params,
            InputKind::Coin,
            index as u64,
            ledger::BlockHeight(0),
            Timestamp(0),
        );
        let public_key = key.public_key();
        let signature = key.sign(&signing_message(&context, &public_key, None));
        transaction.coin_inputs[index].fulfillment =
            Fulfillment::SingleSignature(SingleSignatureFulfillment {
                public_key,
                signature,
            });
    }
}

/// A fee comfortably above the minimum for small transactions.
pub const FEE: Currency = Currency(100_000_000);

pub fn coins(whole: u128) -> Currency {
    Currency(whole * 1_000_000_000)
}
